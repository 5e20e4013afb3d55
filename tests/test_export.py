"""Conversation and table exports (assistant.export): Markdown and DOCX read back with
python-docx, references numbered as the answers' markers, bad input refused clearly."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest

from assistant.export import (
    ExportError,
    conversation_docx,
    conversation_markdown,
    criteria_docx,
    psed_docx,
    turns_from_answers,
)

WHEN = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)


def _answer(
    question: str,
    text: str,
    cites: list[tuple[int, str, str, int | None, str]],
    generation: str = "g000007",
) -> dict[str, Any]:
    return {
        "question": question,
        "answer": text,
        "refused": False,
        "index_generation": generation,
        "answered_at": "2026-03-04 09:29:00 UTC",
        "citations": [
            {
                "n": n,
                "doc_id": title.lower().replace(" ", "-"),
                "title": title,
                "section": section,
                "page": page,
                "chunk_id": f"x#{n}",
                "quote": quote,
            }
            for n, title, section, page, quote in cites
        ],
    }


CONVERSATION = [
    _answer(
        "How often are the hedgerows surveyed?",
        "Hedgerows are surveyed every spring [1]. Gaps are replanted by November [2].",
        [
            (1, "Parish hedgerow plan", "Survey cycle", 4, "Hedgerows are surveyed every spring"),
            (2, "Parish hedgerow plan", "Repairs", None, "Gaps are replanted by November"),
        ],
    ),
    _answer(
        "Who keeps the survey records?",
        "- The parish clerk keeps them [1].\n- Copies go to the county archive [1].",
        [(1, "Records note", "", 2, "The parish clerk keeps the survey records")],
        generation="g000008",
    ),
]


def _docx_paragraphs(data: bytes) -> list[tuple[str, str]]:
    from docx import Document

    doc = Document(io.BytesIO(data))
    return [(p.style.name, p.text) for p in doc.paragraphs]


def test_markdown_has_questions_answers_references_date_and_generation() -> None:
    md = conversation_markdown(turns_from_answers(CONVERSATION), exported_at=WHEN)
    assert md.startswith("# Inspection Assistant conversation")
    assert "Exported 2026-03-04 09:30 UTC" in md
    assert "Index generation: g000007, g000008" in md
    assert "## 1. How often are the hedgerows surveyed?" in md
    assert "Hedgerows are surveyed every spring [1]." in md
    assert "1. **Parish hedgerow plan**, section “Survey cycle”, page 4" in md
    assert "   > “Hedgerows are surveyed every spring”" in md
    assert "2. **Parish hedgerow plan**, section “Repairs”\n" in md  # no page: none printed
    assert "- The parish clerk keeps them [1]." in md
    assert "1. **Records note**, page 2" in md


def test_markdown_keeps_document_text_inert() -> None:
    answers = [
        _answer(
            "Is *this* [x] a <b>tag</b>?",
            "Yes # really [1]",
            [(1, "T_1", "", None, "a `code` | pipe")],
        )
    ]
    md = conversation_markdown(turns_from_answers(answers), exported_at=WHEN)
    assert "Is \\*this\\* \\[x\\] a \\<b\\>tag\\</b\\>?" in md
    assert "Yes \\# really [1]" in md  # the marker stays a marker
    assert "a \\`code\\` \\| pipe" in md


def test_docx_reads_back_with_every_reference() -> None:
    paras = _docx_paragraphs(conversation_docx(turns_from_answers(CONVERSATION), WHEN))
    texts = [t for _, t in paras]
    assert texts[0] == "Inspection Assistant conversation"
    assert "Exported 2026-03-04 09:30 UTC" in texts
    assert "Index generation: g000007, g000008" in texts
    headings = [t for style, t in paras if style == "Heading 1"]
    assert headings == [
        "1. How often are the hedgerows surveyed?",
        "2. Who keeps the survey records?",
    ]
    assert ("List Bullet", "The parish clerk keeps them [1].") in paras
    refs = [t for style, t in paras if style == "Normal" and t[:3] in ("1. ", "2. ")]
    assert refs == [
        "1. Parish hedgerow plan, section “Survey cycle”, page 4",
        "2. Parish hedgerow plan, section “Repairs”",
        "1. Records note, page 2",
    ]
    quotes = [t for style, t in paras if style == "Quote"]
    assert quotes == [
        "“Hedgerows are surveyed every spring”",
        "“Gaps are replanted by November”",
        "“The parish clerk keeps the survey records”",
    ]


def test_ui_records_are_accepted_too() -> None:
    records = [{"uid": "a1", "answer": CONVERSATION[0]}]
    assert turns_from_answers(records)[0].question == "How often are the hedgerows surveyed?"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "conversation is empty"),
        ("not a list", "must be a list"),
        ([{"answer": "x"}], "item 1 has no question"),
        ([{"question": "q?"}], "item 1 has no answer text"),
        ([{"question": "q?", "answer": "a", "citations": [{"title": "t"}]}], "number n"),
        ([7], "item 1 is not an answer object"),
        ([CONVERSATION[0]] * 201, "at most 200"),
    ],
)
def test_bad_conversations_are_refused_clearly(bad: Any, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        turns_from_answers(bad)


def test_criteria_and_psed_tables_export_as_docx() -> None:
    from docx import Document

    criteria = {
        "topic": "hedgerows",
        "groups": [
            {
                "label": "Upkeep",
                "title": "Parish hedgerow plan",
                "section": "Repairs",
                "items": [
                    {
                        "n": 1,
                        "text": "Gaps are replanted by November.",
                        "kind": "expectation",
                        "chunk_id": "plan#3",
                    }
                ],
            }
        ],
    }
    doc = Document(io.BytesIO(criteria_docx(criteria, WHEN)))
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells][:2] == ["Judgement area", "Statement"]
    assert [c.text for c in table.rows[1].cells] == [
        "Upkeep",
        "Gaps are replanted by November.",
        "expectation",
        "Parish hedgerow plan § Repairs",
        "[1] plan#3",
    ]
    matrix = {
        "rows": [
            {
                "label": "Advance equality of opportunity",
                "kind": "aim",
                "status": "addressed",
                "count": 2,
                "sections": ["Aims"],
                "passages": [{"quote": "We advance equality.", "doc_id": "policy"}],
            },
            {
                "label": "Age",
                "kind": "characteristic",
                "status": "not_found",
                "count": 0,
                "sections": [],
                "passages": [],
            },
        ],
        "summary": {"addressed": 1},
    }
    doc = Document(io.BytesIO(psed_docx(matrix, WHEN)))
    rows = [[c.text for c in r.cells] for r in doc.tables[0].rows]
    assert rows[1] == [
        "Advance equality of opportunity",
        "aim",
        "yes",
        "2",
        "Aims",
        "“We advance equality.” [policy]",
    ]
    assert rows[2][2] == "no passage found"
    assert "1 of 2 obligations addressed" in [p.text for p in doc.paragraphs]
