"""Fast tests of the UI's pure formatting: citation links, quote highlighting, refusals,
escaping of hostile text, feedback records and the documents table."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from assistant.source_view import Passage, SourceView
from ui import format as fmt
from ui.viewer import viewer_error_html, viewer_html

UID = "a1234"


def _answer(**overrides: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "question": "What are the three aims of the PSED?",
        "answer": "The duty has three aims: [1]\n- eliminate discrimination [1]\n"
        "- advance equality of opportunity [2]\nOfsted reviews them yearly. [2]",
        "refused": False,
        "sentences": [],
        "citations": [
            {
                "n": 1,
                "doc_id": "edi",
                "title": "EDI statement",
                "section": "1. Introduction",
                "page": 3,
                "chunk_id": "edi#1",
                "score": 0.8,
                "quote": "eliminate   discrimination,\nharassment",
                "text": "The PSED requires Ofsted to have due regard to the need to:\n"
                "eliminate discrimination, harassment and victimisation.",
            },
            {
                "n": 2,
                "doc_id": "edi",
                "title": "EDI statement",
                "section": "EDI statement",
                "page": None,
                "chunk_id": "edi#2",
                "score": 0.7,
                "quote": "advance equality of opportunity",
                "text": "It must also advance equality of opportunity between groups.",
            },
        ],
        "generator": "extractive",
        "timings_ms": {"retrieve": 40.0, "total": 1234.5},
        "rewritten_query": "What are the three aims of the PSED?",
        "notice": "",
        "closest": [],
        "refusal_reason": "",
    }
    answer.update(overrides)
    return answer


def _refusal(**overrides: Any) -> dict[str, Any]:
    refusal = _answer(
        question="How do I renew my passport?",
        answer="The indexed documents do not cover this question.",
        refused=True,
        citations=[],
        closest=[
            {
                "doc_id": "news",
                "title": "Ofsted news",
                "section": "News",
                "page": None,
                "chunk_id": "news#0",
                "text": "Ofsted announced the inspection.",
                "score": 0.2,
            },
            {
                "doc_id": "edi",
                "title": "EDI statement",
                "section": "4. Eliminating",
                "page": 2,
                "chunk_id": "edi#5",
                "text": "Eliminating discrimination in inspections.",
                "score": 0.1,
            },
        ],
        refusal_reason="weak evidence (best similarity 0.12, question words found 0%)",
    )
    refusal.update(overrides)
    return refusal


def test_markers_become_links_to_this_answers_cards() -> None:
    html = fmt.answer_markdown(_answer(), UID)
    assert html.count(f'<a href="#src-{UID}-1" class="cite">[1]</a>') == 2
    assert html.count(f'<a href="#src-{UID}-2" class="cite">[2]</a>') == 2
    assert "<li>eliminate discrimination" in html and "<ul>" in html
    cards = fmt.source_cards_html(_answer(), UID)
    assert f'id="src-{UID}-1"' in cards and f'id="src-{UID}-2"' in cards


def test_two_answers_never_share_anchor_ids() -> None:
    first, second = fmt.new_uid(), fmt.new_uid()
    assert first != second
    assert fmt.card_id(first, 1) != fmt.card_id(second, 1)
    with pytest.raises(ValueError):
        fmt.card_id('x" onclick="alert(1)', 1)


def test_marker_without_citation_is_not_a_link() -> None:
    html = fmt.answer_markdown(_answer(answer="Something odd. [7]"), UID)
    assert "src-a1234-7" not in html and "cite-missing" in html


def test_answer_shows_generator_and_latency() -> None:
    html = fmt.answer_markdown(_answer(), UID)
    assert '<div class="answer-meta">extractive · 1.23 s</div>' in html


def test_answer_is_one_html_block_without_blank_lines() -> None:
    # a blank line would end the raw-HTML block and let Markdown parse the text
    html = fmt.answer_markdown(_answer(), UID)
    assert "\n\n" not in html and html.startswith("<div")


def test_quote_is_highlighted_as_the_exact_original_span() -> None:
    cards = fmt.source_cards_html(_answer(), UID)
    # whitespace differs between quote and passage: the passage's own characters are marked
    assert "<mark>eliminate discrimination, harassment</mark>" in cards
    assert "<mark>advance equality of opportunity</mark>" in cards
    assert "EDI statement" in cards and "1. Introduction" in cards and "page 3" in cards


def test_every_answer_sentence_drawn_from_a_passage_is_marked() -> None:
    answer = _answer(
        sentences=[
            {"text": "It must also advance equality", "citations": [2], "supported": True},
            {"text": "between groups.", "citations": [2], "supported": True},
            {"text": "must also", "citations": [2], "supported": False},
        ]
    )
    answer["citations"][1]["quote"] = "It must also advance"
    cards = fmt.source_cards_html(answer, UID)
    # overlapping spans merge into one mark; the separate sentence gets its own
    assert (
        "<mark>It must also advance equality</mark> of opportunity <mark>between groups.</mark>"
        in cards
    )


def test_find_quote_maps_back_to_original_offsets() -> None:
    text = "Alpha  beta\n\ngamma delta."
    start, end = fmt.find_quote(text, "beta gamma")
    assert text[start:end] == "beta\n\ngamma"
    assert fmt.find_quote(text, "BETA gamma") == (start, end)  # case-insensitive fallback
    assert fmt.find_quote(text, "not there") is None
    assert fmt.find_quote(text, "   ") is None


def test_quote_missing_from_text_is_shown_highlighted_on_its_own() -> None:
    answer = _answer()
    answer["citations"][1]["quote"] = "words that are <b>not</b> in the passage"
    cards = fmt.source_cards_html(answer, UID)
    assert (
        '<p class="quote-only"><mark>words that are &lt;b&gt;not&lt;/b&gt; in the passage' in cards
    )
    assert "It must also advance equality of opportunity between groups." in cards
    answer["citations"][1]["text"] = ""  # no passage text at all: still a card with the quote
    assert "<mark>words that are" in fmt.source_cards_html(answer, UID)


def test_refusal_is_visibly_different_and_lists_closest_passages() -> None:
    html = fmt.answer_markdown(_refusal(), UID)
    assert 'class="answer refusal"' in html
    assert fmt.REFUSAL_HEADING in html
    assert "Ofsted news" in html and "EDI statement" in html
    assert "Ofsted announced the inspection." in html
    assert "weak evidence" in html
    cards = fmt.source_cards_html(_refusal(), UID)
    assert cards.count('class="src-card closest"') == 2
    assert "do not answer" in cards
    normal = fmt.answer_markdown(_answer(), UID)
    assert "refusal" not in normal and fmt.REFUSAL_HEADING not in normal


def test_refusal_without_closest_passages() -> None:
    answer = _refusal(closest=[])
    assert "No passage came close" in fmt.answer_markdown(answer, UID)
    assert "No passage came close" in fmt.source_cards_html(answer, UID)


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>![p](http://evil.test/p.png)'


def _live_tags(html: str) -> set[str]:
    return {t.lower() for t in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", html)}


def test_hostile_text_is_escaped_everywhere() -> None:
    answer = _answer(
        question=HOSTILE, answer=f"Bad {HOSTILE} [1]", notice=HOSTILE, rewritten_query=HOSTILE
    )
    answer["citations"][0].update(
        title=HOSTILE, section=HOSTILE, text=f"pre {HOSTILE} post", quote=HOSTILE, doc_id=HOSTILE
    )
    outputs = [
        fmt.answer_markdown(answer, UID),
        fmt.source_cards_html(answer, UID),
        fmt.sources_panel_html([{"uid": UID, "answer": answer}]),
        fmt.question_markdown(HOSTILE),
        fmt.streaming_markdown(HOSTILE),
        fmt.error_markdown(HOSTILE),
        fmt.answer_markdown(_refusal(closest=[{"title": HOSTILE, "text": HOSTILE}]), UID),
        fmt.build_report_html({"added": [HOSTILE], "errors": [HOSTILE]}, [HOSTILE]),
        viewer_html(
            SourceView(
                doc_id=HOSTILE,
                title=HOSTILE,
                format="md",
                path=HOSTILE,
                chunk_id=HOSTILE,
                section=HOSTILE,
                page=None,
                quote=HOSTILE,
                passages=[
                    Passage(HOSTILE, HOSTILE, None, HOSTILE, True),
                    Passage(HOSTILE, HOSTILE, 2, HOSTILE, False),
                ],
                warnings=[HOSTILE],
            ),
            HOSTILE,
        ),
        viewer_error_html(HOSTILE),
    ]
    allowed = {
        "button",  # a source card's "Open source", the viewer's "Back to the answer"
        "h2",
        "h3",
        "div",
        "p",
        "a",
        "ul",
        "ol",
        "li",
        "mark",
        "span",
        "b",
        "strong",
        "br",
        "details",
        "summary",
    }
    for html in outputs:
        assert "<script" not in html.lower() and "<img" not in html.lower()
        assert _live_tags(html) <= allowed, _live_tags(html) - allowed
        # markdown syntax is neutralised too: no image/link syntax survives unescaped
        assert "](" not in html and "![" not in html
        assert "&lt;script&gt;" in html


def test_hostile_quote_is_highlighted_but_inert() -> None:
    answer = _answer()
    answer["citations"][0].update(text=f"before {HOSTILE} after", quote=HOSTILE)
    cards = fmt.source_cards_html(answer, UID)
    assert "<mark>&lt;script&gt;alert&#40;&quot;x&quot;&#41;&lt;/script&gt;" in cards


def test_feedback_record_shape() -> None:
    record = fmt.feedback_record(_answer(), "down", "  missing   the third aim ", now=0)
    assert record == {
        "timestamp": "1970-01-01T00:00:00Z",
        "rating": "down",
        "comment": "missing the third aim",
        "question": "What are the three aims of the PSED?",
        "answer": _answer()["answer"],
        "refused": False,
        "generator": "extractive",
        "citations": [
            {
                "n": 1,
                "doc_id": "edi",
                "chunk_id": "edi#1",
                "section": "1. Introduction",
                "page": 3,
                "quote": "eliminate   discrimination,\nharassment",
            },
            {
                "n": 2,
                "doc_id": "edi",
                "chunk_id": "edi#2",
                "section": "EDI statement",
                "page": None,
                "quote": "advance equality of opportunity",
            },
        ],
    }
    json.dumps(record)  # one JSON line
    with pytest.raises(ValueError):
        fmt.feedback_record(_answer(), "meh")


def test_history_keeps_plain_answer_text() -> None:
    assert fmt.plain_answer_text(_answer()) == _answer()["answer"]


def test_sources_panel_keeps_earlier_cards_folded() -> None:
    records = [
        {"uid": "a1", "answer": _answer(question="first")},
        {"uid": "a2", "answer": _answer(question="second")},
    ]
    panel = fmt.sources_panel_html(records)
    assert panel.index('id="src-a2-1"') < panel.index("<details")  # latest first, open
    assert panel.index("<details") < panel.index('id="src-a1-1"')  # earlier folded
    assert "Click a [n] marker" in fmt.sources_panel_html([])


def test_document_helpers() -> None:
    from assistant.library import DocumentInfo

    docs = [
        DocumentInfo(
            "edi", "EDI statement", "guidance", 12, "2024-05-01T10:00:00Z", "/c/edi.txt", 0
        )
    ]
    assert fmt.document_rows(docs) == [
        ["EDI statement", "guidance", "", "–", 12, "2024-05-01 10:00:00", "none", "edi"]
    ]
    scanned = DocumentInfo(
        "scan",
        "Scan",
        "other",
        3,
        "2024-05-01T10:00:00Z",
        "/c/scan.pdf",
        0,
        "pdf",
        4,
        ["page 2 has no text layer (scanned?)", "page 3 is empty"],
    )
    assert fmt.document_rows([scanned])[0][2:7] == [
        "PDF",
        "4",
        3,
        "2024-05-01 10:00:00",
        "page 2 has no text layer (scanned?); page 3 is empty",
    ]
    assert fmt.document_choices(docs) == [("EDI statement (edi)", "edi")]
    report = {
        "added": ["new-doc"],
        "errors": ["bad.pdf: unreadable"],
        "changed": True,
        "chunks_total": 30,
        "chunks_per_doc": {"a": 1, "b": 2},
        "seconds": 1.5,
    }
    html = fmt.build_report_html(report, ["evil.exe: file type '.exe' is not accepted"])
    assert "Added" in html and "new-doc" in html and "Refused" in html
    assert "evil.exe" in html and "bad.pdf" in html and "2 documents, 30 chunks" in html


def test_export_preview_moves_headings_down() -> None:
    md = "# Title\nExported today  \n\n## 1. Why?\n\n### References\n\n1. **Doc** #5\n"
    assert fmt.preview_markdown(md) == (
        "### Title\nExported today  \n\n#### 1. Why?\n\n##### References\n\n1. **Doc** #5\n"
    )
    assert fmt.preview_markdown("#nospace") == "#nospace"
