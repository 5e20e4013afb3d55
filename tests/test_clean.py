"""Chrome cleaning on the seeds: exactly the website chrome goes, nothing else.

The seeds are the real messy inputs (a GOV.UK page saved as text, a news page with its comment
form); the authored suite covers every other format (tests/test_ingest.py, test_loader_*.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO_ROOT, make_settings

from assistant.clean import is_chrome_line
from assistant.ingest import clean_blocks, process_file
from assistant.loaders import load_blocks

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
EDI = "cafcass-inspection-framework-edi-statement-2020"
NEWS = "news-ofsted-announces-full-inspection-of-cafcass"

# Every line of the raw seeds that is website chrome, identified by hand. Cleaning must remove
# exactly these lines and keep every other line's words, in order.
EXPECTED_CHROME = {
    EDI: [
        "Home > Parenting, childcare and children's services > Adoption, fostering and surrogacy",
        "Open consultation",
        "Contents",
        "Coronavirus (COVID-19): guidance and support Check the new rules for January 2021",
        "No",
        "Education and learning Births, deaths, marriages and care **Employing people**",
        "Disabled people **Driving and transport**",
        "otherwise stated",
        "Business and self-employed",
        "Childcare and parenting",
        "Is this page useful?",
        "Coronavirus (COVID-19)",
        "Services and information",
        "Benefits",
        "Yes",
        "Citizenship and living in the UK Crime, justice and the law",
        "Housing and local services Money and tax Passports, travel and living abroad "
        "Visas and immigration",
        "Help Privacy Cookies Contact Accessibility statement Terms and conditions",
        "All content is available under the Open Government Licence v3.0, except where",
        "Rhestr o Wasanaethau Cymraeg Built by the Government Digital Service",
        "Environment and countryside",
        "Working, jobs and pensions",
        "News and communications Research and statistics Policy papers and consultations "
        "Transparency and freedom of",
        "© Crown copyright",
        "<u>Services</u> Guidance and regulation",
        "There is something wrong with this page",
        "The UK has left the EU",
        "Departments and policy",
        "How government works",
        "Departments",
        "Worldwide",
        "information releases",
    ],
    NEWS: [
        "Want to have your say? Leave a comment",
        "Your email address will not be published. Required fields are marked *",
        "Read more stories",
        "Join nearly 3,000 other family practitioners - Check back daily for all the latest "
        "news, views, insights and best practice and sign up to our e-newsletter to receive "
        "our weekly round up every Thursday morning.",
        "You’ll receive the latest updates, analysis, and best practice straight to your inbox.",
    ],
}

CHROME_PHRASES = [
    "Is this page useful?",
    "Coronavirus (COVID-19)",
    "Departments and policy",
    "Open Government Licence",
    "Crown copyright",
    "Passports, travel and living abroad",
    "Leave a comment",
    "Your email address will not be published",
    "Join nearly 3,000",
    "straight to your inbox",
]


def norm(line: str) -> str:
    """Whitespace squashed and inline markup ("**", "<u>") dropped, as the loaders drop it."""
    line = re.sub(r"\*\*|</?u>", "", line)
    return " ".join(line.split())


@pytest.mark.parametrize("doc_id", [EDI, NEWS])
def test_exactly_the_chrome_lines_are_removed_and_recorded(doc_id: str, tmp_path: Path) -> None:
    doc = load_blocks(CORPUS / f"{doc_id}.txt")
    _kept, removed = clean_blocks(doc.blocks)
    assert sorted(norm(x) for x in doc.removed + removed) == sorted(
        norm(x) for x in EXPECTED_CHROME[doc_id]
    )
    settings = make_settings(REPO_ROOT, CORPUS, tmp_path / "idx")
    _chunks, entry = process_file(CORPUS / f"{doc_id}.txt", settings)
    assert entry["removed_lines"] == len(EXPECTED_CHROME[doc_id])
    assert entry["removed_chars"] > 0


@pytest.mark.parametrize("doc_id", [EDI, NEWS])
def test_chrome_phrases_are_gone_from_every_chunk(doc_id: str, tmp_path: Path) -> None:
    raw = (CORPUS / f"{doc_id}.txt").read_text(encoding="utf-8")
    assert [p for p in CHROME_PHRASES if p in raw], "the seed should contain chrome to test"
    settings = make_settings(REPO_ROOT, CORPUS, tmp_path / "idx")
    chunks, _entry = process_file(CORPUS / f"{doc_id}.txt", settings)
    text = "\n".join(c.text for c in chunks)
    for phrase in CHROME_PHRASES:
        assert phrase not in text, phrase


@pytest.mark.parametrize(
    ("line", "chrome"),
    [
        ("Is this page useful?", True),
        ("Leave a comment", True),
        ("Sign up for our newsletter", True),
        ("Inspectors will leave a comment in the report.", False),
        ("The inspection takes place for four weeks.", False),
    ],
)
def test_is_chrome_line(line: str, chrome: bool) -> None:
    assert is_chrome_line(line) is chrome
