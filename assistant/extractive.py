"""The default generator: an answer made only of sentences quoted from the retrieved passages.

No model writes text, so nothing can be invented; the work is choosing which sentences answer
the question. Each candidate sentence (or list item) is scored against the question by
embedding similarity (the vectors stored at index time are reused) and content-word overlap;
the best few are kept, lists are kept whole, and sentences stay in document order per source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.documents import Hit
from assistant.index import Index, sentence_vectors
from assistant.text import (
    concept_coverage,
    content_terms,
    normalise,
    question_concepts,
    sentence_spans,
)

_LISTY = re.compile(
    r"\b(which (are|ones|of)|what are|list|aims|characteristics|principles|criteria|"
    r"expectations|ways|steps|areas|types|kinds|qualities)\b",
    re.IGNORECASE,
)


_SECTION_NUMBER = re.compile(r"(?:^|\s)\d{1,2}(?:\.\d{1,2})*\.?\s+[A-Z]")
# Answers stop growing at about this many characters (lists included).
CHAR_BUDGET = 700
# Passages one answer may quote from.
MAX_SOURCES = 2
# A unit joins the answer when it scores at least this share of the best unit's score.
RELATIVE_CUTOFF = 0.6


@dataclass
class Unit:
    """A sentence or list item of a retrieved chunk, with where it sits."""

    source: int  # citation number (1-based rank of the chunk)
    start: int
    end: int
    text: str
    is_item: bool
    is_intro: bool
    score: float = 0.0
    cosine: float = 0.0
    overlap: float = 0.0


def _units(n: int, hit: Hit) -> list[Unit]:
    text = hit.chunk.text
    units = []
    for s, e in sentence_spans(text):
        line_start = text.rfind("\n", 0, s) + 1
        is_item = text[line_start:s].strip() == "-"
        units.append(Unit(n, s, e, text[s:e], is_item, text[s:e].rstrip().endswith(":")))
    return units


def _stored_vectors(index: Index, hits: list[Hit]) -> dict[tuple[int, int], np.ndarray]:
    """Sentence vectors written at index time, keyed by (source number, unit start)."""
    ids, keys = [], []
    for n, hit in enumerate(hits, 1):
        for vid, s, _e in sentence_vectors(hit.chunk):
            ids.append(vid)
            keys.append((n, s))
    if not ids:
        return {}
    got = index.sentences.get(ids=ids, include=["embeddings"])
    by_id = dict(zip(got["ids"], got["embeddings"], strict=False))
    return {
        k: np.asarray(by_id[i], dtype=np.float32)
        for i, k in zip(ids, keys, strict=False)
        if i in by_id
    }


def score_units(
    question: str,
    hits: list[Hit],
    index: Index,
    embedder: object,
    focus: str = "",
    glossary: tuple[tuple[str, ...], ...] = (),
) -> list[Unit]:
    """All candidate units of the hits, scored against the question.

    `focus` is the user's own words when `question` was rewritten from a follow-up: the
    follow-up's new subject ("What about the workforce?") must weigh more than the terms
    carried over from earlier turns.
    """
    units = [u for n, hit in enumerate(hits, 1) for u in _units(n, hit)]
    if not units:
        return []
    stored = _stored_vectors(index, hits)
    missing = [u for u in units if (u.source, u.start) not in stored]
    if missing:
        vecs = embedder.encode([u.text for u in missing])  # type: ignore[attr-defined]
        for u, v in zip(missing, vecs, strict=False):
            stored[(u.source, u.start)] = v
    qvec = np.asarray(embedder.embed_query(question), dtype=np.float32)  # type: ignore[attr-defined]
    q_all = set(content_terms(question))
    q_concepts = question_concepts(question, glossary) or [
        frozenset([frozenset([t])]) for t in q_all
    ]
    f_concepts = question_concepts(focus, glossary) if focus else []
    for u in units:
        u.cosine = float(np.dot(stored[(u.source, u.start)], qvec))
        terms = set(content_terms(u.text))
        u.overlap = concept_coverage(q_concepts, terms)
        if f_concepts:
            u.overlap = 0.4 * u.overlap + 0.6 * concept_coverage(f_concepts, terms)
        rank_prior = 1.0 / (1 + 0.5 * (u.source - 1))
        u.score = (0.55 * u.cosine + 0.35 * u.overlap + 0.10 * rank_prior) * _form(
            u, terms - q_all, hits[u.source - 1]
        )
    return units


def _form(u: Unit, new_terms: set[str], hit: Hit) -> float:
    """Down-weight units that cannot answer on their own: headings, fragments, echoes."""
    text = u.text.strip()
    factor = 1.0
    if len(text) < 40:
        factor *= 0.6
    if text[:1].islower() and not u.is_item:
        factor *= 0.85  # starts mid-sentence (PDF column break)
    if text[-1:] not in ".!?:;'\"’)" and not u.is_item:
        factor *= 0.85  # stops mid-sentence
    if len(new_terms) == 0:
        factor *= 0.5  # only repeats the question
    elif len(new_terms) <= 2:
        factor *= 0.8
    lowered = normalise(text)
    if lowered in (normalise(hit.chunk.title), normalise(hit.chunk.section)):
        factor *= 0.4  # a heading, not an answer
    if len(_SECTION_NUMBER.findall(text)) >= 2:
        factor *= 0.3  # a table-of-contents line lists several section headings
    return factor


def _fragment(u: Unit) -> bool:
    """Both ends broken: starts mid-sentence and stops mid-sentence (PDF column debris)."""
    text = u.text.strip()
    return not u.is_item and text[:1].islower() and text[-1:] not in ".!?:;'\"’)"


def _similar(a: str, b: str) -> bool:
    ta, tb = set(content_terms(a)), set(content_terms(b))
    if not ta or not tb:
        return normalise(a) == normalise(b)
    return len(ta & tb) / min(len(ta), len(tb)) >= 0.8


def select_units(
    question: str,
    units: list[Unit],
    max_sentences: int,
    glossary: tuple[tuple[str, ...], ...] = (),
) -> list[Unit]:
    """Pick the answer: the best units close to the top score, lists kept together.

    When a list question names an enumeration the glossary knows (the PSED aims, the protected
    characteristics), members the chosen sentences leave out are added from the retrieved
    passages that state them - PDF extraction often scatters one list over several lines.
    """
    if not units:
        return []
    ranked = sorted(units, key=lambda u: -u.score)
    best = ranked[0].score
    chosen: list[Unit] = []
    for u in ranked:
        if len(chosen) >= max_sentences or u.score < RELATIVE_CUTOFF * best:
            break
        if len(u.text) < 12 or any(_similar(u.text, c.text) for c in chosen):
            continue
        sources = {c.source for c in chosen}
        if u.source not in sources and len(sources) >= MAX_SOURCES:
            continue  # a short answer rests on a few passages, not on everything retrieved
        if chosen and _fragment(u) and u.overlap < 1.0:
            continue  # a broken-off piece only joins when it matches every asked-for concept
        if chosen and sum(len(c.text) for c in chosen) + len(u.text) > CHAR_BUDGET:
            break
        chosen.append(u)
    listy = bool(_LISTY.search(question))
    by_source: dict[int, list[Unit]] = {}
    for u in units:
        by_source.setdefault(u.source, []).append(u)
    extra: list[Unit] = []
    for u in list(chosen):
        siblings = by_source[u.source]
        i = siblings.index(u)
        if u.is_item and not listy:
            continue
        # find the list this unit introduces, belongs to, or (for list questions) precedes
        first = i
        while first > 0 and siblings[first].is_item:
            first -= 1
        j = first + 1
        if not u.is_item and not u.is_intro:
            # a sentence leads into a list only through an intro line ("… should:")
            if not listy or not (j < len(siblings) and siblings[j].is_intro):
                continue
            extra.append(siblings[j])
            j += 1
        items = []
        while j < len(siblings) and siblings[j].is_item and len(items) < 8:
            items.append(siblings[j])
            j += 1
        if items or siblings[first].is_intro:
            extra.extend(items)
            if siblings[first].is_intro or siblings[first] is u:
                extra.append(siblings[first])
    for u in extra:
        if sum(len(c.text) for c in chosen) + len(u.text) > CHAR_BUDGET + 200:
            break
        if u not in chosen and not any(_similar(u.text, c.text) for c in chosen):
            chosen.append(u)
    if _LISTY.search(question):
        for member in _missing_members(question, chosen, glossary):
            holders = [u for u in ranked if member in normalise(u.text) and u not in chosen]
            if holders and sum(len(c.text) for c in chosen) < CHAR_BUDGET + 200:
                chosen.append(holders[0])
    order = {s: k for k, s in enumerate(dict.fromkeys(u.source for u in chosen))}
    return sorted(chosen, key=lambda u: (order[u.source], u.start))


def _missing_members(
    question: str, chosen: list[Unit], glossary: tuple[tuple[str, ...], ...]
) -> list[str]:
    """Members of an enumerating glossary group the question names but the answer lacks."""
    asked = normalise(question)
    answer = " ".join(normalise(u.text) for u in chosen)
    missing: list[str] = []
    for group in glossary:
        head = normalise(group[0])
        if len(group) < 4 or not re.search(rf"(?<!\w){re.escape(head)}(?!\w)", asked):
            continue
        members = [normalise(m) for m in group[1:] if len(m.split()) > 1]
        missing += [m for m in members if m not in answer and m not in asked]
    return missing


def compose(units: list[Unit]) -> str:
    """Answer text: sentences with ``[n]`` markers; list items on their own lines."""
    parts: list[str] = []
    for u in units:
        text = " ".join(u.text.split())
        if u.is_item:
            parts.append(f"\n- {text} [{u.source}]")
        else:
            sep = "\n" if parts and parts[-1].startswith("\n- ") else " "
            parts.append(f"{sep}{text} [{u.source}]")
    return "".join(parts).strip()
