"""Answer-level metrics: fragments, leading with a fact, mixed documents, failure causes."""

from __future__ import annotations

import pytest

from assistant.answer import Answer, Citation, Sentence
from assistant.eval_metrics import (
    METRICS,
    Metric,
    failure_cause,
    fragment_reason,
    fragments,
    leads_with_fact,
    score_answer,
    summarise,
)
from assistant.eval_questions import Question


@pytest.mark.parametrize(
    ("text", "is_item", "next_is_item", "reason"),
    [
        ("Fieldwork lasts five days. [1]", False, False, None),
        ("Agencies must follow the duty and we will check whether they do so.", False, False, None),
        (
            "In seeking to eliminate discrimination, inspectors will evaluate",
            False,
            False,
            "stops mid-sentence",
        ),
        ("Inspectors will speak to children and carers.", False, False, None),
        ("provide a draft report within ten working days.", False, False, "starts mid-sentence"),
        (
            "The lead inspector will contact the registered manager and",
            False,
            False,
            "stops mid-sentence",
        ),
        ("eliminate discrimination, harassment and victimisation", True, False, None),
        (
            "advance equality of opportunity between persons who share a",
            True,
            False,
            "cut at a line end",
        ),
        ("children are seen alone by their social worker within", True, False, "cut at a line end"),
        ("Inspection should:", False, False, "lead-in without its items"),
        ("Inspection should:", False, True, None),
        ("to have due regard to the need to—", False, False, "lead-in without its items"),
        ("Page 3 of 12", False, False, "page line"),
        ("(a) enter and inspect any premises used by the agency", True, False, None),
        ("(b) the need to advance equality of opportunity.", False, False, None),
        ("Full inspection | At least once every five years", False, False, None),
        ("Stage 2 | The lead inspector and", False, False, "cut at a line end"),
        ("Published 14 March 2025", False, False, "date or metadata line"),
        ("3. Judgements and grades", False, False, "heading or title"),
        (
            "Framework for inspecting independent fostering agencies",
            False,
            False,
            "heading or title",
        ),
        ("“Children say they feel safe.”", False, False, None),
        ("The report is published within 25 working days (see annex B).", False, False, None),
    ],
)
def test_fragment_reason(text: str, is_item: bool, next_is_item: bool, reason: str | None) -> None:
    assert fragment_reason(text, is_item, next_is_item) == reason


def test_fragments_use_the_next_unit_for_lead_ins() -> None:
    units = [
        {"text": "Inspection should:", "is_item": False, "citations": [1]},
        {"text": "focus on what matters", "is_item": True, "citations": [1]},
        {"text": "We expect the following:", "is_item": False, "citations": [2]},
        {"text": "Children feel safe.", "is_item": False, "citations": [2]},
        {"text": "Agencies must:", "is_item": False, "citations": [2]},
        {"text": "Reports follow.", "is_item": False, "citations": [3]},
    ]
    assert [f["text"] for f in fragments(units)] == ["Agencies must:"]


def test_lead_hit_looks_at_the_first_200_characters_without_markers() -> None:
    long_intro = "This framework sets out how we inspect agencies in Northmoor. " * 4
    assert leads_with_fact(["five days"], "Fieldwork lasts five days [1]. " + long_intro)
    assert not leads_with_fact(["five days"], long_intro + "Fieldwork lasts five days [2].")
    assert leads_with_fact([["5 days", "five days"]], "It takes five [1] days.")


def _answer(sentences: list[Sentence], citations: list[Citation], refused: bool = False) -> Answer:
    text = " ".join(f"{s.text} " + "".join(f"[{n}]" for n in s.citations) for s in sentences)
    return Answer(
        question="q",
        answer=text,
        refused=refused,
        sentences=sentences,
        citations=citations,
        generator="extractive",
        timings_ms={"total": 1.0},
        retrieved=[{"chunk_id": c.chunk_id, "doc_id": c.doc_id, "rank": c.n} for c in citations],
    )


def _cite(n: int, doc: str, text: str) -> Citation:
    return Citation(n, doc, doc, "", None, f"{doc}:{n}", text, 0.5, text)


def _q(**kw: object) -> Question:
    base = {
        "id": "q1",
        "question": "How long is fieldwork?",
        "set": "s",
        "sources": ["a"],
        "evidence": ["fieldwork lasts"],
        "facts": ["five days"],
    }
    return Question.model_validate(base | kw)


def test_score_answer_rows_carry_answer_level_fields() -> None:
    cites = [_cite(1, "a", "Fieldwork lasts five days."), _cite(2, "b", "Reports follow.")]
    answer = _answer(
        [Sentence("Fieldwork lasts five days.", [1], True), Sentence("Reports follow", [2], True)],
        cites,
    )
    row = score_answer(_q(), answer, lambda _cid: None, 1, 12.0)
    assert row["lead_hit"] is True and row["fact_recall"] == 1.0
    assert row["mixed_documents"] is True  # evidence in one document, two documents cited
    assert row["n_units"] == 2 and [f["reason"] for f in row["fragments"]] == ["heading or title"]
    assert row["failure"] == "fragment"
    s = summarise([row])
    assert (s["fragment_rate"], s["mixed_document_rate"], s["lead_hit"]) == (0.5, 1.0, 1.0)
    assert s["failures"]["fragment"] == 1


def test_comparison_questions_are_not_mixed_document_failures() -> None:
    cites = [_cite(1, "a", "Fieldwork lasts five days."), _cite(2, "b", "Fieldwork lasts four.")]
    answer = _answer(
        [
            Sentence("Fieldwork lasts five days.", [1], True),
            Sentence("Fieldwork lasts four.", [2], True),
        ],
        cites,
    )
    row = score_answer(_q(sources=["a", "b"]), answer, lambda _cid: None, 2, 1.0)
    assert row["mixed_documents"] is None


@pytest.mark.parametrize(
    ("fields", "cause"),
    [
        ({"answerable": False, "refused": False}, "answered_out_of_scope"),
        ({"answerable": False, "refused": True}, None),
        ({"refused": True}, "false_refusal"),
        ({"facts_missed": ["x"], "relevant_ranks": []}, "retrieval_miss"),
        ({"facts_missed": ["x"], "relevant_ranks": [2]}, "selection_miss"),
        ({"fragments": [{"text": "t", "reason": "r"}]}, "fragment"),
        ({"error": "boom"}, "error"),
        ({}, None),
    ],
)
def test_failure_cause(fields: dict, cause: str | None) -> None:
    row = {
        "answerable": True,
        "refused": False,
        "facts_missed": [],
        "relevant_ranks": [1],
        "fragments": [],
        "error": None,
    } | fields
    assert failure_cause(row) == cause


def test_every_metric_is_one_class_with_one_method() -> None:
    keys = [m.key for m in METRICS]
    assert len(keys) == len(set(keys))
    for m in METRICS:
        assert isinstance(m, Metric) and type(m).evaluate is not Metric.evaluate
        assert m.evaluate([]) is None  # nothing to measure is "not measured", never 0 or 1
    for key in ("lead_hit", "fragment_rate", "mixed_document_rate"):
        assert key in keys
