"""Candidate answer units and the features that say how well each answers a question.

A unit is what an extractive answer can quote whole: a sentence, a list item, a list's lead-in
line, or a table row, cut from a retrieved chunk's blocks (blocks are separated by a blank line
in chunk text, see `assistant.blocks.layout`, so a unit never crosses one). Each unit carries
its block number, so a list can be shown with its lead-in, and the features below, which the
extractive generator combines with weights fitted on the suite's dev split
(`assistant/answer_model.json`, written by ``python -m evals.fit``).

Every feature reads the question, the unit and its chunk - never words of a particular
document - so what was fitted on one set of documents carries over to another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.blocks import CELL_SEPARATOR
from assistant.documents import Hit
from assistant.question import (
    MONTH,
    STATES,
    Analysis,
    asks_scope,
    states,
    states_count,
    weighted_coverage,
)
from assistant.text import content_terms, normalise, passage_terms, sentence_spans

# Names and order of the unit features (the fitted weights are keyed by these names).
FEATURES = (
    "cosine",  # dense similarity of the unit's stored sentence vector to the question
    "cosine_top",  # 1 / the unit's rank by cosine among the question's candidates
    "lex",  # IDF-weighted share of the question's concepts the unit states
    "bm25",  # BM25 of the unit against the question's concepts, / the best candidate's
    "lex_context",  # the same over the unit plus its section heading and list lead-in
    "lex_chunk",  # the same over the whole chunk: is this the right passage at all
    "focus",  # for a follow-up, coverage of the user's own new words (else = lex)
    "novelty",  # content words the unit adds to the question's, capped at 10, / 10
    "type_match",  # states the expected type, for types with a clear form (a duration, £)
    "soft_match",  # states the expected type, for looser forms (a person or body, yes/no)
    "rank",  # 1 / retrieval rank of the unit's chunk
    "first",  # the first unit of its chunk (passages often open with their point)
    "item",  # a list item
    "intro",  # a lead-in line ending in ":" (only useful with its items)
    "row",  # a table row
    "label",  # a heading, title, date or metadata line: never an answer on its own
    "short",  # under 40 characters
    "fragment",  # starts in lower case and stops without terminal punctuation
    "list_item",  # a list item, for a question expecting a list, criteria or a process
    # The unit's place next to what matches: an answer often follows the sentence that restates
    # the question ("Time limits are in working days." then "A working day is ..."). Chosen by
    # grouped (leave-one-document-out) listwise CV on the dev split, all six formats: the lead
    # rate of held-out documents rose from 0.532 to 0.600 (exploration script in the issue-13
    # closing note; refit with ``python -m evals.fit``).
    "prev_lex",  # `lex` of the unit before it in its passage (0 for the first)
    "prev_gain",  # how much more of the question that previous unit states than this one
    "prev_cos",  # `cosine` of the previous unit
    "after_best",  # follows its passage's best lexical match, and is not that match itself
    "prev_same_block",  # the previous unit is in the same block (same paragraph or list)
    "lex_type",  # `lex` times `type_match`: states the asked-for form *and* the question's words
    "echo",  # `lex` times (1 - `novelty`): restates the question without adding anything
    "signpost",  # says what the document does ("This handbook sets out:"), or is in such a list
    "head_label",  # the question's head noun ("What principles ...?") labels the unit: it is in
    # its section heading or its list's lead-in (`question.head_noun`); weight gridded on dev
    # with the others fixed (answer_model.json provenance.head_label_grid)
)
# Answer types whose answers have a clear surface form, and those whose patterns are loose.
STRONG_TYPES = frozenset({"duration", "frequency", "date", "time", "number", "money"})
_SOFT_TYPES = frozenset(STATES) - STRONG_TYPES
# Answer types answered by a list: the list that answers is shown whole, lead-in included.
LISTY_TYPES = frozenset({"list", "criteria", "process"})
_DATE_LINE = re.compile(
    r"^(?:published|updated|last updated|first published|from|applies to|date|effective)\b.{0,60}$",
    re.IGNORECASE,
)
# A signpost: the document, or a part of it, saying what it does ("This framework explains how
# ...", "The handbook sets out:", "This guidance is written for ..."). It names the topic
# without answering, so it matches many questions lexically; its weight says how much less it
# is worth as an answer (see answer_model.json's provenance). "applies to" is not a signpost:
# "The framework applies to the 64 agencies registered" states the scope.
_DOC = (
    r"(?:framework|handbook|guidance|procedure|document|statement|report|code|page|section|"
    r"chapter|part|annex|appendix|leaflet|faq|policy|plan|guide|publication|note|booklet|"
    r"factsheet)s?(?: of [\w-]+)?"  # "the code of conduct"
)
_SIGNPOST = re.compile(
    rf"^(?:(?:this|the|our|these)\s+(?:[\w-]+\s+){{0,3}}?{_DOC}|it)\s+(?:also\s+)?(?:explains?|"
    r"sets? out|describes?|summari[sz]es?|outlines?|introduces?|tells you|brings together|"
    r"gives an overview|(?:is|are) (?:written|intended|meant) for|(?:is|are) for|covers?|"
    r"(?:does|do) not cover)\b"
    # the page furniture of a publication: where to send questions about it, other formats
    rf"|^(?:questions|enquiries|queries|comments|feedback) (?:about|on) (?:this|the) {_DOC}\b"
    rf"|\b(?:provide|request|ask for|get|have) (?:this|the) {_DOC} in\b"
    rf"|^(?:this|the) {_DOC} (?:is|are) (?:also )?available\b"
    # a pointer to another publication ("... are explained in our separate guidance")
    rf"|\b(?:is|are) (?:explained|set out|described|covered|given) in (?:our|the|a) "
    rf"(?:separate |companion )?(?:[\w-]+ ){{0,2}}{_DOC}\b|\bwhich is published separately\b",
    re.IGNORECASE,
)
BLOCK_BREAK = re.compile(r"\n\s*\n")  # between blocks in chunk text (`assistant.blocks.layout`)
_TERMINAL = re.compile(r"[.!?;:][\"'”’)\]]*$")
_INTRO_END = re.compile(r"(?::|—|–|\bto\s*[-—–])$")
# A contents line lists several numbered headings ("3 PSED aims? 4. Eliminating ... 5. ...").
# A date ("on 18 November, 2 December and 9 December 2025") is a number before a capital
# too: a month name after the number is not a heading.
_SECTION_NUMBER = re.compile(rf"(?:^|\s)\d{{1,2}}(?:\.\d{{1,2}})*\.?\s+(?!(?i:{MONTH})\b)[A-Z]")


@dataclass
class Unit:
    """A sentence, list item, lead-in or table row of a retrieved chunk, with its scores."""

    source: int  # citation number (1-based rank of the chunk)
    start: int
    end: int
    text: str
    is_item: bool
    is_intro: bool
    doc_id: str = ""
    kind: str = "sentence"  # sentence | item | intro | row | label
    block: int = 0  # the block of its chunk it belongs to
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    cosine: float = 0.0
    overlap: float = 0.0
    rank_prior: float = 0.0
    form: float = 1.0
    form_notes: list[str] = field(default_factory=list)  # why the unit cannot stand alone
    broken: bool = False  # a sentence cut by a line or column break (starts or stops mid-way)
    header: bool = False  # a table's header row ("Grade | Label | What the grade means")

    @property
    def is_lead_in(self) -> bool:
        """Ends the way a lead-in does (":", a dash, "... to -"), whatever its kind."""
        return bool(_INTRO_END.search(self.text.rstrip()))

    @property
    def key(self) -> tuple[int, int]:
        return (self.source, self.start)


def chunk_units(n: int, hit: Hit) -> list[Unit]:
    """The units of one chunk, numbered by block (a blank line starts the next block)."""
    text = hit.chunk.text
    breaks = [m.start() for m in BLOCK_BREAK.finditer(text)]
    labels = {normalise(hit.chunk.title), normalise(hit.chunk.section)} - {""}
    units = []
    for s, e in sentence_spans(text):
        line_start = text.rfind("\n", 0, s) + 1
        line_end = text.find("\n", e)
        line = text[line_start : len(text) if line_end < 0 else line_end]
        body = text[s:e]
        is_item = text[line_start:s].strip() == "-"
        is_intro = not is_item and bool(_INTRO_END.search(body.rstrip()))
        if is_item and (len(_SECTION_NUMBER.findall(body)) >= 2 or _heading_item(body)):
            kind = "label"  # a contents line, or a numbered heading, printed as a list item
        elif is_item:
            kind = "item"
        elif CELL_SEPARATOR in line:
            kind = "row"
        elif is_intro:
            kind = "intro"
        elif _is_label(body, labels):
            kind = "label"
        else:
            kind = "sentence"
        block = sum(1 for b in breaks if b < s)
        unit = Unit(n, s, e, body, is_item, is_intro, hit.chunk.doc_id, kind, block)
        if kind == "row" and _header_row(text, line_start, body, hit.chunk.context):
            unit.kind, unit.header = "label", True
        units.append(unit)
    _label_contents_lists(units)
    return units


def _header_row(text: str, line_start: int, body: str, context: str) -> bool:
    """A table's first row when it reads as column names: short cells, no figures, no
    sentence ends. It names the columns and answers nothing, so it is never quoted alone
    ("Grade | Label | What the grade means" had led an answer about grade 3). A chunk that
    continues a table carries the header in its `context`; its first row is data."""
    first_row = line_start == 0 or text[max(0, line_start - 2) : line_start] == "\n\n"
    if not first_row or (line_start == 0 and CELL_SEPARATOR in context):
        return False
    cells = [c.strip() for c in body.split(CELL_SEPARATOR.strip())]
    return all(
        c and len(c.split()) <= _HEADER_WORDS and not _FIGURE.search(c) and not _TERMINAL.search(c)
        for c in cells
    )


# A header cell's most words. Not tuned: read off the suite's tables (`make suite`), whose
# column names have at most five words ("Measure and target date", "What the grade means")
# while their data rows have longer cells or figures; one word of slack above that.
_HEADER_WORDS = 6
_FIGURE = re.compile(r"\d|£|%")


def _heading_item(body: str) -> bool:
    """A numbered heading ("6. Developing good relations") that a loader left as a list item:
    list markers are stripped from item text, so a number still in front is the heading's."""
    text = " ".join(body.split())
    return (
        bool(_SECTION_NUMBER.match(text)) and len(text.split()) <= 10 and not _TERMINAL.search(text)
    )


def _label_contents_lists(units: list[Unit]) -> None:
    """A list holding a contents line is a table of contents: its other unpunctuated items
    are heading fragments ("framework impact on those ... and the"), not answers."""
    contents = {u.block for u in units if u.is_item and u.kind == "label"}
    for u in units:
        if u.block in contents and u.kind == "item" and not _TERMINAL.search(u.text.strip()):
            u.kind = "label"


def _is_label(text: str, labels: set[str]) -> bool:
    """A heading, title or metadata line: the chunk's own labels, a "Published ..." line, or a
    few words without terminal punctuation (how headings read in running text)."""
    body = " ".join(text.split())
    if normalise(body) in labels or _DATE_LINE.match(body):
        return True
    if len(_SECTION_NUMBER.findall(body)) >= 2:
        return True
    heading_like = not body[:1].islower() and "," not in body  # lower case: a broken sentence
    return heading_like and not _TERMINAL.search(body) and len(body.split()) <= 10


def featurise(
    units: list[Unit],
    hits: list[Hit],
    analysis: Analysis,
    vectors: dict[tuple[int, int], np.ndarray],
    qvec: np.ndarray,
) -> None:
    """Fill each unit's `features` (see `FEATURES`) in place."""
    q_terms = {t for c, _ in analysis.concepts for alt in c for t in alt}
    chunk_terms = {n: passage_terms(h.chunk.text) for n, h in enumerate(hits, 1)}
    context_terms = {
        n: set(content_terms(f"{h.chunk.section} {h.chunk.context}")) for n, h in enumerate(hits, 1)
    }
    intro_terms: dict[tuple[int, int], set[str]] = {}
    for u in units:
        if u.kind == "intro":
            intro_terms[(u.source, u.block)] = set(content_terms(u.text))
        elif (u.kind == "row" or u.header) and (u.source, u.block) not in intro_terms:
            # a table's first row is its header: a row's context names its columns
            # ("Inspectors | 168 | 97 | 57.7%" under "Staff group | Headcount | Women | ...")
            intro_terms[(u.source, u.block)] = set(content_terms(u.text))
    firsts = {}
    for u in units:
        firsts.setdefault(u.source, u.start)
    # a list under a signpost lead-in outlines the document ("- how we rate each standard");
    # the lead-in is a block of its own and its list the next one (`assistant.blocks.layout`)
    signpost_lists = {
        (u.source, u.block + 1)
        for u in units
        if u.kind == "intro" and _SIGNPOST.search(u.text.strip())
    }
    scope = asks_scope(analysis.question)  # then the signposts are the answer
    head = analysis.head
    headings = {n: passage_terms(h.chunk.section) for n, h in enumerate(hits, 1)} if head else {}
    listy = analysis.answer_type in LISTY_TYPES
    kind = analysis.answer_type
    unit_terms = [content_terms(u.text) for u in units]
    for u, term_list in zip(units, unit_terms, strict=True):
        terms = set(term_list)
        vec = vectors.get(u.key)
        cosine = float(np.dot(vec, qvec)) if vec is not None else 0.0
        lex = weighted_coverage(analysis.concepts, terms)
        around = terms | context_terms[u.source] | intro_terms.get((u.source, u.block), set())
        stated = states(kind, u.text)
        if stated and analysis.counted:  # "how many stages": a number of stages, not any number
            stated = states_count(analysis.counted, u.text)
        body = u.text.strip()
        fragment = (
            not u.is_item and body[:1].islower() and not _TERMINAL.search(body) and u.kind != "row"
        )
        u.broken = u.kind == "sentence" and (body[:1].islower() or not _TERMINAL.search(body))
        u.features = {
            "cosine": cosine,
            "lex": lex,
            "lex_context": weighted_coverage(analysis.concepts, around),
            "lex_chunk": weighted_coverage(analysis.concepts, chunk_terms[u.source]),
            "focus": weighted_coverage(analysis.focus, terms) if analysis.focus else lex,
            "novelty": min(len(terms - q_terms), 10) / 10,
            "type_match": float(kind in STRONG_TYPES and stated),
            "soft_match": float(kind in _SOFT_TYPES and stated),
            "rank": 1.0 / u.source,
            "first": float(firsts[u.source] == u.start),
            "item": float(u.kind == "item"),
            "intro": float(u.kind == "intro"),
            "row": float(u.kind == "row"),
            "label": float(u.kind == "label"),
            "short": float(len(body) < 40),
            "fragment": float(fragment),
            "list_item": float(listy and u.kind == "item"),
            "signpost": float(
                not scope
                and (
                    bool(_SIGNPOST.search(body))
                    or (u.kind == "item" and (u.source, u.block) in signpost_lists)
                )
            ),
        }
        u.features["head_label"] = float(
            bool(head)
            and (
                head in headings[u.source]
                or head in intro_terms.get((u.source, u.block), set())
                or (u.is_item and head in intro_terms.get((u.source, u.block - 1), set()))
            )
        )
        u.cosine = cosine
        u.overlap = lex
        u.rank_prior = 1.0 / u.source
    by_cosine = sorted(units, key=lambda u: -u.features["cosine"])
    for r, u in enumerate(by_cosine, 1):
        u.features["cosine_top"] = 1.0 / r
    bm25 = [_bm25(analysis, term_list) for term_list in unit_terms]
    top = max(bm25) or 1.0
    for u, value in zip(units, bm25, strict=True):
        u.features["bm25"] = value / top
    _neighbour_features(units)


def _neighbour_features(units: list[Unit]) -> None:
    """The features that read the unit before it in its passage (see `FEATURES`)."""
    by_source: dict[int, list[Unit]] = {}
    for u in units:
        by_source.setdefault(u.source, []).append(u)
    for same in by_source.values():
        same.sort(key=lambda u: u.start)
        best = max(u.features["lex"] for u in same)
        for prev, u in zip([None, *same[:-1]], same, strict=True):
            f = u.features
            prev_lex = prev.features["lex"] if prev is not None else 0.0
            f["prev_lex"] = prev_lex
            f["prev_gain"] = max(prev_lex - f["lex"], 0.0)
            f["prev_cos"] = prev.features["cosine"] if prev is not None else 0.0
            f["after_best"] = float(
                prev is not None and prev_lex >= best - 1e-9 and f["lex"] < best
            )
            f["prev_same_block"] = float(prev is not None and prev.block == u.block)
            f["lex_type"] = f["lex"] * f["type_match"]
            f["echo"] = f["lex"] * (1.0 - f["novelty"])


# BM25's usual constants (Robertson and Zaragoza). AVG_UNIT_TERMS, the length at which a unit is
# neither favoured nor penalised, was set by hand at 14 content terms and the fitted weights
# were fitted with it; the suite's dev candidate units (md rendering, top 5 passages) average
# 7.9 (`content_terms` counted over `candidate_units` of every dev question), so units a
# little longer than usual are favoured. Changing it means refitting (`python -m evals.fit`).
_K1, _B, AVG_UNIT_TERMS = 1.2, 0.75, 14.0


def _bm25(analysis: Analysis, terms: list[str]) -> float:
    """BM25 of one unit for the question's concepts (a concept scores by its best spelling)."""
    counts: dict[str, int] = {}
    for t in terms:
        counts[t] = counts.get(t, 0) + 1
    norm = _K1 * (1 - _B + _B * len(terms) / AVG_UNIT_TERMS)
    score = 0.0
    for concept, weight in analysis.concepts:
        best = 0.0
        for alt in concept:
            if alt and all(t in counts for t in alt):
                tf = min(counts[t] for t in alt)
                best = max(best, tf * (_K1 + 1) / (tf + norm))
        score += weight * best
    return score


def feature_vector(unit: Unit) -> np.ndarray:
    """The unit's features in `FEATURES` order."""
    return np.array([unit.features[name] for name in FEATURES], dtype=np.float64)
