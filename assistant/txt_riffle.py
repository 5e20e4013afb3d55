"""Un-riffling: reading two interleaved columns of extracted text back in order.

A PDF text extractor that crosses the gutter of a two-column page line by line leaves the
lines of two neighbouring blocks alternating: A1 B1 A2 B2 ... and then the rest of the
longer block. Joining such lines one at a time can only guess; read as a whole, the region
shows itself: in the plain order sentences break off mid-way into capitalised lines and
lower-case lines follow finished sentences, while the two streams read on smoothly, often
with word sequences the document uses elsewhere.

`unriffle` tries, at each place where the plain order reads badly, every way the lines up
to the next blank line could be two alternating streams, and keeps the best one only when
it reads better than the plain order by `MARGIN`. It decides from the lines alone - case,
punctuation, widths and the document's own word sequences - never from particular words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Line shapes the txt loader shares (it imports them from here).
TERMINAL = re.compile(r"[.!?:;][\"'”’)\]]*$")
SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")  # ";" or ":" may still go on lower-case
HYPHEN_END = re.compile(r"[A-Za-z]{2,}-$")
_MARKER = re.compile(r"^(?:[•●▪◦‣∙·*–—-]\s|\(?(?:\d{1,3}(?:\.\d{1,2})*|[a-z]|[ivx]{1,5})[.)]\s)")
# Words a sentence cannot stop on: after one of these a capitalised line is a break-off.
_OPEN_WORDS = frozenset(
    "a an and any are as at be by for from has have in into is its of on or our that the "
    "their these this those to was were which who will with".split()
)
# How much better than the plain order a two-stream reading must read (join points, see
# `_join`) before it is used. Chosen by round trip over the suite's txt rendering
# (`python -m evals.roundtrip test-artifacts/suite/txt`, mean text recall, measured before
# dates were read as cell starts): no un-riffling (MARGIN 99) 0.875, MARGIN 2 0.883,
# 3 0.885, 4 0.886, 6 0.885; lower margins reorder ordinary lines. The round trip compares
# structure with the sources, not answers.
MARGIN = 4
# A line shorter than this share of the wrap floor ends its block (a heading, a last line).
# Round trip as for MARGIN: 0 (no short-line starts) 0.891, 0.6 0.891, 0.8 0.892, 1.0 0.892.
SHORT_LINE = 0.8
# A line is another column's when it is wider, by this factor, than a line that wrapped
# before its first word allows: after a lower-case continuation, or a capitalised line after
# a full unfinished line. Round trip as for MARGIN: 1.0 0.888, 1.1 0.909, 1.2 0.909, off
# 0.907; 1.1 also leaves room for proportional fonts, where lines wrapped at one width differ
# in characters.
WIDER = 1.1
# The plain order must break among the region's first this many line groups (A1 B1 A2).
# Round trip as for MARGIN: 3 groups 0.908, 4 0.907, 5 0.880, 6 0.872 (wider windows start
# regions at ordinary blocks).
ANOMALY_GROUPS = 3
MAX_GROUPS = 40  # a region is at most this many line groups (a page column is 34-44 lines)


@dataclass(frozen=True)
class Reader:
    """What the document says about its own lines (from the loader's vocabulary)."""

    evidence: Callable[[str, str], int]  # 0-3: the words across a join seen elsewhere
    name: Callable[[str], bool]  # a capitalised word the document writes inside sentences
    floor: int  # the narrowest wrap width the document shows (0: unknown)


def unriffle(
    texts: Sequence[str], gaps: Sequence[bool], reader: Reader
) -> tuple[list[int], set[int]] | None:
    """(a reading order of the lines, the lines that open a second stream), with riffled
    regions read stream by stream; None when no region reads better riffled than plain.

    `gaps[i]` says a blank line came before line i; no region crosses one."""
    groups = _groups(texts, gaps)
    order: list[int] = []
    starts: set[int] = set()
    g = 0
    while g < len(groups):
        best = _best_region(groups, g, texts, gaps, reader)
        if best is None:
            order.extend(groups[g])
            g += 1
            continue
        streams, used = best
        for stream in streams:
            order.extend(i for grp in stream for i in grp)
        starts.add(streams[1][0][0])
        g += used
    return (order, starts) if starts else None


def _groups(texts: Sequence[str], gaps: Sequence[bool]) -> list[list[int]]:
    """Lines that must stay together: a line ending in a hyphen and its continuation."""
    out: list[list[int]] = []
    for i, text in enumerate(texts):
        if out and not gaps[i] and HYPHEN_END.search(texts[out[-1][-1]]) and text[:1].islower():
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _best_region(
    groups: list[list[int]], g: int, texts: Sequence[str], gaps: Sequence[bool], reader: Reader
) -> tuple[list[list[list[int]]], int] | None:
    """(the two streams, groups used) of the best riffled reading starting at group g."""
    if not _block_start(groups, g, texts, gaps, reader) or not _anomalous(groups, g, texts, reader):
        return None  # the cheap tests first: they turn away almost every group
    end = g + 1
    while end < len(groups) and end - g < MAX_GROUPS and not gaps[groups[end][0]]:
        end += 1
    if end - g < 4:
        return None
    region = groups[g:end]
    plain = _score([i for grp in region for i in grp], texts, reader)
    best_gain, best = MARGIN - 1, None
    for t in range(4, len(region) + 1):  # the first t groups alternate A B A B ...
        a, b = region[0:t:2], region[1:t:2]
        rest = region[t:]
        for tail_to_a in (True, False) if rest else (True,):
            sa = a + rest if tail_to_a else a
            sb = b if tail_to_a else b + rest
            if len(sa) < 2 or len(sb) < 2:
                continue
            seq = [i for grp in sa for i in grp] + [i for grp in sb for i in grp]
            gain = _score(seq, texts, reader) - plain
            if gain > best_gain:
                best_gain, best = gain, ([sa, sb], len(region))
    return best


def _block_start(
    groups: list[list[int]], g: int, texts: Sequence[str], gaps: Sequence[bool], reader: Reader
) -> bool:
    """Group g can open a block (a riffle starts with the first line of one): a blank line
    or a finished sentence before it, a list marker on it, or a short line before it (a
    heading, the last line of a block)."""
    first = groups[g][0]
    if first == 0 or gaps[first] or _MARKER.match(texts[first]):
        return True
    before = texts[first - 1]
    return bool(TERMINAL.search(before)) or len(before) < SHORT_LINE * reader.floor


def _anomalous(groups: list[list[int]], g: int, texts: Sequence[str], reader: Reader) -> bool:
    """The plain order breaks in one of the first two joins of the region: a riffle shows
    itself at once (A1 -> B1 or B1 -> A2)."""
    first = [i for grp in groups[g : g + ANOMALY_GROUPS] for i in grp]
    return any(
        _join(texts[x], texts[y], reader) < 0 for x, y in zip(first, first[1:], strict=False)
    )


def _score(seq: list[int], texts: Sequence[str], reader: Reader) -> int:
    """How well the lines read in this order: the sum of their joins."""
    return sum(_join(texts[x], texts[y], reader) for x, y in zip(seq, seq[1:], strict=False))


def _join(a: str, b: str, reader: Reader) -> int:
    """How well line b reads on after line a: positive for a smooth continuation or a clean
    block boundary, negative for a sentence broken off or a fragment after a full stop."""
    if HYPHEN_END.search(a):
        return 1 if b[:1].islower() else -1
    lower = b[:1].islower()
    if SENTENCE_END.search(a):
        return -2 if lower else 1
    wrap = len(a) + 1 + len(b.split()[0])  # a line wrapped before b's first word ...
    if lower:
        if reader.floor and len(b) > WIDER * wrap:
            return -2  # ... cannot go on with a line wider than that
        width = reader.floor == 0 or wrap >= reader.floor
        return (1 if width else -1) + reader.evidence(a, b)
    if TERMINAL.search(a) or _MARKER.match(b):
        return 0
    last = a.split()[-1]
    if last.endswith(",") or last.lower() in _OPEN_WORDS:
        return 0 if reader.name(b.split()[0]) else -2
    if reader.floor and wrap >= reader.floor and len(b) > WIDER * wrap:
        return -1  # a full unfinished line, then a far wider one: another column's line
    return 0
