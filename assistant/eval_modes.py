"""Scoring of the criteria finder and the PSED view (questions with ``mode: criteria|psed``).

They are scored on their own and never enter the answer and retrieval metrics:

- criteria_item_recall: expected items found (whole words, normalised) in the texts of the
  listed items / expected items (micro average);
- criteria_precision: listed items whose text is verbatim (normalised) in the chunk they cite /
  listed items - the finder only lists verbatim statements, so anything below 1 is a bug;
- psed_row_accuracy: expected rows with the expected status / expected rows.

Their rows reuse the per-question fields the reports render: the expected items (or rows) are
shown as ``facts`` with ``fact_recall`` the mode's score, the listed items as ``citations``;
``hit@1``/``hit@5`` say whether the first / one of the first five listed items is an expected
one (for psed, whether every expected row is right, as there is no ranking).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant.eval_metrics import (
    Row,
    fact_present,
    hit_at,
    new_row,
    quote_aligned,
    relevant_ranks,
)
from assistant.eval_metrics import _ratio as ratio
from assistant.eval_questions import Question
from assistant.text import normalise


def mode_row(q: Question, topic: str) -> Row:
    """The row of a criteria or psed question before scoring (its facts come from the mode)."""
    return new_row(q, mode=q.mode, topic=topic, rewritten_query=topic, generator=q.mode, facts=[])


def _item_matches(expected: str | list[str], text: str) -> bool:
    return fact_present(expected, normalise(text))


def score_criteria(
    q: Question, result: Any, chunk_text: Callable[[str], str | None], latency_ms: float
) -> Row:
    """A row for a criteria question from a `assistant.criteria.CriteriaResult`."""
    row = mode_row(q, q.topic)
    items = list(result.items)
    citations = []
    for item in items:
        text = chunk_text(item.chunk_id) or ""
        citations.append(
            {
                "n": item.n,
                "doc_id": item.doc_id,
                "chunk_id": item.chunk_id,
                "quote": item.quote,
                "relevant": any(_item_matches(e, item.text) for e in q.expected_items),
                "aligned": quote_aligned(item.text, text),
            }
        )
    found = [e for e in q.expected_items if any(_item_matches(e, i.text) for i in items)]
    missed = [e for e in q.expected_items if e not in found]
    flags = [c["relevant"] for c in citations]
    row.update(
        {
            "answer": "\n".join(f"[{i.n}] {i.area}: {i.quote}" for i in items)
            or "(nothing listed)",
            "relevant_ranks": relevant_ranks(flags),
            "hit@1": hit_at(relevant_ranks(flags), 1),
            "hit@5": hit_at(relevant_ranks(flags), 5),
            "citations": citations,
            "n_citations": len(citations),
            "n_relevant_citations": sum(flags),
            "n_quotes": len(citations),
            "n_aligned": sum(1 for c in citations if c["aligned"]),
            "facts": list(q.expected_items),
            "facts_found": found,
            "facts_missed": missed,
            "fact_recall": round(len(found) / len(q.expected_items), 4),
            "criteria_item_recall": round(len(found) / len(q.expected_items), 4),
            "criteria_precision": ratio(sum(1 for c in citations if c["aligned"]), len(citations)),
            "latency_ms": round(latency_ms, 1),
            "timings_ms": dict(result.timings_ms),
        }
    )
    return row


def score_psed(q: Question, matrix: Any, latency_ms: float) -> Row:
    """A row for a psed question from a `assistant.psed.PsedMatrix`."""
    from assistant.psed import ADDRESSED, NOT_FOUND

    row = mode_row(q, "PSED obligations")
    expected: list[str | list[str]] = []
    found: list[str | list[str]] = []
    checks: dict[str, dict[str, Any]] = {}
    for key, must in q.expected_rows.items():
        got = matrix.row(key)
        label = f"{got.label}: {ADDRESSED if must else NOT_FOUND}"
        expected.append(label)
        correct = got.addressed == must
        if correct:
            found.append(label)
        checks[got.label] = {
            "expected": must,
            "status": got.status,
            "count": got.count,
            "correct": correct,
        }
    citations = [
        {
            "n": p.n,
            "doc_id": p.doc_id,
            "chunk_id": p.chunk_id,
            "quote": p.quote,
            "relevant": True,
            "aligned": True,  # psed quotes are checked with quote_in_chunk when built
        }
        for r in matrix.rows
        for p in r.passages[:1]
    ]
    accuracy = round(len(found) / len(expected), 4)
    perfect = 1.0 if len(found) == len(expected) else 0.0
    row.update(
        {
            "answer": "\n".join(f"{r.label}: {r.status} ({r.count})" for r in matrix.rows),
            "hit@1": perfect,
            "hit@5": perfect,
            "citations": citations,
            "n_citations": len(citations),
            "n_relevant_citations": len(citations),
            "n_quotes": len(citations),
            "n_aligned": len(citations),
            "facts": expected,
            "facts_found": found,
            "facts_missed": [e for e in expected if e not in found],
            "fact_recall": accuracy,
            "psed_row_accuracy": accuracy,
            "psed_rows": checks,
            "latency_ms": round(latency_ms, 1),
            "timings_ms": dict(matrix.timings_ms),
        }
    )
    return row
