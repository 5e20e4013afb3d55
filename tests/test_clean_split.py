"""Cleaning keeps every sentence of content and drops only chrome; splitting keeps exact
offsets, stable ids, sensible sizes and the document's own section structure."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from assistant.clean import clean_pages, clean_text
from assistant.split import chunk_id, find_headings, split_text

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

_WORD_CHARS = re.compile(r"\w")


def norm(line: str) -> str:
    return " ".join(line.split())


def words(text: str) -> list[str]:
    """Tokens with formatting markers removed ('**', '•', '<u>', '</u>', '-'/'>' markers)."""
    for marker in ("**", "<u>", "</u>", "•"):
        text = text.replace(marker, " ")
    return [t for t in text.split() if t not in ("-", ">")]


def raw(doc_id: str) -> str:
    return (CORPUS / f"{doc_id}.txt").read_text(encoding="utf-8")


def cleaned(doc_id: str) -> str:
    return clean_text(raw(doc_id)).text


def chunks_of(text: str, doc_id: str = "doc", **kw: object) -> list:
    return split_text(text, doc_id=doc_id, title="Title", doc_type="guidance", **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ cleaning
@pytest.mark.parametrize("doc_id", [EDI, NEWS])
def test_chrome_phrases_are_gone(doc_id: str) -> None:
    text = cleaned(doc_id)
    present_before = [p for p in CHROME_PHRASES if p in raw(doc_id)]
    assert present_before, "the seed should contain some chrome to test"
    for phrase in CHROME_PHRASES:
        assert phrase not in text, phrase


@pytest.mark.parametrize("doc_id", [EDI, NEWS])
def test_exactly_the_chrome_lines_are_removed_and_recorded(doc_id: str) -> None:
    result = clean_text(raw(doc_id))
    assert [norm(x) for x in result.removed_lines] == [norm(x) for x in EXPECTED_CHROME[doc_id]]
    assert result.removed_chars > 0
    assert result.removed_chars == sum(len(x) for x in result.removed_lines)


@pytest.mark.parametrize("doc_id", [EDI, NEWS])
def test_every_content_line_survives_in_order(doc_id: str) -> None:
    chrome = {norm(x) for x in EXPECTED_CHROME[doc_id]}
    haystack = " " + " ".join(words(cleaned(doc_id))) + " "
    pos = 0
    checked = 0
    for line in raw(doc_id).splitlines():
        if not line.strip() or norm(line) in chrome:
            continue
        needle = " " + " ".join(words(line)) + " "
        found = haystack.find(needle, pos)
        assert found >= 0, f"content line lost or out of order: {line!r}"
        pos = found + len(needle) - 1
        checked += 1
    assert checked >= (60 if doc_id == EDI else 15)


def test_inline_bullets_become_dash_lines() -> None:
    text = cleaned(EDI)
    assert "to have due regard to the need to:\n- eliminate discrimination, harassment" in text
    assert "•" not in text and "•" not in cleaned(NEWS)
    news = cleaned(NEWS)
    assert (
        "Inspection should:\n\n- focus on the things that matter most to children’s lives\n"
        "- be consistent in our expectations of providers\n"
        "- prioritise our work where improvement is needed most\n"
    ) in news
    out = clean_text("Inspection should: • focus on children • be consistent • prioritise\n").text
    assert out == "Inspection should:\n- focus on children\n- be consistent\n- prioritise\n"


def test_bold_markers_and_html_tags_removed() -> None:
    text = cleaned(EDI)
    assert "Children and Family Court Advisory and Support Service inspection framework" in text
    assert "**" not in text and "<u>" not in text
    assert clean_text("A **Court Advisory and Support Service** line <u>here</u>\n").text == (
        "A Court Advisory and Support Service line here\n"
    )


def test_blank_line_runs_collapse() -> None:
    for doc_id in (EDI, NEWS):
        text = cleaned(doc_id)
        assert "\n\n\n" not in text
        assert text == text.lstrip() and text.endswith("\n") and not text.endswith("\n\n")
    assert clean_text("\n\nFirst paragraph.\n\n\n\n\n\nSecond one.\n\n\n").text == (
        "First paragraph.\n\nSecond one.\n"
    )


def test_hyphenated_line_break_is_joined() -> None:
    out = clean_text("Inspectors have consid-\nered the evidence.\n").text
    assert out == "Inspectors have considered the evidence.\n"
    # a real hyphen inside a line is untouched
    assert "evidence-led" in cleaned(NEWS)


def test_zero_width_and_control_characters_removed() -> None:
    src = (
        "\ufeffEqual\u200bity and in\u200cclu\u200dsion\u2060 are con\u00adsidered.\r\n"
        "Next\tline.\n"
    )
    out = clean_text(src).text
    assert out == "Equality and inclusion are considered.\nNext line.\n"
    for ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad\r\t":
        assert ch not in out


def test_clean_pages_keeps_page_offsets() -> None:
    page1 = "First page text about the framework.\nIs this page useful?\n"
    page2 = "Second page text about equality.\n"
    result = clean_pages(page1 + page2, [(0, 1), (len(page1), 2)])
    assert [n for _, n in result.pages] == [1, 2]
    off = result.pages[1][0]
    assert result.text[off:].startswith("Second page text")
    assert "Is this page useful?" in result.removed_lines


# ----------------------------------------------------------------------------------- splitting
# 1900 characters without a space (a long URL or hash in a real document)
UNBREAKABLE = "".join(hashlib.sha1(str(i).encode()).hexdigest() for i in range(48))[:1900]

SYNTHETIC_MD = (
    """# Inspection handbook

This handbook explains how inspections are carried out. It is written for inspectors and for the
providers they visit. Every section can be read on its own.

## Principles

Inspection should:

- focus on the things that matter most to children's lives and their experiences of care
- be consistent in our expectations of providers across the whole country
- prioritise our work where improvement is needed most, using the evidence available

"""
    + " ".join(
        f"Sentence number {i} describes part of the evaluation in enough detail to be useful."
        for i in range(30)
    )
    + """

## Evidence

Inspectors gather evidence from case files, from conversations with staff and from children.
They record what they find carefully. """
    + "Evidence matters a great deal. " * 40
    + """

### Unbreakable

"""
    + UNBREAKABLE
    + """

## Summary

A short closing paragraph.
"""
)


def split_cases() -> list[tuple[str, str]]:
    return [(EDI, cleaned(EDI)), (NEWS, cleaned(NEWS)), ("synthetic-md", SYNTHETIC_MD)]


@pytest.mark.parametrize(("doc_id", "text"), split_cases(), ids=["edi", "news", "markdown"])
def test_split_invariants(doc_id: str, text: str) -> None:
    max_chars = 800
    chunks = chunks_of(text, doc_id, min_chars=300, max_chars=max_chars)
    assert chunks
    # words longer than max_chars can only be cut inside; everywhere else cuts fall between words
    long_words = [m.span() for m in re.finditer(rf"\S{{{max_chars + 1},}}", text)]

    def in_unbreakable(pos: int) -> bool:
        return any(s < pos < e for s, e in long_words)

    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text.strip() and c.text == c.text.strip()
        assert c.doc_id == doc_id
        assert re.fullmatch(re.escape(doc_id) + r":[0-9a-f]{16}", c.chunk_id)
        assert c.chunk_id == chunk_id(doc_id, c.text)
        if len(c.text) > max_chars:  # only a single unbreakable unit may exceed the limit
            assert not any(ch.isspace() for ch in c.text), c.text[:80]
        if c.start > 0 and not in_unbreakable(c.start):
            assert not (text[c.start - 1].isalnum() and text[c.start].isalnum()), c.text[:40]
        if c.end < len(text) and not in_unbreakable(c.end):
            assert not (text[c.end - 1].isalnum() and text[c.end].isalnum()), c.text[-40:]
    ids = [c.chunk_id for c in chunks]
    assert len(ids) == len(set(ids))
    assert ids == [c.chunk_id for c in chunks_of(text, doc_id, min_chars=300, max_chars=800)]
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    # chunks never overlap
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))


@pytest.mark.parametrize(("doc_id", "text"), split_cases(), ids=["edi", "news", "markdown"])
def test_split_covers_all_content(doc_id: str, text: str) -> None:
    chunks = chunks_of(text, doc_id)
    covered = "".join("".join(c.text.split()) for c in chunks)
    assert covered == "".join(text.split())


def test_markdown_sections_and_lists() -> None:
    chunks = chunks_of(SYNTHETIC_MD, "md")
    labels = [h.label for h in find_headings(SYNTHETIC_MD)]
    assert labels == ["Inspection handbook", "Principles", "Evidence", "Unbreakable", "Summary"]
    bullets = [c for c in chunks if "- be consistent in our expectations" in c.text]
    assert len(bullets) == 1 and bullets[0].section == "Principles"
    # the list is kept together with its lead-in
    assert "Inspection should:" in bullets[0].text and "- prioritise our work" in bullets[0].text
    assert all(c.section == "Evidence" for c in chunks if "Evidence matters" in c.text)
    assert [c.section for c in chunks if "closing paragraph" in c.text] == ["Summary"]
    assert len([c for c in chunks if "Sentence number" in c.text]) >= 2
    # a chunk never crosses a heading
    for c in chunks:
        assert "\n## " not in c.text and "\n### " not in c.text


def test_long_unbreakable_token_is_cut_to_max_chars() -> None:
    chunks = chunks_of(SYNTHETIC_MD, "md", max_chars=800)
    pieces = [c for c in chunks if c.text in UNBREAKABLE]
    assert "".join(c.text for c in pieces) == UNBREAKABLE
    assert len(pieces) == 3 and all(len(c.text) <= 800 for c in pieces)
    assert all(c.section == "Unbreakable" for c in pieces)


EDI_LABELS = [
    "1. Introduction",
    "2. The future inspection of Cafcass",
    "3.1 The proposed evaluation criteria",
    "4. Eliminating discrimination",
    "5. Advancing equality of opportunity",
    "6. Developing good relations",
]


def test_edi_sections() -> None:
    text = cleaned(EDI)
    headings = find_headings(text)
    labels = [h.label for h in headings]
    for label in EDI_LABELS:
        assert label in labels
    assert labels.index("1. Introduction") < labels.index("2. The future inspection of Cafcass")
    # numbers go strictly forward: the contents fragments do not produce headings
    nums = [tuple(int(p) for p in h.label.split()[0].rstrip(".").split(".")) for h in headings]
    assert nums == sorted(nums) and len(set(nums)) == len(nums)
    toc_line = "- 3 PSED aims? 4. Eliminating discrimination 5. Advancing equality of opportunity"
    toc_start = text.index(toc_line)
    for h in headings:
        assert not toc_start <= h.start < toc_start + len(toc_line), h
    four = next(h for h in headings if h.label == "4. Eliminating discrimination")
    assert text[four.start :].startswith("4. Eliminating discrimination The proposals do not")
    # "7. Monitoring and evaluation" appears before 6 in the extracted text: not a heading
    assert not any(label.startswith("7.") for label in labels)

    chunks = chunks_of(text, EDI)
    target = [c for c in chunks if "The proposals do not create unlawful discrimination" in c.text]
    assert len(target) == 1 and target[0].section == "4. Eliminating discrimination"
    crit = next(c for c in chunks if "The proposed evaluation criteria in the framework" in c.text)
    assert crit.section == "3.1 The proposed evaluation criteria"
    relations = next(c for c in chunks if "build confidence in how equality" in c.text)
    assert relations.section == "6. Developing good relations"
    first = chunks[0]
    assert first.start == 0 and first.section == "Title"  # before any heading: the title


def test_toc_fragment_out_of_sequence_makes_no_heading() -> None:
    text = (
        "Contents\n\n- 3 PSED aims? 4. Eliminating discrimination 5. Advancing equality\n\n"
        "1. Introduction\n\nThe introduction text comes here.\n\n"
        "2. The duty\n\nThe duty text comes here.\n"
    )
    assert [h.label for h in find_headings(text)] == ["1. Introduction", "2. The duty"]


def test_multiline_table_of_contents_does_not_steal_the_sections() -> None:
    text = (
        "Contents\n\n1. Introduction\n2. Scope\n3. Duties\n\n"
        "1. Introduction\nThe body of the introduction is here.\n\n"
        "2. Scope\nThe scope covers inspection of all services.\n\n"
        "3. Duties\nThe duties are listed in full.\n"
    )
    chunks = chunks_of(text, "toc", min_chars=10, max_chars=60)
    section_of = {c.text.splitlines()[-1]: c.section for c in chunks}
    assert section_of["The body of the introduction is here."] == "1. Introduction"
    assert section_of["The scope covers inspection of all services."] == "2. Scope"


def test_pages_assigned_by_chunk_start() -> None:
    page1 = "\n\n".join(
        f"Page one paragraph {i} talks about the framework and its criteria in detail."
        for i in range(12)
    )
    page2 = "\n\n".join(
        f"Page two paragraph {i} talks about equality of opportunity for all children."
        for i in range(12)
    )
    text = page1 + "\n\n" + page2 + "\n"
    k = len(page1) + 2
    chunks = chunks_of(text, "paged", pages=[(0, 1), (k, 2)])
    assert {c.page for c in chunks} == {1, 2}
    for c in chunks:
        assert c.page == (1 if c.start < k else 2), (c.start, k, c.page)
        if c.text.startswith("Page two"):
            assert c.page == 2
    assert all(c.page is None for c in chunks_of(text, "unpaged"))
