"""'Why this answer': a record of what each stage of the answer pipeline saw and decided.

An `Explanation` is handed to `Assistant.stream(..., explain=...)` and each stage writes into it
what it computed anyway: the rewritten and expanded query, the retrieval scores of every
passage, the extractive generator's unit scores with the selector's reasons, the refusal
signals and the rule that fired, and the verification verdict of every sentence. No stage reads
it back, so an answer is identical with or without one. Plain data only (no heavy imports), so
the CLI prints it, the UI formats it and `--json` serialises it with `to_dict`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.question import spellings

if TYPE_CHECKING:
    from assistant.documents import Chunk, Hit
    from assistant.extractive import Decisions, Unit
    from assistant.retrieve import SearchResult
    from assistant.text import Concept
    from assistant.verify import CheckedSentence, Verifier


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass
class Explanation:
    """What each pipeline stage recorded for one answer (see the module docstring)."""

    query: dict[str, Any] = field(default_factory=dict)
    passages: list[dict[str, Any]] = field(default_factory=list)
    generation: dict[str, Any] = field(default_factory=dict)
    units: list[dict[str, Any]] | None = None  # None: no extractive selection ran
    refusal: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; `units` is left out when the generator did not select units."""
        data: dict[str, Any] = {
            "query": self.query,
            "passages": self.passages,
            "generation": self.generation,
            "units": self.units,
            "refusal": self.refusal,
            "verification": self.verification,
        }
        if self.units is None:
            data.pop("units")
        return data

    # ------------------------------------------------------------------ stages
    def record_rewrite(self, question: str, query: str, followup: bool, method: str) -> None:
        """The user's question and the query searched for (follow-ups carry earlier terms)."""
        self.query.update(
            question=question, followup=followup, rewrite=method, rewritten_query=query
        )

    def record_scope(self, name: str, doc_ids: list[str]) -> None:
        """The search was redone within the documents that mention a name the question gives
        (the first passages' documents never did)."""
        self.query.update(scoped_to={"name": name, "documents": list(doc_ids)})

    def record_retrieval(self, result: SearchResult, k: int) -> None:
        """The glossary expansion and every passage with its dense, BM25 and fused scores."""
        self.query.update(
            expansion_terms=list(result.expansion_terms),
            expanded_query=result.expanded,
            retriever=result.retriever,
            k=k,
        )
        self.passages = [passage_row(hit) | {"answer_rank": hit.rank} for hit in result.hits]

    def record_rerank(self, hits: list[Hit]) -> None:
        """The passages' order after reranking by their best unit: `answer_rank` is the number
        the answer cites a passage by (the retrieval `rank` is kept beside it)."""
        new = {hit.chunk.chunk_id: hit.rank for hit in hits}
        for row in self.passages:
            row["answer_rank"] = new.get(row["chunk_id"], row["answer_rank"])

    def record_evidence(
        self,
        concepts: list[Concept],
        top_terms: set[str],
        signals: dict[str, Any],
        rules: list[tuple[str, str, bool, str]],
    ) -> None:
        """The refusal check before generating: key words found, similarity, each rule."""
        fired = next((name for name, _test, hit, _msg in rules if hit), None)
        # a key word counts as found when any of its spellings is fully present, as in
        # `concept_coverage`; the stems are shown because they are what is compared
        key_words = [
            {
                "alternatives": spellings(concept),
                "found": any(alt <= top_terms for alt in concept),
            }
            for concept in concepts
        ]
        self.refusal.update(
            key_words=key_words,
            signals=signals,
            # every rule is shown with whether it holds; only the first that holds decides
            rules=[
                {"rule": n, "test": t, "holds": hit, "fired": n == fired}
                for n, t, hit, _msg in rules
            ],
            fired=fired,
        )

    def record_units(self, units: list[Unit], chosen: list[Unit], decisions: Decisions) -> None:
        """Every candidate unit, in score rank order, with its score parts and its fate."""
        picked = {(u.source, u.start) for u in chosen}
        rows = [unit_row(u, decisions, (u.source, u.start) in picked) for u in units]
        self.units = sorted(rows, key=lambda row: row["n"])
        self.generation.update(selection={k: _plain(v) for k, v in decisions.settings.items()})

    def record_generation(self, generator: str, sources: Iterable[int], ran: bool) -> None:
        """Which generator wrote the draft and which passages (by rank) it was given."""
        self.generation.update(generator=generator, ran=ran, passages_given=list(sources))

    def record_verification(
        self, checked: list[CheckedSentence], sources: dict[int, Chunk], verifier: Verifier
    ) -> None:
        """Each draft sentence's verdict, with overlap and similarity per cited passage."""
        self.verification = {
            "min_overlap": verifier.min_overlap,
            "min_similarity": verifier.min_similarity,
            "sentences": [verification_row(cs, sources, verifier) for cs in checked],
        }

    def record_fallback(
        self,
        generator: str,
        checked: list[CheckedSentence],
        sources: dict[int, Chunk],
        verifier: Verifier,
    ) -> None:
        """The LLM draft that failed verification, kept beside the extractive answer shown in
        its place (so the explanation still says what the model wrote and why it was set aside)."""
        self.generation["fallback"] = {
            "from": generator,
            "reason": "no sentence of its answer was supported by the passage it cited",
            "sentences": [verification_row(cs, sources, verifier) for cs in checked],
        }

    def record_outcome(self, refused: bool, reason: str, weak: str, shown: list[list[int]]) -> None:
        """The final decision, and the citation numbers each verified sentence is shown with."""
        stage = "evidence" if weak else ("verification" if refused else None)
        self.refusal.update(refused=refused, stage=stage, reason=reason)
        sentences = self.verification.setdefault("sentences", [])
        for row, numbers in zip(sentences, shown, strict=False):
            row["shown_citations"] = numbers


def _plain(value: object) -> object:
    return round(value, 4) if isinstance(value, float) else value


def passage_row(hit: Hit) -> dict[str, Any]:
    """One retrieved passage: where it is and its rank and score in each list."""
    c = hit.chunk
    return {
        "rank": hit.rank,
        "doc_id": c.doc_id,
        "title": c.title,
        "section": c.section,
        "page": c.page,
        "chunk_id": c.chunk_id,
        "dense_score": _r(hit.dense_score),
        "dense_rank": hit.dense_rank,
        "bm25_score": _r(hit.bm25_score),
        "bm25_rank": hit.bm25_rank,
        "fused_score": _r(hit.score, 6),
        "text": _snippet(c.text),
    }


def unit_row(u: Unit, decisions: Decisions, selected: bool) -> dict[str, Any]:
    """One candidate unit with its features, fitted score and the selector's reason.

    `score` is the fitted model's weighted sum of `features` (`assistant.extractive.
    AnswerModel.score`); `form_notes` names the flags that count against standing alone.
    """
    return {
        "n": decisions.numbers.get((u.source, u.start), 0),
        "passage": u.source,
        "kind": u.kind,
        "text": " ".join(u.text.split()),
        "similarity": _r(u.cosine),
        "overlap": _r(u.overlap),
        "rank_prior": _r(u.rank_prior),
        "form": _r(u.form),
        "form_notes": list(u.form_notes),
        "features": {k: _r(v) for k, v in u.features.items()},
        "score": _r(u.score),
        "selected": selected,
        "reason": decisions.reasons.get((u.source, u.start), "not considered"),
    }


def verification_row(
    cs: CheckedSentence, sources: dict[int, Chunk], verifier: Verifier
) -> dict[str, Any]:
    """A checked sentence: supported or not, why, and the support found in each passage."""
    cited = []
    for n, sup in cs.support.items():
        compared = verifier.encode is not None and verifier.needs_similarity(sup.overlap)
        cited.append(
            {
                "passage": n,
                "chunk_id": sources[n].chunk_id,
                "overlap": _r(sup.overlap),
                "similarity": _r(sup.similarity) if compared else None,
                "supports": verifier.is_supported(sup),
            }
        )
    return {
        "text": cs.text,
        "supported": cs.supported,
        "reason": cs.reason,
        "cited": cited,
    }
