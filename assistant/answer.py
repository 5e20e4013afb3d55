"""The answer pipeline shared by the CLI, the UI and the evaluation runner.

question (+ history) -> rewrite follow-up -> retrieve -> refuse if the evidence is weak
-> generate (any registered generator, `assistant.generators`) -> verify every sentence
against its cited passage (falling back to the generator's `falls_back_to` when nothing
survives) -> refuse if nothing survives -> answer with numbered citations, timings and a trace
line.
"""

from __future__ import annotations

import json
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant import generators
from assistant.chat import (
    ANSWER_TERMS,
    Turn,
    looks_like_followup,
    parse_history,
    rewrite_without_llm,
)
from assistant.documents import Chunk, Citation, Hit, cited_fields, layout_answer
from assistant.explain import Explanation
from assistant.extractive import AnswerModel, Unit, load_answer_model, rerank, score_units
from assistant.generators import Generator, Request, passages
from assistant.question import (
    Analysis,
    analyse,
    asks_identity,
    asks_next,
    named_words,
    spellings,
    states_identity,
    states_next,
)
from assistant.refusal import RefusalModel, hit_terms, refusal_features
from assistant.registry import UnknownName
from assistant.retrieve import Retriever, SearchResult
from assistant.settings import Settings
from assistant.text import concept_coverage, content_terms
from assistant.timing import Stopwatch
from assistant.verify import CheckedSentence, Verifier

__all__ = [
    "REFUSAL",
    "Answer",
    "Assistant",
    "Citation",  # defined in assistant.documents; imported from here by the UI and tests
    "QuestionError",
    "Sentence",
    "clean_question",
    "render_answer",
]

REFUSAL = "The indexed documents do not cover this question."
# Why a question asking for an identity (`question.asks_identity`) is declined.
_IDENTITY_MISSING = {
    "name": "the question asks for a person's name, and no passage names anyone for it",
    "contact": "the question asks for contact details, and no passage gives a telephone "
    "number, email or web address",
    "amount": "the question asks for a sum of money, and no passage states an amount",
}
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u202d"), None)


class QuestionError(ValueError):
    """The question cannot be answered as given (empty, not text); the message says why."""


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
        clock = Stopwatch()
        writer = self._generator(generator or self.settings.generator)
        text, notice = clean_question(question, self.settings.max_question_chars)
        turns = parse_history(history)
        query = self._rewrite(text, turns, writer, clock, explain)
        k = k or self.settings.k

        def evidence(
            q: str, judged: Analysis, within: list[str] | None = None
        ) -> tuple[SearchResult, list[Unit], str]:
            with clock.stage("retrieve"):
                found = self.retriever.search(
                    q, k=k, retriever=retriever, doc_ids=within or doc_ids, doc_types=doc_types
                )
            with clock.stage("units"):
                scored = self._units(judged, found.hits)
            return found, scored, self.weak_evidence(judged, found, scored)

        analysis = self.analyse(query, text if query != text else "")
        result, units, weak = evidence(query, analysis)
        if weak and query != text:
            # a declined follow-up may stand on its own: the earlier turn's words can be what
            # the passages lack ("And how long do children have to answer their survey?" after
            # a question about the staff survey)
            own = self.analyse(text)
            alone = evidence(text, own)
            if not alone[2]:
                query, analysis, (result, units, weak) = text, own, alone
                if explain is not None:
                    explain.record_rewrite(text, text, True, "none: the rewrite was declined")
        wider = self._widened(text, turns, query)
        if wider and not weak:
            # a rule-rewritten follow-up that the passages answer is searched again with the
            # previous answer's words too; used only if that evidence passes as well, so a
            # follow-up declined before is still declined
            more = evidence(wider, analysis)
            if not more[2]:
                query, (result, units, weak) = wider, more
                if explain is not None:
                    explain.record_rewrite(text, query, True, "rule, with the previous answer")
        named = None if weak else self._named_elsewhere(text, turns, query, units, doc_ids)
        if named is not None:
            # the passages that answer are from documents that never mention a name the
            # question gives: the documents that do are searched too, and answer if their
            # evidence passes. When they do not, the question is declined if the first
            # answer's document is another publisher's (its manifest says so): "What was
            # the Northmoor inspectorate's pay gap?" must not get Kestrel's. A document with
            # no publisher recorded may be the named body's own ("we", "the inspectorate"),
            # so its answer stands, as before
            name, within, publisher = named[0], sorted(named[1]), named[2]
            again = evidence(query, analysis, within)
            if not again[2] or publisher:
                result, units = again[0], again[1]
                if explain is not None:
                    explain.record_scope(name, within)
                weak = (
                    f"the passages that state it are {publisher}'s, which never mention "
                    f"{name}; the documents that do mention it do not state it ({again[2]})"
                    if again[2]
                    else ""
                )
        if explain is not None:
            explain.record_retrieval(result, k)
            self.weak_evidence(analysis, result, units, explain)
        pieces: list[str] = []
        with clock.stage("generate"):
            request = self._request(text, query, analysis, result.hits, units, weak, explain)
            sources = passages(request.hits) if weak else writer.sources(request)
            for piece in () if weak else writer.stream(request, sources):
                pieces.append(piece)
                yield piece
        given = list(sources)
        with clock.stage("verify"):
            draft = "".join(pieces)
            # no draft, nothing to verify: don't load the embedder for it (bm25 never did)
            verifier = self._verifier(with_encoder=bool(draft))
            checked = verifier.check(draft, sources) if draft else []
            fallback: Generator | None = None
            if not weak and writer.falls_back_to and not any(c.supported for c in checked):
                fallback, sources, checked = self._fall_back(
                    writer, request, checked, sources, verifier
                )
        notes = [notice, *writer.notes, *(fallback.notes if fallback else [])]
        answer = self._assemble(
            request, writer.name, " ".join(n for n in notes if n), sources, checked, weak
        )
        answer.fallback = writer.name if fallback else ""
        answer.timings_ms = clock.rounded()
        if explain is not None:
            explain.record_generation(writer.name, [] if weak else given, ran=not weak)
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

        Rules, tried in order: an off-topic guard (under `refusal.min_coverage` of the
        question's key words in the top three passages), a guard for few key words, a question
        asking for a named person or contact details that no passage states
        (`question.asks_identity`), then the fitted refusal model
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
        dense = result.max_dense if result.measures_similarity else 1.0
        names = self.document_names(analysis.question)
        signals = refusal_features(analysis, result.hits, dense, units, names)
        p = self.refusal.probability(signals)
        top_terms: set[str] = set()
        for hit in result.hits[:3]:
            top_terms |= hit_terms(hit, names)
        lacking = [
            " / ".join(spellings(c))
            for c, _w in sorted(analysis.missing(top_terms), key=lambda cw: -cw[1])
        ] + [" / ".join(spellings(c)) for c, _w in analysis.absent]
        concepts = [c for c, _w in analysis.concepts] + [c for c, _w in analysis.absent]
        plain = concept_coverage(concepts, top_terms) if concepts else 1.0
        guard = self.settings.refusal.min_coverage
        few_dense = self.settings.refusal.few_terms_dense
        identity = asks_identity(analysis.question)
        passages = [h.chunk.text for h in result.hits[:5]]
        upcoming = asks_next(analysis.question, analysis.answer_type)
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
                "identity",
                f"asks for {'an' if identity == 'amount' else 'a'} {identity}, none stated in "
                f"the top {len(passages)} passages"
                if identity
                else "asks for no name, contact details or amount",
                bool(identity) and not states_identity(identity, analysis.question, passages),
                _IDENTITY_MISSING.get(identity, ""),
            ),
            (
                "next",
                f"asks when '{upcoming}' next happens; no sentence of the top "
                f"{len(passages)} passages names it with a time"
                if upcoming
                else "asks for no next occasion",
                bool(upcoming) and not states_next(upcoming, passages),
                f"the question asks when something will next happen ({upcoming}), and no "
                "passage says when",
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
                "dense_used": result.measures_similarity,
                "passages_checked": [h.chunk.chunk_id for h in result.hits[:3]],
            }
            shown["key_word_coverage"] = round(plain, 4)
            explain.record_evidence(concepts, top_terms, shown, rules)
        return next((message for _name, _test, fired, message in rules if fired), "")

    # -------------------------------------------------------------- steps
    def _generator(self, name: str) -> Generator:
        """A fresh instance of the registered generator `name` (QuestionError if none is)."""
        try:
            kind = generators.get(name)
        except UnknownName as exc:
            raise QuestionError(str(exc)) from exc
        return kind(self.settings, self.model)

    def _rewrite(
        self,
        question: str,
        turns: list[Turn],
        writer: Generator,
        clock: Stopwatch,
        explain: Explanation | None = None,
    ) -> str:
        """A follow-up made standalone: the generator's rewrite (a model's) when it gives
        one, else the rule-based one; any other question as it is."""
        if not turns or not looks_like_followup(question):
            if explain is not None:
                explain.record_rewrite(question, question, False, "none")
            return question
        with clock.stage("rewrite"):
            query, method = rewrite_without_llm(question, turns), "rule"
            better = writer.rewrite(question, turns)
            if better:
                query, method = better, "llm"
        if explain is not None:
            explain.record_rewrite(question, query, True, method)
        return query

    @staticmethod
    def _widened(text: str, turns: list[Turn], query: str) -> str:
        """The follow-up query with the previous answer's words as well, when `query` is the
        rule-based rewrite ("" for a model's rewrite or a question that is not a follow-up)."""
        if query == text or query != rewrite_without_llm(text, turns):
            return ""
        wider = rewrite_without_llm(text, turns, answer_terms=ANSWER_TERMS)
        return wider if wider != query else ""

    def document_names(self, question: str) -> dict[str, frozenset[str]]:
        """The stems of the question's capitalised words (`question.named_words`) by the
        documents that mention them, read from the BM25 postings (`refusal.hit_terms`)."""
        index = self.retriever.index
        out: dict[str, set[str]] = {}
        for word in named_words(question):
            stems = content_terms(word)
            if not stems:
                continue
            for doc in index.documents_with(word):
                out.setdefault(doc, set()).update(stems)
        return {doc: frozenset(stems) for doc, stems in out.items()}

    def _named_elsewhere(
        self,
        text: str,
        turns: list[Turn],
        query: str,
        units: list[Unit],
        doc_ids: list[str] | None,
    ) -> tuple[str, frozenset[str], str] | None:
        """(the names, the documents naming all the question's names, the best unit's
        document's publisher or "") when that document never names a capitalised word of
        the question that other documents do name ("What percentage of the Northmoor
        inspectorate's staff are disabled?" answered from another inspectorate's report);
        None when it does, or no document names them all (a question comparing two bodies).
        A document names a word in its text, title or publisher (`Index.documents_naming`).
        A rewritten follow-up adds the earlier question's words ("Is it the same for a
        monitoring visit?" after a question about Fernvale)."""
        if not units:
            return None
        asked = text
        if query != text:
            asked += " " + " ".join(t.content for t in turns if t.role == "user")
        lead = max(units, key=lambda u: u.score).doc_id
        index = self.retriever.index
        lacking: list[str] = []
        naming: list[frozenset[str]] = []
        for word in named_words(asked):
            docs = index.documents_naming(word)
            if docs:
                naming.append(docs)
                if lead not in docs:
                    lacking.append(word)
        if not lacking:
            return None
        within = frozenset.intersection(*naming)
        if doc_ids:
            within &= frozenset(doc_ids)
        publisher = str(index.documents.get(lead, {}).get("publisher") or "")
        return (", ".join(lacking), within, publisher) if within else None

    def _units(self, analysis: Analysis, hits: list[Hit]) -> list[Unit]:
        """The hits' candidate units scored by the fitted model (refusal reads them too)."""
        retriever = self.retriever
        if not hits:
            return []
        return score_units(analysis, hits, retriever.index, retriever.embedder, self.model)

    def _request(
        self,
        question: str,
        query: str,
        analysis: Analysis,
        hits: list[Hit],
        units: list[Unit],
        weak: str,
        explain: Explanation | None,
    ) -> Request:
        """What the generator is given; unless the evidence is weak the passage holding the
        best unit comes first, so every generator cites it as [1]."""
        if not weak:
            hits, units = rerank(hits, units, self.model.rerank)
            if explain is not None:
                explain.record_rerank(hits)
        return Request(question, query, analysis, hits, units, explain)

    def _fall_back(
        self,
        writer: Generator,
        request: Request,
        checked: list[CheckedSentence],
        sources: dict[int, Chunk],
        verifier: Verifier,
    ) -> tuple[Generator, dict[int, Chunk], list[CheckedSentence]]:
        """Nothing of `writer`'s draft was verified: the answer of its `falls_back_to`
        generator instead (not streamed), as (that generator, its passages, its check)."""
        if request.explain is not None:
            request.explain.record_fallback(writer.name, checked, sources, verifier)
        fallback = self._generator(writer.falls_back_to)
        sources = fallback.sources(request)
        draft = "".join(fallback.stream(request, sources))
        if draft:
            fallback.notes.insert(0, _fallback_notice(writer.name, fallback.name))
        return fallback, sources, verifier.check(draft, sources) if draft else []

    def _verifier(self, with_encoder: bool = True) -> Verifier:
        encode = self.retriever.embedder.encode if with_encoder else None
        return Verifier(
            self.settings.verify.min_overlap,
            self.settings.verify.min_similarity,
            encode=encode,
        )

    def _assemble(
        self,
        request: Request,
        name: str,
        notice: str,
        sources: dict[int, Chunk],
        checked: list[CheckedSentence],
        weak: str,
    ) -> Answer:
        """The answer object: the verified sentences with their citations renumbered in order
        of use, or the refusal with the closest passages and the reason."""
        hits = request.hits
        sentences, citations = _cite(checked, hits, sources)
        supported = [s for s in sentences if s.supported]
        common: dict[str, Any] = {
            "question": request.question,
            "sentences": sentences,
            "generator": name,
            "timings_ms": {},
            "rewritten_query": request.query,
            "notice": notice,
            "retrieved": [h.to_dict(full=False) for h in hits],
        }
        if weak or not supported:
            reason = weak or (
                "no sentence of the draft answer was supported by the passages"
                if checked
                else "nothing relevant found in the passages"
            )
            closest = [
                {
                    **cited_fields(h.chunk),
                    "text": h.chunk.text[:400],
                    "score": round(float(h.dense_score or h.score), 4),
                }
                for h in hits[:3]
            ]
            return Answer(
                answer=REFUSAL,
                refused=True,
                citations=[],
                closest=closest,
                refusal_reason=reason,
                **common,
            )
        return Answer(answer=render_answer(supported), refused=False, citations=citations, **common)

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


def _cite(
    checked: list[CheckedSentence], hits: list[Hit], sources: dict[int, Chunk]
) -> tuple[list[Sentence], list[Citation]]:
    """The answer's sentences, and a citation for each passage a supported sentence cites,
    numbered from 1 in order of first use; its quote is the span that supports the claim."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    sentences: list[Sentence] = []
    hit_by_n = dict(enumerate(hits, 1))
    for cs in checked:
        shown: list[int] = []
        for n in cs.cited if cs.supported else []:
            if n not in numbers:
                numbers[n] = len(numbers) + 1
                hit, checked_text = hit_by_n[n], sources[n].text  # what the claim was checked on
                sup = cs.support[n]
                quote = " ".join(checked_text[sup.start : sup.end].split())
                score = round(float(hit.dense_score or hit.score), 4)
                citations.append(
                    Citation.from_chunk(numbers[n], hit.chunk, quote, score, text=checked_text)
                )
            shown.append(numbers[n])
        is_item = cs.text != "" and cs.is_item
        sentences.append(Sentence(cs.text, shown, cs.supported, is_item, cs.reason))
    return sentences, citations


def _fallback_notice(name: str, fallback: str) -> str:
    return (
        f"The {name} model's answer could not be checked against the passages, so the "
        f"{fallback} answer (quoted from them) is shown instead."
    )


def render_answer(sentences: list[Sentence]) -> str:
    """Answer text with ``[n]`` markers; list items on their own lines."""
    return layout_answer(
        (s.text, "".join(f"[{n}]" for n in s.citations), s.is_item) for s in sentences
    )
