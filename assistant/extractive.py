"""The default generator: an answer made only of sentences quoted from the retrieved passages.

No model writes text, so nothing can be invented; the work is choosing which sentences answer
the question. Each candidate sentence (or list item) is scored against the question by
embedding similarity (the vectors stored at index time are reused) and content-word overlap;
the best few are kept, lists are kept whole, and sentences stay in document order per source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
    rank_prior: float = 0.0
    form: float = 1.0
    form_notes: list[str] = field(default_factory=list)  # why `form` is below 1


class Decisions:
    """Why the selector kept or dropped each unit, written where each decision is taken.

    Passed to `select_units` only to explain an answer; the selection itself never reads it.
    Units are numbered by score rank (#1 = best), the numbering the reasons refer to.
    """

    def __init__(self) -> None:
        self.numbers: dict[tuple[int, int], int] = {}
        self.reasons: dict[tuple[int, int], str] = {}
        self.settings: dict[str, object] = {}

    def start(self, ranked: list[Unit], **settings: object) -> None:
        self.numbers = {(u.source, u.start): i for i, u in enumerate(ranked, 1)}
        self.settings = dict(settings)

    def ref(self, unit: Unit) -> str:
        return f"#{self.numbers.get((unit.source, unit.start), '?')}"

    def note(self, unit: Unit, reason: str) -> None:
        self.reasons[(unit.source, unit.start)] = reason

    def note_all(self, units: list[Unit], reason: str) -> None:
        for unit in units:
            self.note(unit, reason)


class _NoDecisions(Decisions):
    """The recorder used when nobody asked for an explanation: every note is discarded."""

    def start(self, ranked: list[Unit], **settings: object) -> None:
        return None

    def ref(self, unit: Unit) -> str:
        return ""

    def note(self, unit: Unit, reason: str) -> None:
        return None


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
        u.rank_prior = 1.0 / (1 + 0.5 * (u.source - 1))
        u.form = _form(u, terms - q_all, hits[u.source - 1], u.form_notes)
        u.score = (0.55 * u.cosine + 0.35 * u.overlap + 0.10 * u.rank_prior) * u.form
    return units


def _form(u: Unit, new_terms: set[str], hit: Hit, notes: list[str]) -> float:
    """Down-weight units that cannot answer on their own: headings, fragments, echoes.

    Each down-weighting is named in `notes`, so an explanation can say why a unit scored low.
    """
    text = u.text.strip()
    factor = 1.0

    def scale(by: float, why: str) -> None:
        nonlocal factor
        factor *= by
        notes.append(f"{why} ×{by}")

    if len(text) < 40:
        scale(0.6, "short")
    if text[:1].islower() and not u.is_item:
        scale(0.85, "starts mid-sentence")  # PDF column break
    if text[-1:] not in ".!?:;'\"’)" and not u.is_item:
        scale(0.85, "stops mid-sentence")
    if len(new_terms) == 0:
        scale(0.5, "only repeats the question")
    elif len(new_terms) <= 2:
        scale(0.8, "adds few words to the question")
    lowered = normalise(text)
    if lowered in (normalise(hit.chunk.title), normalise(hit.chunk.section)):
        scale(0.4, "a heading")
    if len(_SECTION_NUMBER.findall(text)) >= 2:
        scale(0.3, "table-of-contents line")  # lists several section headings
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
    decisions: Decisions | None = None,
) -> list[Unit]:
    """Pick the answer: the best units close to the top score, lists kept together.

    When a list question names an enumeration the glossary knows (the PSED aims, the protected
    characteristics), members the chosen sentences leave out are added from the retrieved
    passages that state them - PDF extraction often scatters one list over several lines.
    `decisions`, when given, records why each unit was kept or dropped (see `Decisions`).
    """
    if not units:
        return []
    log = decisions if decisions is not None else _NoDecisions()
    ranked = sorted(units, key=lambda u: -u.score)
    listy = bool(_LISTY.search(question))
    log.start(
        ranked,
        best_score=ranked[0].score,
        cutoff=RELATIVE_CUTOFF * ranked[0].score,
        relative_cutoff=RELATIVE_CUTOFF,
        max_units=max_sentences,
        char_budget=CHAR_BUDGET,
        max_passages=MAX_SOURCES,
        list_question=listy,
    )
    chosen = _pick(ranked, max_sentences, log)
    _add_lists(chosen, units, listy, log)
    if listy:
        _add_members(question, chosen, ranked, glossary, log)
    order = {s: k for k, s in enumerate(dict.fromkeys(u.source for u in chosen))}
    return sorted(chosen, key=lambda u: (order[u.source], u.start))


def _duplicate_of(u: Unit, chosen: list[Unit]) -> Unit | None:
    """The first chosen unit that says nearly the same as `u`, if any."""
    return next((c for c in chosen if _similar(u.text, c.text)), None)


def _pick(ranked: list[Unit], max_sentences: int, log: Decisions) -> list[Unit]:
    """The best-scoring units, in score order, until the answer is full or scores fall off."""
    best = ranked[0].score
    chosen: list[Unit] = []
    for i, u in enumerate(ranked):
        if len(chosen) >= max_sentences:
            log.note_all(ranked[i:], f"not reached: the answer already had {max_sentences} units")
            break
        if u.score < RELATIVE_CUTOFF * best:
            log.note_all(ranked[i:], f"below relative cutoff ({RELATIVE_CUTOFF} × best score)")
            break
        if len(u.text) < 12:
            log.note(u, "too short")
            continue
        dup = _duplicate_of(u, chosen)
        if dup is not None:
            log.note(u, f"near-duplicate of {log.ref(dup)}")
            continue
        sources = {c.source for c in chosen}
        if u.source not in sources and len(sources) >= MAX_SOURCES:
            # a short answer rests on a few passages, not on everything retrieved
            log.note(u, f"from a passage beyond the {MAX_SOURCES} quoted")
            continue
        if chosen and _fragment(u) and u.overlap < 1.0:
            # a broken-off piece only joins when it matches every asked-for concept
            log.note(u, "fragment (broken at both ends) not matching every asked-for concept")
            continue
        if chosen and sum(len(c.text) for c in chosen) + len(u.text) > CHAR_BUDGET:
            log.note(u, f"over character budget ({CHAR_BUDGET})")
            log.note_all(ranked[i + 1 :], "not reached: character budget used up")
            break
        log.note(u, "selected")
        chosen.append(u)
    return chosen


def _list_of(u: Unit, siblings: list[Unit], listy: bool) -> list[Unit]:
    """The list `u` introduces, belongs to, or (for list questions) precedes: units to add."""
    i = siblings.index(u)
    if u.is_item and not listy:
        return []
    first = i
    while first > 0 and siblings[first].is_item:
        first -= 1
    j = first + 1
    extra: list[Unit] = []
    if not u.is_item and not u.is_intro:
        # a sentence leads into a list only through an intro line ("… should:")
        if not listy or not (j < len(siblings) and siblings[j].is_intro):
            return []
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
    return extra


def _add_lists(chosen: list[Unit], units: list[Unit], listy: bool, log: Decisions) -> None:
    """Keep lists whole: add the intro and items of every list a chosen unit is part of."""
    by_source: dict[int, list[Unit]] = {}
    for u in units:
        by_source.setdefault(u.source, []).append(u)
    extra = [(x, u) for u in list(chosen) for x in _list_of(u, by_source[u.source], listy)]
    for k, (u, owner) in enumerate(extra):
        if sum(len(c.text) for c in chosen) + len(u.text) > CHAR_BUDGET + 200:
            for rest, rest_owner in extra[k:]:
                if rest not in chosen:
                    log.note(rest, f"list of {log.ref(rest_owner)}: over character budget")
            break
        if u in chosen:
            continue
        dup = _duplicate_of(u, chosen)
        if dup is None:
            log.note(u, f"selected: keeps the list of {log.ref(owner)} whole")
            chosen.append(u)
        else:
            log.note(u, f"list of {log.ref(owner)}, but near-duplicate of {log.ref(dup)}")


def _add_members(
    question: str,
    chosen: list[Unit],
    ranked: list[Unit],
    glossary: tuple[tuple[str, ...], ...],
    log: Decisions,
) -> None:
    """Add a unit stating each member of an asked-for enumeration that the answer lacks."""
    for member in _missing_members(question, chosen, glossary):
        holders = [u for u in ranked if member in normalise(u.text) and u not in chosen]
        if holders and sum(len(c.text) for c in chosen) < CHAR_BUDGET + 200:
            log.note(holders[0], f"selected: states '{member}', missing from the answer")
            chosen.append(holders[0])


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
