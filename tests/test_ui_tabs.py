"""The Criteria and PSED tabs' renderers: structure, citations and escaping (no server)."""

from __future__ import annotations

from ui.tabs import criteria_html, psed_html


def _criteria(text: str, complete: bool = True) -> dict:
    item = {
        "n": 1,
        "text": text,
        "kind": "quoted_criterion",
        "chunk_id": "doc:abc",
        "complete": complete,
    }
    return {
        "topic": "learning <culture>",
        "n_items": 1,
        "groups": [
            {
                "label": "Impact of leadership",
                "title": "EDI statement",
                "section": "3.1 Criteria",
                "context": "we expect the following:",
                "items": [item],
            }
        ],
    }


def test_criteria_items_are_quoted_with_citation_and_group() -> None:
    out = criteria_html(_criteria("'Staff at all levels work in a culture.'"))
    assert "<h2>Impact of leadership</h2>" in out
    assert "EDI statement § 3.1 Criteria" in out
    assert "[1]" in out and "we expect the following:" in out
    assert "learning &lt;culture&gt;" in out


def test_criteria_text_is_escaped_and_cut_quotes_flagged() -> None:
    out = criteria_html(_criteria("<script>alert(1)</script> 'There is strong", complete=False))
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "quotation cut off" in out


def test_criteria_empty_result_says_so() -> None:
    out = criteria_html({"topic": "passports", "groups": []})
    assert "No criteria" in out and "passports" in out


def test_psed_matrix_marks_missing_rows_and_escapes() -> None:
    matrix = {
        "rows": [
            {
                "label": "Foster good relations",
                "kind": "aim",
                "status": "addressed",
                "count": 2,
                "relevance": "",
                "sections": ["6. Developing good relations"],
                "passages": [{"quote": "foster good relations <b>x</b>", "doc_id": "edi"}],
            },
            {
                "label": "Caste",
                "kind": "characteristic",
                "status": "no passage found",
                "count": 0,
                "relevance": "",
                "sections": [],
                "passages": [],
            },
        ],
        "summary": {"addressed": 1, "not_found": ["Caste"]},
    }
    out = psed_html(matrix)
    assert "1 of 2 obligations" in out
    assert "✗ no passage found" in out and "✓" in out
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>x</b>" not in out
