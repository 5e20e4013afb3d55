"""Scoring for evaluation runs: per-question rows, one small class per summary metric, causes.

Everything is deterministic and needs no LLM judge, so two runs over the same index agree, and
nothing is computed from the answer alone in a way that flatters it: relevance comes from the
question's ``sources`` + ``evidence``, facts from the answer text (whitespace, case, typographic
quotes and dashes normalised, citation markers removed, whole words only).

A per-question *row* is a plain dict (it goes into report.json as it is) built by `new_row`,
the one place that knows every key. A summary metric is a `Metric` subclass with one method,
``evaluate(rows) -> float | None`` over the answer-mode rows; adding a metric is adding one class
to `METRICS`. The definitions:

- relevant chunk: from one of ``sources`` and, when ``evidence`` is given, containing one of
  the evidence strings; hit@1, hit@5, mrr@5, ndcg@5 on the ranking the answer used
  (answerable questions; nDCG's ideal ranking counts every relevant chunk of the index);
- citation_precision: relevant shown citations / shown citations (answered answerable
  questions); citation_recall: share of answerable questions citing a relevant chunk;
- fact_recall: facts found / facts, micro-averaged over answerable questions;
- lead_hit: share of answered answerable questions whose first 200 characters (markers
  removed) hold at least one fact - does the answer lead with what was asked;
- fragment_rate: share of shown sentences and list items that are broken (see
  `fragment_reason`): starting or stopping mid-sentence, an item cut at a line end, a lead-in
  ending in ":" with no item after it, a heading, page line or date line shown as a sentence;
- mixed_document_rate: share of answered answerable questions whose evidence is in one
  document (one source) but whose answer cites several documents;
- faithfulness: shown sentences whose content words are >= 60 % present in the chunks they
  cite (deliberately not the answer-time verifier); quoted_span_alignment: quotes found
  verbatim in their chunk;
- refusal_accuracy: share refused of unanswerable questions; false_refusal_rate: share
  refused of answerable ones; latency p50 / p95 of each ask, models warmed first.

Failure cause per question (`failure_cause`), first that applies: ``answered_out_of_scope``
(unanswerable, answered), ``false_refusal`` (answerable, refused), ``retrieval_miss`` (a fact
is missing and no relevant chunk is in the top k), ``selection_miss`` (a fact is missing
although a relevant chunk was retrieved), ``fragment`` (all facts there, but a broken unit
shown), ``error`` (the ask raised); ``None`` when the question passed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from assistant.text import content_terms, normalise

FAITHFUL_MIN_TERMS = 0.6
LEAD_CHARS = 200
MARKERS = re.compile(r"\s*\[\d+\]")
FAILURE_CAUSES = (
    "retrieval_miss",
    "selection_miss",
    "fragment",
    "false_refusal",
    "answered_out_of_scope",
    "error",
)
Row = dict[str, Any]


# ----------------------------------------------------------------------------- primitives
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
    body = normalise(MARKERS.sub("", answer))
    found = [f for f in facts if fact_present(f, body)]
    missed = [f for f in facts if not fact_present(f, body)]
    return found, missed


def leads_with_fact(facts: list[str | list[str]], answer: str) -> bool:
    """Whether the first `LEAD_CHARS` characters of the answer (markers removed) hold a fact."""
    lead = normalise(MARKERS.sub("", answer))[:LEAD_CHARS]
    return any(fact_present(f, lead) for f in facts)


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


# ----------------------------------------------------------------------------- fragments
# Words a sentence or list item does not end on unless it was cut (at a line wrap, a column
# break or a page break). General English function words, nothing taken from a document.
_DANGLING = frozenset(
    "a an the of to and or but nor in on at by for from with into onto as than that which who "
    "whom whose where when while if whether because so such its their his her our your is are "
    "was were be been being has have had will would shall should can could may might must not "
    "this these those between about including any all each every per via within without under "
    "over through after before against among across towards upon during since until unless "
    "whether also both either neither very more most less least".split()
)
_TERMINAL = re.compile(r"""[.!?]["')\]’”]*$|[.!?]\s*\(\w[^()]*\)$""")
_PAGE_LINE = re.compile(r"^(page\s+\d+(\s+of\s+\d+)?|\d+\s*/\s*\d+|-\s*\d+\s*-)$", re.IGNORECASE)
_DATE_LINE = re.compile(
    r"^(published|updated|last updated|first published|from|applies to)\b.{0,60}$", re.IGNORECASE
)
_HEADING_MAX_WORDS = 10
_LABEL = re.compile(r"^\((?:\d{1,3}|[a-z]{1,4})\)\s+")  # "(1)", "(a)", "(iv)": clause labels


def fragment_reason(text: str, is_item: bool, next_is_item: bool) -> str | None:
    """Why a shown sentence or list item is broken, or None when it reads as whole.

    Judged from the text the reader sees, independently of how the pipeline cut it: a
    sentence must start like one (not lower case, not with punctuation) and end with terminal
    punctuation; an item may start in lower case and end without a full stop but not on a
    dangling word (a function word: an item cut after an adjective is not caught), comma or
    hyphen; a lead-in ending in ":" needs items after it; short
    unpunctuated lines are headings, "Page N of M" and "Published ..." lines are furniture.
    """
    body = " ".join(MARKERS.sub("", text).split())
    labelled = _LABEL.sub("", body)  # "(a) enter and inspect ..." judged from "enter and ..."
    is_item = is_item or labelled != body  # a labelled clause may start in lower case
    body = labelled
    if not body:
        return "empty"
    if " | " in body:  # a table row shown whole: cells need no sentence punctuation
        is_item = True
    if _PAGE_LINE.match(body):
        return "page line"
    if _DATE_LINE.match(body) and not _TERMINAL.search(body):
        return "date or metadata line"
    last = re.sub(r"[^\w]+$", "", body).rsplit(" ", 1)[-1].lower()
    if body.endswith((":", "—", "–")) or re.search(r"\bto\s*[-—–]$", body):
        return None if next_is_item else "lead-in without its items"
    terminal = bool(_TERMINAL.search(body))
    if not terminal and (body[-1] in ",;-(" or last in _DANGLING):
        return "cut at a line end" if is_item else "stops mid-sentence"
    if is_item:
        return None
    first = body.lstrip("'\"‘“(")[:1]
    if first.islower() or body[0] in ",;)]":
        return "starts mid-sentence"
    if not terminal:
        if len(body.split()) <= _HEADING_MAX_WORDS and "," not in body:
            return "heading or title"
        return "stops mid-sentence"
    return None


def fragments(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The broken units among the shown ones (``{"text", "is_item", "citations"}``), each with
    its reason. A lead-in is complete when an item follows it, or any unit quoted from the
    same passage (a quoted criterion after "we expect the following:")."""
    out = []
    for i, unit in enumerate(units):
        nxt = units[i + 1] if i + 1 < len(units) else None
        same = nxt is not None and bool(
            set(nxt.get("citations", [])) & set(unit.get("citations", []))
        )
        nxt = nxt is not None and (nxt["is_item"] or same)
        reason = fragment_reason(unit["text"], unit["is_item"], nxt)
        if reason:
            out.append({"text": unit["text"], "reason": reason})
    return out


# ----------------------------------------------------------------------------- rows
ROW_DEFAULTS: Row = {
    "mode": "answer",
    "topic": "",
    "rewritten_query": "",
    "answer": "",
    "refused": False,
    "refusal_reason": "",
    "generator": None,
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
    "fragments": [],
    "n_units": 0,
    "lead_hit": None,
    "cited_documents": [],
    "mixed_documents": None,
    "facts_found": [],
    "facts_missed": [],
    "fact_recall": None,
    "failure": None,
    "latency_ms": None,
    "timings_ms": {},
}


def new_row(q: Any, **fields: Any) -> Row:
    """A per-question row: the question's own fields, the defaults, then `fields`."""
    row: Row = {
        "id": q.id,
        "set": q.set,
        "category": q.category,
        "split": getattr(q, "split", None),
        "question": q.question,
        "answerable": q.answerable,
        "sources": list(q.sources),
        "evidence": list(q.evidence),
        "facts": list(q.facts),
        "history": list(q.history),
    }
    row.update(
        {k: (v.copy() if isinstance(v, list | dict) else v) for k, v in ROW_DEFAULTS.items()}
    )
    row.update(fields)
    return row


def retrieval_fields(
    q: Any,
    retrieved: list[dict[str, Any]],
    chunk_text: Callable[[str], str | None],
    n_relevant: int,
) -> Row:
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
    fields: Row = {"retrieved": ranked, "relevant_ranks": ranks, "n_relevant_in_corpus": n_relevant}
    if q.answerable:
        fields.update(
            {
                "hit@1": hit_at(ranks, 1),
                "hit@5": hit_at(ranks, 5),
                "rr@5": round(mrr_at(ranks, 5), 4),
                "ndcg@5": round(ndcg_at(ranks, 5, n_relevant), 4),
            }
        )
    return fields


def score_answer(
    q: Any,
    answer: Any,
    chunk_text: Callable[[str], str | None],
    n_relevant: int,
    latency_ms: float,
) -> Row:
    """One per-question row from an `assistant.answer.Answer` (or the naive baseline's)."""
    texts = {c.n: (c.text or chunk_text(c.chunk_id) or "") for c in answer.citations}
    citations = [
        {
            "n": c.n,
            "doc_id": c.doc_id,
            "chunk_id": c.chunk_id,
            "quote": c.quote,
            "relevant": q.answerable and is_relevant(c.doc_id, texts[c.n], q.sources, q.evidence),
            "aligned": quote_aligned(c.quote, texts[c.n]),
        }
        for c in answer.citations
    ]
    shown = [] if answer.refused else [s for s in answer.sentences if s.supported]
    sentences = [_sentence(s, texts) for s in shown]
    units = [
        {"text": s.text, "is_item": bool(getattr(s, "is_item", False)), "citations": s.citations}
        for s in shown
    ]
    text = "" if answer.refused else answer.answer
    found, missed = match_facts(q.facts, text)
    cited = sorted({c["doc_id"] for c in citations if any(c["n"] in s.citations for s in shown)})
    answered = q.answerable and not answer.refused
    row = new_row(
        q,
        rewritten_query=answer.rewritten_query,
        answer=answer.answer,
        refused=bool(answer.refused),
        refusal_reason=answer.refusal_reason,
        generator=answer.generator,
        **retrieval_fields(q, answer.retrieved, chunk_text, n_relevant),
        citations=citations,
        n_citations=len(citations),
        n_relevant_citations=sum(1 for c in citations if c["relevant"]),
        n_quotes=len(citations),
        n_aligned=sum(1 for c in citations if c["aligned"]),
        sentences=sentences,
        n_sentences_checked=sum(1 for s in sentences if s["faithful"] is not None),
        n_faithful=sum(1 for s in sentences if s["faithful"]),
        n_units=len(units),
        fragments=fragments(units),
        lead_hit=leads_with_fact(q.facts, text) if answered and q.facts else None,
        cited_documents=cited,
        mixed_documents=(len(cited) > 1) if answered and len(set(q.sources)) == 1 else None,
        facts_found=found,
        facts_missed=missed,
        fact_recall=round(len(found) / len(q.facts), 4) if q.facts else None,
        latency_ms=round(latency_ms, 1),
        timings_ms=dict(answer.timings_ms),
    )
    row["failure"] = failure_cause(row)
    return row


def _sentence(s: Any, texts: dict[int, str]) -> Row:
    support = term_support(s.text, [texts[n] for n in s.citations if n in texts])
    return {
        "text": s.text,
        "citations": list(s.citations),
        "is_item": bool(getattr(s, "is_item", False)),
        "support": None if support is None else round(support, 3),
        "faithful": None if support is None else support >= FAITHFUL_MIN_TERMS,
    }


def error_row(q: Any, error: str, latency_ms: float) -> Row:
    """A question whose ask raised: it scores as an unrefused, empty answer that found nothing."""
    row = new_row(
        q,
        rewritten_query=q.question,
        error=error,
        **retrieval_fields(q, [], lambda _cid: None, 0),
        facts_missed=list(q.facts),
        fact_recall=0.0 if q.facts else None,
        lead_hit=False if q.answerable and q.facts else None,
        latency_ms=round(latency_ms, 1),
    )
    row["failure"] = "error"
    return row


def retrieval_row(
    q: Any,
    query: str,
    retrieved: list[dict[str, Any]],
    chunk_text: Callable[[str], str | None],
    n_relevant: int,
    latency_ms: float,
) -> Row:
    """A row of a retrieval-only run: answer fields are None (not measured)."""
    row = new_row(
        q,
        rewritten_query=query,
        answer=None,
        refused=None,
        **retrieval_fields(q, retrieved, chunk_text, n_relevant),
        n_citations=None,
        n_relevant_citations=None,
        n_quotes=None,
        n_aligned=None,
        n_sentences_checked=None,
        n_faithful=None,
        n_units=None,
        latency_ms=round(latency_ms, 1),
    )
    if q.answerable and row["hit@5"] == 0.0:
        row["failure"] = "retrieval_miss"
    return row


def failure_cause(row: Row) -> str | None:
    """The first failure that applies to an answered row (see the module docstring)."""
    if row.get("error"):
        return "error"
    if row.get("refused") is None:
        return None
    if not row["answerable"]:
        return None if row["refused"] else "answered_out_of_scope"
    if row["refused"]:
        return "false_refusal"
    if row["facts_missed"]:
        return "selection_miss" if row["relevant_ranks"] else "retrieval_miss"
    if row["fragments"]:
        return "fragment"
    return None


# ----------------------------------------------------------------------------- metrics
def _mean(values: Iterable[float | bool | None]) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return round(sum(kept) / len(kept), 4) if kept else None


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _answerable(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.get("answerable")]


def _asked(rows: list[Row]) -> list[Row]:
    """Rows of an answering run (not retrieval-only, where `refused` is None)."""
    return [r for r in rows if r.get("refused") is not None]


def _answered(rows: list[Row]) -> list[Row]:
    """Answerable questions that were answered (not refused)."""
    return [r for r in _asked(_answerable(rows)) if not r["refused"]]


class Metric:
    """A summary metric: key, label, direction, and `evaluate` over the answer-mode rows."""

    key: ClassVar[str]
    label: ClassVar[str]
    lower_is_better: ClassVar[bool] = False
    unit: ClassVar[str] = "rate"  # "rate" (0..1) or "ms"

    def evaluate(self, rows: list[Row]) -> float | None:
        raise NotImplementedError


class _RankMetric(Metric):
    field: ClassVar[str]

    def evaluate(self, rows: list[Row]) -> float | None:
        return _mean(r.get(self.field) for r in _answerable(rows))


class HitAt1(_RankMetric):
    key, label, field = "hit@1", "Hit@1", "hit@1"


class HitAt5(_RankMetric):
    key, label, field = "hit@5", "Hit@5", "hit@5"


class MrrAt5(_RankMetric):
    key, label, field = "mrr@5", "MRR@5", "rr@5"


class NdcgAt5(_RankMetric):
    key, label, field = "ndcg@5", "nDCG@5", "ndcg@5"


class _CountRatio(Metric):
    """Micro-averaged: a count summed over the rows, over another count summed over them, so
    an answer with many citations (or sentences, or quotes) weighs as much as it holds."""

    numerator: ClassVar[str]
    denominator: ClassVar[str]
    select = staticmethod(_asked)  # the rows the counts are taken from

    def evaluate(self, rows: list[Row]) -> float | None:
        kept = self.select(rows)
        return _ratio(sum(r[self.numerator] for r in kept), sum(r[self.denominator] for r in kept))


class CitationPrecision(_CountRatio):
    key, label = "citation_precision", "Citation precision"
    numerator, denominator = "n_relevant_citations", "n_citations"
    select = staticmethod(_answered)


class CitationRecall(Metric):
    key, label = "citation_recall", "Citation recall"

    def evaluate(self, rows: list[Row]) -> float | None:
        return _mean(r["n_relevant_citations"] > 0 for r in _asked(_answerable(rows)))


class FactRecall(Metric):
    key, label = "fact_recall", "Fact recall"

    def evaluate(self, rows: list[Row]) -> float | None:
        asked = _asked(_answerable(rows))
        return _ratio(
            sum(len(r["facts_found"]) for r in asked), sum(len(r["facts"]) for r in asked)
        )


class LeadHit(Metric):
    key, label = "lead_hit", "Leads with a fact"

    def evaluate(self, rows: list[Row]) -> float | None:
        return _mean(r.get("lead_hit") for r in rows)


class FragmentRate(Metric):
    key, label, lower_is_better = "fragment_rate", "Fragment rate", True

    def evaluate(self, rows: list[Row]) -> float | None:
        asked = _asked(rows)
        return _ratio(
            sum(len(r.get("fragments") or []) for r in asked),
            sum(r.get("n_units") or 0 for r in asked),
        )


class MixedDocumentRate(Metric):
    key, label, lower_is_better = "mixed_document_rate", "Mixed-document answers", True

    def evaluate(self, rows: list[Row]) -> float | None:
        return _mean(r.get("mixed_documents") for r in rows)


class Faithfulness(_CountRatio):
    key, label = "faithfulness", "Faithfulness"
    numerator, denominator = "n_faithful", "n_sentences_checked"


class QuotedSpanAlignment(_CountRatio):
    key, label = "quoted_span_alignment", "Quoted-span alignment"
    numerator, denominator = "n_aligned", "n_quotes"


class RefusalAccuracy(Metric):
    key, label = "refusal_accuracy", "Refusal accuracy"

    def evaluate(self, rows: list[Row]) -> float | None:
        return _mean(r.get("refused") for r in rows if not r.get("answerable"))


class FalseRefusalRate(Metric):
    key, label, lower_is_better = "false_refusal_rate", "False-refusal rate", True

    def evaluate(self, rows: list[Row]) -> float | None:
        return _mean(r.get("refused") for r in _answerable(rows))


class _Latency(Metric):
    lower_is_better, unit = True, "ms"
    q: ClassVar[float]

    def evaluate(self, rows: list[Row]) -> float | None:
        value = percentile(
            [r["latency_ms"] for r in rows if r.get("latency_ms") is not None], self.q
        )
        return None if value is None else round(value, 1)


class LatencyP50(_Latency):
    key, label, q = "latency_ms_p50", "Latency p50 (ms)", 50


class LatencyP95(_Latency):
    key, label, q = "latency_ms_p95", "Latency p95 (ms)", 95


class _ModeMetric(Metric):
    """Criteria-finder and PSED-view scores, over their own rows (None when there are none)."""

    mode: ClassVar[str]
    from_aligned: ClassVar[bool] = False

    def evaluate(self, rows: list[Row]) -> float | None:
        scored = [r for r in rows if r.get("mode") == self.mode and not r.get("skipped")]
        if self.from_aligned:
            return _ratio(
                sum(r["n_aligned"] or 0 for r in scored), sum(r["n_quotes"] or 0 for r in scored)
            )
        return _ratio(
            sum(len(r["facts_found"]) for r in scored), sum(len(r["facts"]) for r in scored)
        )


class CriteriaItemRecall(_ModeMetric):
    key, label, mode = "criteria_item_recall", "Criteria item recall", "criteria"


class CriteriaPrecision(_ModeMetric):
    key, label, mode, from_aligned = "criteria_precision", "Criteria precision", "criteria", True


class PsedRowAccuracy(_ModeMetric):
    key, label, mode = "psed_row_accuracy", "PSED row accuracy", "psed"


METRICS: tuple[Metric, ...] = (
    HitAt1(),
    HitAt5(),
    MrrAt5(),
    NdcgAt5(),
    CitationPrecision(),
    CitationRecall(),
    FactRecall(),
    LeadHit(),
    FragmentRate(),
    MixedDocumentRate(),
    Faithfulness(),
    QuotedSpanAlignment(),
    RefusalAccuracy(),
    FalseRefusalRate(),
    LatencyP50(),
    LatencyP95(),
)
MODE_METRICS: tuple[Metric, ...] = (CriteriaItemRecall(), CriteriaPrecision(), PsedRowAccuracy())
METRIC_BY_KEY = {m.key: m for m in METRICS}
ALL_METRIC_BY_KEY = {**METRIC_BY_KEY, **{m.key: m for m in MODE_METRICS}}
COUNT_KEYS = ("n_questions", "n_answerable", "n_unanswerable", "n_errors")


def summarise(rows: list[Row]) -> dict[str, Any]:
    """Every metric over `rows` (criteria/psed rows are scored by the mode metrics only)."""
    answer_rows = [r for r in rows if r.get("mode", "answer") == "answer"]
    summary: dict[str, Any] = {m.key: m.evaluate(answer_rows) for m in METRICS}
    summary.update(
        {
            "n_questions": len(rows),
            "n_answerable": len(_answerable(answer_rows)),
            "n_unanswerable": len(answer_rows) - len(_answerable(answer_rows)),
            "n_errors": sum(1 for r in rows if r.get("error")),
            "failures": failure_counts(rows),
        }
    )
    modes = [r for r in rows if r.get("mode") in ("criteria", "psed")]
    for metric in MODE_METRICS:
        if any(r.get("mode") == metric.mode for r in modes):  # type: ignore[attr-defined]
            summary[metric.key] = metric.evaluate(modes)
    if modes:
        summary["n_mode_questions"] = len(modes)
    return summary


def failure_counts(rows: list[Row]) -> dict[str, int]:
    """How many questions failed for each cause (causes with none are listed as 0)."""
    counts = dict.fromkeys(FAILURE_CAUSES, 0)
    for row in rows:
        if row.get("failure"):
            counts[row["failure"]] = counts.get(row["failure"], 0) + 1
    return counts


def group_by(rows: list[Row], key: str) -> dict[str, dict[str, Any]]:
    """Summaries per value of `key` (category, split, format), in order of first appearance."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(str(row.get(key) or "general"), []).append(row)
    return {name: summarise(group) for name, group in groups.items()}


def by_category(rows: list[Row]) -> dict[str, dict[str, Any]]:
    """Summaries per category, in order of first appearance."""
    return group_by(rows, "category")
