"""Plain text -> `BlockDocument` by layout heuristics (no model).

Plain text in this corpus is mostly what a PDF extractor left: lines hard-wrapped at the
printed width, words hyphenated at line ends, "Page N of M" and running headers between
lines, list bullets run together on one line ("need to: • a • b"), headings glued to the
paragraph after them, and - from two-column pages - lines of two blocks riffled together.
Cutting such text at line ends is what lost list items and sentences before, so this loader
rebuilds whole units first (`_join_units`: which line continues which) and only then decides
what each unit is (`_structure`: headings, list items, paragraphs).

Every rule reads evidence from the document itself - line widths, which words follow which
elsewhere, the numbering of its own sections - never words of a particular document.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from assistant.blocks import Block, BlockDocument, Item, MarkerKind, split_marker, squash
from assistant.clean import is_chrome_line
from assistant.loaders import LoadError, _decode_text
from assistant.txt_riffle import HYPHEN_END, SENTENCE_END, TERMINAL, Reader, unriffle

# ------------------------------------------------------------------------------ line level

_PAGE_LINE = re.compile(r"^(?:page\s+\d+(?:\s*(?:of|/)\s*\d+)?|-\s*\d+\s*-|\d+\s*/\s*\d+)$", re.I)
_CRUMB = re.compile(r"^(?:home|start)\s*(?:>|›|»|/)\s*\S", re.I)
_SKIP_LINK = re.compile(r"^skip to (?:main )?content$", re.I)
_MARKUP = re.compile(r"</?[a-z][a-z0-9]*\b[^>]*>|\*\*|__", re.I)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = dict.fromkeys(map(ord, "\t\u00a0\u2009\u202f\u2007"), " ")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TERMINAL, _SENTENCE_END, _HYPHEN_END = TERMINAL, SENTENCE_END, HYPHEN_END
_DANGLING_NUMBER = re.compile(r"[a-z,] \(?\d{1,2}[.)]$")
_LINE_MARKER = re.compile(r"^(?:[•●▪◦‣∙·*–—-]\s+|\(?(?:\d{1,3}|[a-z]|[ivx]{1,5})[.)]\s+\S)")
# A running header must repeat at least this often (after a page marker) to be removed; a
# two-page file has one page break, so once is enough there when the line repeats the title.
_HEADER_REPEATS = 2
# Lines of a riffle (two interleaved columns) sit at most this many lines apart in the suite's
# txt renderings (a hyphenated line drags its continuation along: A1 A1' B1 B1' A2) and in the
# seed EDI statement the continuation of "... share a relevant" is five lines on.
_WINDOW = 4
_EVIDENCE_WINDOW = 6
# The wrap floor is the least "line + next word" length of certain continuations: a line
# plus the next word no longer than that was not full, so its block ended there. Riffled
# lines fake a few short "continuations" (12, 17, 26 chars beside a true floor of 47 in the
# suite's equality guidance), so values under this share of the median are ignored.
_FLOOR_SHARE = 0.6
_MIN_FLOOR_PAIRS = 8  # fewer certain pairs than this (the seed files): no width evidence

# Words a sentence, list item or heading cannot end on (articles, prepositions, auxiliaries,
# conjunctions, determiners): a line stopping on one must go on somewhere.
_FUNCTION_WORDS = frozenset(
    "a about after against all an and any are as at be because before between both but by "
    "can could during each either every for from has have if in including into is its may "
    "more most must neither no nor not of on or other our over should so some such than that "
    "the their these this those through to under was were when where whether which who whose "
    "will with within without would".split()
)

# Words an item cannot end on even as a phrase: a preposition can ("... they work with",
# "... learners act on"), an article, a conjunction or a possessive cannot.
_DANGLING = frozenset("a an the and or but nor of their its our your whose every each".split())


@dataclass
class Line:
    """One non-blank input line: its text, whether a blank line came before it, its page."""

    text: str
    gap: bool
    page: int | None


@dataclass
class Unit:
    """Lines that read as one run of text (a paragraph, a heading, one printed list item)."""

    lines: list[str] = field(default_factory=list)
    page: int | None = None
    pages: list[int | None] = field(default_factory=list)  # each line's page
    lo: int = 0  # the wrap width is at least this (its longest line) ...
    hi: int = 10**6  # ... and below this (a line plus the next word did not fit)
    last_used: int = 0  # index of the input line last added
    prev_used: int = 0  # ... and of the one before it (for `_pop_last`)
    reserved: int | None = None  # index of the line that continues it, found by evidence
    partner: Unit | None = None  # the unit it is riffled with (two columns interleaved)

    @property
    def last(self) -> str:
        """The unit's most recent line (the one a continuation must follow)."""
        return self.lines[-1]

    @property
    def open(self) -> bool:
        """Still waiting for its continuation: the last line ends mid-sentence, or on the
        number of an inline item whose text is on the next line ("... disadvantage 3.")."""
        return not _SENTENCE_END.search(self.last) or bool(_DANGLING_NUMBER.search(self.last))


def load_txt(path: Path, data: bytes) -> BlockDocument:
    """Load a .txt file; raises `LoadError` for binary, undecodable or empty files."""
    path = Path(path)
    text, encoding = _decode_text(path, data)
    lines, removed, chrome = _prepare_lines(text)
    if not lines:
        raise LoadError(path, "no readable text (only page furniture or blank lines)")
    vocab = _Vocabulary(lines)
    lines = _unriffled(lines, vocab)
    units = _resplit(_join_units(lines, vocab), lines)
    blocks = _structure(units, vocab)
    if not blocks:
        raise LoadError(path, "no readable text (only page furniture or blank lines)")
    metadata: dict[str, object] = {"encoding": encoding}
    if blocks[0].kind == "heading" and blocks[0].level == 1:
        metadata["title"] = blocks[0].text
    pages = max((b.page or 1 for b in blocks), default=1)
    if pages == 1:  # no page markers: "page 1" of a text file is no page a citation can show
        blocks = [replace(b, page=None) for b in blocks]
    warnings = [f"removed {removed} page header/footer lines"] if removed else []
    return BlockDocument.of_file(
        path,
        "txt",
        blocks,
        metadata=metadata,
        warnings=warnings,
        pages=pages if pages > 1 else None,
        removed=chrome,
    )


def _unriffled(lines: list[Line], vocab: _Vocabulary) -> list[Line]:
    """The lines with two-column riffles read column by column (`txt_riffle`); the first
    line of the second column opens a block, as if a blank line came before it."""
    reader = Reader(vocab.evidence, vocab.name, vocab.floor)
    found = unriffle([ln.text for ln in lines], [ln.gap for ln in lines], reader)
    if found is None:
        return lines
    order, starts = found
    return [replace(lines[i], gap=True) if i in starts else lines[i] for i in order]


def _normalise(text: str) -> list[str]:
    """NFC, no zero-width or control characters, tabs and odd spaces as spaces, no markup."""
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH).translate(_SPACES)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    out = []
    for raw in text.split("\n"):
        line = _MARKUP.sub("", raw)
        line = re.sub(r"^\s*>\s?", "", line)  # an e-mail style quote marker
        out.append(" ".join(line.split()))
    return out


def _prepare_lines(text: str) -> tuple[list[Line], int, list[str]]:
    """Non-blank lines without page furniture, chrome or crumbs; how many furniture lines were
    removed, and the chrome lines removed (the manifest counts both).

    A page marker ("Page 3 of 9") is dropped and the line after it too when that line is the
    running header: it follows page markers at least `_HEADER_REPEATS` times, or repeats the
    document's first line (a header that is the title).
    """
    raw = _normalise(text)
    after_page = Counter(
        raw[i + 1] for i in range(len(raw) - 1) if _PAGE_LINE.match(raw[i]) and raw[i + 1]
    )
    first = next((ln for ln in raw if ln), "")
    headers = {h for h, n in after_page.items() if n >= _HEADER_REPEATS}
    lines: list[Line] = []
    removed = 0
    chrome: list[str] = []
    gap, page, prev_page_marker = False, 1, False
    for ln in raw:
        if not ln:
            gap = True
            continue
        if _PAGE_LINE.match(ln):
            m = re.search(r"\d+", ln)
            page = int(m.group(0)) + 1 if m else page + 1
            removed += 1
            prev_page_marker = True
            continue
        is_header = prev_page_marker and (ln in headers or _title_repeat(ln, first, lines))
        prev_page_marker = False
        if is_header or ln in headers:
            removed += 1
            continue
        if _standalone(ln, lines, gap) and _is_chrome(ln):
            chrome.append(ln)
            continue
        lines.append(Line(ln, gap, page))
        gap = False
    return lines, removed, chrome


def _title_repeat(line: str, first: str, lines: list[Line]) -> bool:
    """The line repeats the opening line (or opening two lines: a wrapped title)."""
    opening = " ".join(x.text for x in lines[:2])
    return line == first or line == opening


def _standalone(line: str, lines: list[Line], gap: bool) -> bool:
    """A line that cannot be the continuation of the line before (chrome is tested only on
    these, so a wrapped word like "services." is never taken for a menu entry)."""
    if not lines or gap:
        return True
    prev = lines[-1].text
    return bool(_TERMINAL.search(prev)) and not line[:1].islower()


def _is_chrome(line: str) -> bool:
    """Web chrome by the cleaner's rules, plus skip links and "Home > ..." crumbs."""
    return bool(_CRUMB.match(line) or _SKIP_LINK.match(line)) or is_chrome_line(line)


# ------------------------------------------------------------------------------ evidence


class _Vocabulary:
    """What the document itself says: its words, its word pairs and triples (within lines, so
    a join being tested never counts as its own evidence), capitalisation habits, and the
    narrowest width its wrapped lines show."""

    def __init__(self, lines: list[Line]) -> None:
        """Count everything once per document; every later test is a look-up."""
        self.words: Counter[str] = Counter()
        self.ngrams: Counter[tuple[str, ...]] = Counter()
        self.starts: Counter[str] = Counter()  # capitalised word opening a sentence
        self.inner_caps: Counter[str] = Counter()  # capitalised word after a lowercase word
        # Words not cut by a line-end hyphen: "orienta-" / "tion" are no words of the
        # document, and four "-tion" tails must not make "tion" look like one.
        self.whole: Counter[str] = Counter()
        cut_before = False
        for ln in lines:
            toks = _tokens(ln.text)
            self.words.update(toks)
            cut_after = bool(_HYPHEN_END.search(ln.text))
            self.whole.update(toks[int(cut_before) : len(toks) - int(cut_after)])
            cut_before = cut_after
            for n in (2, 3, 4):
                self.ngrams.update(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))
            self._caps(ln.text.split())
        self.floor = self._floor(lines)

    def _caps(self, words: list[str]) -> None:
        """Count capitalised words opening sentences vs. inside them (names, grades)."""
        for i, w in enumerate(words):
            if not w[:1].isupper():
                continue
            key = _bare(w)
            if i == 0 or _TERMINAL.search(words[i - 1]):
                self.starts[key] += 1
            elif words[i - 1][:1].islower() and words[i - 1][-1:].isalpha():
                self.inner_caps[key] += 1

    @staticmethod
    def _floor(lines: list[Line]) -> int:
        """The narrowest wrap width the document shows (0: too few wrapped lines to say)."""
        values = [
            len(a.text) + 1 + len(b.text.split()[0])
            for a, b in zip(lines, lines[1:], strict=False)
            if not b.gap
            and b.text[:1].islower()
            and not _HYPHEN_END.search(a.text)
            and not _LINE_MARKER.match(b.text)
        ]
        if len(values) < _MIN_FLOOR_PAIRS:
            return 0
        cut = _FLOOR_SHARE * statistics.median(values)
        return min(v for v in values if v >= cut)

    def evidence(self, before: str, after: str) -> int:
        """How strongly the document shows `after` following `before`: 3 for four words
        across the join seen elsewhere, 2 for a triple, 1 for a pair, 0 for none."""
        a, b = _tokens(before)[-3:], _tokens(after)[:3]
        if not a or not b:
            return 0
        if any(
            len(a) >= k and len(b) >= 4 - k and self.ngrams[(*a[len(a) - k :], *b[: 4 - k])]
            for k in (1, 2, 3)
        ):
            return 3
        a, b = a[-2:], b[:2]
        if (len(a) == 2 and self.ngrams[(a[0], a[1], b[0])]) or (
            len(b) == 2 and self.ngrams[(a[-1], b[0], b[1])]
        ):
            return 2
        return 1 if self.ngrams[(a[-1], b[0])] else 0

    def name(self, word: str) -> bool:
        """A capitalised word the document writes capitalised inside sentences (a name, a
        grade) more often than it opens sentences with it."""
        key = _bare(word)
        inner = self.inner_caps[key]
        return key.lower() not in _STARTERS and inner >= 2 and inner > self.starts[key]

    def starter(self, word: str) -> bool:
        """A capitalised word the document uses to open sentences rather than as a name."""
        key = _bare(word)
        if key.lower() in _FUNCTION_WORDS or key.lower() in _STARTERS:
            return True
        return self.starts[key] >= 1 and self.starts[key] >= 2 * self.inner_caps[key]


_STARTERS = frozenset(
    "a all an any each every here if in it most no once some such there these they this "
    "those we when where while you your".split()
)


def _tokens(text: str) -> list[str]:
    """Lower-case words (digits and apostrophes kept) for the document's word counts."""
    return _WORD.findall(text.lower().replace("’", "'"))


def _bare(word: str) -> str:
    """A word without the punctuation around it, case kept (capitalisation counts)."""
    return word.strip(".,;:!?()[]\"'“”‘’")


# ------------------------------------------------------------------------------ joining lines


def _join_units(lines: list[Line], vocab: _Vocabulary) -> list[Unit]:
    """Group lines into units, each line appended to the unit it continues or opening one."""
    units: list[Unit] = []
    owner: list[Unit] = []  # unit of each line
    links = _evidence_links(lines, vocab)  # continuation line -> line it continues
    sources = {src: cont for cont, src in links.items()}
    for i, ln in enumerate(lines):
        text = ln.text
        target = owner[links[i]] if i in links else _continues(i, lines, owner, vocab)
        if target is None and i and _wrapped_bullet(owner[i - 1], ln):
            target, text = owner[i - 1], _bullet_body(text) or text
        jumps = target is not None and i > 0 and target is not owner[i - 1]
        if (target is None or (jumps and _stops_on(lines[i - 1].text))) and (
            split := _split_last(i, lines, owner, vocab)
        ) is not None:
            target, fresh = split
            units.append(fresh)
        if target is None and _orphan(i, lines, owner):
            target = owner[i - 1]  # widths disagree, but a sentence does not stop mid-way
        if target is None:
            target = Unit(page=ln.page)
            units.append(target)
        if i and target is not owner[i - 1] and target.lines and owner[i - 1].lines:
            target.partner, owner[i - 1].partner = owner[i - 1], target
        target.reserved = None
        _append(target, text, i, ln.page)
        target.reserved = sources.get(i)
        owner.append(target)
    return units


def _resplit(units: list[Unit], lines: list[Line]) -> list[Unit]:
    """Units cut again where a block began after a finished sentence although the line pass
    read on (a capitalised line after a full stop is a new sentence or a new block):

    - where no single wrap width fits the unit but one does each side of the cut ("5.
      Transparency: ... in the report." / "Inspectors are courteous ..." wrapped narrower);
    - before a last stretch that ends on no punctuation (a table's header after its lead-in
      paragraph: "... overall rating." / "Total points Provisional overall rating");
    - before a line that opens a unit of its own at least twice elsewhere in the document (a
      repeated lead-in: "... checked for fairness." / "Inspectors will consider whether:").
    """
    texts = Counter(ln.text for ln in lines)
    opens = Counter(u.lines[0] for u in units)
    out: list[Unit] = []
    for unit in units:
        cuts = [0]
        cut = _cut(unit.lines, opens, texts)
        while cut is not None:
            cuts.append(cuts[-1] + cut)
            cut = _cut(unit.lines[cuts[-1] :], opens, texts)
        if len(cuts) == 1:
            out.append(unit)
            continue
        for a, b in zip(cuts, [*cuts[1:], len(unit.lines)], strict=True):
            fresh = Unit(page=unit.pages[a] if unit.pages[a] is not None else unit.page)
            for text, page in zip(unit.lines[a:b], unit.pages[a:b], strict=True):
                _append(fresh, text, unit.last_used, page)
            out.append(fresh)
    return out


def _cut(part: list[str], opens: Counter[str], texts: Counter[str]) -> int | None:
    """Where `_resplit` cuts this run of lines, or None."""
    cuts = [
        k
        for k in range(1, len(part))
        if (part[k][:1].isupper() or _LINE_MARKER.match(part[k]))
        and _SENTENCE_END.search(part[k - 1])
    ]
    if not cuts:
        return None
    if not _one_width(part):
        fits = [k for k in cuts if _one_width(part[:k]) and _one_width(part[k:])]
        if fits:
            return fits[0]
    if not _TERMINAL.search(part[-1]) and not _one_sentence_tail(part, cuts[-1]):
        return cuts[-1]
    repeated = [k for k in cuts if opens[part[k]] >= 2 and texts[part[k]] > opens[part[k]]]
    return repeated[0] if repeated else None


def _one_sentence_tail(part: list[str], k: int) -> bool:
    """The stretch from line k on still reads as prose (it holds a sentence end), so ending on
    no punctuation is the unit's own business, not a sign of another block."""
    return any(_SENTENCE_END.search(t) or _INNER_SENTENCE.search(t) for t in part[k:])


def _one_width(part: list[str]) -> bool:
    """Some wrap width fits every line: the bounds `_append` narrows stay open."""
    probe = Unit()
    for text in part:
        _append(probe, text, 0)
    return probe.lo < probe.hi


def _orphan(i: int, lines: list[Line], owner: list[Unit]) -> bool:
    """A lower-case line right after an unfinished line of the unit before, which no unit
    fits by width (that unit holds lines of two blocks wrapped alike): it still goes on
    the sentence, rather than standing alone as a fragment."""
    ln = lines[i]
    if i == 0 or ln.gap or not ln.text[:1].islower() or _LINE_MARKER.match(ln.text):
        return False
    prev = owner[i - 1]
    return prev.last_used == i - 1 and prev.reserved is None and prev.open


def _stops_on(text: str, words: frozenset[str] = _FUNCTION_WORDS) -> bool:
    """The text stops on a comma or on one of `words`: by default a word no sentence ends
    on (the next line goes on it); with `_DANGLING`, one where no phrase can end either."""
    last = text.split()[-1]
    return last.endswith(",") or last.lower() in words


def _split_last(
    i: int, lines: list[Line], owner: list[Unit], vocab: _Vocabulary
) -> tuple[Unit, Unit] | None:
    """(unit line `i` continues, unit split off) when a lower-case line continues nothing -
    or only a unit further back, though the line before it stops mid-sentence - because the
    capitalised line before it was wrongly appended to an older unit.

    That line (B1) opened a block of its own: a new paragraph after a list item, or the
    first line of a column riffled with the older unit's (A1 B1 A2 B2). It is split off into
    a fresh unit, and line `i` goes back to the older unit (a riffle) or on from B1, by the
    evidence across both joins and the next line's: riffle when A1 + line i and B1 + line
    i+1 read on better than B1 + line i and line i + line i+1; a tie keeps the plain reading.
    """
    ln = lines[i]
    if i < 2 or ln.gap or not ln.text[:1].islower():
        return None
    older = owner[i - 1]
    b1 = lines[i - 1].text
    if len(older.lines) < 2 or older.last != b1 or not b1[:1].isupper() or lines[i - 1].gap:
        return None
    a1 = older.lines[-2]
    if _SENTENCE_END.search(a1):
        return None  # B1 followed a finished sentence: appending it was no guess
    fresh = Unit(page=lines[i - 1].page)
    _append(fresh, b1, i - 1, lines[i - 1].page)
    _pop_last(older)
    owner[i - 1] = fresh
    nxt = lines[i + 1].text if i + 1 < len(lines) and not lines[i + 1].gap else ""
    riffle = vocab.evidence(a1, ln.text) + (vocab.evidence(b1, nxt) if nxt else 0)
    plain = vocab.evidence(b1, ln.text) + (vocab.evidence(ln.text, nxt) if nxt else 0)
    if riffle > plain and _fits(older, ln.text, vocab.floor):
        older.partner, fresh.partner = fresh, older
        return older, fresh
    return fresh, fresh


_INNER_SENTENCE = re.compile(r"[a-z)][.!?][\"'”’)]* [A-Z]")


def _wrapped_bullet(prev: Unit, line: Line) -> bool:
    """A bullet that is really the next printed line of a paragraph (an extraction artefact:
    "- ... the equality, diversity and" / "- inclusion implications ... protected").

    The bullet goes on lower-case from a bulleted line that stopped mid-sentence, and both
    read as prose - each holds a sentence break inside it. Real list items that start
    lower-case are phrases ("- each staff network") or at most one of them runs on into a
    second sentence ("- responsible: ... fair. We will ..."), and stay items.
    """
    body = _bullet_body(line.text)
    if line.gap or body is None or not prev.lines:
        return False
    last = prev.last
    return (
        _bullet_body(prev.lines[0]) is not None
        and body[:1].islower()
        and not _TERMINAL.search(last)
        and bool(_INNER_SENTENCE.search(last) and _INNER_SENTENCE.search(body))
    )


def _bullet_body(text: str) -> str | None:
    """The text after a bullet marker ("- ", "• "), or None when the line has none."""
    marker = split_marker(text)
    return marker[2] if marker is not None and marker[0] == "bullet" else None


def _pop_last(unit: Unit) -> None:
    """Take the unit's last line off again, with the width bounds it had before it."""
    kept, pages, used = unit.lines[:-1], unit.pages[:-1], unit.prev_used
    unit.lines, unit.pages, unit.lo, unit.hi = [], [], 0, 10**6
    for text, page in zip(kept, pages, strict=True):
        _append(unit, text, used, page)
    unit.last_used = unit.prev_used = used


def _append(unit: Unit, text: str, index: int, page: int | None = None) -> None:
    """Add a line (on `page`), narrowing what the unit's wrap width can be."""
    if unit.lines and not _HYPHEN_END.search(unit.last):
        unit.hi = min(unit.hi, len(unit.last) + 1 + len(text.split()[0]))
    unit.lines.append(text)
    unit.pages.append(page)
    unit.lo = max(unit.lo, len(text))
    unit.prev_used, unit.last_used = unit.last_used, index


def _fits(unit: Unit, text: str, floor: int) -> bool:
    """Could `text` be the next line of `unit` under one wrap width? The unit's last line must
    have been full (its next word would not fit) and no line may exceed the width."""
    if _HYPHEN_END.search(unit.last):
        return True
    nxt = len(unit.last) + 1 + len(text.split()[0])
    return nxt >= floor and max(unit.lo, len(text)) < min(unit.hi, nxt)


def _evidence_links(lines: list[Line], vocab: _Vocabulary) -> dict[int, int]:
    """Continuations the document itself proves, found before the line-by-line pass.

    A line ending mid-sentence whose continuation is not the next line but a later line
    starting lower-case, with the other column's lines between (a riffle), is linked when the
    word triple across the join occurs elsewhere in the document and no nearer candidate is
    as well supported. Returns {continuation line index: index of the line it continues}.
    """
    links: dict[int, int] = {}
    for i, ln in enumerate(lines):
        if _TERMINAL.search(ln.text) or _HYPHEN_END.search(ln.text):
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if nxt is None or (nxt.text[:1].islower() and not nxt.gap):
            continue  # the next line simply continues it
        best, best_score = None, 0
        for j in range(i + 1, min(len(lines), i + 1 + _EVIDENCE_WINDOW)):
            cand = lines[j].text
            if j in links or not cand[:1].islower() or _LINE_MARKER.match(cand):
                continue
            score = vocab.evidence(ln.text, cand)
            before = lines[j - 1].text
            if j - 1 > i and not lines[j].gap and not _TERMINAL.search(before):
                if vocab.evidence(before, cand) >= score:
                    continue  # the line before it reads on into it at least as well
            if score > best_score:
                best, best_score = j, score
        if best is not None and best_score >= 3 and best > i + 1:
            links[best] = i
    return links


def _continues(i: int, lines: list[Line], owner: list[Unit], vocab: _Vocabulary) -> Unit | None:
    """The unit line `i` continues, or None when it opens a new unit."""
    ln = lines[i]
    text = ln.text
    if i == 0 or _LINE_MARKER.match(text):
        return None
    prev = owner[i - 1]
    if _HYPHEN_END.search(prev.last) and text[:1].islower() and not ln.gap:
        return prev
    if _RUNNING_NUMBER.match(text) and not ln.gap and _needs_more(prev):
        pass  # "... down from" + "34 working days": a number going on mid-sentence
    elif not text[:1].islower():
        if ln.gap or _NUMBERED.match(text):
            return None
        return prev if prev.reserved is None and _fits(prev, text, vocab.floor) else None
    cands = _open_units(i, lines, owner, vocab)
    return _pick(cands, prev, text, vocab) if cands else None


def _open_units(i: int, lines: list[Line], owner: list[Unit], vocab: _Vocabulary) -> list[Unit]:
    """Units a lower-case line may continue: open, recent, not promised to another line."""
    seen: list[Unit] = []
    for j in range(i - 1, max(-1, i - 1 - _WINDOW), -1):
        unit = owner[j]
        if unit not in seen and unit.last_used == j:
            seen.append(unit)
    floor = vocab.floor
    return [
        u
        for u in seen
        if u.reserved is None
        and (u.open or _HYPHEN_END.search(u.last))
        and _fits(u, lines[i].text, floor)
    ]


def _pick(cands: list[Unit], prev: Unit, text: str, vocab: _Vocabulary) -> Unit:
    """Among open units, the one a lower-case line continues.

    Evidence first (the pair or triple across the join occurs elsewhere); then a riffle: when
    the previous line opened a fresh unit while an older one was left mid-sentence, the line
    goes back to the older one (two columns read across alternate A1 B1 A2 B2).
    """
    if len(cands) == 1:
        return cands[0]
    if prev in cands:  # "... carry out:" lines back does not take the line after "centre"
        cands = [u for u in cands if u is prev or not _TERMINAL.search(u.last)]
        if len(cands) == 1:
            return prev
    scored = [(vocab.evidence(u.last, text), u) for u in cands]
    triple = [u for s, u in scored if s >= 2]
    if len(triple) == 1:
        return triple[0]
    if prev.partner in cands:
        return prev.partner
    pair = [u for s, u in scored if s >= 1]
    if len(pair) == 1:
        return pair[0]
    older = [u for u in cands if u is not prev and _stops_on(u.last, _DANGLING)]
    if prev in cands and (not older or _needs_more(prev)):
        return prev
    return min(older or cands, key=lambda u: u.last_used)


def _needs_more(unit: Unit) -> bool:
    """The unit's last line cannot end a block: it stops on a comma or a function word."""
    return _stops_on(unit.last) or bool(_HYPHEN_END.search(unit.last.split()[-1]))


# ------------------------------------------------------------------------------ structure

# "34 working days", "12.9% of", not a section or list number ("3. Scope", "1.1 Who")
_RUNNING_NUMBER = re.compile(r"^[£$€]?\d[\d,]*(?:\.\d+%)?%?\s")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(?=\S)")
_LETTERED = re.compile(r"^(?:[A-Z]\d{1,2}\.|(?:Annex|Appendix|Part|Schedule) [A-Z0-9]{1,3}:)\s")
_INLINE_BULLET = re.compile(r"\s+[•●▪◦‣∙·]\s+")
_INLINE_DASH = re.compile(r"\s+[–—]\s+")
_INLINE_NUMBER = re.compile(r"(?:^|(?<=\s))(\d{1,2})[.)]\s+(?=\S)")
# Title-like lines: headings in the suite run to at most 14 words; body lines that short and
# unpunctuated are table rows or list fragments, which the neighbour checks rule out.
_HEADING_MAX_WORDS = 16
_GLUED_MAX_WORDS = 20  # a numbered heading glued to its paragraph: heading part at most this
_LIST_NEIGHBOUR_WEIGHT = 0.4  # < 0.5: two list items never outweigh one real section
_RUNON_MIN_WORDS = 25  # an item this long may be several items whose markers were lost
_RUNON_MAX_WORDS = 200  # ... and one longer than this is not a list item at all (and the
# repeated-phrase search is cubic in the item's length)
_REPEAT_MIN_WORDS = 8  # a repeated closing phrase this long marks parallel items


@dataclass
class Piece:
    """A unit classified: paragraph, heading or item (with its marker), before grouping."""

    kind: str
    text: str
    page: int | None
    level: int = 0
    marker: MarkerKind = "bullet"
    label: str = ""
    gap: bool = True  # starts after a blank line or a finished sentence
    rows: list[list[str]] = field(default_factory=list)  # for kind "table"
    inline: bool = False  # an item whose marker ran inline after other text ("... • b")


def _unit_text(unit: Unit, vocab: _Vocabulary) -> str:
    """The unit's lines as one line; a hyphen at a line end is dropped only when the joined
    word occurs elsewhere in the document (so "sixth-form" keeps its own hyphen)."""
    out = unit.lines[0]
    for nxt in unit.lines[1:]:
        if _HYPHEN_END.search(out) and nxt[:1].islower():
            if _rejoin(out.split()[-1][:-1], nxt.split()[0], vocab):
                out = out[:-1] + nxt
            else:
                out = out + nxt
        else:
            out = out + " " + nxt
    return out


def _rejoin(head: str, tail: str, vocab: _Vocabulary) -> bool:
    """Drop a line-end hyphen when the joined word occurs elsewhere in the document; when it
    is a dictionary word and the first part is not ("inte-" + "rest"); and, unless both parts
    are dictionary words (a compound: "sixth-" + "form"), when neither part is a word of the
    document ("compa-" + "nion" joins where "companion" is used only once). Parts are counted
    only where no line-end hyphen cut them (`_Vocabulary.whole`), so other "-tion" tails do
    not make "tion" a word."""
    joined = _tokens(head + tail)
    if not joined:
        return False
    if vocab.words[joined[-1]] > 0:
        return True
    parts = _tokens(head)[-1:] + _tokens(tail)[:1]
    if len(parts) != 2:
        return False
    words = _dictionary()
    if joined[-1] in words and parts[0] not in words:
        return True  # "inte-" + "rest": "inte" is no word, "interest" is
    if parts[0] in words and parts[1] in words:
        return False  # "sixth-" + "form", "well-" + "being": a compound
    return not any(vocab.whole[w] > 0 for w in parts)


@cache
def _dictionary() -> frozenset[str]:
    """English words: the whole-word entries of the MiniLM tokenizer's vocabulary, which
    ships with the embedding model's package (read once, nothing downloaded). Empty when the
    file cannot be read; the document's own words then decide alone."""
    from assistant.embeddings import default_model_path

    try:
        text = (Path(default_model_path()) / "vocab.txt").read_text(encoding="utf-8")
    except (OSError, ImportError):
        return frozenset()
    return frozenset(w for w in text.split("\n") if w.isalpha() and w.islower())


def _structure(units: list[Unit], vocab: _Vocabulary) -> list[Block]:
    """Classify units into headings, list items and paragraphs, then group the items."""
    pieces: list[Piece] = []
    prev_closed = True
    for n, unit in enumerate(units):
        text = _unit_text(unit, vocab)
        if n == 0 and _title_like(text):
            pieces.append(Piece("heading", text, unit.page, level=1))
            prev_closed = True
            continue
        for piece in _split_unit(text, unit.page):
            piece.gap = prev_closed
            pieces.append(piece)
        prev_closed = bool(_TERMINAL.search(text))
    chain = _section_chain(pieces, vocab)
    pieces, chain = _find_tables(pieces, chain)
    pieces = _find_headings(pieces, vocab, chain)
    pieces = _merge_broken_items(pieces)
    pieces = _split_runons(pieces, vocab)
    return _group(pieces)


def _title_like(text: str) -> bool:
    """Short, capitalised, not ending like a sentence or on a word that needs more."""
    words = text.split()
    return (
        0 < len(words) <= _HEADING_MAX_WORDS
        and text[:1].isupper()
        and not re.search(r"[.;:!,]$", text)
        and words[-1].lower() not in _FUNCTION_WORDS
    )


def _split_unit(text: str, page: int | None) -> list[Piece]:
    """A unit as pieces: a lead-in paragraph and items when bullets or numbers run inline."""
    numbered = _inline_numbers(text)
    if numbered is not None:
        lead, items = numbered
        out = [Piece("paragraph", lead, page)] if lead else []
        return out + [Piece("item", t, page, marker="number", label=lab) for lab, t in items]
    head, *rest = _INLINE_BULLET.split(text)
    out = _bullet_item(head, page, leading=True) if head.strip() else []
    for part in rest:
        out.extend(replace(p, inline=True) for p in _bullet_item(part, page))
    return out


def _bullet_item(text: str, page: int | None, leading: bool = False) -> list[Piece]:
    """One bullet item, with nested "–" items that ran inline after it split off."""
    if leading:
        mk = split_marker(text)
        if mk is None:
            return [Piece("paragraph", text, page)]
        level = 1 if text.lstrip()[:1] in "–—" else 0
        first = _item(mk, page, level)
    else:
        first = Piece("item", text, page)
    subs = _INLINE_DASH.split(first.text)
    if len(subs) == 1 or first.level == 1:
        return [first]
    first.text = subs[0]
    return [first] + [Piece("item", s, page, level=1) for s in subs[1:] if s.strip()]


def _item(mk: tuple[MarkerKind, str, str], page: int | None, level: int) -> Piece:
    """An item piece from `split_marker`'s (kind, label, rest)."""
    kind, label, rest = mk
    return Piece("item", rest, page, level=level, marker=kind, label=label)


def _inline_numbers(text: str) -> tuple[str, list[tuple[str, str]]] | None:
    """("lead-in", [("1.", "first"), ("2.", "second")]) when numbered items run inline: the
    numbers must count up from 1 (or from the unit's own leading number) in order, each item
    starting upper-case - or lower-case like the first one when a colon leads into them."""
    hits = list(_INLINE_NUMBER.finditer(text))
    chain: list[re.Match[str]] = []
    lower = False  # "... steps to: 1. change ... 2. remove ...": items that go on lower-case
    for m in hits:
        want = int(chain[-1].group(1)) + 1 if chain else None
        first = text[m.end() : m.end() + 1]
        if want is None:
            if m.group(1) == "1" or m.start() == 0:
                chain = [m]
                lower = first.islower() and text[: m.start()].rstrip().endswith(":")
        elif int(m.group(1)) == want and (first.isupper() or (lower and first.islower())):
            chain.append(m)
    if len(chain) < 2:
        return None
    if chain[0].start() != 0 and not re.search(r"[:.]\s*$", text[: chain[0].start()]):
        return None
    items = []
    for k, m in enumerate(chain):
        end = chain[k + 1].start() if k + 1 < len(chain) else len(text)
        label = text[m.start() : m.end()].strip()
        items.append((label, text[m.end() : end].strip()))
    return text[: chain[0].start()].strip(), items


def _find_headings(pieces: list[Piece], vocab: _Vocabulary, chain: set[int]) -> list[Piece]:
    """Mark numbered sections, lettered sections, questions and title-like lines as headings,
    splitting a heading from the paragraph glued after it."""
    out: list[Piece] = []
    for k, p in enumerate(pieces):
        if p.kind == "heading":
            out.append(p)
            continue
        after_heading = bool(out and out[-1].kind == "heading")
        full = f"{p.label} {p.text}".strip() if p.kind == "item" else p.text
        if k in chain or _LETTERED.match(full):
            level = 3 if "." in full.split()[0].rstrip(".") or _LETTERED.match(full) else 2
            out.extend(_glued(full, p, vocab, level, numbered=True))
        elif p.kind == "paragraph" and (p.gap or after_heading) and (q := _question(p.text)):
            out.append(Piece("heading", q, p.page, level=3))
            if rest := p.text[len(q) :].strip():
                out.append(Piece("paragraph", rest, p.page, gap=True))
        elif p.kind == "paragraph" and p.gap and _plain_heading(pieces, k, vocab):
            out.extend(_glued(p.text, p, vocab, 2, numbered=False))
        else:
            out.append(p)
    return out


def _section_chain(pieces: list[Piece], vocab: _Vocabulary) -> set[int]:
    """Indexes of the pieces whose numbers form the document's section sequence.

    Numbered list items and numbered sections look alike line by line; the sections are the
    longest chain in which each number follows the one before (1 -> 1.1 -> 1.2 -> 2 -> 3),
    which a list restarting at 1 inside a section cannot extend.
    """
    nums: list[tuple[int, tuple[int, ...]]] = []
    for k, p in enumerate(pieces):
        full = f"{p.label} {p.text}".strip() if p.kind == "item" else p.text
        m = _NUMBERED.match(full)
        if m and p.marker in ("number", "bullet") and full[m.end() :][:1].isupper():
            nums.append((k, tuple(int(x) for x in m.group(1).split("."))))
    weight = [_section_weight(pieces, k, num, vocab) for k, num in nums]
    best: list[float] = list(weight)
    back: list[int | None] = [None] * len(nums)
    for b in range(len(nums)):
        for a in range(b):
            if _follows(nums[a][1], nums[b][1]) and best[a] + weight[b] > best[b]:
                best[b], back[b] = best[a] + weight[b], a
    if not nums or max(best) < 2:
        return set()
    end: int | None = best.index(max(best))
    chain: set[int] = set()
    while end is not None:
        chain.add(nums[end][0])
        end = back[end]
    return chain


def _section_weight(pieces: list[Piece], k: int, num: tuple[int, ...], vocab: _Vocabulary) -> float:
    """How much a numbered piece counts towards the section chain: a heading is followed by
    body text, so one whose neighbour is the list item numbered next to it counts little
    (unless a paragraph was run into it: then the body text is right there)."""
    p = pieces[k]
    split = _glued_split(f"{p.label} {p.text}".strip(), vocab, numbered=True)
    if split is not None and _TERMINAL.search(split[1]):
        return 1.0
    for j, step in ((k - 1, -1), (k + 1, 1)):
        if 0 <= j < len(pieces) and pieces[j].kind == "item" and pieces[j].label:
            m = re.match(r"(\d+)\.?$", pieces[j].label)
            if m and len(num) == 1 and int(m.group(1)) == num[0] + step:
                return _LIST_NEIGHBOUR_WEIGHT
    return 1.0


def _follows(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """b is the next section number after a: a sibling at any level, or a's first child."""
    if b == (*a, 1):
        return True
    for depth in range(len(a)):
        if b == (*a[:depth], a[depth] + 1):
            return True
    return False


def _question(text: str) -> str | None:
    """The leading question of a paragraph when it reads as an FAQ heading."""
    m = re.match(r"[A-Z][^.!?;:]*\?", text)
    if not m or len(m.group(0).split()) > _HEADING_MAX_WORDS:
        return None
    return m.group(0)


def _plain_heading(pieces: list[Piece], k: int, vocab: _Vocabulary) -> bool:
    """An unnumbered title-like paragraph followed by body text (not a table row)."""
    p = pieces[k]
    head = _glued_split(p.text, vocab, numbered=False)
    text = head[0] if head else p.text
    if not _title_like(text) or len(re.findall(r"\b\d+\b", text)) >= 2:
        return False
    if head:
        return True
    nxt = pieces[k + 1] if k + 1 < len(pieces) else None
    if nxt is None or nxt.kind == "heading":
        return False
    body = nxt.kind == "item" or bool(_TERMINAL.search(nxt.text)) or len(nxt.text.split()) > 16
    prev = pieces[k - 1] if k else None
    row_before = prev is not None and prev.kind == "paragraph" and _title_like(prev.text)
    return body and not row_before and not _interior_caps(text, vocab)


def _interior_caps(text: str, vocab: _Vocabulary) -> bool:
    """A capitalised common word after a lower-case word: a table header row, not a heading."""
    words = text.split()
    return any(
        w[:1].isupper()
        and words[i - 1][:1].islower()
        and vocab.words[_bare(w).lower()] > 1
        and vocab.inner_caps[_bare(w)] < vocab.words[_bare(w).lower()]
        for i, w in enumerate(words)
        if i
    )


def _glued(text: str, p: Piece, vocab: _Vocabulary, level: int, numbered: bool) -> list[Piece]:
    """A heading piece, plus the paragraph that was run into it when there is one."""
    split = _glued_split(text, vocab, numbered)
    if split is None:
        return [Piece("heading", text, p.page, level=level)]
    head, rest = split
    return [Piece("heading", head, p.page, level=level), *_split_unit(rest, p.page)]


def _glued_split(text: str, vocab: _Vocabulary, numbered: bool) -> tuple[str, str] | None:
    """(heading, paragraph) when a paragraph was run into the heading: the first capitalised
    word, after a lower-case word that could end a heading, that the document uses to open
    sentences. Punctuation before it means body text, not a heading, unless numbered."""
    words = text.split()
    limit = _GLUED_MAX_WORDS if numbered else _HEADING_MAX_WORDS
    for i in range(2, min(len(words) - 1, limit + 1)):
        before, w = words[i - 1], words[i]
        if not numbered and re.search(r"[.,;!?]$", before):
            return None
        if re.search(r"[.;!?]$", before):
            return None
        if before.isdigit() and (
            _bare(w).lower() in _MONTHS or vocab.ngrams[(before, _bare(w).lower())] >= 2
        ):
            continue  # "on 31 March 2025": a date, or a pair the document writes elsewhere
        ends_word = before[:1].islower() or before.isdigit()
        # "1. Introduction This handbook ...": a one-word numbered heading is capitalised
        one_word = numbered and i == 2 and bool(_NUMBERED.match(text)) and vocab.starter(w)
        if not (w[:1].isupper() and (ends_word or one_word) and before[-1:].isalnum()):
            continue
        if numbered and not vocab.name(w):
            return " ".join(words[:i]), " ".join(words[i:])
        if before.lower() in _FUNCTION_WORDS or not vocab.starter(w):
            continue
        return " ".join(words[:i]), " ".join(words[i:])
    return None


def _merge_broken_items(pieces: list[Piece]) -> list[Piece]:
    """Re-join an item cut in two by an extractor that put a marker on its continuation: the
    earlier item ends on a word that cannot end one (a comma, "and", "the") and the later one
    starts lower-case."""
    out: list[Piece] = []
    for p in pieces:
        prev = out[-1] if out else None
        if (
            prev is not None
            and p.kind == prev.kind == "item"
            and p.marker == prev.marker == "bullet"
            and p.level == prev.level  # a nested "– ..." item is no continuation
            and not p.inline  # "act on • learners develop": the marker is the document's
            and p.text[:1].islower()
            and _stops_on(prev.text, _DANGLING)
        ):
            prev.text = f"{prev.text} {p.text}"
            continue
        out.append(p)
    return out


def _split_runons(pieces: list[Piece], vocab: _Vocabulary) -> list[Piece]:
    """Split a long item that holds several items whose markers an extractor lost.

    Two signs the document itself gives: a long phrase that closes the item also occurs
    earlier inside it (parallel items end alike: split after the earlier occurrence), and an
    item that runs on into the wording of one of the document's own section headings
    ("... Act 2010 advance equality of ..." where a section is "Advancing equality of ...").
    """
    heads = [_stems(_heading_words(p.text)) for p in pieces if p.kind == "heading"]
    heads = [h for h in heads if len(h) >= 2]
    out: list[Piece] = []
    for p in pieces:
        if p.kind != "item" or not _RUNON_MIN_WORDS <= len(p.text.split()) <= _RUNON_MAX_WORDS:
            out.append(p)
            continue
        parts = [q for part in _split_repeat(p.text) for q in _split_at_headings(part, heads)]
        out.extend(
            Piece("item", t, p.page, p.level, p.marker, p.label if n == 0 else "", p.gap)
            for n, t in enumerate(parts)
        )
    return out


def _split_repeat(text: str) -> list[str]:
    """Split after an earlier occurrence of the item's closing phrase (>= _REPEAT_MIN_WORDS)."""
    words = text.split()
    n = len(words)
    for size in range(n // 2, _REPEAT_MIN_WORDS - 1, -1):
        tail = [w.lower() for w in words[n - size :]]
        for start in range(n - 2 * size, -1, -1):
            if [w.lower() for w in words[start : start + size]] == tail:
                cut = start + size
                return [*_split_repeat(" ".join(words[:cut])), " ".join(words[cut:])]
    return [text]


def _split_at_headings(text: str, heads: list[list[str]]) -> list[str]:
    """Split before a lower-case run of words matching a section heading's words (stemmed),
    when the word before is not a function word (the item's text really ended there)."""
    words = text.split()
    stems = _stems(words)
    for i in range(1, len(words) - 1):
        if not words[i][:1].islower() or words[i - 1].lower() in _FUNCTION_WORDS:
            continue
        if re.search(r"[,;:]$", words[i - 1]):
            continue
        if any(stems[i : i + len(h)] == h for h in heads):
            return [" ".join(words[:i]), *_split_at_headings(" ".join(words[i:]), heads)]
    return [text]


def _heading_words(text: str) -> list[str]:
    """A heading's words without its section number."""
    words = text.split()
    return words[1:] if words and _NUMBERED.match(text) else words


def _stems(words: list[str]) -> list[str]:
    """Crude stems so "Advancing" matches "advance" (ing/ed/es/s/e endings dropped)."""
    out = []
    for w in words:
        w = _bare(w).lower()
        for suffix in ("ing", "ed", "es", "s", "e"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 4:
                w = w[: -len(suffix)]
                break
        out.append(w)
    return out


def _group(pieces: list[Piece]) -> list[Block]:
    """Consecutive items become one list block; everything else a block of its own."""
    blocks: list[Block] = []
    items: list[Item] = []
    page: int | None = None
    for p in pieces:
        if p.kind == "item":
            if not items:
                page = p.page
            items.append(Item(squash(p.text), p.level, p.marker, p.label))
            continue
        if items:
            blocks.append(Block("list", items=tuple(items), page=page))
            items = []
        if p.kind == "table":
            rows = tuple(tuple(squash(c) for c in r) for r in p.rows)
            blocks.append(Block("table", rows=rows, page=p.page))
        elif squash(p.text):
            blocks.append(Block(p.kind, text=squash(p.text), level=p.level, page=p.page))  # type: ignore[arg-type]
    if items:
        blocks.append(Block("list", items=tuple(items), page=page))
    return blocks


_NUMERIC = re.compile(r"^[£$€]?\d[\d,.]*%?$")


def _find_tables(pieces: list[Piece], chain: set[int]) -> tuple[list[Piece], set[int]]:
    """Runs of paragraph pieces that read as a header row and body rows with the same number
    of cells. The txt tables have lost their column gaps (cells joined by single spaces), so
    cells are recovered from the header's capitalised cell starts and the body rows' numbers
    and capitalised cell starts; a run whose rows do not agree stays paragraphs. The joins
    of the line pass are undone where they cut across rows: a header run into the first row
    or into the heading before it, two rows run together, a row's last line cut off, and
    rows numbered like list items are read back as rows."""
    out: list[Piece] = []
    kept: set[int] = set()
    k = 0
    while k < len(pieces):
        table = None if k in chain else _table_at(pieces, k, chain)
        glued = None if table else _heading_then_header(pieces, k, chain)
        if glued is not None:
            head, table = glued
            if k in chain:
                kept.add(len(out))
            out.append(head)
        if table is None:
            if k in chain:
                kept.add(len(out))
            out.append(pieces[k])
            k += 1
            continue
        rows, used = table
        out.append(Piece("table", "", pieces[k].page, rows=rows))
        k += used
    return out, kept


def _heading_then_header(
    pieces: list[Piece], k: int, chain: set[int]
) -> tuple[Piece, tuple[list[list[str]], int]] | None:
    """(heading piece, table) when a section heading ran into the table's header row
    ("Annex B: Documents we request Item When it is due"): the shortest tail of the piece,
    cut at a capitalised cell start, that heads a table of its own."""
    p = pieces[k]
    if p.kind != "paragraph" or not (k in chain or _LETTERED.match(p.text)):
        return None
    words = p.text.split()
    for i in reversed(_strong_starts(words, True)):
        if i < 2:
            break
        trial = [*pieces[:k], Piece("paragraph", " ".join(words[i:]), p.page), *pieces[k + 1 :]]
        table = _table_at(trial, k, chain - {k})
        if table is not None:
            head = Piece("paragraph", " ".join(words[:i]), p.page, p.level, gap=p.gap)
            return head, table
    return None


def _table_at(pieces: list[Piece], k: int, chain: set[int]) -> tuple[list[list[str]], int] | None:
    """(rows, pieces used) when a table with at least two body rows starts at piece k."""
    head = pieces[k]
    if head.kind != "paragraph" or _TERMINAL.search(head.text) or _LETTERED.match(head.text):
        return None  # a lettered section ("Annex A: ...") is a heading, not a header row
    header = _cells(head.text, None)
    if header is not None and len(header) >= 2:
        rows = [header]
    else:
        glued = _glued_header(head.text, pieces, k)
        if glued is None:
            return None
        header, first = glued
        rows = [header, first]
    used = 1
    last = ("", 0)  # the text of the piece read last and how many rows it gave
    for n, p in enumerate(pieces[k + 1 :], start=k + 1):
        text = _row_text(p)
        if text is None or n in chain or re.search(r"[.!?] [A-Z]", p.text):
            break
        if _LETTERED.match(text):
            break
        got = _body_rows(text, len(header))
        if got is None and _numbered_next(p, rows):
            got = _short_row(text, len(header))
        if got is None and len(rows) >= 2 and _row_tail(text, pieces, n, len(header)):
            # a row's wrapped last line cut off: read the piece before again with it, which
            # may now hold two rows ("... Notice of selection ..." + "25 working days")
            whole = f"{last[0]} {text}"
            again = _body_rows(whole, len(header)) if last[1] else None
            if again is not None and len(again) > last[1]:
                rows[len(rows) - last[1] :] = again
                last = (whole, len(again))
            else:
                rows[-1][-1] = f"{rows[-1][-1]} {text}"
                last = (whole, 0)
            used += 1
            continue
        if got is None:
            break
        rows.extend(got)
        last = (text, len(got))
        used += 1
    return (rows, used) if len(rows) >= 3 else None


def _numbered_next(p: Piece, rows: list[list[str]]) -> bool:
    """The piece is a row numbered one on from the row before ("2. Fair judgements ..."
    after "1. Hear from every child ..."), or the first numbered row after the header."""
    m = re.match(r"(\d{1,2})\.?$", p.label or "") if p.kind == "item" else None
    if m is None:
        return False
    prev = re.match(r"(\d{1,2})\.?\s", rows[-1][0] + " ") if len(rows) > 1 else None
    return int(m.group(1)) == (int(prev.group(1)) + 1 if prev else 1)


def _short_row(text: str, want: int) -> list[list[str]] | None:
    """A numbered row whose cells cannot all be found (a cell starting lower-case leaves
    no mark where it begins): the cells that can be, the last one holding the rest, padded
    to the header's width so the row stays in its table, whole and in order."""
    for have in range(want - 1, 1, -1):
        cells = _cells(text, have)
        if cells is not None:
            return [cells + [""] * (want - have)]
    return None


def _row_text(p: Piece) -> str | None:
    """A piece's text as a candidate table row: a paragraph, or a numbered item whose number
    is the row's first cell ("1. Shorter notice of inspection 41% 52% Do not go ahead")."""
    if p.kind == "paragraph":
        return p.text
    if p.kind == "item" and p.marker == "number" and p.label and p.level == 0:
        return f"{p.label} {p.text}"
    return None


def _row_tail(text: str, pieces: list[Piece], n: int, want: int) -> bool:
    """A piece inside a table that is the end of the row before, cut off at a line end: it
    reads as no row itself, holds no capitalised cell start, and the piece after it is a row
    again (so the table goes on around it)."""
    words = text.split()
    if text[:1].isupper() or any(w[:1].isupper() for w in words[1:]) or _TERMINAL.search(text):
        return False
    nxt = _row_text(pieces[n + 1]) if n + 1 < len(pieces) else None
    return nxt is not None and _body_rows(nxt, want) is not None


def _glued_header(text: str, pieces: list[Piece], k: int) -> tuple[list[str], list[str]] | None:
    """(header, first row) when the header line ran into the first body row: the row ends in
    numbers like the next row does ("Staff group Headcount Women Senior leaders 14 8 57.1%"),
    so the next row's cell count fixes how many header cells come before the row's label."""
    nxt = pieces[k + 1] if k + 1 < len(pieces) else None
    if nxt is None or nxt.kind != "paragraph":
        return None
    words = text.split()
    tail = 0
    while tail < len(words) - 1 and _NUMERIC.match(words[len(words) - 1 - tail]):
        tail += 1
    if not tail:
        return _glued_header_halves(words, pieces, k)
    want = tail + 1
    if _body_rows(nxt.text, want) is None:
        return None
    lead = words[: len(words) - tail]
    head = _cells(" ".join(lead), None)
    if head is None or len(head) < want + 1:
        return None
    header = [*head[: want - 1], " ".join(head[want - 1 : -1])]
    return header, [head[-1], *words[len(words) - tail :]]


def _glued_header_halves(
    words: list[str], pieces: list[Piece], k: int
) -> tuple[list[str], list[str]] | None:
    """(header, first row) for a header run into a first row without numbers: the piece cuts
    at capitalised starts into exactly twice the cells the next row has ("Protected
    characteristic An example of ... Age Whether adult learners ...")."""
    starts = _strong_starts(words, True)
    bounds = [0, *starts, len(words)]
    cells = [" ".join(words[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    want = len(cells) // 2
    if len(cells) % 2 or want < 2:
        return None
    nxt = pieces[k + 1].text
    if _body_rows(nxt, want) is None and not _row_tail(nxt, pieces, k + 1, want):
        return None  # the next piece is a row, or the cut-off end of this one
    return cells[:want], cells[want:]


def _body_rows(text: str, want: int) -> list[list[str]] | None:
    """The row (or rows) one body piece holds: one row of `want` cells, or two rows run
    together where numbers close the first row mid-text ("Black 19 4.6% Mixed 13 3.2%")."""
    cells = _cells(text, want)
    words = text.split()
    for i in range(1, len(words) - 1):
        if not (_NUMERIC.match(words[i]) and words[i + 1][:1].isupper()):
            continue
        if not _NUMERIC.match(words[-1]):
            break
        first = _cells(" ".join(words[: i + 1]), want)
        rest = _body_rows(" ".join(words[i + 1 :]), want)
        if first is not None and rest is not None and _numeric_tail(first) >= want - 1 >= 1:
            return [first, *rest]
    split = _labelled_rows(words, want, cells)
    if split is not None:
        return split
    return None if cells is None else [cells]


# A row label ("Needs improvement", "Notice of selection for a thematic inspection") has at
# most this many words: 149 of the 170 body-row first cells of the suite's source tables do
# (`evals.render.parse_source` over `evals/documents`). The txt round trip
# (`python -m evals.roundtrip test-artifacts/suite/txt`) reads 0.951 at 5 or 6, 0.952 at 8 to
# 12: the smallest value at the plateau.
_LABEL_MAX_WORDS = 8


_CLAUSE_MARK = re.compile(r"[;,:.]")  # punctuation a label does not hold


def _label(cell: str) -> bool:
    """A cell that reads as a row's label: a few words, no clause punctuation."""
    return len(cell.split()) <= _LABEL_MAX_WORDS and not _CLAUSE_MARK.search(cell)


def _labelled_rows(words: list[str], want: int, one: list[str] | None) -> list[list[str]] | None:
    """Two rows run together, each opening on a label: read so when the one-row reading `one`
    makes a punctuated clause the label ("Exemplary Next full inspection ...; ... events
    Effective The lead inspector ..." is "Exemplary | Next ..." and "Effective | The lead
    ..."), or when the second row opens on the first one's first word ("Notice of a
    focused re-inspection 10 working days Notice of selection ... 25 working days")."""
    for i in range(2, len(words) - 1):
        if not (words[i][:1].isupper() and words[i - 1][:1].islower()):
            continue
        if re.search(r"[,;:(]$", words[i - 1]) or words[i - 1].lower() in _FUNCTION_WORDS:
            continue
        if words[i] != words[0] and (one is None or not _CLAUSE_MARK.search(one[0])):
            continue  # not parallel rows, and the one-row label reads as a label
        first = _cells(" ".join(words[:i]), want)
        rest = _cells(" ".join(words[i:]), want)
        if first and rest and _label(first[0]) and _label(rest[0]):
            return [first, rest]
    return None


def _numeric_tail(cells: list[str]) -> int:
    """How many cells at the end of a row are numbers."""
    n = 0
    for c in reversed(cells):
        if not _NUMERIC.match(c):
            break
        n += 1
    return n


def _cells(text: str, want: int | None) -> list[str] | None:
    """Cells of a row: `want` of them, or for a header (want None) one per capitalised start.

    Trailing numbers ("241 58.5%") are cells of their own; the rest is cut before capitalised
    words that follow a lower-case or numeric word (not after a comma or a function word).
    A body row short of such cuts takes weaker ones, earliest first within each tier: a
    number after a number or content word ("Fewer than 500 2 to 3 inspectors"), a capital
    after a capitalised word ("1 Outstanding The agency ..."), a number after a function word,
    and last a word after a stated period ("within 42 months | none, unless ...").
    """
    words = _dates_as_words(text.split())
    if len(words) < 2 or len(words) > 60:
        return None
    tail: list[str] = []
    if want is not None:
        while words and len(tail) < want - 1 and _NUMERIC.match(words[-1]) and len(words) > 1:
            tail.insert(0, words.pop())
    starts = _strong_starts(words, want is None)
    if tail and len(starts) + len(tail) > want - 1:  # "... of week 4": the number is text
        keep = max(0, want - 1 - len(starts))
        words += tail[: len(tail) - keep]
        tail = tail[len(tail) - keep :]
        starts = _strong_starts(words, False)
    if want is None:
        if any(_NUMERIC.match(w) for w in words) or not starts:
            return None
        cuts = starts
    else:
        need = want - len(tail) - 1
        if need < 0:
            return None
        cuts = starts[:need]
        for tier in _weak_starts(words, set(starts)):
            if len(cuts) >= need:
                break
            cuts = sorted(cuts + tier[: need - len(cuts)])
        if len(cuts) < need:
            return None
    bounds = [0, *cuts, len(words)]
    cells = [" ".join(words[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    return [c.replace(_DATE_JOIN, " ") for c in cells + tail]


_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
_DATE_JOIN = "\u00a0"  # joins a date's words while cells are cut; a space again after


def _dates_as_words(words: list[str]) -> list[str]:
    """Words with each date ("30 September 2025", "March 2026") as one word, so no cell cut
    falls inside it: a capital after a number ("30 | September") and a number after a
    capital ("March | 2026") are cell starts anywhere else in a row."""
    out: list[str] = []
    for w in words:
        if out and _DATE_JOIN in out[-1] and re.fullmatch(r"\d{4}[,;.]?", w):
            out[-1] += _DATE_JOIN + w  # the year after "30 September"
        elif out and w.lower().strip(",;.") in _MONTHS and re.fullmatch(r"\d{1,2}", out[-1]):
            out[-1] += _DATE_JOIN + w
        elif out and re.fullmatch(r"\d{4}[,;.]?", w) and out[-1].lower() in _MONTHS:
            out[-1] += _DATE_JOIN + w
        else:
            out.append(w)
    return out


def _strong_starts(words: list[str], header: bool) -> list[int]:
    """Cell starts: a capitalised word after a lower-case or numeric word, not after a comma
    or a function word (in a header row, after a capitalised word too, and a date)."""
    return [
        i
        for i in range(1, len(words))
        if (words[i][:1].isupper() or (header and _DATE_JOIN in words[i]))  # "Measure | 31 March"
        and not (i == 1 and re.match(r"\(?\d{1,2}[.)]$", words[0]))  # "1. Shorter": a label
        and not re.search(r"[,;:(]$", words[i - 1])
        and words[i - 1].lower() not in _FUNCTION_WORDS
        and (header or not words[i - 1][:1].isupper())
    ]


# Function words that can close a phrase ("80% or more", "at most", "6 to 10 people each"): a
# capital after one may open a cell, where after "the" or "of" it goes on the same cell.
_PHRASE_END = frozenset("more most all other both either neither each".split())
_NUMBER_WORDS = frozenset("one two three four five six seven eight nine ten eleven twelve".split())
_PREPOSITIONS = frozenset(
    "after at before by during for from in on over to under until within".split()
)


def _weak_starts(words: list[str], strong: set[int]) -> list[list[int]]:
    """Weaker cell starts of a body row, by tier (see `_cells`)."""
    tiers: list[list[int]] = [[], [], [], []]
    for i in range(1, len(words)):
        w, before = words[i], words[i - 1]
        if i in strong or re.search(r"[,;:(]$", before):
            continue
        function = before.lower() in _FUNCTION_WORDS
        if w in _NUMBER_WORDS and not function:
            tiers[0].append(i)  # "Notice given | five working days | two working days"
        elif (w[:1].isdigit() and _NUMERIC.match(w)) or _DATE_JOIN in w:  # a number, a date
            if function and i > 1 and before in _PREPOSITIONS and _opens_before(words, i):
                tiers[2].append(i - 1)  # "sent | within 15 working days": the cell opens before
            else:
                tiers[2 if function else 0].append(i)
        elif w[:1].isupper() and (
            (before[:1].isupper() and not function) or before.lower() in _PHRASE_END
        ):
            tiers[1].append(i)  # "1 Outstanding | The ...", "80% or more | Exemplary"
        elif _after_quantity(words, i) and w.lower() not in _FUNCTION_WORDS:
            tiers[3].append(i)  # "within 42 months | none, unless ...": a period closes a cell
    return tiers


def _opens_before(words: list[str], i: int) -> bool:
    """The preposition before the number at `i` opens the cell: it follows a lower-case word
    ("sent | within 15") or the row's one-word label ("Outstanding | within 42 months")."""
    return words[i - 2][:1].islower() or i == 2


_PERIOD = re.compile(r"(?:day|week|month|year|hour|minute)s?")


def _after_quantity(words: list[str], i: int) -> bool:
    """Word `i` comes right after a stated period ("42 months", "10 working days")."""
    if i < 2 or not _PERIOD.fullmatch(words[i - 1].lower()):
        return False
    amount = words[i - 2] if words[i - 2].lower() != "working" or i < 3 else words[i - 3]
    return bool(_NUMERIC.match(amount)) or amount.lower() in _NUMBER_WORDS
