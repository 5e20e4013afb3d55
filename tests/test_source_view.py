"""The source viewer's library side (assistant.source_view): a PDF citation opens at its page,
rendered with the quoted passage highlighted; other formats show the passage in its section
with the text around it; a passage that left the index gives a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.source_view import SourceError, find_spans, open_source
from tests.conftest import make_settings

LANTERN_PAGES = [
    [
        "Lantern Street Library: building care plan",
        "This plan sets out how the volunteers of Lantern Street Library look after the "
        "reading rooms, the garden and the old printing press kept in the basement.",
    ],
    [
        "Heating and damp",
        "The boiler is serviced every October by a registered engineer. "
        "The basement dehumidifier runs from November to March and its water tank is emptied "
        "each Tuesday by the duty volunteer. "
        "Readings of the basement hygrometer are written in the blue logbook.",
    ],
    [
        "Garden",
        "The garden benches are oiled each May. Fallen leaves are swept into the compost bay "
        "behind the shed every Saturday in autumn.",
    ],
]
LANTERN_FACT = "its water tank is emptied each Tuesday by the duty volunteer"
NOTES_MD = """# Printing press notes

## Cleaning

The press rollers are cleaned with a soft cloth after every demonstration.

## Storage

The type cases are stored in the tall cabinet by the west window. The drawer labels are
written by hand on card, and a missing label is replaced the same week.

## Visits

School groups may watch a demonstration on the first Friday of each month.
"""


def write_lantern_pdf(path: Path) -> Path:
    """A three-page PDF of my own text; the fact on page 2 wraps across lines."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    for heading, body in LANTERN_PAGES:
        pdf.add_page()
        pdf.set_font("helvetica", style="B", size=16)
        pdf.set_xy(72, 72)
        pdf.cell(0, 24, heading)
        pdf.set_font("helvetica", size=11)
        pdf.set_xy(72, 110)
        pdf.multi_cell(420, 16, body)
    path.write_bytes(bytes(pdf.output()))
    return path


@pytest.fixture
def lantern_index(tmp_path: Path, repo_root: Path):
    from assistant.index import Index, build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_lantern_pdf(corpus / "lantern-care-plan.pdf")
    (corpus / "press-notes.md").write_text(NOTES_MD, encoding="utf-8")
    settings = make_settings(
        repo_root, corpus, tmp_path / "idx", chunk_min_chars=40, chunk_max_chars=200
    )
    report = build_index(settings)
    assert not report.errors, report
    return Index.open(settings)


def _chunk_with(index, text: str):
    return next(c for c in index.chunks if text in " ".join(c.text.split()))


def test_pdf_citation_opens_its_page_with_the_passage_highlighted(lantern_index) -> None:
    from PIL import Image

    chunk = _chunk_with(lantern_index, "emptied each Tuesday")
    view = open_source(lantern_index, chunk.chunk_id, LANTERN_FACT)
    assert view.format == "pdf" and view.page == 2 and view.page_shown == 2
    assert view.highlighted and view.page_png
    assert view.path.endswith("lantern-care-plan.pdf") and Path(view.path).is_file()
    image = Image.open(__import__("io").BytesIO(view.page_png)).convert("RGB")
    yellow = sum(1 for r, g, b in image.getdata() if r > 240 and 200 < g < 240 and b < 120)
    assert yellow > 500  # the highlight is there, not just a blank page
    cited = [p for p in view.passages if p.cited]
    assert len(cited) == 1 and "Tuesday" in cited[0].text


def test_a_quote_not_on_the_page_leaves_the_page_unmarked(lantern_index) -> None:
    chunk = _chunk_with(lantern_index, "emptied each Tuesday")
    view = open_source(lantern_index, chunk.chunk_id, "words that appear on no page at all")
    assert view.page_png and not view.highlighted


def test_markdown_citation_shows_its_section_and_the_text_around_it(lantern_index) -> None:
    chunk = _chunk_with(lantern_index, "tall cabinet")
    view = open_source(lantern_index, chunk.chunk_id, "stored in the tall cabinet")
    assert view.format == "md" and view.page_png is None
    texts = [" ".join(p.text.split()) for p in view.passages]
    assert any("tall cabinet" in t for t in texts)
    assert len(view.passages) >= 2  # the neighbours come along
    assert [p.cited for p in view.passages].count(True) == 1


def test_a_passage_no_longer_indexed_is_a_clear_error(lantern_index) -> None:
    with pytest.raises(SourceError, match="no longer in the index"):
        open_source(lantern_index, "gone#123", "x")


def test_find_spans_tolerates_line_breaks_and_case() -> None:
    page = "The basement dehumidifier runs\r\nfrom November to March and ITS water tank"
    spans = find_spans(page, "runs from November to March and its water tank")
    assert len(spans) == 1
    start, end = spans[0]
    assert page[start:end].startswith("runs") and page[start:end].endswith("tank")
