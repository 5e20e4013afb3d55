"""The evaluation runner: ask every question of one or more question sets, score the answers
without an LLM judge, and write reports that make regressions visible.

Question sets are YAML (``name`` + ``questions``) or JSONL (one question object per line, the set
named after the file stem), with the keys documented in design.md. A malformed set fails before
any question is asked, with an error naming the file, the question id and the field.

Scoring rules (all deterministic, so two runs over the same index agree):

- a retrieved chunk is *relevant* when its document is one of the question's ``sources`` and, if
  ``evidence`` is given, its text contains one of the evidence strings (both sides passed through
  `assistant.text.normalise`: case-insensitive, whitespace-normalised);
- retrieval metrics (hit@1, hit@5, mrr@5, ndcg@5 with binary relevance; the ideal ranking
  counts every relevant chunk of the whole index) use the ranking the answer actually used, on
  answerable questions only;
- citation_precision: relevant shown citations / shown citations, over answerable questions that
  were answered; citation_recall: share of answerable questions citing at least one relevant
  chunk (a refusal cites nothing);
- fact_recall: fact items found in the answer / fact items, over answerable questions (micro
  average; an item that is a list is matched by any alternative; matching is on normalised text,
  citation markers removed, whole words only so "race" does not match "embrace");
- faithfulness: share of shown sentences whose content words (`content_terms`) are at least
  60 % present in the full text of the chunks they cite. Deliberately *not* the answer-time
  verifier (which looks at the best one- or two-sentence window and may use embeddings), so it
  can disagree with it; sentences with no content words are not counted;
- quoted_span_alignment: share of citation quotes found verbatim (normalised) in their chunk;
- refusal_accuracy: share refused of ``answerable: false`` questions; false_refusal_rate: share
  refused of answerable ones;
- latency_ms_p50 / latency_ms_p95: wall time of each ask (models are loaded and warmed first).

``--fail-under METRIC=VALUE`` bounds are minimums, except for metrics where lower is better
(latency_ms_p50, latency_ms_p95, false_refusal_rate): there the value is a maximum, so
``latency_ms_p95=500`` means "fail if p95 is above 500 ms". A metric a run could not measure
(e.g. refusal_accuracy with no unanswerable questions) fails its bound rather than pass silently.

Question modes. An entry may carry ``mode: criteria`` (the criteria finder, with ``topic``,
default the question text, and ``expected_items``: phrases, each text or a list of alternatives)
or ``mode: psed`` (the PSED obligations view, with ``expected_rows``: ``{row label or id: true}``
for a row that must be addressed, ``false`` for one that must be "no passage found"). They are
scored on their own and never enter the answer and retrieval metrics above:

- criteria_item_recall: expected items found (whole words, normalised) in the texts of the
  listed items / expected items, over criteria questions (micro average);
- criteria_precision: listed items whose text is verbatim (normalised) in the chunk they cite /
  listed items - the finder only lists verbatim statements, so anything below 1 is a bug;
- psed_row_accuracy: expected rows with the expected status / expected rows, over psed questions.

Their rows reuse the per-question fields the reports render: the expected items (or rows) are
shown as ``facts`` with ``fact_recall`` the mode's score, the listed items as ``citations``;
``hit@1``/``hit@5`` say whether the first / one of the first five listed items is an expected
one (for psed, whether every expected row is right, as there is no ranking). The naive baseline
has neither feature, so its runs skip these questions.

Evaluation questions are not user traffic, so runs do not write to the answer trace log.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.report import COUNT_KEYS, METRIC_BY_KEY, METRICS, Metric, write_reports
from assistant.text import content_terms, normalise

__all__ = [
    "QuestionSetError",
    "Question",
    "QuestionSet",
    "load_question_set",
    "run_eval",
    "write_reports",
    "check_fail_under",
    "parse_fail_under",
    "eval_command",
    "summarise",
]

RETRIEVERS = ("hybrid", "dense", "bm25", "naive")
MODES = ("answer", "criteria", "psed")
# Metrics of the criteria finder and the PSED view, reported only when a run has such questions.
MODE_METRICS: tuple[Metric, ...] = (
    Metric("criteria_item_recall", "Criteria item recall"),
    Metric("criteria_precision", "Criteria precision"),
    Metric("psed_row_accuracy", "PSED row accuracy"),
)
ALL_METRIC_BY_KEY = {**METRIC_BY_KEY, **{m.key: m for m in MODE_METRICS}}
FAITHFUL_MIN_TERMS = 0.6
ROLES = ("user", "assistant")
Progress = Callable[[int, int, str], None]  # (done, total, current question id)
_MARKERS = re.compile(r"\s*\[\d+\]")


class QuestionSetError(ValueError):
    """A question set cannot be used; the message names the file, question and field."""


@dataclass
class Question:
    """One evaluation question, validated."""

    id: str
    question: str
    set: str
    category: str = "general"
    answerable: bool = True
    sources: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    facts: list[str | list[str]] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    mode: str = "answer"
    topic: str = ""
    expected_items: list[str | list[str]] = field(default_factory=list)
    expected_rows: dict[str, bool] = field(default_factory=dict)


@dataclass
class QuestionSet:
    """A named list of questions read from one file."""

    name: str
    path: Path
    questions: list[Question]


# ----------------------------------------------------------------------------- loading
def load_question_set(path: Path) -> QuestionSet:
    """Read and validate a YAML or JSONL question set (see design.md for the keys)."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"{path}: cannot read the question set ({exc})") from exc
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        name = path.stem
        items: list[Any] = []
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise QuestionSetError(
                    f"{path}: line {number}: not valid JSON ({exc.msg})"
                ) from exc
        if not items:
            raise QuestionSetError(f"{path}: no questions (expected one JSON object per line)")
    else:
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise QuestionSetError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise QuestionSetError(f"{path}: expected a mapping with a 'questions' list")
        items = data.get("questions")
        if not isinstance(items, list) or not items:
            raise QuestionSetError(
                f"{path}: field 'questions': required, a non-empty list of questions"
            )
        name = data.get("name", path.stem)
        if not isinstance(name, str) or not name.strip():
            raise QuestionSetError(f"{path}: field 'name': must be non-empty text")
        name = name.strip()
    seen: dict[str, int] = {}
    questions = [_parse_question(path, pos, item, name, seen) for pos, item in enumerate(items, 1)]
    return QuestionSet(name=name, path=path, questions=questions)


def _parse_question(
    path: Path, pos: int, item: Any, set_name: str, seen: dict[str, int]
) -> Question:
    qid: str | None = None

    def fail(field_name: str, problem: str) -> QuestionSetError:
        who = f"question {qid!r}" if qid else f"question #{pos}"
        return QuestionSetError(f"{path}: {who}: field {field_name!r}: {problem}")

    if not isinstance(item, dict):
        raise QuestionSetError(
            f"{path}: question #{pos}: must be a mapping of fields, not {type(item).__name__}"
        )
    raw_id = item.get("id")
    if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise fail("id", "required, a non-empty string")
    qid = raw_id.strip()
    if qid in seen:
        raise fail("id", f"duplicate id (question #{seen[qid]} has it too)")
    seen[qid] = pos
    text = item.get("question")
    if not isinstance(text, str) or not text.strip():
        raise fail("question", "required, non-empty text")
    answerable = item.get("answerable", True)
    if not isinstance(answerable, bool):
        raise fail("answerable", f"must be true or false, not {answerable!r}")
    category = item.get("category")
    if category is None or (isinstance(category, str) and not category.strip()):
        category = "general"
    if not isinstance(category, str):
        raise fail("category", f"must be text, not {category!r}")
    mode = item.get("mode", "answer")
    if mode not in MODES:
        raise fail("mode", f"must be one of {', '.join(MODES)}, not {mode!r}")
    sources = _text_list(item.get("sources"), "sources", fail)
    if answerable and not sources and mode == "answer":
        raise fail("sources", "required for an answerable question: a list of document ids")
    evidence = _text_list(item.get("evidence"), "evidence", fail)
    facts = _facts(item.get("facts"), fail)
    history = _history(item.get("history"), fail)
    topic, expected_items, expected_rows = _mode_fields(item, mode, text.strip(), fail)
    return Question(
        id=qid,
        question=text.strip(),
        set=set_name,
        category=category.strip(),
        answerable=answerable,
        sources=sources,
        evidence=evidence,
        facts=facts,
        history=history,
        mode=mode,
        topic=topic,
        expected_items=expected_items,
        expected_rows=expected_rows,
    )


def _mode_fields(
    item: dict[str, Any], mode: str, question: str, fail: Callable[[str, str], Exception]
) -> tuple[str, list[str | list[str]], dict[str, bool]]:
    """topic, expected_items and expected_rows of a criteria or psed question (validated)."""
    for name, owner in (
        ("topic", "criteria"),
        ("expected_items", "criteria"),
        ("expected_rows", "psed"),
    ):
        if item.get(name) not in (None, "", [], {}) and mode != owner:
            raise fail(name, f"only used with mode: {owner}")
    if mode == "criteria":
        topic = item.get("topic", question)
        if not isinstance(topic, str) or not topic.strip():
            raise fail("topic", "must be non-empty text (default: the question)")
        items = _alternatives(item.get("expected_items"), "expected_items", fail)
        if not items:
            raise fail("expected_items", "required with mode: criteria, a non-empty list")
        return topic.strip(), items, {}
    if mode == "psed":
        from assistant.psed import load_rows

        raw = item.get("expected_rows")
        if not isinstance(raw, dict) or not raw:
            raise fail("expected_rows", "required with mode: psed, a mapping {row: true|false}")
        known = {key.lower() for spec in load_rows() for key in (spec.id, spec.label)}
        rows: dict[str, bool] = {}
        for key, value in raw.items():
            if not isinstance(key, str) or key.strip().lower() not in known:
                raise fail("expected_rows", f"unknown PSED row {key!r} (see assistant/psed.yaml)")
            if not isinstance(value, bool):
                raise fail("expected_rows", f"{key}: must be true or false, not {value!r}")
            rows[key.strip()] = value
        return "", [], rows
    return "", [], {}


def _text(value: Any) -> str | None:
    """Text, accepting YAML numbers as text ("- 2021"), or None when not text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _text_list(value: Any, name: str, fail: Callable[[str, str], Exception]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(name, f"must be a list of text, not {type(value).__name__}")
    out = []
    for i, entry in enumerate(value, 1):
        text = _text(entry)
        if text is None:
            raise fail(name, f"item {i} must be non-empty text, not {entry!r}")
        out.append(text)
    return out


def _facts(value: Any, fail: Callable[[str, str], Exception]) -> list[str | list[str]]:
    return _alternatives(value, "facts", fail)


def _alternatives(
    value: Any, name: str, fail: Callable[[str, str], Exception]
) -> list[str | list[str]]:
    """A list whose entries are text or lists of alternative texts (facts, expected items)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(name, f"must be a list, not {type(value).__name__}")
    out: list[str | list[str]] = []
    for i, entry in enumerate(value, 1):
        if isinstance(entry, list):
            alternatives = [_text(a) for a in entry]
            if not entry or any(a is None for a in alternatives):
                raise fail(name, f"item {i}: a list of alternatives must hold non-empty text")
            out.append([a for a in alternatives if a is not None])
        else:
            text = _text(entry)
            if text is None:
                raise fail(name, f"item {i} must be text or a list of alternatives")
            out.append(text)
    return out


def _history(value: Any, fail: Callable[[str, str], Exception]) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail("history", "must be a list of {role, content} messages")
    out = []
    for i, turn in enumerate(value, 1):
        if not isinstance(turn, dict):
            raise fail("history", f"item {i} must be a {{role, content}} mapping")
        if turn.get("role") not in ROLES:
            raise fail(
                "history", f"item {i}: role must be 'user' or 'assistant', not {turn.get('role')!r}"
            )
        if not isinstance(turn.get("content"), str):
            raise fail("history", f"item {i}: content must be text")
        out.append({"role": turn["role"], "content": turn["content"]})
    return out


# ----------------------------------------------------------------------------- metrics
def is_relevant(doc_id: str, text: str, sources: Iterable[str], evidence: Iterable[str]) -> bool:
    """From a source document and, when evidence is given, containing one evidence string."""
    if doc_id not in set(sources):
        return False
    evidence = list(evidence)
    if not evidence:
        return True
    body = normalise(text)
    return any(normalise(e) in body for e in evidence)


def relevant_ranks(flags: Iterable[bool]) -> list[int]:
    """1-based ranks of the relevant entries of a ranking."""
    return [rank for rank, relevant in enumerate(flags, 1) if relevant]


def hit_at(ranks: list[int], k: int) -> float:
    return 1.0 if any(r <= k for r in ranks) else 0.0


def mrr_at(ranks: list[int], k: int) -> float:
    top = [r for r in ranks if r <= k]
    return 1.0 / min(top) if top else 0.0


def ndcg_at(ranks: list[int], k: int, n_relevant: int | None = None) -> float:
    """Binary-relevance nDCG@k; the ideal ranking has min(k, n_relevant) relevant chunks first.

    `n_relevant` is how many relevant chunks exist in the whole index (not just the retrieved
    list), so a ranking that finds one of three relevant chunks is not scored as perfect.
    """
    gains = sum(1.0 / math.log2(r + 1) for r in ranks if r <= k)
    known = len([r for r in ranks if r <= k])
    ideal_n = min(k, max(known, n_relevant if n_relevant is not None else len(ranks)))
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, ideal_n + 1))
    return gains / ideal if ideal else 0.0


def _fact_pattern(text: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(normalise(text))}(?!\w)")


def fact_present(fact: str | list[str], normalised_answer: str) -> bool:
    """Whether a fact (or any of its alternatives) occurs as whole words in the answer."""
    alternatives = fact if isinstance(fact, list) else [fact]
    return any(_fact_pattern(alt).search(normalised_answer) for alt in alternatives)


def match_facts(
    facts: list[str | list[str]], answer: str
) -> tuple[list[str | list[str]], list[str | list[str]]]:
    """(found, missed) fact items; citation markers are removed before matching."""
    body = normalise(_MARKERS.sub("", answer))
    found = [f for f in facts if fact_present(f, body)]
    missed = [f for f in facts if not fact_present(f, body)]
    return found, missed


def term_support(sentence: str, passages: list[str]) -> float | None:
    """Share of the sentence's content words found in the passages; None if it has none."""
    terms = set(content_terms(sentence))
    if not terms:
        return None
    available: set[str] = set()
    for passage in passages:
        available |= set(content_terms(passage))
    return len(terms & available) / len(terms)


def is_faithful(
    sentence: str, passages: list[str], threshold: float = FAITHFUL_MIN_TERMS
) -> bool | None:
    """The evaluation's own support check (independent of the answer-time verifier)."""
    support = term_support(sentence, passages)
    return None if support is None else support >= threshold


def quote_aligned(quote: str, chunk_text: str) -> bool:
    """A non-empty quote that is a verbatim (normalised) substring of its chunk."""
    return bool(quote.strip()) and normalise(quote) in normalise(chunk_text)


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default), or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _mean(values: Iterable[float | bool | None]) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return round(sum(kept) / len(kept), 4) if kept else None


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary metrics of a list of per-question rows (also used per category).

    Criteria and psed rows are scored by `summarise_modes` only; the other metrics (and the
    answerable/unanswerable counts) are over the answer questions, as before modes existed.
    """
    all_rows, rows = rows, [r for r in rows if r.get("mode", "answer") == "answer"]
    answerable = [r for r in rows if r.get("answerable")]
    unanswerable = [r for r in rows if not r.get("answerable")]
    answered_mode = [r for r in rows if r.get("refused") is not None]
    ans_mode = [r for r in answerable if r.get("refused") is not None]
    answered = [r for r in ans_mode if not r["refused"]]
    latencies = [r["latency_ms"] for r in rows if r.get("latency_ms") is not None]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "hit@1": _mean(r.get("hit@1") for r in answerable),
        "hit@5": _mean(r.get("hit@5") for r in answerable),
        "mrr@5": _mean(r.get("rr@5") for r in answerable),
        "ndcg@5": _mean(r.get("ndcg@5") for r in answerable),
        "citation_precision": _ratio(
            sum(r["n_relevant_citations"] for r in answered),
            sum(r["n_citations"] for r in answered),
        ),
        "citation_recall": _mean(r["n_relevant_citations"] > 0 for r in ans_mode),
        "fact_recall": _ratio(
            sum(len(r["facts_found"]) for r in ans_mode), sum(len(r["facts"]) for r in ans_mode)
        ),
        "faithfulness": _ratio(
            sum(r["n_faithful"] for r in answered_mode),
            sum(r["n_sentences_checked"] for r in answered_mode),
        ),
        "quoted_span_alignment": _ratio(
            sum(r["n_aligned"] for r in answered_mode), sum(r["n_quotes"] for r in answered_mode)
        ),
        "refusal_accuracy": _mean(r.get("refused") for r in unanswerable),
        "false_refusal_rate": _mean(r.get("refused") for r in answerable),
        "latency_ms_p50": None if p50 is None else round(p50, 1),
        "latency_ms_p95": None if p95 is None else round(p95, 1),
        "n_questions": len(all_rows),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_errors": sum(1 for r in all_rows if r.get("error")),
    } | summarise_modes(all_rows)


def summarise_modes(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """criteria_item_recall, criteria_precision, psed_row_accuracy (when such rows exist).

    A question skipped by the run (the naive baseline) is not counted; one that raised counts
    as finding nothing.
    """
    out: dict[str, Any] = {}
    criteria = [r for r in rows if r.get("mode") == "criteria"]
    psed = [r for r in rows if r.get("mode") == "psed"]
    if criteria:
        scored = [r for r in criteria if not r.get("skipped")]
        out["criteria_item_recall"] = _ratio(
            sum(len(r["facts_found"]) for r in scored), sum(len(r["facts"]) for r in scored)
        )
        out["criteria_precision"] = _ratio(
            sum(r["n_aligned"] or 0 for r in scored), sum(r["n_quotes"] or 0 for r in scored)
        )
    if psed:
        scored = [r for r in psed if not r.get("skipped")]
        out["psed_row_accuracy"] = _ratio(
            sum(len(r["facts_found"]) for r in scored), sum(len(r["facts"]) for r in scored)
        )
    if criteria or psed:
        out["n_mode_questions"] = len(criteria) + len(psed)
    return out


def by_category(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Summaries per category, in order of first appearance."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row.get("category") or "general", []).append(row)
    return {name: summarise(group) for name, group in groups.items()}


# ----------------------------------------------------------------------------- scoring
def _base_row(q: Question) -> dict[str, Any]:
    return {
        "id": q.id,
        "set": q.set,
        "category": q.category,
        "question": q.question,
        "answerable": q.answerable,
        "sources": q.sources,
        "evidence": q.evidence,
        "facts": q.facts,
        "history": q.history,
    }


def score_retrieval(
    q: Question,
    retrieved: list[dict[str, Any]],
    chunk_text: Callable[[str], str | None],
    n_relevant: int,
) -> dict[str, Any]:
    """Retrieval fields of a row from the ranking used ({chunk_id, doc_id, rank} entries)."""
    ranked = []
    for pos, entry in enumerate(retrieved, 1):
        text = chunk_text(entry["chunk_id"])
        relevant = text is not None and is_relevant(entry["doc_id"], text, q.sources, q.evidence)
        ranked.append(
            {
                "rank": entry.get("rank", pos),
                "doc_id": entry["doc_id"],
                "chunk_id": entry["chunk_id"],
                "relevant": relevant,
            }
        )
    ranks = relevant_ranks(r["relevant"] for r in ranked)
    row: dict[str, Any] = {
        "retrieved": ranked,
        "relevant_ranks": ranks,
        "n_relevant_in_corpus": n_relevant,
    }
    if q.answerable:
        row.update(
            {
                "hit@1": hit_at(ranks, 1),
                "hit@5": hit_at(ranks, 5),
                "rr@5": round(mrr_at(ranks, 5), 4),
                "ndcg@5": round(ndcg_at(ranks, 5, n_relevant), 4),
            }
        )
    else:
        row.update({"hit@1": None, "hit@5": None, "rr@5": None, "ndcg@5": None})
    return row


def score_answer(
    q: Question,
    answer: Any,
    chunk_text: Callable[[str], str | None],
    n_relevant: int,
    latency_ms: float,
) -> dict[str, Any]:
    """One per-question row from an `assistant.answer.Answer` (or the naive baseline's)."""
    row = _base_row(q)
    row.update(
        {
            "rewritten_query": answer.rewritten_query,
            "answer": answer.answer,
            "refused": bool(answer.refused),
            "refusal_reason": answer.refusal_reason,
            "generator": answer.generator,
            "error": None,
        }
    )
    row.update(score_retrieval(q, answer.retrieved, chunk_text, n_relevant))
    texts = {c.n: (c.text or chunk_text(c.chunk_id) or "") for c in answer.citations}
    citations = []
    for c in answer.citations:
        relevant = q.answerable and is_relevant(c.doc_id, texts[c.n], q.sources, q.evidence)
        citations.append(
            {
                "n": c.n,
                "doc_id": c.doc_id,
                "chunk_id": c.chunk_id,
                "quote": c.quote,
                "relevant": relevant,
                "aligned": quote_aligned(c.quote, texts[c.n]),
            }
        )
    shown = [] if answer.refused else [s for s in answer.sentences if s.supported]
    sentences = []
    for s in shown:
        passages = [texts[n] for n in s.citations if n in texts]
        support = term_support(s.text, passages)
        sentences.append(
            {
                "text": s.text,
                "citations": list(s.citations),
                "support": None if support is None else round(support, 3),
                "faithful": None if support is None else support >= FAITHFUL_MIN_TERMS,
            }
        )
    found, missed = match_facts(q.facts, "" if answer.refused else answer.answer)
    row.update(
        {
            "citations": citations,
            "n_citations": len(citations),
            "n_relevant_citations": sum(1 for c in citations if c["relevant"]),
            "n_quotes": len(citations),
            "n_aligned": sum(1 for c in citations if c["aligned"]),
            "sentences": sentences,
            "n_sentences_checked": sum(1 for s in sentences if s["faithful"] is not None),
            "n_faithful": sum(1 for s in sentences if s["faithful"]),
            "facts_found": found,
            "facts_missed": missed,
            "fact_recall": round(len(found) / len(q.facts), 4) if q.facts else None,
            "latency_ms": round(latency_ms, 1),
            "timings_ms": dict(answer.timings_ms),
        }
    )
    return row


def error_row(q: Question, error: str, latency_ms: float) -> dict[str, Any]:
    """A question whose ask raised: it scores as an unrefused, empty answer that found nothing."""
    row = _base_row(q)
    row.update(
        {
            "rewritten_query": q.question,
            "answer": "",
            "refused": False,
            "refusal_reason": "",
            "generator": None,
            "error": error,
        }
    )
    row.update(score_retrieval(q, [], lambda _cid: None, 0))
    row.update(
        {
            "citations": [],
            "n_citations": 0,
            "n_relevant_citations": 0,
            "n_quotes": 0,
            "n_aligned": 0,
            "sentences": [],
            "n_sentences_checked": 0,
            "n_faithful": 0,
            "facts_found": [],
            "facts_missed": list(q.facts),
            "fact_recall": 0.0 if q.facts else None,
            "latency_ms": round(latency_ms, 1),
            "timings_ms": {},
        }
    )
    return row


def retrieval_row(
    q: Question,
    query: str,
    retrieved: list[dict[str, Any]],
    chunk_text: Callable[[str], str | None],
    n_relevant: int,
    latency_ms: float,
) -> dict[str, Any]:
    """A row of a retrieval-only run: answer fields are None (not measured)."""
    row = _base_row(q)
    row.update(
        {
            "rewritten_query": query,
            "answer": None,
            "refused": None,
            "refusal_reason": "",
            "generator": None,
            "error": None,
        }
    )
    row.update(score_retrieval(q, retrieved, chunk_text, n_relevant))
    row.update(
        {
            "citations": [],
            "n_citations": None,
            "n_relevant_citations": None,
            "n_quotes": None,
            "n_aligned": None,
            "sentences": [],
            "n_sentences_checked": None,
            "n_faithful": None,
            "facts_found": [],
            "facts_missed": [],
            "fact_recall": None,
            "latency_ms": round(latency_ms, 1),
            "timings_ms": {},
        }
    )
    return row


def _ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _mode_row(q: Question, topic: str) -> dict[str, Any]:
    """The fields every row has, set for a criteria or psed question (before scoring)."""
    row = _base_row(q)
    row.update(
        {
            "mode": q.mode,
            "topic": topic,
            "rewritten_query": topic,
            "answer": "",
            "refused": False,
            "refusal_reason": "",
            "generator": q.mode,
            "error": None,
            "skipped": "",
            "retrieved": [],
            "relevant_ranks": [],
            "n_relevant_in_corpus": None,
            "hit@1": None,
            "hit@5": None,
            "rr@5": None,
            "ndcg@5": None,
            "citations": [],
            "n_citations": 0,
            "n_relevant_citations": 0,
            "n_quotes": 0,
            "n_aligned": 0,
            "sentences": [],
            "n_sentences_checked": 0,
            "n_faithful": 0,
            "facts": [],
            "facts_found": [],
            "facts_missed": [],
            "fact_recall": None,
            "latency_ms": None,
            "timings_ms": {},
        }
    )
    return row


def _item_matches(expected: str | list[str], text: str) -> bool:
    return fact_present(expected, normalise(text))


def score_criteria(
    q: Question, result: Any, chunk_text: Callable[[str], str | None], latency_ms: float
) -> dict[str, Any]:
    """A row for a criteria question from a `assistant.criteria.CriteriaResult`."""
    row = _mode_row(q, q.topic)
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
            "criteria_precision": _ratio(sum(1 for c in citations if c["aligned"]), len(citations)),
            "latency_ms": round(latency_ms, 1),
            "timings_ms": dict(result.timings_ms),
        }
    )
    return row


def score_psed(q: Question, matrix: Any, latency_ms: float) -> dict[str, Any]:
    """A row for a psed question from a `assistant.psed.PsedMatrix`."""
    from assistant.psed import ADDRESSED, NOT_FOUND

    row = _mode_row(q, "PSED obligations")
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


# ----------------------------------------------------------------------------- running
class _Runner:
    """Asks questions through the real pipeline or the naive baseline, and knows its chunks."""

    def __init__(self, settings: Any, retriever: str, generator: str | None, k: int):
        self.settings = settings
        self.mode = retriever
        self.generator = generator
        self.k = k
        if retriever == "naive":
            from assistant.naive import GENERATOR_NAME, NaiveRAG

            self.naive = NaiveRAG(settings)
            self.chunks = self.naive.chunks
            self.generator_name = GENERATOR_NAME
            self.description = {"kind": "naive baseline", **self.naive.describe()}
        else:
            from assistant.answer import Assistant
            from assistant.retrieve import Retriever

            self.retriever = Retriever(settings)
            index = self.retriever.index  # raises IndexProblem when there is no index
            self.assistant = Assistant(settings, self.retriever)
            self.chunks = list(index.chunks)
            self.generator_name = generator or settings.generator
            docs = index.documents
            corpus_hash = hashlib.sha256(
                "".join(f"{d}:{docs[d].get('hash')}" for d in sorted(docs)).encode()
            ).hexdigest()[:16]
            self.description = {
                "kind": "project index",
                "generation": index.generation,
                "created": index.manifest.get("created"),
                "embedder": index.manifest.get("embedder"),
                "chunks": len(index.chunks),
                "documents": len(docs),
                "corpus_hash": corpus_hash,
            }
        self.by_id = {c.chunk_id: c for c in self.chunks}
        self._psed: Any = None
        self.normalised = {c.chunk_id: normalise(c.text) for c in self.chunks}

    def chunk_text(self, chunk_id: str) -> str | None:
        chunk = self.by_id.get(chunk_id)
        if chunk is None and self.mode != "naive":  # index replaced during the run
            index = self.retriever.index
            pos = index.position.get(chunk_id)
            chunk = index.chunks[pos] if pos is not None else None
        return None if chunk is None else chunk.text

    def count_relevant(self, q: Question) -> int:
        """Relevant chunks in the whole index (the ideal ranking for nDCG)."""
        evidence = [normalise(e) for e in q.evidence]
        sources = set(q.sources)
        return sum(
            1
            for c in self.chunks
            if c.doc_id in sources
            and (not evidence or any(e in self.normalised[c.chunk_id] for e in evidence))
        )

    def warm_up(self) -> None:
        """Load models and the vector store so the first question's latency is not a load."""
        try:
            if self.mode == "naive":
                self.naive.search("warm up", 1)
            else:
                self.assistant.ask(
                    "What does the framework say about inspections?",
                    generator=self.generator,
                    k=self.k,
                    retriever=self.mode,
                )
        except Exception:  # noqa: BLE001 - a real problem shows again on the first question
            pass

    def answer(self, q: Question) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            if self.mode == "naive":
                result = self.naive.ask(q.question, history=q.history, k=self.k)
            else:
                result = self.assistant.ask(
                    q.question,
                    history=q.history or None,
                    generator=self.generator,
                    k=self.k,
                    retriever=self.mode,
                )
        except Exception as exc:  # noqa: BLE001 - one broken question must not end the run
            return error_row(q, f"{type(exc).__name__}: {exc}", (time.perf_counter() - t0) * 1000)
        latency = (time.perf_counter() - t0) * 1000
        return score_answer(q, result, self.chunk_text, self.count_relevant(q), latency)

    def mode_question(self, q: Question) -> dict[str, Any]:
        """Run a criteria or psed question through its feature (not the answer pipeline)."""
        t0 = time.perf_counter()
        if self.mode == "naive":
            row = _mode_row(q, q.topic or "PSED obligations")
            row.update(
                {
                    "skipped": "the naive baseline has no criteria finder or PSED view",
                    "refused": None,
                    "answer": None,
                    "facts": list(q.expected_items) or list(q.expected_rows),
                }
            )
            return row
        try:
            if q.mode == "criteria":
                from assistant.criteria import find_criteria

                result = find_criteria(self.settings, q.topic, retriever=self.retriever)
                return score_criteria(q, result, self.chunk_text, _ms_since(t0))
            from assistant.psed import psed_matrix

            if self._psed is None or self._psed.generation != self.retriever.index.generation:
                self._psed = psed_matrix(self.settings, retriever=self.retriever)
            return score_psed(q, self._psed, _ms_since(t0))
        except Exception as exc:  # noqa: BLE001 - one broken question must not end the run
            row = _mode_row(q, q.topic or "PSED obligations")
            expected = list(q.expected_items) or [
                f"{k}: {'addressed' if v else 'no passage found'}"
                for k, v in q.expected_rows.items()
            ]
            row.update(
                {
                    "error": f"{type(exc).__name__}: {exc}",
                    "facts": expected,
                    "facts_missed": expected,
                    "fact_recall": 0.0,
                    "hit@1": 0.0,
                    "hit@5": 0.0,
                    "latency_ms": round(_ms_since(t0), 1),
                }
            )
            return row

    def retrieve(self, q: Question) -> dict[str, Any]:
        t0 = time.perf_counter()
        if self.mode == "naive":
            query = q.question
            hits = self.naive.search(query, self.k)
        else:
            from assistant.chat import parse_history, rewrite_without_llm

            turns = parse_history(q.history or None)
            query = rewrite_without_llm(q.question, turns) if turns else q.question
            hits = self.retriever.search(query, k=self.k, retriever=self.mode).hits
        latency = (time.perf_counter() - t0) * 1000
        retrieved = [
            {"chunk_id": h.chunk.chunk_id, "doc_id": h.chunk.doc_id, "rank": h.rank} for h in hits
        ]
        return retrieval_row(q, query, retrieved, self.chunk_text, self.count_relevant(q), latency)


def check_question_sets(questions: list[Question], chunks: list[Any]) -> list[str]:
    """Problems with the sets themselves: unknown sources, evidence or facts the corpus lacks.

    A fact that never occurs in its source documents cannot be found by an extractive answer,
    and evidence no chunk contains makes every retrieval look like a miss; both are worth
    fixing in the set rather than chasing in the pipeline.
    """
    docs: dict[str, list[str]] = {}
    for chunk in chunks:
        docs.setdefault(chunk.doc_id, []).append(normalise(chunk.text))
    warnings: list[str] = []
    for q in questions:
        where = f"{q.set}/{q.id}"
        unknown = [s for s in q.sources if s not in docs]
        if unknown:
            warnings.append(f"{where}: source not in the index: {', '.join(unknown)}")
        if q.mode == "criteria":
            everything = " \n ".join(t for texts in docs.values() for t in texts)
            for item in q.expected_items:
                shown = " / ".join(item) if isinstance(item, list) else item
                if not fact_present(item, everything):
                    warnings.append(f"{where}: expected item {shown!r} occurs in no chunk")
            continue
        if not q.answerable or q.mode != "answer":
            continue
        texts = [t for s in q.sources for t in docs.get(s, [])]
        evidence = [normalise(e) for e in q.evidence]
        for e, raw in zip(evidence, q.evidence, strict=True):
            if not any(e in t for t in texts):
                warnings.append(f"{where}: evidence {raw!r} is in no chunk of its sources")
        relevant = [t for t in texts if not evidence or any(e in t for e in evidence)]
        joined, joined_relevant = " \n ".join(texts), " \n ".join(relevant)
        for fact in q.facts:
            shown = " / ".join(fact) if isinstance(fact, list) else fact
            if not fact_present(fact, joined):
                warnings.append(f"{where}: fact {shown!r} never occurs in its sources' chunks")
            elif relevant and not fact_present(fact, joined_relevant):
                warnings.append(
                    f"{where}: fact {shown!r} is in no relevant chunk (its evidence "
                    "is in other chunks), so citing relevant chunks cannot give it"
                )
    return warnings


def settings_snapshot(settings: Any) -> dict[str, Any]:
    """The scalar knobs of a run (thresholds, k, models), without secrets or paths.

    Read generically from the dataclass so a renamed or added threshold is recorded too.
    """
    from dataclasses import fields

    snapshot: dict[str, Any] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if any(word in f.name for word in ("key", "auth", "password", "token")):
            continue
        if isinstance(value, bool | int | float | str):
            snapshot[f.name] = value
    return snapshot


def run_eval(
    settings: Any,
    sets: list[Path],
    retriever: str = "hybrid",
    generator: str | None = None,
    k: int = 5,
    progress: Progress | None = None,
    retrieval_only: bool = False,
) -> dict[str, Any]:
    """Run every question of `sets` and return the report dict (config, summary, questions).

    `retrieval_only` skips answering (rewriting follow-ups with the rule-based rewrite only)
    and reports just the retrieval metrics; it is much faster and is what CI can afford.
    """
    from assistant.settings import GENERATORS

    if retriever not in RETRIEVERS:
        raise ValueError(f"unknown retriever {retriever!r}; choose {', '.join(RETRIEVERS)}")
    if generator is not None and generator not in GENERATORS:
        raise ValueError(f"unknown generator {generator!r}; choose {', '.join(GENERATORS)}")
    if not 1 <= k <= 100:
        raise ValueError(f"k must be between 1 and 100, not {k}")
    if not sets:
        raise ValueError("give at least one question set")
    loaded = [load_question_set(Path(p)) for p in sets]
    questions = [q for qs in loaded for q in qs.questions]
    settings = settings.with_overrides(trace=False)
    runner = _Runner(settings, retriever, generator, k)
    warnings = check_question_sets(questions, runner.chunks)
    if not retrieval_only:
        runner.warm_up()
    rows: list[dict[str, Any]] = []
    total = len(questions)
    for i, q in enumerate(questions):
        if progress:
            progress(i, total, f"{q.set}/{q.id}")
        if q.mode != "answer":
            rows.append(runner.mode_question(q))
        else:
            rows.append(runner.retrieve(q) if retrieval_only else runner.answer(q))
    if progress:
        progress(total, total, "")
    config = {
        "retriever": retriever,
        "generator": runner.generator_name,
        "k": k,
        "retrieval_only": retrieval_only,
        "sets": [{"name": s.name, "path": str(s.path), "n": len(s.questions)} for s in loaded],
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "corpus_dir": str(settings.corpus),
        "index": runner.description,
        "faithfulness_min_terms": FAITHFUL_MIN_TERMS,
        "settings": settings_snapshot(settings),
    }
    return {
        "config": config,
        "summary": summarise(rows),
        "by_category": by_category(rows),
        "questions": rows,
        "warnings": warnings,
    }


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


# ----------------------------------------------------------------------------- CLI
def summary_table(report: dict[str, Any], comparison: dict[str, Any] | None = None) -> Any:
    """A rich table of the summary (old/new/delta columns when comparing)."""
    from rich.table import Table

    from assistant.report import fmt, fmt_delta

    cfg = report.get("config", {})
    table = Table(
        title=f"Evaluation: retriever {cfg.get('retriever')}, "
        f"generator {cfg.get('generator')}, k {cfg.get('k')}"
    )
    table.add_column("Metric")
    if comparison:
        for name in ("Old", "New", "Delta"):
            table.add_column(name, justify="right")
    else:
        table.add_column("Value", justify="right")
    summary = report.get("summary", {})
    for metric in METRICS:
        if comparison:
            d = comparison["summary"][metric.key]
            table.add_row(
                metric.key,
                fmt(metric.key, d["old"]),
                fmt(metric.key, d["new"]),
                fmt_delta(metric.key, d["delta"]),
            )
        else:
            table.add_row(metric.key, fmt(metric.key, summary.get(metric.key)))
    for metric in MODE_METRICS:
        if metric.key in summary:
            value = f"{summary[metric.key]:.3f}" if summary[metric.key] is not None else "–"
            table.add_row(metric.key, *(["–", value, ""] if comparison else [value]))
    table.add_section()
    for key in COUNT_KEYS:
        if comparison:
            counts = comparison.get("counts", {}).get(key, {})
            table.add_row(key, str(counts.get("old", "–")), str(summary.get(key, 0)), "")
        else:
            table.add_row(key, str(summary.get(key, 0)))
    return table


def category_table(report: dict[str, Any]) -> Any:
    """A compact rich table of the main metrics per category."""
    from rich.table import Table

    from assistant.report import fmt

    keys = (
        "hit@1",
        "hit@5",
        "mrr@5",
        "citation_precision",
        "fact_recall",
        "faithfulness",
        "refusal_accuracy",
        "false_refusal_rate",
    )
    table = Table(title="By category")
    table.add_column("Category")
    table.add_column("n", justify="right")
    for key in keys:
        table.add_column(key, justify="right")
    for cat, s in report.get("by_category", {}).items():
        table.add_row(cat, str(s.get("n_questions", 0)), *[fmt(key, s.get(key)) for key in keys])
    return table


def eval_command(
    sets: list[Path],
    out: Path = Path("eval-out"),
    retriever: str = "hybrid",
    generator: str | None = None,
    k: int = 5,
    fail_under: list[str] | None = None,
    compare: Path | None = None,
    settings: Any = None,
) -> int:
    """`assistant eval`: run, write reports, print the summary; returns the exit code.

    0: done and within bounds; 1: a --fail-under bound failed, or the index is missing;
    2: a usage problem (bad set, unknown metric/retriever/generator, unreadable --compare).
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from assistant.report import compare_reports
    from assistant.settings import SettingsError, load_settings

    err = Console(stderr=True)
    stdout = Console(highlight=False)
    if not stdout.is_terminal:  # piped or captured: do not squeeze the tables to 80 columns
        stdout.width = max(stdout.width, 140)
    try:
        bounds = parse_fail_under(list(fail_under or []))
    except ValueError as exc:
        err.print(f"[red]Error:[/] {exc}")
        return 2
    old_report: dict[str, Any] | None = None
    if compare is not None:
        try:
            old_report = json.loads(Path(compare).read_text(encoding="utf-8"))
            if not isinstance(old_report, dict) or "summary" not in old_report:
                raise ValueError("not an evaluation report (no 'summary')")
        except (OSError, ValueError) as exc:
            err.print(f"[red]Error:[/] cannot use --compare {compare}: {exc}")
            return 2
    try:
        settings = settings or load_settings()
        for path in sets:  # fail on a malformed set before loading any model
            load_question_set(Path(path))
    except (SettingsError, QuestionSetError) as exc:
        err.print(f"[red]Error:[/] {exc}")
        return 2

    columns = (
        TextColumn("Evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    from assistant.index import IndexProblem

    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("eval", total=None, detail="loading models and index…")

            def progress(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, detail=label[:50])

            report = run_eval(
                settings,
                [Path(p) for p in sets],
                retriever=retriever,
                generator=generator,
                k=k,
                progress=progress,
            )
    except (ValueError, QuestionSetError) as exc:
        err.print(f"[red]Error:[/] {exc}")
        return 2
    except IndexProblem as exc:
        err.print(f"[red]Error:[/] {exc}")
        return 1

    paths = write_reports(report, Path(out), compare=old_report)
    for warning in report["warnings"]:
        err.print(f"[yellow]Question-set warning:[/] {warning}")
    if report["summary"]["n_errors"]:
        err.print(
            f"[yellow]{report['summary']['n_errors']} question(s) raised errors; see report.html[/]"
        )
    comparison = compare_reports(old_report, report) if old_report else None
    stdout.print(summary_table(report, comparison))
    stdout.print(category_table(report))
    if comparison:
        if comparison.get("note"):
            err.print(f"[yellow]Note:[/] {comparison['note']}")
        worse = comparison["worse"]
        stdout.print(f"{len(worse)} question(s) got worse" + (":" if worse else "."))
        for w in worse:
            stdout.print(f"  {w['set']}/{w['id']}: {'; '.join(w['reasons'])}")
    stdout.print("Reports: " + ", ".join(str(p) for p in paths))
    failures = check_fail_under(report["summary"], bounds)
    for failure in failures:
        err.print(f"[red]FAIL[/] {failure}")
    return 1 if failures else 0
