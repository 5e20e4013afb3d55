"""Generators: what writes the draft answer from the retrieved passages.

A generator is a small class registered by name; the registry here is the only list of
generator names (settings validation, the CLI's help, the UI's choices and the evaluation
runner read it). The answer pipeline (`assistant.answer.Assistant`) hands a generator the
question and its evidence (`Request`) and the numbered passages it may cite, streams what it
writes, and then verifies every sentence against the passage it cites - so no generator is
trusted, and a generator only has to write.

What a generator can do is said by class attributes, never by its name:

- `label`: how the UI's generator menu shows it;
- `falls_back_to`: the generator whose (verified) answer is shown when none of this one's
  sentences survives verification ("" for none) - the LLMs fall back to the extractive one.

Two methods have defaults: `sources` (which passages, numbered, the generator is given and
its citations refer to: every retrieved passage) and `rewrite` (a model's rewrite of a
follow-up question: none). The extractive generator is here; the LLM ones are in
`assistant.llm`, registered when the registry is first read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from assistant.registry import Registry

if TYPE_CHECKING:
    from assistant.chat import Turn
    from assistant.documents import Chunk, Hit
    from assistant.explain import Explanation
    from assistant.extractive import AnswerModel
    from assistant.question import Analysis
    from assistant.settings import Settings
    from assistant.units import Unit


@dataclass
class Request:
    """What a generator is given about the question: as asked, as searched, what it asks
    for, the (reranked) passages and their scored units."""

    question: str  # as asked, cleaned
    query: str  # what retrieval searched (a follow-up rewritten); == question otherwise
    analysis: Analysis
    hits: list[Hit]
    units: list[Unit]
    explain: Explanation | None = None  # filled with why, when the caller asks


class Generator:
    """Writes a draft answer citing its passages as ``[n]``; one instance per answer."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""  # the UI's menu entry ("" shows the name)
    falls_back_to: ClassVar[str] = ""  # shown instead when nothing of its draft is verified

    def __init__(self, settings: Settings, model: AnswerModel):
        self.settings = settings
        self.model = model  # the fitted answer model (unit weights, selection points)
        self.notes: list[str] = []  # notices for the reader (a list shown in part, ...)

    def stream(self, request: Request, sources: dict[int, Chunk]) -> Iterator[str]:
        """Yield the draft as it is written; the pieces joined are the draft that is checked."""
        raise NotImplementedError

    def sources(self, request: Request) -> dict[int, Chunk]:
        """The numbered passages the draft may cite: every retrieved one."""
        return passages(request.hits)

    def rewrite(self, question: str, turns: list[Turn]) -> str:
        """A standalone version of follow-up `question`, or "" to keep the rule-based one."""
        return ""


def passages(hits: list[Hit]) -> dict[int, Chunk]:
    """Hits numbered as they are cited, from 1."""
    return {n: hit.chunk for n, hit in enumerate(hits, 1)}


REGISTRY: Registry[type[Generator]] = Registry("generator", builtins=("assistant.llm",))
register = REGISTRY.register
unregister = REGISTRY.unregister
get = REGISTRY.get
names = REGISTRY.names


def labels() -> dict[str, str]:
    """Each generator's menu label, in registration order (the extractive one first)."""
    return {cls.name: cls.label or cls.name for cls in REGISTRY.classes()}


@register
class ExtractiveGenerator(Generator):
    """Units quoted from the passages, chosen by the fitted answer model (assistant.extractive):
    nothing is written that the documents do not say."""

    name = "extractive"
    label = "extractive (fast)"

    def stream(self, request: Request, sources: dict[int, Chunk]) -> Iterator[str]:
        from assistant.extractive import Decisions, compose, select_units

        explain = request.explain
        decisions = Decisions() if explain is not None else None
        shortened: list[tuple[int, int, int]] = []
        limit = self.settings.extractive.max_sentences
        chosen = select_units(
            request.analysis, request.units, self.model, limit, decisions, shortened
        )
        if explain is not None and decisions is not None:
            explain.record_units(request.units, chosen, decisions)
        self.notes += [
            f"A list in the answer has {total} items; the first {shown} are shown (the cited "
            "passage has the rest)."
            for _n, shown, total in shortened
        ]
        # one piece per cited sentence or item, whitespace kept: joined, they are the draft
        yield from (piece for piece in re.split(r"(?<=\])(?=\s)", compose(chosen)) if piece)
