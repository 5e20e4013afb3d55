"""PDF -> typed blocks, reading the page layout (character positions and fonts), no ML model.

Text extractors hand back lines in drawing order, so columns interleave, running headers land
mid-paragraph and a wrapped heading or list item arrives in pieces. This loader reads every
character's position and font with pypdfium2 (the fastest of the candidates measured, see
the README) and rebuilds the structure a reader sees:

1. per page, characters become lines; drawn cell rectangles become tables (rows of cells);
2. lines repeated in the top or bottom band across pages, "Page N of M" and bare page
   numbers are dropped as furniture;
3. a page whose lines leave a vertical gutter free is read column by column (left column top
   to bottom, then right; full-width lines such as a title split the page into bands);
4. lines are classified against the document's body font size: larger or bold lines are
   headings (levels from the size ranking), oblique lines quotes, lines opening with a
   printed marker (`blocks.split_marker`) list items (nesting from their indentation);
5. consecutive lines join into one block unless the vertical gap, the style or the marker
   says otherwise; across a column or page break a line continues the previous block only
   when the previous line was wrapped by force (the next word would not have fit on it);
   a hyphen at a line end is removed only when that gives a word.

Pages are processed one at a time and only compact lines are kept, never a page's character
objects, so a 1,000-page PDF loads in bounded memory.
"""

from __future__ import annotations

import ctypes
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from assistant.blocks import Block, BlockDocument, Item, MarkerKind, split_marker, squash
from assistant.loaders import LoadError

Progress = Callable[[int, int], None]

# ---- thresholds (all in PDF points or as ratios of the font size unless stated) ----------
# Furniture bands, as a share of the page height. The suite's header baseline sits at 4.4 %
# and its footer at 97 %, body text at 8.1-93.3 %; office PDFs keep headers inside a >= 2 cm
# margin (6.7 % of A4), so 7.5 % / 5 % catch both without reaching the body.
TOP_BAND = 0.075
BOTTOM_BAND = 0.05
# A running header or footer stands further than this (x its font size) from the body: the
# suite's header is 5.2 em above the body, its footer 3.9 em below; wrapped body lines step
# 1.2-1.5 em.
FURNITURE_GAP = 1.8
# ... and further than the page's usual line step times this (double-spaced text steps
# 2.4 em; the suite's header and footer gaps are 2.2x or more its usual step).
FURNITURE_STEP = 1.25
# Characters further apart than this (x font size) start a new line segment: the suite's
# list marker sits 0.8 em before its text, its column gutter is 2.3 em at 10 pt.
RUN_GAP = 1.5
MARKER_MAX = 5  # characters in a printed list marker: "•", "12.", "(iv)"
# A gap wider than this (x font size) between two glyphs is a word break even without a
# space character (PDFs that position words instead of drawing spaces); DejaVu's space is
# 0.32 em, its widest kerning is below 0.1 em.
WORD_GAP = 0.2
# Baselines closer than this (x font size) are one line (sub/superscripts shift ~0.3 em).
SAME_LINE = 0.3
# A baseline step larger than the document's usual line pitch times this starts a new block:
# the suite's pitch is 1.4 em, its list items step 1.74 em and paragraphs 2.14 em (x 1.24 and
# x 1.53 the pitch), a wrapped line exactly 1.4 em.
BREAK_RATIO = 1.12
# Steps are compared in em rounded to 0.05; a step is "common" with >= 10 % of them (the
# suite's 1.4 em pitch is 46-83 % of its steps), and below 0.9 em lines would overlap.
PITCH_STEP = 0.05
PITCH_SHARE = 0.1
PITCH_MIN = 0.9
DEFAULT_PITCH = 1.2  # single-spaced text, when a document has no two lines to measure
# Heading: at least this much larger than the body size (suite: 11.5 / 10 pt is the smallest
# heading), or bold at body size.
HEADING_RATIO = 1.1
# Font sizes are compared after rounding to this step (pt): renderers scale fonts in
# half-points, and pdfium reports sizes with float noise.
SIZE_STEP = 0.5
# A marker indented at least this much (pt) past the column's left edge is a list item even
# when its continuation lines do not hang (the suite indents markers 1.5 mm = 4.3 pt).
INDENT_MIN = 1.0
# Two left edges (pt) closer than this are the same indentation level.
EDGE_TOL = 2.0
# A column's left edge is snapped to the document's most common edge within this (pt), so a
# column holding only indented list items still knows where the margin is.
EDGE_SNAP = 12.0
# Drawn rectangles smaller than this (pt) in either direction are rules or bars, not cells;
# larger than this share of the page they are backgrounds or frames.
CELL_MIN = 8.0
CELL_MAX_AREA = 0.5
# Pages with more vector paths than this are drawings (a table of 30 x 6 drawn cells has 180);
# matching cells against every path there would be slow.
MAX_PATHS = 2000
# The gutter of a two-column page lies in the middle of the page (share of the page width).
GUTTER_BAND = (0.3, 0.7)
GUTTER_STEP = 2.0  # pt between the gutter positions tried
# Slack (pt) in the greedy-fill test deciding whether a line was wrapped by force.
FIT_TOL = 0.5
_BUCKET = 24.0  # pt: height of the bands cell rectangles are filed under for lookup
# The fill test is trusted only when it agrees with the gaps inside columns (`_calibrate_fit`):
# on the suite, 97.6-100 % of gap-joined lines look filled and 0-33 % of paragraph ends do.
FIT_MIN_EVIDENCE = 3  # joined pairs and paragraph ends needed to judge
FIT_MIN_HITS = 0.9
FIT_MAX_FALSE = 0.5

_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—\s]*\d{1,4}[-–—\s]*(?:(?:of|/)\s*\d{1,4})?$|^[ivxlc]{1,6}$", re.I
)
_WORD = re.compile(r"[A-Za-z]+(?:[-'’][A-Za-z]+)*")
_HYPHEN_END = re.compile(r"([A-Za-z]+)-$")
_LOWER_START = re.compile(r"^([a-z]+)")
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi", re.I)
_ITALIC_NAME = re.compile(r"italic|oblique", re.I)
_LIGATURES = {chr(c) for c in range(0xFB00, 0xFB07)}
_FONT_ITALIC_FLAG = 1 << 6  # PDF font descriptor flag "Italic"
_BOLD_WEIGHT = 600


# --------------------------------------------------------------------------------------------
# Page model
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    """One printed line (or one line of a table cell), kept compact: page-by-page loading
    holds these for the whole document but never the characters they came from."""

    text: str
    x0: float
    x1: float
    xt: float  # where the text after the first word starts (a list item's text)
    base: float  # baseline, points from the page top
    size: float
    bold: bool
    italic: bool
    first_w: float  # width of the first word, for the "would it have fitted" test
    space: float  # width of a space in this line's font
    cell: int = -1  # index of the drawn cell holding the line
    kind: str = "body"  # heading | quote | item | body, set by `_classify`

    @property
    def top(self) -> float:
        return self.base - 0.8 * self.size

    @property
    def bottom(self) -> float:
        return self.base + 0.25 * self.size


@dataclass(slots=True)
class _Table:
    """Rows of cells, each cell the text lines drawn inside one rectangle."""

    x0: float
    top: float
    x1: float
    bottom: float
    rows: list[list[list[str]]]


@dataclass(slots=True)
class _Page:
    number: int
    width: float
    height: float
    lines: list[_Line]
    tables: list[_Table] = field(default_factory=list)
    had_text: bool = False
    error: str = ""  # why pdfium could not read the page, if it could not


Ctx = tuple[int, int, int]  # (page, band, column): lines in one ctx flow top to bottom


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def load_pdf(path: Path, data: bytes, *, progress: Progress | None = None) -> BlockDocument:
    """Blocks of a PDF; `progress(done, total)` is called once per page read."""
    path = Path(path)
    pages, meta_title = _read_pages(path, data, progress)
    warnings = [
        f"page {p.number} could not be read ({p.error}) - its content is missing"
        if p.error
        else f"page {p.number} has no text layer (scanned?) - its content is missing; OCR it"
        for p in pages
        if not p.had_text
    ]
    if not any(p.had_text for p in pages):
        raise LoadError(path, "no text layer (scanned PDF?) - run OCR first, e.g. ocrmypdf")
    body_size = _body_size(pages)
    _drop_furniture(pages, meta_title, body_size)
    stream = [pair for p in pages for pair in _reading_order(p)]
    layout = _Layout.measure(stream, body_size)
    _classify(stream, layout)
    blocks = _Builder(layout, _Vocabulary.of(stream)).build(stream)
    title = meta_title or next((b.text for b in blocks if b.kind == "heading"), None)
    return BlockDocument.of_file(
        path, "pdf", blocks, title=title, warnings=warnings, pages=len(pages)
    )


def _read_pages(
    path: Path, data: bytes, progress: Progress | None
) -> tuple[list[_Page], str | None]:
    """Every page as lines and tables, one page in memory at a time."""
    pdf = _open(path, data)
    try:
        title = _info_title(pdf)
        total = len(pdf)
        pages: list[_Page] = []
        for index in range(total):
            try:
                pages.append(_read_page(pdf, index))
            except Exception as exc:  # one broken page should not lose the rest
                detail = " ".join(str(exc).split())[:200] or type(exc).__name__
                pages.append(_Page(index + 1, 0.0, 0.0, [], error=detail))
            if progress is not None:
                progress(index + 1, total)
    finally:
        pdf.close()
    if not pages:
        raise LoadError(path, "not a valid PDF (no pages)")
    return pages, title


def _open(path: Path, data: bytes) -> Any:
    """The pdfium document, or a LoadError a curator can act on."""
    import pypdfium2 as pdfium

    if b"%PDF" not in data[:1024]:
        raise LoadError(path, "not a valid PDF (no %PDF header)")
    if b"%%EOF" not in data[-2048:]:  # pypdf refuses these too; pdfium would guess at them
        raise LoadError(path, "not a valid PDF (truncated: no end-of-file marker)")
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise LoadError(path, "encrypted PDF (password required)") from None
        raise LoadError(path, f"not a valid PDF ({' '.join(str(exc).split())[:200]})") from None


def _info_title(pdf: Any) -> str | None:
    """The title the file states in its Info dictionary, if any."""
    try:
        title = squash(pdf.get_metadata_dict().get("Title") or "")
    except Exception:  # a broken Info dictionary is not worth failing the file for
        return None
    return title or None


# --------------------------------------------------------------------------------------------
# Characters -> lines, rectangles -> tables
# --------------------------------------------------------------------------------------------


def _read_page(pdf: Any, index: int) -> _Page:
    """One page's lines and tables; the page and its text objects are closed before return."""
    page = pdf[index]
    try:
        width, height = page.get_size()
        rects = _cell_rects(page, width, height)
        textpage = page.get_textpage()
        try:
            glyphs = list(_glyphs(textpage, height))
        finally:
            textpage.close()
    finally:
        page.close()
    lines = _lines(glyphs, rects)
    result = _Page(index + 1, width, height, lines, had_text=bool(lines))
    _pull_tables(result, rects)
    return result


def _cell_rects(page: Any, width: float, height: float) -> list[tuple[float, ...]]:
    """Drawn rectangles big enough to be table cells, as (x0, top, x1, bottom)."""
    import pypdfium2.raw as raw

    rects = []
    for n, obj in enumerate(page.get_objects(filter=[raw.FPDF_PAGEOBJ_PATH], max_depth=2)):
        if n >= MAX_PATHS:
            return []
        left, bottom, right, top = obj.get_bounds()
        w, h = right - left, top - bottom
        if w >= CELL_MIN and h >= CELL_MIN and w * h <= CELL_MAX_AREA * width * height:
            rects.append((left, height - top, right, height - bottom))
    return rects


Glyph = tuple[str, float, float, float, float, bool, bool, float]  # ch x0 x1 base size b i


def _glyphs(textpage: Any, height: float) -> Iterator[Glyph]:
    """(char, x0, x1, baseline, size, bold, italic, advance) per drawn character."""
    import pypdfium2.raw as raw

    box = raw.FS_RECTF()
    ox, oy = ctypes.c_double(), ctypes.c_double()
    styles: dict[int, tuple[float, bool, bool]] = {}
    for k in range(raw.FPDFText_CountChars(textpage)):
        code = raw.FPDFText_GetUnicode(textpage, k)
        if raw.FPDFText_IsGenerated(textpage, k) == 1:
            if code == 32:  # pdfium saw a word gap the PDF draws without a space glyph
                raw.FPDFText_GetCharOrigin(textpage, k, ox, oy)
                yield " ", ox.value, ox.value, height - oy.value, 0.0, False, False, 0.0
            continue  # its guessed line ends say nothing our positions do not
        if code == 2:  # pdfium's mark for a hyphen at a line end: the printed "-"
            code = 45
        if code < 32 or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF, 0xAD):
            continue
        obj = ctypes.cast(raw.FPDFText_GetTextObject(textpage, k), ctypes.c_void_p).value or 0
        style = styles.get(obj)
        if style is None:
            style = styles[obj] = _font_style(textpage, k)
        raw.FPDFText_GetLooseCharBox(textpage, k, box)
        raw.FPDFText_GetCharOrigin(textpage, k, ox, oy)
        ch = chr(code)
        if ch in _LIGATURES:
            ch = unicodedata.normalize("NFKC", ch)
        size, bold, italic = style
        # x from the origin (the pen position), width from the loose box (the advance): a
        # glyph's own box starts a little left or right of the pen, which blurs margins
        adv = box.right - box.left
        yield ch, ox.value, ox.value + adv, height - oy.value, size, bold, italic, adv


def _font_style(textpage: Any, k: int) -> tuple[float, bool, bool]:
    """(size, bold, italic) of character k: from the weight, the flags and the font name."""
    import pypdfium2.raw as raw

    flags = ctypes.c_int(0)
    n = raw.FPDFText_GetFontInfo(textpage, k, None, 0, flags)
    name = ""
    if n > 0:
        buf = ctypes.create_string_buffer(n)
        raw.FPDFText_GetFontInfo(textpage, k, buf, n, flags)
        name = buf.value.decode("latin-1", "replace")
    weight = raw.FPDFText_GetFontWeight(textpage, k)
    bold = weight >= _BOLD_WEIGHT or bool(_BOLD_NAME.search(name))
    italic = bool(flags.value & _FONT_ITALIC_FLAG) or bool(_ITALIC_NAME.search(name))
    size = round(raw.FPDFText_GetFontSize(textpage, k) / SIZE_STEP) * SIZE_STEP
    return size, bold, italic


def _cell_finder(rects: list[tuple[float, ...]]) -> Callable[[float, float], int]:
    """index of the smallest rectangle holding the point, -1 for none. Rectangles are
    bucketed by height band so a glyph outside every table costs one dictionary lookup."""
    buckets: dict[int, list[int]] = {}

    def area(i: int) -> float:
        x0, top, x1, bottom = rects[i]
        return (x1 - x0) * (bottom - top)

    for i in sorted(range(len(rects)), key=area):  # the innermost cell of nested boxes first
        _x0, top, _x1, bottom = rects[i]
        for band in range(int(top // _BUCKET), int(bottom // _BUCKET) + 1):
            buckets.setdefault(band, []).append(i)

    def find(x: float, y: float) -> int:
        for i in buckets.get(int(y // _BUCKET), ()):
            x0, top, x1, bottom = rects[i]
            if x0 <= x <= x1 and top <= y <= bottom:
                return i
        return -1

    return find


def _lines(glyphs: list[Glyph], rects: list[tuple[float, ...]]) -> list[_Line]:
    """Glyphs in drawing order -> line segments (a new one at a baseline jump, a backwards
    step, a wide gap or a cell boundary)."""
    find = _cell_finder(rects)
    runs: list[tuple[int, list[Glyph]]] = []
    cur: list[Glyph] = []
    cur_cell = -1
    for g in glyphs:
        _ch, x0, x1, base, size = g[:5]
        cell = find((x0 + x1) / 2, base - 0.3 * size)
        if cur:
            p = cur[-1]
            tol = max(size, p[4])
            if (
                cell != cur_cell
                or abs(base - p[3]) > SAME_LINE * tol
                or x0 < p[1] - 0.5 * tol  # back to the left: a new line (a ligature's
                # second letter shares its first's position, so compare starts)
                or (x0 - p[2] > RUN_GAP * tol and not _lone_marker(cur))
            ):
                runs.append((cur_cell, cur))
                cur = []
        if not cur:
            cur_cell = cell
        cur.append(g)
    if cur:
        runs.append((cur_cell, cur))
    return [line for cell, run in runs if (line := _make_line(run, cell)) is not None]


def _lone_marker(run: list[Glyph]) -> bool:
    """Is the run so far only a list marker? Word processors tab the item text far from its
    bullet (0.63 cm = 1.6 em at 11 pt), further than a word gap; it is still one line."""
    text = "".join(g[0] for g in run).strip()
    return 0 < len(text) <= MARKER_MAX and split_marker(text + " x") is not None


def _make_line(run: list[Glyph], cell: int) -> _Line | None:
    """One line from its glyphs: words split at spaces or gaps, the majority style."""
    words: list[tuple[float, float, str]] = []  # (x0, x1, text)
    chars: list[str] = []
    start = end = 0.0
    space = 0.0
    prev_x1: float | None = None
    for ch, x0, x1, _base, size, *_ in run:
        if ch.isspace():
            space = space or (x1 - x0)
            if chars:
                words.append((start, end, "".join(chars)))
                chars = []
            continue
        if chars and prev_x1 is not None and x0 - prev_x1 > WORD_GAP * size:
            words.append((start, end, "".join(chars)))
            chars = []
        if not chars:
            start = x0
        chars.append(ch)
        end = prev_x1 = x1
    if chars:
        words.append((start, end, "".join(chars)))
    if not words:
        return None
    # the style of the letters: leader dots or symbols set in another font do not count
    weights = Counter((g[4], g[5], g[6]) for g in run if g[0].isalnum()) or Counter(
        (g[4], g[5], g[6]) for g in run if not g[0].isspace()
    )
    size, bold, italic = weights.most_common(1)[0][0]
    xt = words[1][0] if len(words) > 1 else words[0][0]
    return _Line(
        text=" ".join(w[2] for w in words),
        x0=words[0][0],
        x1=words[-1][1],
        xt=xt,
        base=sorted(g[3] for g in run)[len(run) // 2],
        size=size,
        bold=bold,
        italic=italic,
        first_w=words[0][1] - words[0][0],
        space=space or 0.3 * size,
        cell=cell,
    )


def _pull_tables(page: _Page, rects: list[tuple[float, ...]]) -> None:
    """Move lines inside drawn cells into tables: cells sharing a top are a row, rows that
    touch are a table. A lone box (a framed note) gives its lines back as ordinary text."""
    by_cell: dict[int, list[_Line]] = {}
    for line in page.lines:
        if line.cell >= 0:
            by_cell.setdefault(line.cell, []).append(line)
    if not by_cell:
        return
    used = sorted({c for c in by_cell}, key=lambda c: (rects[c][1], rects[c][0]))
    cells = sorted(
        {i for i in range(len(rects)) if _row_of_used(rects, i, used)},
        key=lambda c: (round(rects[c][1]), rects[c][0]),
    )
    rows: list[list[int]] = []
    for c in cells:
        last = rects[rows[-1][-1]] if rows else None
        if (
            last
            and abs(last[1] - rects[c][1]) <= EDGE_TOL
            and abs(rects[c][0] - last[2]) <= EDGE_TOL
        ):
            rows[-1].append(c)
        else:
            rows.append([c])
    keep: set[int] = set()
    for group in _touching(rows, rects):
        if sum(len(r) for r in group) < 2:
            continue
        keep.update(c for r in group for c in r)
        page.tables.append(_make_table(group, rects, by_cell))
    page.lines = [ln for ln in page.lines if ln.cell not in keep]
    for ln in page.lines:
        ln.cell = -1


def _row_of_used(rects: list[tuple[float, ...]], i: int, used: list[int]) -> bool:
    """A rectangle is a cell when text sits in it or it shares a row with one that has text
    (an empty cell still counts towards the row's cells)."""
    if i in used:
        return True
    return any(
        abs(rects[u][1] - rects[i][1]) <= EDGE_TOL and abs(rects[u][3] - rects[i][3]) <= EDGE_TOL
        for u in used
    )


def _touching(rows: list[list[int]], rects: list[tuple[float, ...]]) -> list[list[list[int]]]:
    """Rows grouped into tables: each row starting where an earlier row ended, over the same
    x range (rows of tables in two columns interleave when sorted by height)."""
    groups: list[list[list[int]]] = []

    def span(row: list[int]) -> tuple[float, float, float, float]:
        return (
            min(rects[c][0] for c in row),
            rects[row[0]][1],
            max(rects[c][2] for c in row),
            max(rects[c][3] for c in row),
        )

    for row in rows:
        x0, top, x1, _bottom = span(row)
        for group in groups:
            px0, _ptop, px1, prev_bottom = span(group[-1])
            if abs(top - prev_bottom) <= EDGE_TOL and x0 < px1 and px0 < x1:
                group.append(row)
                break
        else:
            groups.append([row])
    return groups


def _make_table(
    group: list[list[int]], rects: list[tuple[float, ...]], by_cell: dict[int, list[_Line]]
) -> _Table:
    """The table of a group of rows: each cell's lines top to bottom, joined later (when
    the document's vocabulary is known, for hyphens)."""
    rows = [
        [[ln.text for ln in sorted(by_cell.get(c, []), key=lambda ln: ln.base)] for c in row]
        for row in group
    ]
    cells = [c for row in group for c in row]
    return _Table(
        x0=min(rects[c][0] for c in cells),
        top=min(rects[c][1] for c in cells),
        x1=max(rects[c][2] for c in cells),
        bottom=max(rects[c][3] for c in cells),
        rows=rows,
    )


# --------------------------------------------------------------------------------------------
# Furniture and reading order
# --------------------------------------------------------------------------------------------


def _body_size(pages: list[_Page]) -> float:
    """The font size most characters are set in."""
    sizes: Counter[float] = Counter()
    for p in pages:
        for ln in p.lines:
            sizes[ln.size] += len(ln.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def _band(page: _Page, line: _Line) -> str:
    """Which furniture band the line sits in: "top", "bottom" or "" for the body."""
    if line.base < page.height * TOP_BAND:
        return "top"
    if line.base > page.height * (1 - BOTTOM_BAND):
        return "bottom"
    return ""


def _drop_furniture(pages: list[_Page], title: str | None, body_size: float) -> None:
    """Remove running headers and footers: band lines repeated on two or more pages (digits
    ignored, so "Page 3 of 9" repeats), page numbers, and a lone header restating the title."""
    seen: Counter[tuple[str, str]] = Counter()
    for p in pages:
        keys = {(b, _furniture_key(ln.text)) for ln in p.lines if (b := _band(p, ln))}
        seen.update(keys)
    title_key = _furniture_key(title) if title else None
    for p in pages:
        ends = (
            {min(ln.base for ln in p.lines), max(ln.base for ln in p.lines)} if p.lines else set()
        )
        step = _line_step(p)
        kept = []
        for ln in p.lines:
            band = _band(p, ln)
            key = _furniture_key(ln.text)
            number = bool(_PAGE_NUMBER.match(ln.text.strip()))
            repeated = seen[(band, key)] >= 2 and _set_apart(p, ln, band, step)
            if band and (repeated or number or (key == title_key and ln.size < body_size)):
                continue
            if number and ln.base in ends:  # a page number set inside a wide margin
                continue
            kept.append(ln)
        p.lines = kept


def _line_step(page: _Page) -> float:
    """The page's usual baseline step: the lower quartile over all its lines (a short last
    page has as many header, footer and paragraph gaps as line steps)."""
    bases = sorted({round(ln.base, 1) for ln in page.lines})
    steps = sorted(b - a for a, b in zip(bases, bases[1:], strict=False) if b - a > 1.0)
    # with fewer than three steps (a page of two or three lines) there is no usual step: the
    # gap rule alone decides
    return steps[len(steps) // 4] if len(steps) >= 3 else 0.0


def _set_apart(page: _Page, line: _Line, band: str, step: float) -> bool:
    """Is a band line set apart from the body, further than the page's usual line step? A
    running header is; the first line of a body that opens every page the same way is not."""
    sign = 1 if band == "top" else -1
    gaps = [sign * (ln.base - line.base) for ln in page.lines]
    gaps = [g for g in gaps if g > SAME_LINE * line.size]
    if not gaps:
        return True
    gap = min(gaps)
    return gap > FURNITURE_GAP * line.size and gap > FURNITURE_STEP * step


def _furniture_key(text: str) -> str:
    """A band line's identity across pages: digits ignored ("Page 3 of 9"), case folded."""
    return re.sub(r"\d+", "#", squash(text)).lower()


def _box(item: _Line | _Table) -> tuple[float, float, float, float]:
    """(x0, top, x1, bottom) of a line or table."""
    return item.x0, item.top, item.x1, item.bottom


def _gutter(items: list[_Line | _Table], width: float) -> float | None:
    """The x of a column gutter: the position in the middle of the page crossed by the fewest
    items, when more items sit wholly beside it than cross it."""
    if len(items) < 2:
        return None
    boxes = [_box(it) for it in items]
    best: tuple[int, float, float] | None = None
    x = width * GUTTER_BAND[0]
    while x <= width * GUTTER_BAND[1]:
        crossing = sum(1 for x0, _t, x1, _b in boxes if x0 < x - 1 and x1 > x + 1)
        key = (crossing, abs(x - width / 2), x)
        if best is None or key < best:
            best = key
        x += GUTTER_STEP
    if best is None:
        return None
    crossing, _dist, g = best
    left = sum(1 for x0, _t, x1, _b in boxes if x1 <= g + 1)
    right = sum(1 for x0, _t, x1, _b in boxes if x0 >= g - 1)
    if left and right and crossing < left + right:
        return g
    return None


def _reading_order(page: _Page) -> list[tuple[Ctx, _Line | _Table]]:
    """The page's lines and tables in reading order, each with its column context."""
    items: list[_Line | _Table] = [*page.lines, *page.tables]
    items.sort(key=lambda it: (it.top, it.x0))
    g = _gutter(items, page.width)
    if g is None:
        return [((page.number, 0, 0), it) for it in items]
    out: list[tuple[Ctx, _Line | _Table]] = []
    band = 0
    cols: tuple[list[_Line | _Table], list[_Line | _Table]] = ([], [])

    def flush() -> None:
        for c, col in enumerate(cols):
            out.extend(((page.number, band, c), it) for it in col)
            col.clear()

    spanning = False
    for it in items:
        if it.x0 < g - 1 and it.x1 > g + 1:  # full width: ends the columns above it
            if not spanning:
                flush()
                band, spanning = band + 1, True
            out.append(((page.number, band, 2), it))
        else:
            if spanning:
                band, spanning = band + 1, False
            cols[0 if it.x1 <= g + 1 else 1].append(it)
    flush()
    return out


# --------------------------------------------------------------------------------------------
# Document-wide measurements
# --------------------------------------------------------------------------------------------


@dataclass
class _Layout:
    """What the document's typography says: body size, line pitch, column edges, the
    right edge lines wrap at, the indentation of list markers, heading sizes."""

    body_size: float
    pitch: float  # usual baseline step / font size
    left: dict[Ctx, float]
    right: dict[tuple[bool, bool], float]  # (italic, multi-column) -> right edge past left
    heading_sizes: list[float]
    multi: set[int]  # pages read as two columns
    marker_offsets: list[float] = field(default_factory=list)
    fit_ok: bool = False  # the greedy-fill test is trustworthy here (`_calibrate_fit`)

    @classmethod
    def measure(cls, stream: list[tuple[Ctx, _Line | _Table]], body_size: float) -> _Layout:
        lines = [(ctx, it) for ctx, it in stream if isinstance(it, _Line)]
        left = _column_edges(stream)
        multi = {ctx[0] for ctx, _ in stream if ctx[2] == 1}
        right: dict[tuple[bool, bool], float] = {}
        sizes: set[float] = set()
        steps: Counter[float] = Counter()  # baseline step / size, rounded to PITCH_STEP
        prev: tuple[Ctx, _Line] | None = None
        for ctx, ln in lines:
            if _is_heading(ln, body_size):
                sizes.add(ln.size)
            elif ln.size == body_size:
                key = (ln.italic, _in_columns(ctx, multi))
                right[key] = max(right.get(key, 0.0), ln.x1 - left[ctx])
            if prev and prev[0] == ctx and prev[1].size == ln.size and ln.base > prev[1].base:
                ratio = (ln.base - prev[1].base) / ln.size
                steps[round(ratio / PITCH_STEP) * PITCH_STEP] += 1
            prev = (ctx, ln)
        pitch = _pitch(steps)
        return cls(body_size, pitch, left, right, sorted(sizes, reverse=True), multi)

    def right_edge(self, ctx: Ctx, line: _Line) -> float:
        """Where lines of `line`'s kind wrap in context `ctx` (the widest seen so far)."""
        multi = _in_columns(ctx, self.multi)
        width = self.right.get((line.italic, multi)) or self.right.get((False, multi), 0.0)
        return self.left[ctx] + width

    def heading_level(self, line: _Line) -> int:
        bigger = [s for s in self.heading_sizes if s > line.size]
        return len(bigger) + 1

    def marker_level(self, offset: float) -> int:
        return sum(1 for o in self.marker_offsets if o < offset - EDGE_TOL)


def _pitch(steps: Counter[float]) -> float:
    """The line pitch: the smallest baseline step (in em) that is common. Not the most
    common one: in a document of one-line list items the step between items outnumbers
    the step between wrapped lines."""
    total = sum(steps.values())
    common = [s for s, n in steps.items() if s >= PITCH_MIN and n >= max(2, PITCH_SHARE * total)]
    if common:
        return min(common)
    return steps.most_common(1)[0][0] if steps else DEFAULT_PITCH


def _in_columns(ctx: Ctx, multi: set[int]) -> bool:
    """Is the context a column of a two-column page (not a full-width band)?"""
    return ctx[0] in multi and ctx[2] != 2


def _column_edges(stream: list[tuple[Ctx, _Line | _Table]]) -> dict[Ctx, float]:
    """The left edge of every column context, snapped to the document's common edges."""
    lowest: dict[Ctx, float] = {}
    for ctx, it in stream:  # text first: a table's drawn border sits outside the margin
        if isinstance(it, _Line):
            lowest[ctx] = min(lowest.get(ctx, it.x0), it.x0)
    for ctx, it in stream:
        lowest.setdefault(ctx, it.x0)
    common = Counter(round(v) for v in lowest.values())

    def snap(v: float) -> float:
        near = [(n, -e) for e, n in common.items() if abs(e - v) <= EDGE_SNAP and e <= v + 1]
        return float(-max(near)[1]) if near else v

    return {ctx: min(v, snap(v)) for ctx, v in lowest.items()}


def _is_heading(line: _Line, body_size: float) -> bool:
    if line.italic and line.size < body_size * HEADING_RATIO:
        return False
    return line.size >= body_size * HEADING_RATIO or (line.bold and line.size >= body_size)


def _classify(stream: list[tuple[Ctx, _Line | _Table]], layout: _Layout) -> None:
    """Set each line's kind; record the indentation of list markers for nesting levels."""
    offsets: list[float] = []
    for n, (ctx, it) in enumerate(stream):
        if not isinstance(it, _Line):
            continue
        if _is_heading(it, layout.body_size):
            it.kind = "heading"
        elif it.italic:
            it.kind = "quote"
        elif (m := split_marker(it.text)) is not None:
            offset = it.x0 - layout.left[ctx]
            nxt = stream[n + 1] if n + 1 < len(stream) else None
            hangs = (
                nxt is not None
                and nxt[0] == ctx
                and isinstance(nxt[1], _Line)
                and abs(nxt[1].x0 - it.xt) <= EDGE_TOL
                and split_marker(nxt[1].text) is None
            )
            if m[0] == "bullet" or offset >= INDENT_MIN or hangs:
                it.kind = "item"
                offsets.append(offset)
    _calibrate_fit(stream, layout)
    clusters: list[float] = []
    for o in sorted(offsets):
        if not clusters or o - clusters[-1] > EDGE_TOL:
            clusters.append(o)
    layout.marker_offsets = clusters


def _calibrate_fit(stream: list[tuple[Ctx, _Line | _Table]], layout: _Layout) -> None:
    """Check the "would the next word have fitted" test where the answer is known: inside a
    column, lines the gap joins must look filled and lines before a paragraph gap mostly not.
    A document without enough such evidence (short lines, no wrapped paragraphs) or where the
    test fails it keeps `fit_ok` False, and a page break then always starts a new block unless
    the text plainly runs on."""
    joined = joined_full = breaks = breaks_full = 0
    prev: tuple[Ctx, _Line] | None = None
    for ctx, it in stream:
        if not isinstance(it, _Line):
            prev = None
            continue
        if (
            prev
            and prev[0] == ctx
            and prev[1].kind == it.kind == "body"
            and not _HYPHEN_END.search(prev[1].text)  # ended by the split, not by the fill
        ):
            p = prev[1]
            step = it.base - p.base
            full = p.x1 + p.space + it.first_w > layout.right_edge(ctx, p) + FIT_TOL
            if p.size == it.size and 0 < step <= p.size * layout.pitch * BREAK_RATIO:
                joined, joined_full = joined + 1, joined_full + full
            elif p.size == it.size and step > 0:
                breaks, breaks_full = breaks + 1, breaks_full + full
        prev = (ctx, it)
    layout.fit_ok = (
        joined >= FIT_MIN_EVIDENCE
        and breaks >= FIT_MIN_EVIDENCE
        and joined_full >= FIT_MIN_HITS * joined
        and breaks_full <= FIT_MAX_FALSE * breaks
    )


# --------------------------------------------------------------------------------------------
# Vocabulary (for hyphens at line ends)
# --------------------------------------------------------------------------------------------


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@dataclass
class _Vocabulary:
    """The document's own words, so a line-end hyphen is removed only when the joined word
    is one the document uses ("chil-dren" -> "children"), and kept when it is a compound
    ("well-being")."""

    words: set[str]
    stems: set[str]
    compounds: set[str]

    @classmethod
    def of(cls, stream: list[tuple[Ctx, _Line | _Table]]) -> _Vocabulary:
        words: set[str] = set()
        compounds: set[str] = set()
        split_next = False
        for _ctx, it in stream:
            texts = [it.text] if isinstance(it, _Line) else _cell_texts(it)
            for text in texts:
                tokens = _WORD.findall(text)
                if split_next and tokens:
                    tokens = tokens[1:]  # the tail of a word split at the previous line end
                split_next = bool(_HYPHEN_END.search(text))
                if split_next and tokens:
                    tokens = tokens[:-1]
                for tok in tokens:
                    low = tok.lower()
                    (compounds if "-" in low else words).add(low)
                    words.update(low.split("-"))
        stems = set(_stemmer().stemWords(sorted(words)))
        return cls(words, stems, compounds)

    def join_hyphen(self, head: str, tail: str) -> bool:
        """True when "head-" + "tail" at a line break is one word split by the typesetter."""
        joined, compound = (head + tail).lower(), f"{head}-{tail}".lower()
        if compound in self.compounds:
            return False
        if joined in self.words or _stemmer().stemWord(joined) in self.stems:
            return True
        # Neither reading is attested: keep the hyphen only when both halves are words of
        # their own, the shape of a compound ("well-being"); "circums-tances" or
        # "conti-nuity" (words the document uses once, split at a line end) are rejoined.
        # On the suite's PDFs 81 of 406 line-end splits are words used nowhere else, stems
        # included; keeping those hyphens would break 81 units. 1 compound-shaped split
        # ("over-looked") keeps a hyphen it should not.
        return not (head.lower() in self.words and tail.lower() in self.words)


def _cell_texts(table: _Table) -> list[str]:
    """Every printed line of a table's cells."""
    return [text for row in table.rows for cell in row for text in cell]


def join_lines(texts: list[str], vocab: _Vocabulary) -> str:
    """Printed lines of one unit -> its text: single spaces, split words rejoined."""
    out = ""
    for text in texts:
        text = squash(text)
        if not text:
            continue
        head = _HYPHEN_END.search(out)
        tail = _LOWER_START.match(text)
        if head and tail and vocab.join_hyphen(head.group(1), tail.group(1)):
            out = out[:-1] + text
        elif head and tail:
            out += text  # a compound's own hyphen: "well-" + "being"
        else:
            out = f"{out} {text}" if out else text
    return out


# --------------------------------------------------------------------------------------------
# Lines -> blocks
# --------------------------------------------------------------------------------------------


@dataclass
class _Open:
    """The block being built: its kind, lines (or items, or table rows) and where it started."""

    kind: str
    page: int
    lines: list[str] = field(default_factory=list)
    level: int = 0
    size: float = 0.0
    items: list[tuple[int, MarkerKind, str, list[str]]] = field(default_factory=list)
    rows: list[list[list[str]]] = field(default_factory=list)
    text_offset: float = 0.0  # for lists: where the last item's text starts past the edge
    ctx: Ctx | None = None  # for tables: the context of the last rows


def _stacked(a: Ctx, b: Ctx) -> bool:
    """Is context `b` directly below `a` on the same page (a full-width band and the left
    column under it, or the reverse), so the vertical gap between them still means something?
    A wrapped title's short last line sits in the column band under its first line."""
    return a[0] == b[0] and b[1] == a[1] + 1 and 2 in (a[2], b[2]) and b[2] != 1


class _Builder:
    """Walks the reading-order stream once, joining lines into blocks."""

    def __init__(self, layout: _Layout, vocab: _Vocabulary) -> None:
        self.layout = layout
        self.vocab = vocab
        self.blocks: list[Block] = []
        self.cur: _Open | None = None
        self.prev: tuple[Ctx, _Line] | None = None

    def build(self, stream: list[tuple[Ctx, _Line | _Table]]) -> list[Block]:
        for ctx, it in stream:
            if isinstance(it, _Table):
                self._table(ctx, it)
            else:
                self._line(ctx, it)
        self._close()
        return self.blocks

    def _table(self, ctx: Ctx, table: _Table) -> None:
        """A table opens a block, or continues the one just before it in the previous
        column or page (same number of cells; a repeated header row is dropped)."""
        cur = self.cur
        rows = table.rows
        if (
            cur is not None
            and cur.kind == "table"
            and cur.ctx != ctx
            and len(cur.rows[-1]) == len(rows[0])
        ):
            cur.rows.extend(rows[1:] if rows[0] == cur.rows[0] else rows)
            cur.ctx = ctx
        else:
            self._close()
            self.cur = _Open("table", ctx[0], rows=list(rows), ctx=ctx)
        self.prev = None

    def _line(self, ctx: Ctx, line: _Line) -> None:
        cont = self._continues(ctx, line)
        cur = self.cur
        if line.kind == "heading":
            if cont and cur and cur.kind == "heading" and cur.size == line.size:
                cur.lines.append(line.text)
            else:
                self._close()
                level = self.layout.heading_level(line)
                self.cur = _Open("heading", ctx[0], [line.text], level=level, size=line.size)
        elif line.kind == "item" and self._starts_item(ctx, line, cont):
            self._item(ctx, line)
        elif cont and cur and cur.kind in ("paragraph", "quote", "list"):
            (cur.items[-1][3] if cur.kind == "list" else cur.lines).append(line.text)
        else:
            self._close()
            kind = "quote" if line.kind == "quote" else "paragraph"
            self.cur = _Open(kind, ctx[0], [line.text], size=line.size)
        self.prev = (ctx, line)

    def _starts_item(self, ctx: Ctx, line: _Line, cont: bool) -> bool:
        """A marker line opens an item unless it continues the text of the one before: a
        wrapped "... see section" + "3. The ..." sits exactly at the item's text indent (a
        nested marker may sit there too, but a bullet glyph never starts a wrapped line)."""
        cur = self.cur
        if not cont or cur is None or cur.kind != "list":
            return True
        marker = split_marker(line.text)
        if marker is not None and marker[0] == "bullet":
            return True
        return abs(line.x0 - self.layout.left[ctx] - cur.text_offset) > EDGE_TOL

    def _item(self, ctx: Ctx, line: _Line) -> None:
        kind, label, rest = split_marker(line.text) or ("bullet", "", line.text)
        offset = line.x0 - self.layout.left[ctx]
        level = self.layout.marker_level(offset)
        cur = self.cur
        fresh = cur is None or cur.kind != "list"
        if not fresh and cur is not None and level == 0 and cur.items:
            first_kind = next((k for lv, k, _l, _t in cur.items if lv == 0), kind)
            fresh = (first_kind == "bullet") != (kind == "bullet")
        if fresh:
            self._close()
            cur = self.cur = _Open("list", ctx[0])
        assert cur is not None
        cur.items.append((level, kind, label, [rest]))
        cur.text_offset = line.xt - self.layout.left[ctx]

    def _continues(self, ctx: Ctx, line: _Line) -> bool:
        """Does `line` carry on the block being built (rather than start a new one)?"""
        if self.prev is None or self.cur is None:
            return False
        pctx, prev = self.prev
        if abs(prev.size - line.size) >= SIZE_STEP or prev.italic != line.italic:
            return False
        if pctx == ctx or _stacked(pctx, ctx):
            step = line.base - prev.base
            return 0 < step <= prev.size * self.layout.pitch * BREAK_RATIO
        if line.kind == "heading" or prev.kind == "heading":
            return False
        return self._wrapped_across(pctx, prev, ctx, line)

    def _wrapped_across(self, pctx: Ctx, prev: _Line, ctx: Ctx, line: _Line) -> bool:
        """At a column or page break the gap says nothing: continue when the text runs on (a
        split word, a lowercase start, an item's hanging indent) or when the previous line
        was filled - the first word here would not have fitted on it."""
        if line.kind == "item":
            return False
        if _HYPHEN_END.search(prev.text) and _LOWER_START.match(line.text):
            return True
        if line.text[:1].islower():
            return True
        offset = line.x0 - self.layout.left[ctx]
        cur = self.cur
        if cur is not None and cur.kind == "list":
            return abs(offset - cur.text_offset) <= EDGE_TOL
        if offset > EDGE_TOL and cur is not None and cur.kind == "paragraph":
            return False
        if not self.layout.fit_ok:
            return False
        edge = self.layout.right_edge(pctx, prev)
        return prev.x1 + prev.space + line.first_w > edge + FIT_TOL

    def _close(self) -> None:
        cur, self.cur = self.cur, None
        if cur is None:
            return
        join = self._join
        if cur.kind == "list":
            items = tuple(
                Item(join(parts), level=lv, marker=kind, label=label)
                for lv, kind, label, parts in cur.items
            )
            self.blocks.append(Block("list", items=items, page=cur.page))
        elif cur.kind == "table":
            rows = tuple(tuple(join(cell) for cell in row) for row in cur.rows)
            self.blocks.append(Block("table", rows=rows, page=cur.page))
        else:
            text = join(cur.lines)
            if text:
                self.blocks.append(Block(cur.kind, text=text, level=cur.level, page=cur.page))  # type: ignore[arg-type]

    def _join(self, texts: list[str]) -> str:
        return join_lines(texts, self.vocab)
