"""The answer pipeline shared by the CLI, the UI and the evaluation runner.

question (+ history) -> rewrite follow-up -> hybrid retrieve -> refuse if the evidence is weak
-> generate (extractive or LLM) -> verify every sentence against its cited passage
-> refuse if nothing survives -> answer with numbered citations, timings and a trace line.
"""

from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.chat import Turn, looks_like_followup, parse_history, rewrite_without_llm
from assistant.documents import Chunk, Hit
from assistant.explain import Explanation
from assistant.extractive import (
    AnswerModel,
    Decisions,
    Unit,
    compose,
    load_answer_model,
    rerank,
    score_units,
    select_units,
    source_blocks,
)
from assistant.prompts import format_sources, load_prompt, render
from assistant.question import Analysis, analyse, spellings
from assistant.refusal import RefusalModel, refusal_features
from assistant.retrieve import Retriever, SearchResult
from assistant.settings import GENERATORS, Settings
from assistant.text import concept_coverage, passage_terms
from assistant.verify import CheckedSentence, Verifier

REFUSAL = "The indexed documents do not cover this question."
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u202d"), None)


class QuestionError(ValueError):
    """The question cannot be answered as given (empty, not text); the message says why."""


@dataclass
class Citation:
    """A numbered source shown with the answer; `quote` is verbatim from the chunk."""

    n: int
    doc_id: str
    title: str
    section: str
    page: int | None
    chunk_id: str
    quote: str
    score: float
    text: str = ""


@dataclass
class Sentence:
    """One sentence of the answer and the citations that support it."""

    text: str
    citations: list[int]
    supported: bool
    is_item: bool = False
    reason: str = ""


@dataclass
class Answer:
    """The answer object (its JSON shape is the contract in design.md)."""

    question: str
    answer: str
    refused: bool
    sentences: list[Sentence]
    citations: list[Citation]
    generator: str
    timings_ms: dict[str, float]
    rewritten_query: str = ""
    notice: str = ""
    closest: list[dict[str, Any]] = field(default_factory=list)
    refusal_reason: str = ""
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    # the LLM generator whose answer failed verification, when the extractive answer is
    # shown in its place ("" otherwise); `notice` says so in words
    fallback: str = ""

    def to_dict(self, include_text: bool = False) -> dict[str, Any]:
        data = asdict(self)
        for sent in data["sentences"]:
            sent.pop("is_item", None)
            if not sent["reason"]:
                sent.pop("reason")
        if not include_text:
            for cit in data["citations"]:
                cit.pop("text", None)
        return data


def clean_question(question: Any, max_chars: int) -> tuple[str, str]:
    """Normalise a user question; returns (question, notice). Raises QuestionError if empty."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    text = unicodedata.normalize("NFC", question).translate(_INVISIBLE)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(text.split())
    notice = ""
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0]
        notice = f"Your question was longer than {max_chars} characters and was shortened."
    if not any(ch.isalnum() for ch in text):
        raise QuestionError("the question is empty; type a question about the documents")
    return text, notice


class Assistant:
    """Answers questions over the index; one per process, safe to share across threads."""

    def __init__(self, settings: Settings, retriever: Retriever | None = None):
        self.settings = settings
        self.retriever = retriever or Retriever(settings)
        self._trace_lock = threading.Lock()
        self.model: AnswerModel = load_answer_model(settings.answer_model_file)
        self.refusal = RefusalModel.from_dict(self.model.refusal)

    # -------------------------------------------------------------- public API
    def analyse(self, query: str, focus: str = "") -> Analysis:
        """The question's expected answer type and IDF-weighted concepts over the live index."""
        return analyse(query, self.retriever.term_stats, self.retriever.glossary, focus)

    def ask(self, question: str, **kwargs: Any) -> Answer:
        """The verified answer object (see `stream` for the arguments)."""
        final: Answer | None = None
        for event in self.stream(question, **kwargs):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def stream(
        self,
        question: str,
        history: list[dict[str, str]] | list[Turn] | None = None,
        generator: str | None = None,
        k: int | None = None,
        doc_ids: list[str] | None = None,
        doc_types: list[str] | None = None,
        retriever: str | None = None,
        explain: Explanation | None = None,
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is produced (tokens or sentences), then the final `Answer`.

        The streamed text is a preview; only the final object is verified and may differ.
        `explain`, when given, is filled with why the answer came out as it did; it never
        changes the answer.
        """
        started = time.perf_counter()
        settings = self.settings
        name = generator or settings.generator
        if name not in GENERATORS:
            raise QuestionError(f"unknown generator {name!r}; choose {', '.join(GENERATORS)}")
        text, notice = clean_question(question, settings.max_question_chars)
        turns = parse_history(history)
        timings: dict[str, float] = {}
        query = self._rewrite(text, turns, name, timings, explain)
        t0 = time.perf_counter()
        result = self.retriever.search(
            query, k=k or settings.k, retriever=retriever, doc_ids=doc_ids, doc_types=doc_types
        )
        timings["retrieve"] = _ms(t0)
        if explain is not None:
            explain.record_retrieval(result, k or settings.k)
        hits = result.hits
        analysis = self.analyse(query, text if query != text else "")
        t0 = time.perf_counter()
        units = self._units(analysis, hits)
        timings["units"] = _ms(t0)
        weak = self.weak_evidence(analysis, result, units, explain)
        t0 = time.perf_counter()
        draft = ""
        fallback = ""
        if not weak:
            # the passage holding the best unit is cited first, by every generator
            hits, units = rerank(hits, units, self.model.rerank)
            if explain is not None:
                explain.record_rerank(hits)
        if not weak and name == "extractive":
            draft, shortened = self._extractive(analysis, units, explain=explain)
            notice = " ".join(part for part in (notice, shortened) if part)
            for sentence in re.split(r"(?<=\])\s+", draft):
                yield sentence + " "
        sources = {n: hit.chunk for n, hit in enumerate(hits, 1)}
        if not weak and name != "extractive":
            # small local models handle a few passages far better than many, and whole blocks
            # (not passages cut at a character count) are what a claim is checked against
            sources = source_blocks(
                hits, units, self.settings.llm_sources, self.settings.llm_source_chars
            )
            chunks: list[str] = []
            for delta in self._llm_stream(name, text, query, sources):
                chunks.append(delta)
                yield delta
            draft = "".join(chunks)
        timings["generate"] = _ms(t0)
        t0 = time.perf_counter()
        # no draft, nothing to verify: don't load the embedder for it (bm25 mode never did)
        verifier = self._verifier(with_encoder=bool(draft))
        checked = verifier.check(draft, sources) if draft else []
        given = list(sources)
        if not weak and name != "extractive" and not any(c.supported for c in checked):
            # the model's answer failed verification: show the verified extractive answer
            fallback = name
            if explain is not None:
                explain.record_fallback(name, checked, sources, verifier)
            draft, shortened = self._extractive(analysis, units, explain=explain)
            sources = {n: hit.chunk for n, hit in enumerate(hits, 1)}
            checked = verifier.check(draft, sources) if draft else []
            notice = " ".join(
                part
                for part in (notice, _fallback_notice(name) if draft else "", shortened)
                if part
            )
        timings["verify"] = _ms(t0)
        answer = self._assemble(text, name, query, notice, hits, sources, checked, weak)
        answer.fallback = fallback
        timings["total"] = _ms(started)
        answer.timings_ms = {key: round(value, 1) for key, value in timings.items()}
        if explain is not None:
            explain.record_generation(name, [] if weak else given, ran=not weak)
            explain.record_verification(checked, sources, verifier)
            shown = [sentence.citations for sentence in answer.sentences]
            explain.record_outcome(answer.refused, answer.refusal_reason, weak, shown)
        self._trace(answer, result)
        yield answer

    def weak_evidence(
        self,
        analysis: Analysis,
        result: SearchResult,
        units: list[Unit],
        explain: Explanation | None = None,
    ) -> str:
        """Why the passages do not answer the question, or "" when they may.

        Two rules, tried in order: an off-topic guard (under `refusal.min_coverage` of the
        question's key words in the top three passages), then the fitted refusal model
        (`assistant.refusal`), which turns question-level signals - the IDF-weighted share of
        the question the passages state, words no passage contains, dense similarity, whether
        the expected kind of answer is there, the best unit's score - into a probability that
        the passages answer; below the dev-fitted operating point the assistant declines.
        `explain` gets the signals, the probability and both rules.
        """
        if not result.hits:
            if explain is not None:
                no_hits = [("no_passages", "no passage matched", True, "no passage matched")]
                explain.record_evidence([], set(), {"passages": 0}, no_hits)
            return "no passage matched"
        dense = result.max_dense if result.retriever != "bm25" else 1.0
        signals = refusal_features(analysis, result.hits, dense, units)
        p = self.refusal.probability(signals)
        top_terms: set[str] = set()
        for hit in result.hits[:3]:
            top_terms |= passage_terms(hit.chunk.text)
        lacking = [
            " / ".join(spellings(c))
            for c, _w in sorted(analysis.missing(top_terms), key=lambda cw: -cw[1])
        ] + [" / ".join(spellings(c)) for c, _w in analysis.absent]
        concepts = [c for c, _w in analysis.concepts] + [c for c, _w in analysis.absent]
        plain = concept_coverage(concepts, top_terms) if concepts else 1.0
        guard = self.settings.refusal.min_coverage
        few_dense = self.settings.refusal.few_terms_dense
        detail = f"evidence {p:.2f} < {self.refusal.threshold:.2f}"
        if lacking:
            detail += f"; not in the passages: {', '.join(lacking[:4])}"
        if signals["typed_absent"]:
            detail += f"; no {analysis.answer_type} stated"
        rules = [
            (
                "min_coverage",
                f"key words found {plain:.0%} < {guard:.0%}",
                plain < guard,
                f"the question's key words are not in the passages (found {plain:.0%}; "
                f"not found: {', '.join(lacking[:4])})",
            ),
            (
                "few_terms",
                f"≤2 key words ({len(concepts)}), found {plain:.0%} < 100% and similarity "
                f"{dense:.2f} < {few_dense}",
                len(concepts) <= 2 and plain < 1.0 and dense < few_dense,
                f"the question's few key words are not all in the passages (found {plain:.0%}, "
                f"best similarity {dense:.2f})",
            ),
            (
                "model",
                f"p(answerable) {p:.3f} < {self.refusal.threshold:.3f}",
                p < self.refusal.threshold,
                f"the passages do not state what the question asks ({detail})",
            ),
        ]
        if explain is not None:
            shown = {k: round(v, 4) for k, v in signals.items()}
            shown |= {
                "p_answerable": round(p, 4),
                "answer_type": analysis.answer_type,
                "dense_used": result.retriever != "bm25",
                "passages_checked": [h.chunk.chunk_id for h in result.hits[:3]],
            }
            shown["key_word_coverage"] = round(plain, 4)
            explain.record_evidence(concepts, top_terms, shown, rules)
        return next((message for _name, _test, fired, message in rules if fired), "")

    # -------------------------------------------------------------- steps
    def _rewrite(
        self,
        question: str,
        turns: list[Turn],
        name: str,
        timings: dict,
        explain: Explanation | None = None,
    ) -> str:
        if not turns or not looks_like_followup(question):
            if explain is not None:
                explain.record_rewrite(question, question, False, "none")
            return question
        t0 = time.perf_counter()
        query = rewrite_without_llm(question, turns)
        method = "rule"
        if name != "extractive":
            llm_query = self._llm_rewrite(name, question, turns)
            query, method = (llm_query, "llm") if llm_query else (query, method)
        timings["rewrite"] = _ms(t0)
        if explain is not None:
            explain.record_rewrite(question, query, True, method)
        return query

    def _llm_rewrite(self, name: str, question: str, turns: list[Turn]) -> str:
        from assistant.llm import chat_model, stream_chat

        history = "\n".join(f"{t.role}: {' '.join(t.content.split())[:500]}" for t in turns[-4:])
        prompt = render(load_prompt(self._prompts, "rewrite"), history=history, question=question)
        model = chat_model(self.settings, name)
        out = "".join(stream_chat(model, "You rewrite questions.", prompt, self.settings, name))
        out = " ".join(out.strip().splitlines()[:1]).strip().strip('"')
        # a small model may answer instead of rewriting: keep only plausible rewrites
        if not out or len(out) > 300 or len(out) < len(question) // 2:
            return ""
        return out

    def _units(self, analysis: Analysis, hits: list[Hit]) -> list[Unit]:
        """The hits' candidate units scored by the fitted model (refusal reads them too)."""
        retriever = self.retriever
        if not hits:
            return []
        return score_units(analysis, hits, retriever.index, retriever.embedder, self.model)

    def _extractive(
        self, analysis: Analysis, units: list[Unit], explain: Explanation | None = None
    ) -> tuple[str, str]:
        """The extractive draft over the (reranked) passages' units, and a note naming any
        list shown only in part."""
        decisions = Decisions() if explain is not None else None
        shortened: list[tuple[int, int, int]] = []
        limit = self.settings.extractive.max_sentences
        chosen = select_units(analysis, units, self.model, limit, decisions, shortened)
        if explain is not None and decisions is not None:
            explain.record_units(units, chosen, decisions)
        notes = [
            f"A list in the answer has {total} items; the first {shown} are shown (the cited "
            "passage has the rest)."
            for _n, shown, total in shortened
        ]
        return compose(chosen), " ".join(notes)

    def _llm_stream(
        self, name: str, question: str, query: str, sources: dict[int, Chunk]
    ) -> Iterator[str]:
        from assistant.llm import chat_model, stream_chat

        system = load_prompt(self._prompts, "system")
        asked = question if query == question else f"{question} (in context: {query})"
        user = render(
            load_prompt(self._prompts, "answer"),
            sources=format_sources(sources, self.settings.llm_source_chars),
            question=asked,
        )
        yield from stream_chat(chat_model(self.settings, name), system, user, self.settings, name)

    @property
    def _prompts(self):  # type: ignore[no-untyped-def]
        return self.settings.path(self.settings.prompts_dir)

    def _verifier(self, with_encoder: bool = True) -> Verifier:
        encode = self.retriever.embedder.encode if with_encoder else None
        return Verifier(
            self.settings.verify.min_overlap,
            self.settings.verify.min_similarity,
            encode=encode,
        )

    def _assemble(
        self,
        question: str,
        name: str,
        query: str,
        notice: str,
        hits: list[Hit],
        sources: dict[int, Chunk],
        checked: list[CheckedSentence],
        weak: str,
    ) -> Answer:
        numbers: dict[int, int] = {}
        citations: list[Citation] = []
        sentences: list[Sentence] = []
        hit_by_n = dict(enumerate(hits, 1))
        for cs in checked:
            shown: list[int] = []
            if cs.supported:
                for n in cs.cited:
                    if n not in numbers:
                        numbers[n] = len(numbers) + 1
                        hit = hit_by_n[n]
                        checked_text = sources[n].text  # what the claim was checked against
                        sup = cs.support[n]
                        citations.append(
                            Citation(
                                n=numbers[n],
                                doc_id=hit.chunk.doc_id,
                                title=hit.chunk.title,
                                section=hit.chunk.section,
                                page=hit.chunk.page,
                                chunk_id=hit.chunk.chunk_id,
                                quote=" ".join(checked_text[sup.start : sup.end].split()),
                                score=round(float(hit.dense_score or hit.score), 4),
                                text=checked_text,
                            )
                        )
                    shown.append(numbers[n])
            is_item = cs.text != "" and cs.is_item
            sentences.append(Sentence(cs.text, shown, cs.supported, is_item, cs.reason))
        supported = [s for s in sentences if s.supported]
        closest = [
            {
                "doc_id": h.chunk.doc_id,
                "title": h.chunk.title,
                "section": h.chunk.section,
                "page": h.chunk.page,
                "chunk_id": h.chunk.chunk_id,
                "text": h.chunk.text[:400],
                "score": round(float(h.dense_score or h.score), 4),
            }
            for h in hits[:3]
        ]
        retrieved = [
            {
                "chunk_id": h.chunk.chunk_id,
                "doc_id": h.chunk.doc_id,
                "rank": h.rank,
                "score": round(h.score, 5),
            }
            for h in hits
        ]
        if weak or not supported:
            reason = weak or (
                "no sentence of the draft answer was supported by the passages"
                if checked
                else "nothing relevant found in the passages"
            )
            return Answer(
                question,
                REFUSAL,
                True,
                sentences,
                [],
                name,
                {},
                query,
                notice,
                closest,
                reason,
                retrieved,
            )
        return Answer(
            question,
            render_answer(supported),
            False,
            sentences,
            citations,
            name,
            {},
            query,
            notice,
            [],
            "",
            retrieved,
        )

    def _trace(self, answer: Answer, result: SearchResult) -> None:
        if not self.settings.trace:
            return
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "question": answer.question,
            "rewritten_query": answer.rewritten_query,
            "retriever": result.retriever,
            "retrieved": [[h.chunk.chunk_id, round(h.score, 5)] for h in result.hits],
            "generator": answer.generator,
            "refused": answer.refused,
            "citations": [c.chunk_id for c in answer.citations],
            "timings_ms": answer.timings_ms,
        }
        folder = self.settings.path(self.settings.trace_dir)
        with self._trace_lock:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "trace.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _fallback_notice(name: str) -> str:
    return (
        f"The {name} model's answer could not be checked against the passages, so the "
        "extractive answer (quoted from them) is shown instead."
    )


def render_answer(sentences: list[Sentence]) -> str:
    """Answer text with ``[n]`` markers; list items on their own lines."""
    parts: list[str] = []
    for s in sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        if s.is_item:
            parts.append(f"\n- {s.text} {marks}")
        else:
            sep = "\n" if parts and parts[-1].startswith("\n- ") else " "
            parts.append(f"{sep}{s.text} {marks}")
    return "".join(parts).strip()


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000
