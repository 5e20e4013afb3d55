"""Evaluation: the public surface of the question-set model, runner, metrics and gates.

The work is split by concept: `assistant.eval_questions` (the typed question-set model and
loader), `assistant.eval_metrics` (per-question rows, one class per summary metric, failure
causes), `assistant.eval_modes` (criteria finder and PSED view scoring), `assistant.eval_runner`
(asking the questions, per index or per rendered format), `assistant.report` (report.json /
.md / .html / chart) and `assistant.cli_eval` (the console). This module re-exports what callers
use and holds the ``--fail-under`` gate.

``--fail-under METRIC=VALUE`` bounds are minimums, except for metrics where lower is better
(latency, false_refusal_rate, fragment_rate, mixed_document_rate): there the value is a maximum,
so ``latency_ms_p95=500`` means "fail if p95 is above 500 ms". A metric a run could not measure
(e.g. refusal_accuracy with no unanswerable questions) fails its bound rather than pass silently.
"""

from __future__ import annotations

from typing import Any

from assistant.eval_metrics import (
    ALL_METRIC_BY_KEY,
    FAILURE_CAUSES,
    METRICS,
    MODE_METRICS,
    by_category,
    error_row,
    fact_present,
    fragment_reason,
    hit_at,
    is_faithful,
    is_relevant,
    match_facts,
    mrr_at,
    ndcg_at,
    percentile,
    quote_aligned,
    retrieval_row,
    score_answer,
    summarise,
    term_support,
)
from assistant.eval_modes import score_criteria, score_psed
from assistant.eval_questions import Question, QuestionSet, QuestionSetError, load_question_set
from assistant.eval_runner import run_by_format, run_eval
from assistant.report import write_reports

__all__ = [
    "ALL_METRIC_BY_KEY",
    "FAILURE_CAUSES",
    "METRICS",
    "MODE_METRICS",
    "Question",
    "QuestionSet",
    "QuestionSetError",
    "UnknownMetricError",
    "by_category",
    "check_fail_under",
    "error_row",
    "fact_present",
    "fragment_reason",
    "hit_at",
    "is_faithful",
    "is_relevant",
    "load_question_set",
    "match_facts",
    "mrr_at",
    "ndcg_at",
    "parse_fail_under",
    "percentile",
    "quote_aligned",
    "retrieval_row",
    "run_by_format",
    "run_eval",
    "score_answer",
    "score_criteria",
    "score_psed",
    "summarise",
    "term_support",
    "write_reports",
]


# ----------------------------------------------------------------------------- gates
class UnknownMetricError(ValueError):
    """A --fail-under bound names a metric the report does not have."""


def _check_metric(name: str) -> None:
    if name not in ALL_METRIC_BY_KEY:
        raise UnknownMetricError(
            f"unknown metric {name!r} in --fail-under; known metrics: "
            f"{', '.join(ALL_METRIC_BY_KEY)}"
        )


def parse_fail_under(specs: list[str]) -> dict[str, float]:
    """``["hit@1=0.6", "latency_ms_p95=500"]`` -> bounds; bad names or values raise ValueError."""
    bounds: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--fail-under expects METRIC=VALUE, got {spec!r}")
        _check_metric(name)
        try:
            bounds[name] = float(value)
        except ValueError as exc:
            raise ValueError(f"--fail-under {name}: {value!r} is not a number") from exc
    return bounds


def check_fail_under(summary: dict[str, Any], bounds: dict[str, float]) -> list[str]:
    """One message per metric outside its bound (every failing metric, not just the first).

    Bounds are minimums, except for lower-is-better metrics (latency, false_refusal_rate),
    where they are maximums. An unmeasured metric (None) fails its bound.
    """
    failures: list[str] = []
    for name, bound in bounds.items():
        _check_metric(name)
        metric = ALL_METRIC_BY_KEY[name]
        value = summary.get(name)
        unit = " ms" if metric.unit == "ms" else ""
        if value is None:
            failures.append(f"{name} was not measured on this run (bound {bound:g}{unit})")
        elif metric.lower_is_better and value > bound:
            failures.append(f"{name} = {value:g}{unit} is above the maximum {bound:g}{unit}")
        elif not metric.lower_is_better and value < bound:
            failures.append(f"{name} = {value:g} is below the minimum {bound:g}")
    return failures
