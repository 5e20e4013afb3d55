"""Citation verification: every answer sentence must cite a provided passage that supports it.

Used for every generator, so a small model's invented filler cannot pass as cited. Support is
judged on content words (stemmed, stop words removed) against the best window of one or two
sentences of the cited passage, with embedding similarity as a second opinion for paraphrases.
Thresholds live in settings (`Settings.verify`: `min_overlap`, `min_similarity`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from assistant.documents import Chunk
from assistant.text import content_terms, normalise, sentence_spans, split_answer_sentences

_MARKER = re.compile(r"\s*\[(\d+)\]")
# Text that addresses the reader or the model rather than stating something: a document may
# carry it (prompt injection), and quoting it verbatim would still pass it on to the user.
_INSTRUCTION = re.compile(
    r"\b(ignore (all |any )?(previous|prior|above|earlier) (instructions|rules|prompts)|"
    r"disregard (the|all|your) (previous |prior )?(instructions|rules)|"
    r"reply (only )?with|respond (only )?with|you must (now )?(say|reply|answer)|"
    r"system prompt|as an ai (language )?model|click (here|the link)|visit https?://)",
    re.IGNORECASE,
)


@dataclass
class Support:
    """How well one passage supports one sentence, and the verbatim span that does."""

    overlap: float
    similarity: float
    start: int
    end: int


@dataclass
class CheckedSentence:
    """An answer sentence after verification."""

    text: str
    cited: list[int]  # source numbers as the generator gave them (valid ones only)
    supported: bool
    support: dict[int, Support] = field(default_factory=dict)
    reason: str = ""
    is_item: bool = False


_CLAIM_SPLIT = re.compile(r"((?:\s*\[\d+\])+)")
# A list number leading a claim ("2. Inspectors ...") is not part of what it states. A number
# at the END is: "aged 10 to 17." (the line splitter once left dangling list numbers there;
# the block model never does, so they are no longer stripped).
_ENUM = re.compile(r"^\s*(?:\d{1,2}[.)]|[a-z][.)])(?:\s+|$)")


def claims(sentence: str) -> list[str]:
    """Split a sentence at citation markers that sit mid-sentence.

    "A [1]; B [2]." is two claims, each to be checked against its own source: otherwise one
    well-supported clause could carry an invented one through verification.
    """
    parts = _CLAIM_SPLIT.split(sentence)
    out: list[str] = []
    for i in range(0, len(parts), 2):
        text = parts[i]
        marks = parts[i + 1] if i + 1 < len(parts) else ""
        text = _ENUM.sub("", text).strip(" ;,")
        if any(ch.isalnum() for ch in text):
            out.append(f"{text} {marks.strip()}".strip())
        elif out and marks:
            out[-1] = f"{out[-1]} {marks.strip()}"
    return out


def parse_markers(sentence: str) -> tuple[str, list[int]]:
    """Strip ``[n]`` markers from a sentence; returns the bare text and the numbers in order."""
    numbers = [int(n) for n in _MARKER.findall(sentence)]
    bare = _MARKER.sub("", sentence).strip()
    bare = re.sub(r"\s+([.,;:!?])", r"\1", bare)
    return bare, list(dict.fromkeys(numbers))


def windows(text: str) -> list[tuple[int, int]]:
    """Candidate quote spans: each sentence, and each pair of adjacent sentences."""
    spans = sentence_spans(text)
    pairs = [(a[0], b[1]) for a, b in zip(spans, spans[1:], strict=False)]
    return spans + pairs


@lru_cache(maxsize=1024)
def _window_terms(text: str) -> tuple[tuple[int, int, frozenset[str]], ...]:
    """Windows of a passage with their content words, computed once per passage.

    Every sentence of an answer is checked against the same few passages (and, when its own
    citation fails, against all of them), so the passages' words are worth keeping.
    """
    return tuple((s, e, frozenset(content_terms(text[s:e]))) for s, e in windows(text))


def best_support(sentence: str, chunk: Chunk) -> Support:
    """The span of `chunk` whose content words cover most of the sentence's content words."""
    terms = set(content_terms(sentence))
    best = Support(0.0, 0.0, 0, len(chunk.text))
    if not terms:
        return best
    best_len = 1 << 30
    for s, e, window_terms in _window_terms(chunk.text):
        covered = len(terms & window_terms) / len(terms)
        if covered > best.overlap or (covered == best.overlap and e - s < best_len):
            best, best_len = Support(covered, 0.0, s, e), e - s
    return best


class Verifier:
    """Checks sentences against the numbered passages that were given to the generator."""

    def __init__(
        self,
        min_overlap: float,
        min_similarity: float,
        encode: Callable[[list[str]], np.ndarray] | None = None,
    ):
        self.min_overlap = min_overlap
        self.min_similarity = min_similarity
        self.encode = encode

    def _similarity(self, sentence: str, chunk: Chunk, sup: Support) -> float:
        if self.encode is None:
            return 0.0
        vecs = self.encode([sentence, chunk.text[sup.start : sup.end]])
        return float(np.dot(vecs[0], vecs[1]))

    def supports(self, sentence: str, chunk: Chunk) -> Support:
        sup = best_support(sentence, chunk)
        if self.needs_similarity(sup.overlap):
            sup.similarity = self._similarity(sentence, chunk, sup)
        return sup

    def needs_similarity(self, overlap: float) -> bool:
        """Similarity is the second opinion only for near misses on overlap (see below)."""
        return self.min_overlap > overlap >= self._paraphrase_floor

    @property
    def _paraphrase_floor(self) -> float:
        """A paraphrase must still share most of its words with the passage: similarity
        alone lets fluent filler pass (a 3-word heading scored 0.87 against a long invention).
        """
        return 0.8 * self.min_overlap

    def is_supported(self, sup: Support) -> bool:
        return sup.overlap >= self.min_overlap or (
            sup.similarity >= self.min_similarity and sup.overlap >= self._paraphrase_floor
        )

    def check(self, answer: str, sources: dict[int, Chunk]) -> list[CheckedSentence]:
        """Verify each sentence of `answer`; citations to unknown numbers are dropped.

        A sentence with no valid citation may still be kept when one provided passage clearly
        supports it (it is then cited to that passage), because small models often forget the
        marker; a sentence no passage supports is marked unsupported.
        """
        checked: list[CheckedSentence] = []
        pieces = [
            (claim, is_item)
            for sentence, is_item in split_answer_sentences(answer, with_items=True)
            for claim in claims(sentence)
        ]
        for raw, is_item in pieces:
            bare, numbers = parse_markers(raw)
            if not any(ch.isalnum() for ch in bare):
                continue
            valid = [n for n in numbers if n in sources]
            result = CheckedSentence(bare, valid, False, is_item=is_item)
            if _INSTRUCTION.search(bare):
                result.reason = "looks like an instruction embedded in a document; not repeated"
                checked.append(result)
                continue
            if len(content_terms(bare)) == 0:
                continue  # enumeration numbers, stray punctuation: nothing to verify or show
            for n in valid:
                result.support[n] = self.supports(bare, sources[n])
            good = [n for n in valid if self.is_supported(result.support[n])]
            if not good:
                # try the other passages before giving up (wrong or missing marker)
                for n, chunk in sources.items():
                    if n in valid:
                        continue
                    sup = self.supports(bare, chunk)
                    if sup.overlap >= max(self.min_overlap, 0.7):
                        result.support[n] = sup
                        good = [n]
                        result.reason = "citation added by verification"
                        break
            if good:
                result.cited = good
                result.supported = True
            else:
                result.reason = result.reason or (
                    "no citation" if not valid else "not supported by the cited passage"
                )
            checked.append(result)
        return checked


def quote_in_chunk(quote: str, chunk_text: str) -> bool:
    """True when `quote` is a verbatim (whitespace-normalised) substring of the chunk."""
    return normalise(quote) in normalise(chunk_text)
