"""The default generator: an answer made only of units quoted from the retrieved passages.

No model writes text, so nothing can be invented; the work is choosing which units answer the
question. Every candidate unit (`assistant.units`: sentences, list items, lead-ins, table
rows) gets a probability of stating what was asked: a logistic model over its features with
weights fitted on the suite's dev split (`AnswerModel`, ``assistant/answer_model.json``).

Composition (`select_units`): the best unit leads - the direct answer comes first; a list is
shown with its lead-in and its items (in document order when the question asks for a list or
the steps of a process, else - criteria too - the item that answers straight after the
lead-in); then the units that complete it, from the same document unless the question
compares; never a heading, title or date line on its own, never a lead-in without its items,
no near-duplicates.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.documents import Chunk, Hit, layout_answer
from assistant.index import Index
from assistant.question import Analysis
from assistant.text import content_terms, normalise
from assistant.units import BLOCK_BREAK, FEATURES, LISTY_TYPES, Unit, chunk_units, featurise

__all__ = [
    "AnswerModel",
    "Decisions",
    "Unit",
    "compose",
    "load_answer_model",
    "rerank",
    "score_units",
    "select_units",
]

MODEL_PATH = Path(__file__).with_name("answer_model.json")


@dataclass(frozen=True)
class AnswerModel:
    """Fitted unit weights and the selection and refusal operating points.

    Every number comes from ``python -m evals.fit`` on the suite's dev split; `provenance`
    records the command, the data and the dev figures it reached, and every eval report
    carries this object, so a report says which weights produced it.
    """

    weights: dict[str, float]
    keep_margin: float  # a further unit joins when it scores at most this far below the lead
    max_items: int  # list items shown before "and N more"
    char_budget: int  # answers stop growing at about this many characters
    rerank: bool = True  # passages ordered by their best unit (chosen on dev, see provenance)
    # a sentence lead's paragraph of at most this many characters is shown whole, its other
    # sentences after the answer (`_complete`; 0: never; chosen on dev, provenance.complete_grid)
    complete_below: int = 0
    # a list or process question answered by a table row shows the table's rows together when
    # the row with its heading states at least this share of the question (`_bare_group`;
    # 0: never; chosen on dev, provenance.whole_table_grid)
    whole_table: float = 0.0
    # a lead sentence opening with a pronoun ("It does not require ...") is preceded by the
    # sentence before it when that has at most this many characters (`_antecedent`; 0: never;
    # chosen on dev, provenance.antecedent_grid)
    antecedent_max: int = 0
    refusal: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def score(self, features: dict[str, float]) -> float:
        """The unit's utility: a log-odds within its question's candidates (only differences
        between units of one question mean anything - the model was fitted as a softmax)."""
        return sum(self.weights.get(name, 0.0) * features[name] for name in FEATURES)

    def as_dict(self) -> dict[str, Any]:
        return {
            "weights": dict(self.weights),
            "keep_margin": self.keep_margin,
            "max_items": self.max_items,
            "char_budget": self.char_budget,
            "rerank": self.rerank,
            "complete_below": self.complete_below,
            "whole_table": self.whole_table,
            "antecedent_max": self.antecedent_max,
            "refusal": dict(self.refusal),
            "provenance": dict(self.provenance),
        }


@lru_cache(maxsize=4)
def load_answer_model(path: Path = MODEL_PATH) -> AnswerModel:
    """The fitted model from its data file (a clear error names a missing or broken file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return AnswerModel(
            weights={k: float(v) for k, v in data["weights"].items()},
            keep_margin=float(data["keep_margin"]),
            max_items=int(data["max_items"]),
            char_budget=int(data["char_budget"]),
            rerank=bool(data.get("rerank", True)),
            complete_below=int(data.get("complete_below", 0)),
            whole_table=float(data.get("whole_table", 0.0)),
            antecedent_max=int(data.get("antecedent_max", 0)),
            refusal=dict(data.get("refusal", {})),
            provenance=dict(data.get("provenance", {})),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read the answer model {path}: {exc}") from exc


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
        self.numbers = {u.key: i for i, u in enumerate(ranked, 1)}
        self.settings = dict(settings)

    def ref(self, unit: Unit) -> str:
        return f"#{self.numbers.get(unit.key, '?')}"

    def note(self, unit: Unit, reason: str) -> None:
        self.reasons.setdefault(unit.key, reason)

    def note_all(self, units: list[Unit], reason: str) -> None:
        for unit in units:
            self.note(unit, reason)

    def renote(self, unit: Unit, reason: str) -> None:
        """A later decision that overrides an earlier one (a dropped unit taken after all)."""
        self.reasons[unit.key] = reason


class _NoDecisions(Decisions):
    """The recorder used when nobody asked for an explanation: every note is discarded."""

    def start(self, ranked: list[Unit], **settings: object) -> None:
        return None

    def ref(self, unit: Unit) -> str:
        return ""

    def note(self, unit: Unit, reason: str) -> None:
        return None

    def renote(self, unit: Unit, reason: str) -> None:
        return None


def _stored_vectors(index: Index, hits: list[Hit]) -> dict[tuple[int, int], np.ndarray]:
    """Sentence vectors written at index time, keyed by (source number, unit start)."""
    # hits of another store (the naive retriever's chunks) have no stored vectors here
    positions = ((index.position.get(hit.chunk.chunk_id), n) for n, hit in enumerate(hits, 1))
    number = {pos: n for pos, n in positions if pos is not None}
    stored = index.sentence_vectors(list(number))
    return {(number[pos], start): vec for (pos, start), vec in stored.items()}


def candidate_units(analysis: Analysis, hits: list[Hit], index: Index, embedder: Any) -> list[Unit]:
    """Every unit of the hits with its features filled in (not yet scored).

    Units too short to have a stored vector (under 20 characters) are encoded here, in one
    batch; the question is embedded once.
    """
    units = [u for n, hit in enumerate(hits, 1) for u in chunk_units(n, hit)]
    if not units:
        return []
    vectors = _stored_vectors(index, hits)
    missing = [u for u in units if u.key not in vectors]
    if missing:
        for u, v in zip(missing, embedder.encode([u.text for u in missing]), strict=False):
            vectors[u.key] = np.asarray(v, dtype=np.float32)
    qvec = np.asarray(embedder.embed_query(analysis.question), dtype=np.float32)
    featurise(units, hits, analysis, vectors, qvec)
    return units


def score_units(
    analysis: Analysis, hits: list[Hit], index: Index, embedder: Any, model: AnswerModel
) -> list[Unit]:
    """Candidate units scored by the fitted model (higher is better; see `AnswerModel.score`)."""
    units = candidate_units(analysis, hits, index, embedder)
    for u in units:
        u.score = model.score(u.features)
        u.form_notes = [name for name in _FORM_FLAGS if u.features.get(name)]
        u.form = 1.0 - 0.1 * len(u.form_notes)
    return units


def rerank(
    hits: list[Hit], units: list[Unit], enabled: bool = True
) -> tuple[list[Hit], list[Unit]]:
    """Passages ordered by their best unit's score (ties keep retrieval order), renumbered.

    Retrieval ranks a passage by how it matches as a whole; the passage holding the unit
    that best answers the question is the one to cite first. Units follow their passage's
    new number, so citations stay right.
    """
    if not enabled or not units:
        return hits, units
    best: dict[int, float] = {}
    for u in units:
        best[u.source] = max(best.get(u.source, -math.inf), u.score)
    order = sorted(range(1, len(hits) + 1), key=lambda n: (-best.get(n, -math.inf), n))
    number = {old: new for new, old in enumerate(order, 1)}
    for u in units:
        u.source = number[u.source]
    reordered = [replace(hits[old - 1], rank=new) for new, old in enumerate(order, 1)]
    return reordered, units


_FORM_FLAGS = ("label", "intro", "short", "fragment", "echo", "type_miss")


def _similar(a: str, b: str) -> bool:
    ta, tb = set(content_terms(a)), set(content_terms(b))
    if not ta or not tb:
        return normalise(a) == normalise(b)
    return len(ta & tb) / min(len(ta), len(tb)) >= 0.8


def _following(u: Unit, units: list[Unit]) -> list[Unit]:
    """The units of `u`'s passage that come after it, in passage order."""
    return sorted(
        (x for x in units if x.source == u.source and x.start > u.start), key=lambda x: x.start
    )


def _list_of(u: Unit, units: list[Unit]) -> tuple[Unit | None, list[Unit]]:
    """The lead-in and items of the list `u` belongs to or introduces (empty when none).

    A list's items are the item units of one block; its lead-in is the unit just before
    them when that ends in ":" (the paragraph before a list is its own block). A list that a
    sub-list interrupts ("1. Review ..., 2. Hold sessions with:", its own items, then "3.
    Publish ...") prints as three blocks; the items after the sub-list continue the outer
    list (`_continued`), and the sub-list stays its parent item's (`_with_sub_lists`).
    """
    same = [x for x in units if x.source == u.source]
    if u.kind == "intro":
        after = _following(u, same)
        if not after or after[0].kind != "item":
            return u, []
        block = after[0].block
        return u, _continued([x for x in after if x.block == block and x.kind == "item"], same)
    if u.kind != "item":
        return None, []
    items = [x for x in same if x.block == u.block and x.kind == "item"]
    before = [x for x in same if x.start < items[0].start]
    prev = before[-1] if before else None
    # a nested list's lead-in is its parent item ("- Hold listening sessions with:")
    leads = prev is not None and (prev.kind == "intro" or (prev.is_item and prev.is_lead_in))
    if not leads and prev is not None and prev.kind == "item" and prev.block != u.block:
        parent, _ = _list_of(prev, units)
        if parent is not None and parent.kind == "item":
            outer_intro, outer = _list_of(parent, units)
            if u in outer:
                return outer_intro, outer
    return (prev if leads else None), _continued(items, same)


def _continued(items: list[Unit], same: list[Unit]) -> list[Unit]:
    """`items` and the items that continue their list after a sub-list of its last item."""
    out = list(items)
    while out and out[-1].is_lead_in:
        after = _following(out[-1], same)
        if not after or after[0].kind != "item" or after[0].block == out[-1].block:
            break
        rest = [x for x in after if x.block != after[0].block]
        if not rest or rest[0].kind != "item":
            break
        out += [x for x in rest if x.block == rest[0].block and x.kind == "item"]
    return out


def select_units(
    analysis: Analysis,
    units: list[Unit],
    model: AnswerModel,
    max_units: int,
    decisions: Decisions | None = None,
    shortened: list[tuple[int, int, int]] | None = None,
) -> list[Unit]:
    """The answer's units in the order shown: the lead, then what completes it.

    `decisions`, when given, records why each unit was kept or dropped (see `Decisions`);
    `shortened` collects (passage, items shown, items in the list) for every list cut to
    `AnswerModel.max_items`, so the answer can say how many more there are.
    """
    if not units:
        return []
    log = decisions if decisions is not None else _NoDecisions()
    ranked = sorted(units, key=lambda u: (-u.score, u.source, u.start))
    eligible = _eligible(ranked)
    best = eligible[0].score if eligible else 0.0
    floor = best - model.keep_margin
    across = analysis.answer_type == "comparison"
    log.start(
        ranked,
        best_score=round(best, 4),
        cutoff=round(floor, 4),
        keep_margin=model.keep_margin,
        max_units=max_units,
        char_budget=model.char_budget,
        across_documents=across,
    )
    _note_ineligible(ranked, eligible, log)
    listy = analysis.answer_type in LISTY_TYPES
    # a criteria question often wants a few of a long list's expectations (suite dev lead
    # hit 0.682 -> 0.697 shown focused; test unchanged)
    focused = not listy or analysis.answer_type == "criteria"
    if not eligible:
        return []
    shown: list[Unit] = []
    lead: list[Unit] = []
    grouped: list[Unit] = []
    used = 0
    for i, u in enumerate(eligible):
        if shown and u.score < floor:
            log.note_all(eligible[i:], f"below cutoff ({floor:.3f})")
            break
        if u in shown:
            continue
        if len([x for x in shown if not x.is_item and x not in grouped]) >= max_units:
            log.note_all(eligible[i:], f"not reached: the answer already had {max_units} units")
            break
        conflict = _conflict(u, shown, lead, across, log)
        if conflict:
            log.note(u, conflict)
            continue
        group, total = _group(u, units, model.max_items, focused, model.whole_table)
        if not group:
            log.note(u, "a lead-in whose items are not in the passage")
            continue
        size = sum(len(x.text) for x in group)
        if shown and used + size > model.char_budget:
            log.note(u, f"over character budget ({model.char_budget})")
            continue
        if not lead:
            lead = group
        elif listy and not focused and len(lead) > 1 and lead[0].kind != "row":
            # a whole list answers (a criteria answer shows a list focused, not whole, so more
            # may follow it: dev fact recall 0.8142 -> 0.8240, seed sets 0.816 -> 0.833); a
            # table's rows (`whole_table`) may not say it all: "How is
            # the rating worked out?" needs the thresholds table and the sentence after it
            # (dev fact recall 0.8004 -> 0.8049 against stopping at the table)
            log.note(u, "not needed: the list that answers is shown whole")
            continue
        new = [x for x in group if x not in shown]
        if len(new) < len(group) and all(x.is_lead_in for x in new):
            # a lead-in whose sentence or items are shown already would follow them and read
            # as a lead-in without items; it adds nothing (suite figures unchanged; placing it
            # before them instead lowered dev lead hit 0.695 -> 0.690: the lead-in restates
            # the question and pushes the fact back)
            log.note(u, "not needed: what it introduces is shown already")
            continue
        for x in new:
            log.note(x, "selected" if x is u else f"selected: keeps the list of {log.ref(u)}")
            shown.append(x)
            if x is not u and x.kind == "row":
                grouped.append(x)  # a table's other rows count as one unit with it, like items
        used += size
        shown_items = sum(1 for x in group if x.kind in ("item", "row"))
        if shortened is not None and total > shown_items:
            # another item of a list already noted: one notice, counting what is shown now
            seen = next(
                (n for n, s in enumerate(shortened) if (s[0], s[2]) == (u.source, total)), None
            )
            if seen is None:
                shortened.append((u.source, shown_items, total))
            else:
                shortened[seen] = (u.source, max(shortened[seen][1], shown_items), total)
    _complete(shown, lead, units, model.complete_below, log)
    antecedent = _antecedent(lead, units, model.antecedent_max)
    if antecedent is not None:  # it joins the lead, which `_order` shows first
        log.renote(antecedent, f"selected: says what {log.ref(lead[0])} refers to")
        lead = [antecedent, *lead]
    return _order(shown, lead)


# A sentence that opens with a personal pronoun leans on the sentence before it ("It does not
# require a college to achieve any particular outcome" - the duty does not).
_ANAPHOR = re.compile(r"^(?:It|They|Its|Their|He|She|His|Her)\b")


def _antecedent(lead: list[Unit], units: list[Unit], longest: int) -> Unit | None:
    """The whole sentence just before a lead sentence that opens with a pronoun, in its own
    paragraph and of at most `longest` characters, so the answer does not start with "It ..."
    about nothing (None otherwise). A longer one would push the answering sentence back."""
    if not longest or len(lead) != 1 or lead[0].kind != "sentence":
        return None
    if not _ANAPHOR.match(lead[0].text):
        return None
    u = lead[0]
    before = [x for x in units if x.source == u.source and x.block == u.block and x.start < u.start]
    prev = max(before, key=lambda x: x.start, default=None)
    if prev is None or prev.kind != "sentence" or prev.broken or len(prev.text) > longest:
        return None
    return prev


def _complete(
    shown: list[Unit], lead: list[Unit], units: list[Unit], below: int, log: Decisions
) -> None:
    """Show the rest of the lead's paragraph, after the answer, when the paragraph is short.

    A short paragraph is one thought, and its best sentence is often half the answer:
    "Inspectors report on equality as part of the leadership and management judgement. They
    do not give a separate grade for equality." answers "Is there a separate grade?" with its
    second sentence, and where equality is reported is its first. The other sentences score
    below the cutoff because they repeat fewer of the question's words. Only whole sentences
    of the lead's own block join; never a list, heading or fragment. They come last (straight
    after the lead they pushed the second chosen unit back: dev lead hit 0.767 -> 0.742), and
    outside `char_budget`, which they can pass by at most `below` characters.
    """
    if not below or len(lead) != 1 or lead[0].kind != "sentence":
        return
    u = lead[0]
    block = [x for x in units if x.source == u.source and x.block == u.block]
    if any(x.kind != "sentence" or x.broken for x in block):
        return
    if sum(len(x.text) for x in block) > below:
        return
    for x in sorted(block, key=lambda x: x.start):
        if x in shown or any(_similar(x.text, y.text) for y in shown):
            continue
        shown.append(x)
        log.renote(x, f"selected: completes its short paragraph (under {below} characters)")


def _eligible(ranked: list[Unit]) -> list[Unit]:
    """The units that may be quoted: no labels, nothing too short to say anything, and a
    broken sentence (PDF column or line debris) only when nothing whole is there."""
    whole = [u for u in ranked if u.kind != "label" and len(u.text.strip()) >= 12]
    return [u for u in whole if not u.broken] or whole


def _note_ineligible(ranked: list[Unit], eligible: list[Unit], log: Decisions) -> None:
    """Record why each unit `_eligible` left out can never be part of the answer."""
    for u in ranked:
        if u.kind == "label":
            log.note(u, "a heading, title, date or contents line: never an answer on its own")
        elif len(u.text.strip()) < 12:
            log.note(u, "too short")
        elif u not in eligible:
            log.note(u, "a broken sentence (cut by a line or column break)")


def _conflict(
    u: Unit, shown: list[Unit], lead: list[Unit], across: bool, log: Decisions
) -> str | None:
    """Why `u` would not fit next to what is shown (None when it fits): another
    document's text in an answer that does not compare documents, or a near-duplicate."""
    if lead and not across and u.doc_id != lead[0].doc_id:
        return "from another document (the question does not compare documents)"
    dup = next((c for c in shown if _similar(u.text, c.text)), None)
    if dup is not None:
        return f"near-duplicate of {log.ref(dup)}"
    return None


# A lead-in that announces an order ("A simple approach follows these steps:"): its items are
# shown in document order whatever the question, since moving one up would misstate the order.
_SEQUENCE = re.compile(
    r"\b(?:steps?|stages?|sequence|in (?:this|that|the following) order)\b", re.I
)


def _with_sub_lists(group: list[Unit], units: list[Unit]) -> list[Unit]:
    """`group` with the sub-list of every item in it that leads one in ("- Hold listening
    sessions with:" then its own list): never a lead-in without its items."""
    out: list[Unit] = []
    for x in group:
        out.append(x)
        if x.kind != "item" or not x.is_lead_in:
            continue
        after = _following(x, units)
        if after and after[0].kind == "item" and after[0].block != x.block:
            out.extend(
                y
                for y in after
                if y.block == after[0].block and y.kind == "item" and y not in group
            )
    return out


def _group(
    u: Unit, units: list[Unit], max_items: int, focused: bool = False, whole_table: float = 0.0
) -> tuple[list[Unit], int]:
    """`_bare_group`'s units with each shown parent item's sub-list, and the list's size."""
    group, total = _bare_group(u, units, max_items, focused, whole_table)
    return _with_sub_lists(group, units), total


def _bare_group(
    u: Unit, units: list[Unit], max_items: int, focused: bool = False, whole_table: float = 0.0
) -> tuple[list[Unit], int]:
    """What `u` must be shown with (a lead-in with its items, an item with its list), and
    how many items the whole list has.

    `focused` (a question that does not ask for a list): the item that answers - `u`, or
    the best-scoring item when `u` is the lead-in - comes straight after the lead-in, then
    the other items in document order, so the fact follows its context at once instead of
    after the items printed before it (suite dev lead hit 0.598 -> 0.660 with fact recall
    unchanged; only the best item, without the rest, reached 0.665 but lost seed facts
    where the scorer's best item was not the one that answers).
    """
    if u.kind == "row" and not focused and 0 < whole_table <= u.features.get("lex_context", 0):
        # a question asking for a list or the steps of a process, answered by a table row
        # whose words and section heading state at least `whole_table` of the question: the
        # table's rows in document order, as a list is shown with all its items ("What are
        # the stages of the procedure?" under "The four stages ... at a glance", a row per
        # stage). A row of a table the heading does not tie to the question stays on its own
        # ("How is a challenge to a rating handled?" and the rating thresholds table)
        rows = sorted(
            (x for x in units if x.source == u.source and x.block == u.block and x.kind == "row"),
            key=lambda x: x.start,
        )
        return _first(rows, u, max_items, True), len(rows)
    intro, items = _list_of(u, units)
    if u.kind == "intro" and not items:
        # a lead-in to a quotation or paragraph ("..., which represents 41 agencies, said:")
        # comes with the sentence it introduces (suite dev fact recall 0.694 -> 0.696, lead
        # hit 0.666 -> 0.671; test and seeds unchanged); with nothing after it, it is dropped
        nxt = next(iter(_following(u, units)), None)
        if nxt is not None and nxt.kind == "sentence" and not nxt.broken:
            return [u, nxt], 0
        return [], 0
    if not items:
        return [u], 0
    if focused and not (intro is not None and _SEQUENCE.search(intro.text)):
        best = u if u.kind == "item" else max(items, key=lambda x: (x.score, -x.start))
        if not best.is_lead_in:  # an item introducing its own sub-list needs the whole list
            # a sub-list flattened into its parent list keeps its parent item before it
            parents = [
                x for x in items if x.block == best.block and x.start < best.start and x.is_lead_in
            ][-1:]
            first = [*parents, best]
            others = [x for x in items if x not in first]
            room = max_items - len(first)
            if len(others) > room and not any(x.is_lead_in for x in items):
                # a list longer than is shown keeps its best-scoring items, in document order:
                # the first few of a long list of expectations are often not the ones asked
                # about (dev fact recall 0.8098 -> 0.8122; a list with sub-lists keeps its
                # first items, or a parent item could lose its own)
                chosen = sorted(others, key=lambda x: (-x.score, x.start))[:room]
                others = [x for x in others if x in chosen]
            rest = others[:room]
            return ([intro] if intro is not None else []) + first + rest, len(items)
    shown = _first(items, u, max_items, u.kind == "item")
    return ([intro] if intro is not None else []) + shown, len(items)


def _first(units: list[Unit], u: Unit, n: int, keep: bool) -> list[Unit]:
    """The first `n` of `units`; with `keep`, `u` (the unit that answers) always among them,
    in the last place when it would fall beyond them."""
    head = units[:n]
    return units[: n - 1] + [u] if keep and u not in head else head


def _order(shown: list[Unit], lead: list[Unit]) -> list[Unit]:
    """The lead (with its list, in the order `_group` gave) first, then the rest as they were
    chosen: best score first, a list kept whole with its lead-in.

    Document order after the lead put a passage's earlier, weaker sentences before its
    better ones (suite lead hit, `make eval-suite`: dev 0.671 -> 0.677, test 0.578 -> 0.600,
    fact recall unchanged, test fragments 0.0076 -> 0.0085; seed sets identical).
    """
    return lead + [u for u in shown if u not in lead]


def source_blocks(
    hits: list[Hit], units: list[Unit], n_sources: int, max_chars: int
) -> dict[int, Chunk]:
    """The first `n_sources` passages for an LLM, each cut to its best whole blocks.

    A block (paragraph, list with its items, table) is what a claim can be checked against
    whole; truncating a passage at a character count cuts a list after its lead-in or a
    sentence before its number. Blocks join in order of their best unit's score until
    `max_chars` would be passed (the best block always, however long), and are shown in
    document order. The verifier checks each claim against exactly this text.
    """
    out: dict[int, Chunk] = {}
    for n, hit in enumerate(hits[:n_sources], 1):
        text = hit.chunk.text
        cuts = [0, *(m.end() for m in BLOCK_BREAK.finditer(text)), len(text)]
        spans = [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)]
        best = {b: -math.inf for b in range(len(spans))}
        for u in units:
            if u.source == n and u.block in best:
                best[u.block] = max(best[u.block], u.score)
        chosen: list[int] = []
        used = 0
        for b in sorted(best, key=lambda b: (-best[b], b)):
            size = len(text[spans[b][0] : spans[b][1]].strip())
            if chosen and used + size > max_chars:
                continue
            chosen.append(b)
            used += size
        body = "\n\n".join(text[spans[b][0] : spans[b][1]].strip() for b in sorted(chosen))
        out[n] = replace(hit.chunk, text=body)
    return out


def compose(units: list[Unit]) -> str:
    """Answer text: sentences with ``[n]`` markers; list items on their own lines."""
    return layout_answer((" ".join(u.text.split()), f"[{u.source}]", u.is_item) for u in units)
