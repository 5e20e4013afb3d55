"""Refusal that means "not in the documents": a fitted model over question-level evidence.

The signals (`FEATURES`) are about the question and its passages, never about a document:
how much of the question's IDF weight the passages state, whether the question hinges on a
word no passage contains, how close the best passage is in meaning, and whether a passage
states the kind of answer asked for (a question about a fee wants an amount). A logistic
model over them, fitted on the suite's dev split (answerable against out-of-scope near
misses) by ``python -m evals.fit``, gives the probability the passages answer the question;
below the operating point chosen there (`threshold`), the assistant declines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assistant.documents import Hit
from assistant.question import Analysis, states, weighted_coverage
from assistant.text import passage_terms
from assistant.units import STRONG_TYPES, Unit

FEATURES = (
    "coverage",  # IDF-weighted share of the question's concepts the top 3 passages state
    "best_chunk",  # the same for the best single passage of the top 5
    "absent",  # share of the question's weight on words no indexed passage contains
    "missing",  # weight of the rarest concept the top 3 passages lack, / 10
    "dense",  # best dense similarity of a passage to the question
    "typed_found",  # an answer of the expected clear-form type is in the best passage
    "typed_absent",  # the question expects such a type and the best passage states none
    "concepts",  # how many concepts the question has (capped at 8), / 8
    "unit_lex",  # the most of the question's weight one candidate unit states
    "unit_answer",  # the same among units stating the expected clear-form type (else unit_lex)
    "unit_score",  # the best unit's fitted answer score (`AnswerModel.score`), / 10
)


@dataclass(frozen=True)
class RefusalModel:
    """Logistic weights over `FEATURES`, the bias and the operating point (a probability)."""

    weights: dict[str, float]
    bias: float
    threshold: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RefusalModel:
        return cls(
            {k: float(v) for k, v in data["weights"].items()},
            float(data["bias"]),
            float(data["threshold"]),
        )

    def probability(self, features: dict[str, float]) -> float:
        """Probability that the passages answer the question."""
        z = self.bias + sum(self.weights.get(k, 0.0) * features[k] for k in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def hit_terms(hit: Hit, names: Mapping[str, frozenset[str]] | None = None) -> frozenset[str]:
    """A passage's content terms, plus the question's names its document mentions.

    `names` maps a document id to the stems of the question's capitalised words that the
    document mentions somewhere (`Assistant.document_names`). A passage of Fernvale's
    framework is about Fernvale though its own text says "this framework": without this,
    "What principles do Fernvale inspections follow?" found 33% of its key words in the
    passage listing the principles and was declined.
    """
    terms = passage_terms(hit.chunk.text)
    extra = names.get(hit.chunk.doc_id) if names else None
    return terms | extra if extra else terms


def refusal_features(
    analysis: Analysis,
    hits: list[Hit],
    max_dense: float,
    units: list[Unit],
    names: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, float]:
    """The question-level evidence signals (see `FEATURES`); `units` are the scored
    candidate units of `hits` (`assistant.extractive.score_units`), `names` the question's
    names by the documents mentioning them (`hit_terms`)."""
    terms = [hit_terms(h, names) for h in hits[:5]]
    top3: set[str] = set().union(*terms[:3]) if terms else set()
    per_chunk = [weighted_coverage(analysis.concepts, t) for t in terms]
    best = max(range(len(per_chunk)), key=lambda i: per_chunk[i]) if per_chunk else None
    known = sum(w for _, w in analysis.concepts)
    absent = sum(w for _, w in analysis.absent)
    missing = [w for _, w in analysis.missing(top3)]
    typed = analysis.answer_type in STRONG_TYPES
    found = best is not None and states(analysis.answer_type, hits[best].chunk.text)
    return {
        "coverage": weighted_coverage(analysis.concepts, top3) if analysis.concepts else 1.0,
        "best_chunk": per_chunk[best] if best is not None and analysis.concepts else 0.0,
        "absent": absent / (known + absent) if known + absent else 0.0,
        "missing": max(missing, default=0.0) / 10,
        "dense": max_dense,
        "typed_found": float(typed and found),
        "typed_absent": float(typed and not found),
        "concepts": min(len(analysis.concepts), 8) / 8,
        "unit_lex": max((u.features["lex"] for u in units), default=0.0),
        "unit_answer": max(
            (u.features["lex"] for u in units if not typed or u.features["type_match"]),
            default=0.0,
        ),
        "unit_score": max((u.score for u in units), default=0.0) / 10,
    }
