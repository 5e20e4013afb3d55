"""Render the authored suite documents into every format users bring.

    python -m evals.render [--src evals/documents] --out DIR
        [--formats md,pdf-1col,pdf-2col,docx,html,txt] [--only DOC_ID ...]

Every `<src>/<doc_id>/source.md` (YAML front matter + the strict Markdown subset described in
`evals/documents/README.md`) becomes `DIR/<format>/<doc_id>.<ext>` plus a metadata sidecar
`DIR/<format>/<doc_id>.meta.yaml` (title, publisher, date, type) that the loaders read.

`parse_source` turns a source into a `Source`: its `FrontMatter` and a tuple of typed blocks
(`Heading`, `Paragraph`, `ListBlock` of `ListItem`s, `Quote`, `Table`). That block list is the
ground truth round-trip tests compare ingested documents against; `block_texts` flattens it to
the text units (headings, paragraphs, list items, quotes, table cells) in reading order.

Rendering is deterministic: the same sources give byte-identical files on every run and
machine with the same package versions. PDFs carry the document date as creation date (and
the file /ID is a hash of the content and that date); DOCX core properties and zip entry
timestamps are the document date; the txt damage uses a `random.Random` seeded from a hash of
the document id. Fonts come from pip packages only: fpdf2's core Helvetica is latin-1 and
cannot print "•" (U+2022), so the PDFs embed DejaVu Sans (regular, bold, oblique), which
matplotlib ships in `mpl-data/fonts/ttf`.

Formats (see each `render_*` function for details):

- `md`: Markdown re-emitted from the blocks, soft-wrapped at 72 columns.
- `pdf-1col`, `pdf-2col`: A4 PDFs laid out line by line by this module (fpdf2 only draws):
  running header on every page but the first, "Page N of M" footer on every page, wrapped
  headings, "•"/"–"/"1." list markers with hanging indents, tables as rows of cells, italic
  indented quotes, hyphenated line ends. Two-column text flows down the left column, then the
  right, then onto the next page; text is drawn in reading order.
- `docx`: Word with Title / Heading 1-2 / List Bullet (2) / List Number (2) / Quote styles, a
  "Table Grid" table with a header row, the running header and a footer in the section.
- `html`: a saved GOV.UK-style publication page (cookie banner, navigation, breadcrumbs,
  metadata lines, contents, feedback block, related links, footer; news chrome if asked).
- `txt`: text as a PDF extractor leaves a two-column PDF; the damages are listed in
  `render_txt`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import html
import io
import math
import random
import re
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import zip_longest
from pathlib import Path
from typing import Any, ClassVar

import yaml

from assistant.documents import DOC_TYPES

DEFAULT_SRC = Path(__file__).resolve().parent / "documents"
# format name -> file extension
FORMATS: dict[str, str] = {
    "md": "md",
    "pdf-1col": "pdf",
    "pdf-2col": "pdf",
    "docx": "docx",
    "html": "html",
    "txt": "txt",
}
META_SUFFIX = ".meta.yaml"
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


# --------------------------------------------------------------------------------------------
# The source model
# --------------------------------------------------------------------------------------------


class SourceError(ValueError):
    """A source breaks the format rules; the message names the file and line."""

    def __init__(self, path: Path | str | None, line: int | None, message: str) -> None:
        where = str(path) if path is not None else "<markdown>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class FrontMatter:
    """The YAML front matter of a source.

    `running_header` is the PDF/DOCX page header (`header` falls back to the title); `chrome`
    marks a news item whose web renderings carry comment form, share links and newsletter.
    Unknown keys are kept in `extra` so authors can add notes without breaking rendering.
    """

    title: str
    publisher: str
    date: dt.date
    type: str
    summary: str = ""
    running_header: str = ""
    chrome: bool = False
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def header(self) -> str:
        return self.running_header or self.title

    def sidecar(self) -> dict[str, str]:
        """The metadata sidecar every rendering gets (the loaders' `read_sidecar` keys)."""
        return {
            "title": self.title,
            "publisher": self.publisher,
            "date": self.date.isoformat(),
            "type": self.type,
        }


@dataclass(frozen=True)
class Heading:
    """`level` 1 is the document title (`#`), 2 a section (`##`), 3 a sub-section (`###`)."""

    level: int
    text: str
    kind: ClassVar[str] = "heading"


_CLAUSE = re.compile(r"^\((\d+|[a-z]{1,4})\)\s")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph; legal clauses are paragraphs whose text starts "(1) " or "(a) "."""

    text: str
    kind: ClassVar[str] = "paragraph"

    @property
    def clause(self) -> str | None:
        """The clause label ("1", "a", "iv") when the paragraph is a numbered clause."""
        m = _CLAUSE.match(self.text)
        return m.group(1) if m else None


@dataclass(frozen=True)
class ListItem:
    """One list item. `level` 0 is top level, 1 nested; `ordered` is the kind of the list the
    item is in (a nested list may differ from its parent); `number` is its number as rendered
    (list start + position) for ordered items, None for bullets."""

    text: str
    level: int
    ordered: bool
    number: int | None = None

    @property
    def marker(self) -> str:
        """The marker the PDF/txt renderings print: "•", "–" (nested bullet) or "3."."""
        if self.ordered:
            return f"{self.number}."
        return "•" if self.level == 0 else "–"


@dataclass(frozen=True)
class ListBlock:
    """A top-level list; `items` in document order, each nested item after its parent."""

    ordered: bool
    items: tuple[ListItem, ...]
    kind: ClassVar[str] = "list"


@dataclass(frozen=True)
class Quote:
    """A blockquote of one paragraph."""

    text: str
    kind: ClassVar[str] = "quote"


@dataclass(frozen=True)
class Table:
    """A pipe table; `rows[0]` is the header row, every row has the same number of cells."""

    rows: tuple[tuple[str, ...], ...]
    kind: ClassVar[str] = "table"

    @property
    def header(self) -> tuple[str, ...]:
        return self.rows[0]

    @property
    def body(self) -> tuple[tuple[str, ...], ...]:
        return self.rows[1:]


Block = Heading | Paragraph | ListBlock | Quote | Table


@dataclass(frozen=True)
class Source:
    """A parsed source: `doc_id` is its folder name, `blocks[0]` the level-1 title heading."""

    doc_id: str
    path: Path
    front: FrontMatter
    blocks: tuple[Block, ...]

    @property
    def title(self) -> str:
        return self.front.title


@dataclass(frozen=True)
class TextUnit:
    """One piece of ground-truth text: kind is heading, paragraph, item, quote or cell."""

    kind: str
    text: str
    block: int  # index into Source.blocks


def block_texts(blocks: Sequence[Block]) -> list[TextUnit]:
    """Every text of `blocks` in reading order (table cells row by row)."""
    out: list[TextUnit] = []
    for i, b in enumerate(blocks):
        if isinstance(b, Heading | Paragraph | Quote):
            out.append(TextUnit(b.kind, b.text, i))
        elif isinstance(b, ListBlock):
            out.extend(TextUnit("item", it.text, i) for it in b.items)
        else:
            out.extend(TextUnit("cell", c, i) for row in b.rows for c in row if c)
    return out


def item_tree(block: ListBlock) -> list[tuple[ListItem, list[tuple[bool, list[ListItem]]]]]:
    """Top-level items with their nested items grouped into runs of one kind (ordered or not)."""
    tree: list[tuple[ListItem, list[tuple[bool, list[ListItem]]]]] = []
    for it in block.items:
        if it.level == 0 or not tree:
            tree.append((it, []))
            continue
        groups = tree[-1][1]
        if groups and groups[-1][0] == it.ordered:
            groups[-1][1].append(it)
        else:
            groups.append((it.ordered, [it]))
    return tree


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_FRONT_RE = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_LISTS = ("bullet_list", "ordered_list")


@cache
def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def parse_source(path: Path) -> Source:
    """Parse `<doc_id>/source.md`: front matter plus blocks, enforcing the README's rules."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    m = _FRONT_RE.match(text)
    if not m:
        raise SourceError(path, 1, "missing YAML front matter between '---' lines")
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        raise SourceError(path, 1, f"front matter is not valid YAML ({exc})") from None
    front = _front_matter(path, data)
    offset = m.group(0).count("\n")
    blocks = parse_markdown(text[m.end() :], path=path, line_offset=offset)
    titles = [i for i, b in enumerate(blocks) if isinstance(b, Heading) and b.level == 1]
    if titles != [0]:
        raise SourceError(path, None, "exactly one '#' title is allowed, and it must come first")
    return Source(doc_id=path.parent.name, path=path, front=front, blocks=blocks)


def _front_matter(path: Path, data: object) -> FrontMatter:
    if not isinstance(data, dict):
        raise SourceError(path, 1, "front matter must be a mapping")
    data = dict(data)
    missing = [k for k in ("title", "publisher", "date", "type") if not data.get(k)]
    if missing:
        raise SourceError(path, 1, f"front matter lacks {', '.join(missing)}")
    date = data.pop("date")
    if isinstance(date, dt.datetime):
        date = date.date()
    elif isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date.strip())
        except ValueError:
            raise SourceError(path, 1, f"date {date!r} is not an ISO date") from None
    if not isinstance(date, dt.date):
        raise SourceError(path, 1, "date must be an ISO date (YYYY-MM-DD)")
    doc_type = str(data.pop("type")).strip().lower()
    if doc_type not in DOC_TYPES:
        raise SourceError(path, 1, f"type must be one of {', '.join(DOC_TYPES)}")
    chrome = data.pop("chrome", False)
    if not isinstance(chrome, bool):
        raise SourceError(path, 1, "chrome must be true or false")

    def text(key: str) -> str:
        value = data.pop(key, None)
        return " ".join(str(value).split()) if value is not None else ""

    return FrontMatter(
        title=text("title"),
        publisher=text("publisher"),
        date=date,
        type=doc_type,
        summary=text("summary"),
        running_header=text("running_header"),
        chrome=chrome,
        extra=data,
    )


def parse_markdown(
    text: str, *, path: Path | str | None = None, line_offset: int = 0
) -> tuple[Block, ...]:
    """Blocks of a Markdown body in the suite subset (markdown-it-py, CommonMark + tables).

    Raises `SourceError` on anything outside the subset (emphasis, links, code, HTML, images,
    rules, headings below `###`, lists nested deeper than two levels, multi-paragraph items).
    """
    from markdown_it.tree import SyntaxTreeNode

    root = SyntaxTreeNode(_markdown_parser().parse(text))

    def line(node: Any) -> int | None:
        return node.map[0] + 1 + line_offset if node.map else None

    def fail(node: Any, message: str) -> SourceError:
        return SourceError(path, line(node), message)

    def inline(node: Any, owner: Any) -> str:
        parts: list[str] = []
        for child in node.children:
            if child.type in ("text", "text_special"):
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
            else:
                raise fail(owner, f"inline markup '{child.type}' is not allowed; write plain text")
        return " ".join("".join(parts).split())

    def para_text(node: Any) -> str:
        value = inline(node.children[0], node)
        if not value:
            raise fail(node, "empty paragraph")
        return value

    def items_of(node: Any, level: int, out: list[ListItem]) -> None:
        ordered = node.type == "ordered_list"
        start = int(node.attrs.get("start", 1)) if ordered else 0
        for pos, li in enumerate(node.children):
            kids = li.children
            if not kids or kids[0].type != "paragraph":
                raise fail(li, "a list item must start with its text")
            if any(k.type not in _LISTS for k in kids[1:]):
                raise fail(li, "a list item is one paragraph (plus an optional nested list)")
            out.append(
                ListItem(para_text(kids[0]), level, ordered, start + pos if ordered else None)
            )
            for sub in kids[1:]:
                if level >= 1:
                    raise fail(sub, "lists nest at most two levels")
                items_of(sub, level + 1, out)

    blocks: list[Block] = []
    for node in root.children:
        kind = node.type
        if kind == "heading":
            level = int(node.tag[1])
            if level > 3:
                raise fail(node, "only #, ## and ### headings are allowed")
            value = inline(node.children[0], node)
            if not value:
                raise fail(node, "empty heading")
            blocks.append(Heading(level, value))
        elif kind == "paragraph":
            blocks.append(Paragraph(para_text(node)))
        elif kind in _LISTS:
            items: list[ListItem] = []
            items_of(node, 0, items)
            blocks.append(ListBlock(kind == "ordered_list", tuple(items)))
        elif kind == "blockquote":
            if not node.children or any(c.type != "paragraph" for c in node.children):
                raise fail(node, "a blockquote holds plain paragraphs only")
            blocks.extend(Quote(para_text(c)) for c in node.children)
        elif kind == "table":
            rows = [
                tuple(
                    inline(cell.children[0], node) if cell.children else "" for cell in tr.children
                )
                for section in node.children
                for tr in section.children
            ]
            blocks.append(Table(tuple(rows)))
        else:
            raise fail(node, f"'{kind}' is not allowed in a suite source")
    return tuple(blocks)


# --------------------------------------------------------------------------------------------
# Line breaking shared by md, pdf and txt
# --------------------------------------------------------------------------------------------

_HYPHENABLE = re.compile(r"^([^A-Za-z]*)([A-Za-z]+)([^A-Za-z]*)$")
HYPHEN_MIN_WORD = 8  # letters in a word the PDF and txt renderings may split at a line end
HYPHEN_MIN_PART = 4  # letters on each side of the split
_VOWELS = frozenset("aeiouy")
_DIGRAPHS = frozenset("ch ck gh ph sh th wh qu".split())
_ONSETS = frozenset(
    "bl br ch cl cr dr fl fr gl gr ph pl pr sc sh sk sl sm sn sp st th tr tw wh wr".split()
)


def hyphen_splits(word: str) -> list[tuple[str, str]]:
    """Ways to split `word` at a line end, longest head first: ("inspec-", "tion,").

    Only plain-letter words of >= HYPHEN_MIN_WORD letters (surrounding punctuation allowed),
    both parts >= HYPHEN_MIN_PART letters and the tail all lowercase, so "xxxx-\\nyyyy" with
    a lowercase continuation is always our hyphenation and never a compound's own hyphen.
    A crude syllable rule keeps the splits plausible: the tail starts with a consonant and a
    vowel or with a common onset ("accommoda-tion", "chil-dren", "inde-pendent"), and no
    digraph (th, ch, sh, ...) is cut.
    """
    m = _HYPHENABLE.match(word)
    if not m or len(m.group(2)) < HYPHEN_MIN_WORD:
        return []
    lead, core, trail = m.groups()
    low = core.lower()
    out = []
    for k in range(len(core) - HYPHEN_MIN_PART, HYPHEN_MIN_PART - 1, -1):
        if not core[k:].islower() or low[k - 1 : k + 1] in _DIGRAPHS:
            continue
        if low[k] not in _VOWELS and (low[k + 1] in _VOWELS or low[k : k + 2] in _ONSETS):
            out.append((lead + core[:k] + "-", core[k:] + trail))
    return out


def wrap_words(
    words: Sequence[str],
    width: float,
    measure: Callable[[str], float],
    *,
    hyphenate: Callable[[str], bool] | None = None,
    break_ok: Callable[[str], bool] | None = None,
) -> tuple[list[str], list[bool]]:
    """Greedy line filling: lines and, per line, whether it ends in an inserted hyphen.

    A word that does not fit is split (`hyphen_splits`, longest head that fits) when
    `hyphenate(word)` agrees; `break_ok(word)` False forbids starting a line with `word`
    (the previous word moves down with it, or the line overflows).
    """
    words = list(words)
    lines: list[str] = []
    hyph: list[bool] = []
    cur: list[str] = []
    cur_w = 0.0
    space = measure(" ")
    i = 0
    while i < len(words):
        w = words[i]
        ww = measure(w)
        need = cur_w + space + ww if cur else ww
        if need <= width + 1e-9:
            cur.append(w)
            cur_w = need
            i += 1
            continue
        room = width - (cur_w + space if cur else 0.0)
        if hyphenate is not None:
            split = next(((h, t) for h, t in hyphen_splits(w) if measure(h) <= room + 1e-9), None)
            if split is not None and hyphenate(w):
                lines.append(" ".join([*cur, split[0]]))
                hyph.append(True)
                cur, cur_w = [], 0.0
                words[i] = split[1]
                continue
        if not cur:  # a lone word wider than the line overflows it
            cur, cur_w = [w], ww
            i += 1
            continue
        if break_ok is not None and not break_ok(w):
            moved = cur[-1]
            fits = measure(moved) + space + ww <= width + 1e-9
            if len(cur) > 1 and break_ok(moved) and fits:
                lines.append(" ".join(cur[:-1]))
                hyph.append(False)
                cur, cur_w = [moved], measure(moved)
            else:
                cur.append(w)
                cur_w += space + ww
                i += 1
            continue
        lines.append(" ".join(cur))
        hyph.append(False)
        cur, cur_w = [], 0.0
    if cur:
        lines.append(" ".join(cur))
        hyph.append(False)
    return lines, hyph


# --------------------------------------------------------------------------------------------
# md
# --------------------------------------------------------------------------------------------

MD_WIDTH = 72
_MD_ESCAPE = re.compile(r"([\\`*_\[\]<])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")
# a word that must not start a line: it would open a heading, list, quote, rule, fence or table
_MD_HAZARD = re.compile(r"^(?:#{1,6}|[-+*]|\d{1,9}[.)]|[=\-]+|>.*|~~~.*|\|.*)$")
_MD_LEAD = re.compile(r"^(#{1,6}|[-+*]|>|[=\-]+|~~~)|^(\d{1,9})([.)])")


def _md_escape(text: str, *, cell: bool = False) -> str:
    text = _MD_ENTITY.sub(r"\\&", _MD_ESCAPE.sub(r"\\\1", text))
    if cell:
        text = text.replace("|", r"\|")
    return text


def _md_escape_lead(text: str) -> str:
    """Escape a block's first word when it would otherwise read as Markdown syntax."""
    first = text.split(" ", 1)[0]
    if not _MD_HAZARD.match(first):
        return text
    m = _MD_LEAD.match(text)
    if m and m.group(2):
        return m.group(2) + "\\" + text[len(m.group(2)) :]
    return "\\" + text


def _md_wrap(text: str, width: int) -> list[str]:
    words = _md_escape_lead(_md_escape(text)).split()
    lines, _ = wrap_words(words, width, len, break_ok=lambda w: not _MD_HAZARD.match(w))
    return lines


def render_md(src: Source) -> bytes:
    """Markdown as people write it: paragraphs, quotes and list items soft-wrapped at 72
    columns (continuation lines indented under the item text), nested lists, aligned pipe
    tables. Re-parsing it with `parse_markdown` gives back exactly `src.blocks`."""
    parts: list[str] = []
    prev: Block | None = None
    bullet_toggle = ordered_toggle = 0
    for b in src.blocks:
        if isinstance(b, Heading):
            text = _md_escape(b.text)
            if text.endswith("#"):
                text = text[:-1] + "\\#"
            parts.append("#" * b.level + " " + text)
        elif isinstance(b, Paragraph):
            parts.append("\n".join(_md_wrap(b.text, MD_WIDTH)))
        elif isinstance(b, Quote):
            parts.append("\n".join("> " + line for line in _md_wrap(b.text, MD_WIDTH - 2)))
        elif isinstance(b, ListBlock):
            # two adjacent lists of one kind need different markers to stay two lists
            if isinstance(prev, ListBlock) and prev.ordered == b.ordered:
                if b.ordered:
                    ordered_toggle ^= 1
                else:
                    bullet_toggle ^= 1
            else:
                bullet_toggle = ordered_toggle = 0
            parts.append("\n".join(_md_list(b, "-*"[bullet_toggle], ".)"[ordered_toggle])))
        else:
            parts.append("\n".join(_md_table(b)))
        prev = b
    return ("\n\n".join(parts) + "\n").encode("utf-8")


def _md_list(block: ListBlock, bullet: str, delim: str) -> list[str]:
    out: list[str] = []

    def item(it: ListItem, indent: int, bullet: str, delim: str) -> int:
        marker = f"{it.number}{delim} " if it.ordered else f"{bullet} "
        lines = _md_wrap(it.text, MD_WIDTH - indent - len(marker))
        out.append(" " * indent + marker + lines[0])
        out.extend(" " * (indent + len(marker)) + line for line in lines[1:])
        return indent + len(marker)

    for parent, groups in item_tree(block):
        child_indent = item(parent, 0, bullet, delim)
        last: bool | None = None
        toggle = 0
        for ordered, children in groups:
            toggle = toggle ^ 1 if last == ordered else 0
            last = ordered
            for child in children:
                item(child, child_indent, "-*"[toggle], ".)"[toggle])
    return out


def _md_table(table: Table) -> list[str]:
    rows = [[_md_escape(c, cell=True) for c in row] for row in table.rows]
    widths = [max(3, *(len(r[c]) for r in rows)) for c in range(len(rows[0]))]

    def fmt(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return [fmt(rows[0]), rule, *(fmt(r) for r in rows[1:])]


# --------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------

_FONT = "DejaVu"
_PT = 25.4 / 72  # mm per point
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN_X = 20.0
BODY_TOP, BODY_BOTTOM = 24.0, 277.0
HEADER_Y, FOOTER_Y = 13.0, 288.0  # baselines
GUTTER = 8.0
BODY_SIZE, TABLE_SIZE, META_SIZE = 10.0, 9.0, 8.0
HEADING_SIZE = {1: 20.0, 2: 14.0, 3: 11.5}
HEADING_SPACE = {1: 0.0, 2: 7.0, 3: 5.0}


def pdf_font_files() -> dict[str, Path]:
    """DejaVu Sans from matplotlib's data directory, by fpdf2 style ("", "B", "I")."""
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    files = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
    return {style: ttf / name for style, name in files.items()}


@dataclass
class _Piece:
    dx: float
    dy: float  # baseline, from the slab top
    text: str
    style: str
    size: float
    gray: int = 0


@dataclass
class _Slab:
    """One horizontal strip the paginator places whole: a line of text or a table row."""

    height: float
    pieces: list[_Piece]
    rects: list[tuple[float, float, float, float, str]] = field(default_factory=list)
    space_before: float = 0.0
    keep_next: bool = False  # do not end a column after this slab (headings, table header)


class _Measure:
    def __init__(self, pdf: Any) -> None:
        self.pdf = pdf
        self.cache: dict[tuple[str, float, str], float] = {}
        self.font: tuple[str, float] | None = None

    def __call__(self, text: str, style: str, size: float) -> float:
        key = (style, size, text)
        width = self.cache.get(key)
        if width is None:
            if self.font != (style, size):
                self.pdf.set_font(_FONT, style, size)
                self.font = (style, size)
            width = self.cache[key] = self.pdf.get_string_width(text)
        return width

    def fn(self, style: str, size: float) -> Callable[[str], float]:
        return lambda text: self(text, style, size)


def _line_height(size: float) -> float:
    return size * _PT * 1.4


def _baseline(size: float) -> float:
    return _line_height(size) / 2 + size * _PT * 0.36


def _text_slabs(
    lines: Sequence[str],
    dx: float,
    style: str,
    size: float,
    *,
    space_before: float = 0.0,
    keep_next: bool = False,
    bar: bool = False,
) -> list[_Slab]:
    lh = _line_height(size)
    slabs = []
    for n, line in enumerate(lines):
        slab = _Slab(lh, [_Piece(dx, _baseline(size), line, style, size)], keep_next=keep_next)
        if n == 0:
            slab.space_before = space_before
        if bar:
            slab.rects.append((1.5, 0.0, 0.8, lh, "F"))
        slabs.append(slab)
    return slabs


def _block_slabs(block: Block, width: float, m: _Measure) -> list[_Slab]:
    """Lay one block out at `width` mm: every line measured and broken here."""
    always: Callable[[str], bool] = lambda _w: True  # noqa: E731
    if isinstance(block, Heading):
        size = HEADING_SIZE[block.level]
        lines, _ = wrap_words(block.text.split(), width, m.fn("B", size))
        space = HEADING_SPACE[block.level]
        return _text_slabs(lines, 0.0, "B", size, space_before=space, keep_next=True)
    if isinstance(block, Paragraph):
        lines, _ = wrap_words(block.text.split(), width, m.fn("", BODY_SIZE), hyphenate=always)
        return _text_slabs(lines, 0.0, "", BODY_SIZE, space_before=2.6)
    if isinstance(block, Quote):
        indent, right = 7.0, 5.0
        lines, _ = wrap_words(
            block.text.split(), width - indent - right, m.fn("I", BODY_SIZE), hyphenate=always
        )
        return _text_slabs(lines, indent, "I", BODY_SIZE, space_before=3.2, bar=True)
    if isinstance(block, ListBlock):
        slabs: list[_Slab] = []
        for n, it in enumerate(block.items):
            marker_x = 1.5 + 8.0 * it.level
            text_x = marker_x + max(5.0, m(it.marker, "", BODY_SIZE) + 1.8)
            lines, _ = wrap_words(
                it.text.split(), width - text_x, m.fn("", BODY_SIZE), hyphenate=always
            )
            item = _text_slabs(lines, text_x, "", BODY_SIZE, space_before=2.6 if n == 0 else 1.2)
            item[0].pieces.insert(
                0, _Piece(marker_x, _baseline(BODY_SIZE), it.marker, "", BODY_SIZE)
            )
            slabs.extend(item)
        return slabs
    return _table_slabs(block, width, m)


def _table_slabs(table: Table, width: float, m: _Measure) -> list[_Slab]:
    size, pad = TABLE_SIZE, 1.4
    lh = _line_height(size)
    ncol = len(table.rows[0])

    def style(r: int) -> str:
        return "B" if r == 0 else ""

    natural = [
        max(m(row[c], style(r), size) for r, row in enumerate(table.rows)) + 2 * pad + 0.5
        for c in range(ncol)
    ]
    minimum = [
        max(
            [14.0]
            + [
                m(word, style(r), size) + 2 * pad + 0.5
                for r, row in enumerate(table.rows)
                for word in row[c].split()
            ]
        )
        for c in range(ncol)
    ]
    if sum(natural) <= width:
        widths = [n * width / sum(natural) for n in natural]
    elif sum(minimum) >= width:
        widths = [n * width / sum(minimum) for n in minimum]
    else:
        slack = [n - lo for n, lo in zip(natural, minimum, strict=True)]
        spare = width - sum(minimum)
        widths = [lo + spare * s / sum(slack) for lo, s in zip(minimum, slack, strict=True)]
    slabs = []
    for r, row in enumerate(table.rows):
        cells = [
            wrap_words(text.split(), widths[c] - 2 * pad, m.fn(style(r), size))[0] or [""]
            for c, text in enumerate(row)
        ]
        height = max(len(lines) for lines in cells) * lh + 2 * pad
        slab = _Slab(height, [], space_before=3.4 if r == 0 else 0.0, keep_next=r == 0)
        x = 0.0
        for c, lines in enumerate(cells):
            slab.rects.append((x, 0.0, widths[c], height, "DF" if r == 0 else "D"))
            for n, line in enumerate(lines):
                if line:
                    dy = pad + n * lh + _baseline(size)
                    slab.pieces.append(_Piece(x + pad, dy, line, style(r), size))
            x += widths[c]
        slabs.append(slab)
    return slabs


@dataclass
class _PdfLayout:
    """Where every slab went: `pages[p]` lists (x, y, slab) in drawing (= reading) order."""

    pages: list[list[tuple[float, float, _Slab]]]
    columns: int


def _layout_pdf(src: Source, columns: int, m: _Measure) -> _PdfLayout:
    """Break every block into lines and flow them into `columns` columns per page."""
    full = PAGE_W - 2 * MARGIN_X
    col_w = (full - GUTTER * (columns - 1)) / columns
    title, *rest = src.blocks
    pages: list[list[tuple[float, float, _Slab]]] = [[]]
    y = BODY_TOP
    for slab in _block_slabs(title, full, m):
        pages[0].append((MARGIN_X, y, slab))
        y += slab.height
    first_top = y + 5.0
    slabs = [s for b in rest for s in _block_slabs(b, col_w, m)]

    page, col = 0, 0
    top = first_top
    y = top
    i = 0
    while i < len(slabs):
        s = slabs[i]
        need = (s.space_before if y > top + 1e-6 else 0.0) + s.height
        j = i
        while slabs[j].keep_next and j + 1 < len(slabs):
            j += 1
            need += slabs[j].space_before + slabs[j].height
        if y + need > BODY_BOTTOM + 1e-6 and y > top + 1e-6:
            col += 1
            if col == columns:
                page, col = page + 1, 0
                pages.append([])
                top = BODY_TOP
            y = top
            continue
        if y > top + 1e-6:
            y += s.space_before
        pages[page].append((MARGIN_X + col * (col_w + GUTTER), y, s))
        y += s.height
        i += 1
    return _PdfLayout(pages, columns)


def _fit(text: str, width: float, measure: Callable[[str], float]) -> str:
    if measure(text) <= width:
        return text
    words = text.split()
    while words and measure(" ".join(words) + " …") > width:
        words.pop()
    return " ".join(words) + " …"


def render_pdf(src: Source, columns: int = 1) -> bytes:
    """An A4 PDF in one or two columns; see the module docstring for what it contains."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN_X, BODY_TOP, MARGIN_X)
    for style, path in pdf_font_files().items():
        pdf.add_font(_FONT, style, str(path))
    front = src.front
    pdf.set_title(front.title)
    pdf.set_author(front.publisher)
    pdf.set_subject(front.summary or front.title)
    pdf.set_keywords(front.type)
    pdf.set_creator("Inspection Assistant evaluation suite (evals/render.py)")
    pdf.set_lang("en-GB")
    created = dt.datetime.combine(front.date, dt.time(9, 0), tzinfo=dt.UTC)
    pdf.set_creation_date(created)

    m = _Measure(pdf)
    layout = _layout_pdf(src, columns, m)
    header = _fit(front.header, PAGE_W - 2 * MARGIN_X, m.fn("", META_SIZE))
    total = len(layout.pages)
    pdf.set_line_width(0.2)
    for number, placed in enumerate(layout.pages, start=1):
        pdf.add_page()
        if number > 1:
            pdf.set_font(_FONT, "", META_SIZE)
            pdf.set_text_color(90)
            pdf.text(MARGIN_X, HEADER_Y, header)
            pdf.set_draw_color(160)
            pdf.line(MARGIN_X, HEADER_Y + 2.2, PAGE_W - MARGIN_X, HEADER_Y + 2.2)
        for x, y, slab in placed:
            for rx, ry, rw, rh, rstyle in slab.rects:
                pdf.set_draw_color(110)
                pdf.set_fill_color(175 if rstyle == "F" else 232)
                pdf.rect(x + rx, y + ry, rw, rh, style=rstyle)
            for p in slab.pieces:
                if not p.text:
                    continue
                pdf.set_font(_FONT, p.style, p.size)
                pdf.set_text_color(p.gray)
                pdf.text(x + p.dx, y + p.dy, p.text)
        footer = f"Page {number} of {total}"
        pdf.set_font(_FONT, "", META_SIZE)
        pdf.set_text_color(90)
        pdf.text((PAGE_W - pdf.get_string_width(footer)) / 2, FOOTER_Y, footer)
    return bytes(pdf.output())


# --------------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------------

DOCX_HEADING_STYLE = {1: "Title", 2: "Heading 1", 3: "Heading 2"}
DOCX_LIST_STYLE = {
    (False, 0): "List Bullet",
    (False, 1): "List Bullet 2",
    (True, 0): "List Number",
    (True, 1): "List Number 2",
}


def docx_footer(front: FrontMatter) -> str:
    return f"Inspection suite - {front.publisher}"


def render_docx(src: Source) -> bytes:
    """Word: Title for the title, Heading 1/2 for ##/###, List Bullet (2) / List Number (2)
    for items (each ordered list restarts its numbering), Quote, a "Table Grid" table with a
    bold repeating header row; the running header and `docx_footer` in the section header and
    footer; core properties from the front matter, dated with the document date."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    front = src.front
    document = docx.Document()
    created = dt.datetime.combine(front.date, dt.time(9, 0))
    props = document.core_properties
    props.title = front.title
    props.author = front.publisher
    props.last_modified_by = front.publisher
    props.subject = front.summary
    props.keywords = front.type
    props.category = front.type
    props.comments = "Rendered by evals/render.py for the Inspection Assistant evaluation suite"
    props.language = "en-GB"
    props.created = props.modified = props.last_printed = created
    props.revision = 1

    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(20)
    section.header.paragraphs[0].text = front.header
    section.footer.paragraphs[0].text = docx_footer(front)

    numbering = document.part.numbering_part.element

    def restart(style_name: str, start: int) -> int:
        """A fresh numbering instance of the style's list, so each list counts from `start`."""
        num_pr = document.styles[style_name].element.pPr.numPr
        abstract = numbering.num_having_numId(num_pr.numId.val).abstractNumId.val
        num = numbering.add_num(abstract)
        num.add_lvlOverride(ilvl=0).add_startOverride(start)
        return num.numId

    for block in src.blocks:
        if isinstance(block, Heading):
            document.add_paragraph(block.text, style=DOCX_HEADING_STYLE[block.level])
        elif isinstance(block, Paragraph):
            document.add_paragraph(block.text)
        elif isinstance(block, Quote):
            document.add_paragraph(block.text, style="Quote")
        elif isinstance(block, ListBlock):
            top = restart("List Number", block.items[0].number or 1) if block.ordered else None
            for parent, groups in item_tree(block):
                items = [(parent, top)]
                for ordered, children in groups:
                    num = restart("List Number 2", children[0].number or 1) if ordered else None
                    items.extend((child, num) for child in children)
                for it, num_id in items:
                    par = document.add_paragraph(
                        it.text, style=DOCX_LIST_STYLE[(it.ordered, it.level)]
                    )
                    if num_id is not None:
                        num_pr = par._p.get_or_add_pPr().get_or_add_numPr()
                        num_pr.get_or_add_ilvl().val = 0
                        num_pr.get_or_add_numId().val = num_id
        else:
            table = document.add_table(rows=len(block.rows), cols=len(block.rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(block.rows):
                for c, text in enumerate(row):
                    run = table.rows[r].cells[c].paragraphs[0].add_run(text)
                    if r == 0:
                        run.bold = True
            header_row = OxmlElement("w:tblHeader")
            header_row.set(qn("w:val"), "true")
            table.rows[0]._tr.get_or_add_trPr().append(header_row)
    buf = io.BytesIO()
    document.save(buf)
    return _fixed_zip(buf.getvalue(), created)


def _fixed_zip(data: bytes, when: dt.datetime) -> bytes:
    """Rewrite a zip with every entry dated `when` (python-docx stamps the current time)."""
    stamp = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3
            fixed.external_attr = 0o644 << 16
            zout.writestr(fixed, zin.read(info.filename))
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

HTML_TYPE_LABEL = {
    "framework": "Policy paper",
    "guidance": "Guidance",
    "news": "News story",
    "other": "Corporate report",
}
HTML_BREADCRUMBS = ("Home", "Children's social care", "Inspections")


def date_in_words(date: dt.date) -> str:
    """14 March 2025 (no locale dependence)."""
    return f"{date.day} {_MONTHS[date.month - 1]} {date.year}"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _slug(text: str, seen: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, n = base, 2
    while slug in seen:
        slug, n = f"{base}-{n}", n + 1
    seen.add(slug)
    return slug


def _html_list(block: ListBlock, indent: str) -> list[str]:
    def open_tag(ordered: bool, first: ListItem) -> str:
        if not ordered:
            return '<ul class="govuk-list govuk-list--bullet">'
        start = f' start="{first.number}"' if first.number not in (None, 1) else ""
        return f'<ol class="govuk-list govuk-list--number"{start}>'

    tag = "ol" if block.ordered else "ul"
    out = [indent + open_tag(block.ordered, block.items[0])]
    for parent, groups in item_tree(block):
        if not groups:
            out.append(f"{indent}  <li>{_esc(parent.text)}</li>")
            continue
        out.append(f"{indent}  <li>{_esc(parent.text)}")
        for ordered, children in groups:
            sub = "ol" if ordered else "ul"
            out.append(indent + "    " + open_tag(ordered, children[0]))
            out.extend(f"{indent}      <li>{_esc(c.text)}</li>" for c in children)
            out.append(f"{indent}    </{sub}>")
        out.append(f"{indent}  </li>")
    out.append(f"{indent}</{tag}>")
    return out


def render_html(src: Source) -> bytes:
    """A GOV.UK-style publication page as saved from a browser: header with cookie banner and
    navigation, breadcrumbs, then <main> with the title, metadata lines (From / Published /
    Applies to), a contents list of the ## headings, the document, "Print this page", the
    "Is this page useful?" block and related links; then the site footer. `chrome: true` adds
    share links, a comment form and a newsletter sign-up inside <main>, as news sites do."""
    front = src.front
    title = _esc(front.title)
    seen: set[str] = set()
    slugs = {
        i: _slug(b.text, seen)
        for i, b in enumerate(src.blocks)
        if isinstance(b, Heading) and b.level in (2, 3)
    }
    body: list[str] = []
    ind = " " * 10
    for i, b in enumerate(src.blocks[1:], start=1):
        if isinstance(b, Heading):
            body.append(f'{ind}<h{b.level} id="{slugs[i]}">{_esc(b.text)}</h{b.level}>')
        elif isinstance(b, Paragraph):
            body.append(f"{ind}<p>{_esc(b.text)}</p>")
        elif isinstance(b, Quote):
            body.append(f"{ind}<blockquote>")
            body.append(f"{ind}  <p>{_esc(b.text)}</p>")
            body.append(f"{ind}</blockquote>")
        elif isinstance(b, ListBlock):
            body.extend(_html_list(b, ind))
        else:
            body.append(f'{ind}<table class="govuk-table">')
            body.append(f"{ind}  <thead>")
            cells = "".join(f'<th scope="col">{_esc(c)}</th>' for c in b.header)
            body.append(f"{ind}    <tr>{cells}</tr>")
            body.append(f"{ind}  </thead>")
            body.append(f"{ind}  <tbody>")
            for row in b.body:
                cells = "".join(f"<td>{_esc(c)}</td>" for c in row)
                body.append(f"{ind}    <tr>{cells}</tr>")
            body.append(f"{ind}  </tbody>")
            body.append(f"{ind}</table>")
    contents = [
        f'            <li><a href="#{slugs[i]}">{_esc(b.text)}</a></li>'
        for i, b in enumerate(src.blocks)
        if isinstance(b, Heading) and b.level == 2
    ]
    crumbs = "\n".join(
        f'          <li class="govuk-breadcrumbs__list-item"><a href="/{_slug(c, set())}">'
        f"{_esc(c)}</a></li>"
        for c in HTML_BREADCRUMBS
    ).replace('href="/home"', 'href="/"')
    publisher = _esc(front.publisher)
    publisher_slug = _slug(front.publisher, set())
    summary = ""
    if front.summary:
        summary = f'\n        <p class="gem-c-lead-paragraph">{_esc(front.summary)}</p>'
    chrome = ""
    if front.chrome:
        chrome = f"""
        <div class="gem-c-share-links">
          <h2>Share this page</h2>
          <ul>
            <li><a href="https://www.facebook.com/sharer/sharer.php">Share on Facebook</a></li>
            <li><a href="https://twitter.com/share">Share on Twitter</a></li>
            <li><a href="https://www.linkedin.com/shareArticle">Share on LinkedIn</a></li>
            <li><a href="mailto:?subject={title}">Share by email</a></li>
          </ul>
        </div>
        <section id="comments" class="comments">
          <h2>Leave a comment</h2>
          <p>Want to have your say? Your email address will not be published. Required fields are marked *</p>
          <form class="comment-form" method="post" action="/comments">
            <label for="comment">Comment</label>
            <textarea id="comment" name="comment" rows="6"></textarea>
            <label for="author">Name *</label>
            <input id="author" name="author" type="text" required>
            <label for="email">Email *</label>
            <input id="email" name="email" type="email" required>
            <button type="submit">Post comment</button>
          </form>
        </section>
        <div class="newsletter">
          <h2>Newsletter</h2>
          <p>Sign up for our weekly newsletter to receive the latest news, views and best practice straight to your inbox every Thursday morning.</p>
          <form method="post" action="/newsletter">
            <label for="newsletter-email">Email address</label>
            <input id="newsletter-email" name="email" type="email">
            <button type="submit">Sign up</button>
          </form>
        </div>"""  # noqa: E501
    contents_block = ""
    if contents:
        items = "\n".join(contents)
        contents_block = f"""
        <nav class="gem-c-contents-list" aria-label="Contents">
          <h2 class="gem-c-contents-list__title">Contents</h2>
          <ol class="gem-c-contents-list__list">
{items}
          </ol>
        </nav>"""
    page = f"""<!DOCTYPE html>
<html lang="en" class="govuk-template">
  <head>
    <meta charset="utf-8">
    <title>{title} - GOV.UK</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="description" content="{_esc(front.summary)}">
    <meta property="og:title" content="{title}">
    <link rel="stylesheet" href="/assets/static/application.css">
  </head>
  <body class="govuk-template__body">
    <a href="#main-content" class="govuk-skip-link">Skip to main content</a>
    <header role="banner">
      <div id="global-cookie-message" class="gem-c-cookie-banner" role="region" aria-label="Cookies on GOV.UK">
        <h2 class="govuk-cookie-banner__heading">Cookies on GOV.UK</h2>
        <p>We use some essential cookies to make this website work.</p>
        <p>We’d like to set additional cookies to understand how you use GOV.UK, remember your settings and improve government services.</p>
        <p>We also use cookies set by other sites to help us deliver content from their services.</p>
        <button type="button" data-accept-cookies="true">Accept additional cookies</button>
        <button type="button" data-reject-cookies="true">Reject additional cookies</button>
        <a href="/help/cookies">View cookies</a>
      </div>
      <div class="govuk-header">
        <a href="/" class="govuk-header__link--homepage">GOV.UK</a>
        <nav aria-label="Menu" class="gem-c-layout-super-navigation-header">
          <ul>
            <li><a href="/browse">Services and information</a></li>
            <li><a href="/search/news-and-communications">Government activity</a></li>
            <li><a href="/search">Search GOV.UK</a></li>
          </ul>
        </nav>
      </div>
    </header>
    <div class="govuk-width-container">
      <div class="govuk-breadcrumbs">
        <ol class="govuk-breadcrumbs__list">
{crumbs}
        </ol>
      </div>
      <main id="main-content" class="govuk-main-wrapper" role="main" lang="en">
        <div class="gem-c-title">
          <span class="gem-c-title__context">{HTML_TYPE_LABEL[front.type]}</span>
          <h1 class="gem-c-title__text">{_esc(src.blocks[0].text)}</h1>
        </div>{summary}
        <div class="gem-c-metadata">
          <p>From: <a href="/government/organisations/{publisher_slug}">{publisher}</a></p>
          <p>Published {date_in_words(front.date)}</p>
          <p>Applies to: England</p>
        </div>{contents_block}
        <div class="govuk-govspeak">
{chr(10).join(body)}
        </div>
        <div class="gem-c-print-link">
          <button class="govuk-link" onclick="window.print()">Print this page</button>
        </div>{chrome}
        <div class="gem-c-feedback">
          <h2>Is this page useful?</h2>
          <button type="button">Yes</button>
          <button type="button">No</button>
          <button type="button">Report a problem with this page</button>
        </div>
        <aside class="gem-c-related-navigation" role="complementary">
          <h2>Related content</h2>
          <ul>
            <li><a href="/guidance/inspection-handbooks">Inspection handbooks</a></li>
            <li><a href="/government/organisations/{publisher_slug}/about/complaints-procedure">Complaints about inspections</a></li>
            <li><a href="/guidance/registering-a-social-care-service">Registering a social care service</a></li>
          </ul>
          <h2>Explore the topic</h2>
          <ul>
            <li><a href="/childcare-parenting/childrens-social-care">Children's social care</a></li>
          </ul>
        </aside>
      </main>
    </div>
    <footer class="govuk-footer" role="contentinfo">
      <h2 class="govuk-visually-hidden">Support links</h2>
      <ul class="govuk-footer__inline-list">
        <li><a href="/help">Help</a></li>
        <li><a href="/help/privacy-notice">Privacy</a></li>
        <li><a href="/help/cookies">Cookies</a></li>
        <li><a href="/help/accessibility-statement">Accessibility statement</a></li>
        <li><a href="/contact">Contact</a></li>
        <li><a href="/help/terms-conditions">Terms and conditions</a></li>
      </ul>
      <p>All content is available under the <a href="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/">Open Government Licence v3.0</a>, except where otherwise stated</p>
      <p>© Crown copyright</p>
    </footer>
  </body>
</html>
"""  # noqa: E501
    return page.encode("utf-8")


# --------------------------------------------------------------------------------------------
# txt
# --------------------------------------------------------------------------------------------

TXT_WIDTH = (45, 70)  # hard wrap width, drawn per block
TXT_HYPHEN_P = 0.6  # an overflowing hyphenable word is split at the line end
TXT_INLINE_LIST_P = 0.5  # a list's items run together on shared lines ("• a • b")
TXT_GLUE_LIST_P = 0.5  # ... and such a list continues its preceding paragraph's lines
TXT_GLUE_HEADING_P = 0.35  # a ## / ### heading is run into the paragraph after it
TXT_BLANK_P = 0.75  # a blank line between two blocks (never inside a list or table)
TXT_ROWS = (34, 44)  # lines per column, drawn per document; two columns make a page
TXT_INTERLEAVE_P = 0.5  # per page: two adjacent blocks of the page have their lines riffled
TXT_CHROME_HEAD = ("Skip to content", "Home > News and comment")
TXT_CHROME_TAIL = (
    "Share this page",
    "Facebook Twitter LinkedIn Email",
    "Want to have your say? Leave a comment",
    "Your email address will not be published. Required fields are marked *",
    "Comment",
    "Name *",
    "Email *",
    "Post comment",
    "Read more stories",
    "Sign up for our weekly newsletter to receive the latest news, views and best practice "
    "straight to your inbox every Thursday morning.",
)
_PAGE_LINE = re.compile(r"^Page \d+ of \d+$")


def _rng(doc_id: str, purpose: str) -> random.Random:
    digest = hashlib.sha256(f"{purpose}:{doc_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class _TxtUnit:
    """The lines of one output block, in groups that stay together (a hyphenated line and
    its continuation); `joined` means no blank line before it; `mixable` allows riffling."""

    groups: list[list[str]]
    joined: bool = False
    mixable: bool = True

    @property
    def n_lines(self) -> int:
        return sum(len(g) for g in self.groups)


def render_txt(src: Source) -> bytes:
    """Plain text as a PDF text extractor leaves a two-column PDF.

    Damages, all drawn from `random.Random` seeded with a hash of the doc id:

    1. Hard wraps: every block is wrapped at a width drawn from TXT_WIDTH (45-70 chars);
       indentation is lost, list items start with their marker ("•", "–", "3.").
    2. Hyphenation: a word of >= 8 letters that overflows a line is split "chil-"/"dren"
       (`hyphen_splits`: both parts >= 4 letters, lowercase tail) with probability
       TXT_HYPHEN_P (0.6).
    3. Inline bullets: with TXT_INLINE_LIST_P (0.5) a list's items run together on shared
       lines ("• first item • second item"); with TXT_GLUE_LIST_P (0.5) of those, directly
       after the preceding paragraph's last words ("... need to: • eliminate ...").
    4. Glued headings: with TXT_GLUE_HEADING_P (0.35) a ## / ### heading followed by a
       paragraph is run into it ("2. Scope The framework applies ...").
    5. Tables: one line (wrapped) per row, cells separated by single spaces.
    6. Blank lines between blocks only with TXT_BLANK_P (0.75); none inside a list or table.
    7. Page furniture: pages are two columns of TXT_ROWS (34-44, per document) lines; at
       every page break, even mid-paragraph, a "Page N of M" line and then the running
       header line are inserted; the text ends with the last "Page M of M".
    8. Interleaved columns: per page with TXT_INTERLEAVE_P (0.5), two adjacent blocks lying
       on that page (not the title, each >= 2 lines) have their lines riffled A1 B1 A2 B2 ...
       as a reader crossing the gutter would; each block keeps its line order and a
       hyphenated line stays followed by its continuation.
    9. Web chrome when `chrome: true`: TXT_CHROME_HEAD lines before the title and
       TXT_CHROME_TAIL lines (share links, comment form labels, newsletter blurb) after the
       text, each on its own line.

    Every word of the document appears exactly once, apart from hyphen splits (2), inserted
    header/footer lines (7), chrome lines (9) and the list numbers ("3.") of ordered items.
    """
    rng = _rng(src.doc_id, "txt")
    blocks = src.blocks
    inline = {i: rng.random() < TXT_INLINE_LIST_P for i, b in enumerate(blocks) if b.kind == "list"}
    glue_list = {
        i: inline[i] and isinstance(blocks[i - 1], Paragraph) and rng.random() < TXT_GLUE_LIST_P
        for i in inline
    }
    glue_heading = {
        i: rng.random() < TXT_GLUE_HEADING_P
        for i, b in enumerate(blocks)
        if isinstance(b, Heading) and b.level > 1 and isinstance(_at(blocks, i + 1), Paragraph)
    }

    units: list[_TxtUnit] = []

    def add(text: str, *, joined: bool = False, mixable: bool = True) -> None:
        width = rng.randint(*TXT_WIDTH)
        lines, hyph = wrap_words(
            text.split(), width, len, hyphenate=lambda _w: rng.random() < TXT_HYPHEN_P
        )
        groups: list[list[str]] = []
        pending: list[str] = []
        for line, split in zip(lines, hyph, strict=True):
            pending.append(line)
            if not split:
                groups.append(pending)
                pending = []
        if pending:
            groups.append(pending)
        units.append(_TxtUnit(groups, joined, mixable))

    def inline_text(block: ListBlock) -> str:
        return " ".join(f"{it.marker} {it.text}" for it in block.items)

    if src.front.chrome:
        units.extend(_TxtUnit([[line]], mixable=False) for line in TXT_CHROME_HEAD)
    i = 0
    while i < len(blocks):
        b = blocks[i]
        if isinstance(b, Heading):
            if b.level == 1:
                add(b.text, mixable=False)
            elif glue_heading.get(i):
                nxt = blocks[i + 1]
                assert isinstance(nxt, Paragraph)
                text = b.text + " " + nxt.text
                if glue_list.get(i + 2):
                    text += " " + inline_text(blocks[i + 2])  # type: ignore[arg-type]
                    i += 1
                add(text)
                i += 1
            else:
                add(b.text)
        elif isinstance(b, Paragraph):
            if glue_list.get(i + 1):
                add(b.text + " " + inline_text(blocks[i + 1]))  # type: ignore[arg-type]
                i += 1
            else:
                add(b.text)
        elif isinstance(b, Quote):
            add(b.text)
        elif isinstance(b, ListBlock):
            if inline[i]:
                add(inline_text(b))
            else:
                for n, it in enumerate(b.items):
                    add(f"{it.marker} {it.text}", joined=n > 0)
        else:
            for n, row in enumerate(b.rows):
                add(" ".join(c for c in row if c), joined=n > 0)
        i += 1
    if src.front.chrome:
        units.extend(_TxtUnit([[line]], mixable=False) for line in TXT_CHROME_TAIL)

    blank = [k > 0 and not u.joined and rng.random() < TXT_BLANK_P for k, u in enumerate(units)]
    per_page = 2 * rng.randint(*TXT_ROWS)
    spans: list[tuple[int, int]] = []
    pos = 0
    for k, u in enumerate(units):
        pos += blank[k]
        spans.append((pos, pos + u.n_lines - 1))
        pos += u.n_lines
    pages = max(1, math.ceil(pos / per_page))
    for page in range(pages):
        if rng.random() >= TXT_INTERLEAVE_P:
            continue
        pairs = [
            k
            for k in range(len(units) - 1)
            if all(
                units[j].mixable
                and len(units[j].groups) >= 2
                and spans[j][0] // per_page == page
                and spans[j][1] // per_page == page
                for j in (k, k + 1)
            )
        ]
        if pairs:
            k = rng.choice(pairs)
            a, b = units[k], units[k + 1]
            a.groups = [g for pair in zip_longest(a.groups, b.groups) for g in pair if g]
            a.mixable = False
            b.groups, b.mixable = [], False

    out: list[str] = []
    line_no, page = 0, 1
    for k, u in enumerate(units):
        lines = [""] * blank[k] + [line for g in u.groups for line in g]
        for line in lines:
            out.append(line)
            line_no += 1
            if line_no % per_page == 0 and page < pages:
                out.append(f"Page {page} of {pages}")
                out.append(src.front.header)
                page += 1
    out.append(f"Page {pages} of {pages}")
    return ("\n".join(out) + "\n").encode("utf-8")


def _at(blocks: Sequence[Block], i: int) -> Block | None:
    return blocks[i] if 0 <= i < len(blocks) else None


# --------------------------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------------------------

RENDERERS: dict[str, Callable[[Source], bytes]] = {
    "md": render_md,
    "pdf-1col": lambda s: render_pdf(s, 1),
    "pdf-2col": lambda s: render_pdf(s, 2),
    "docx": render_docx,
    "html": render_html,
    "txt": render_txt,
}


def discover_sources(src: Path) -> list[Path]:
    """`<src>/<doc_id>/source.md` files, sorted by doc id."""
    src = Path(src)
    if not src.is_dir():
        raise ValueError(f"source directory {src} not found")
    return sorted(p / "source.md" for p in src.iterdir() if (p / "source.md").is_file())


def render_source(source: Source, fmt: str) -> bytes:
    """The bytes of one rendering."""
    return RENDERERS[fmt](source)


def render_suite(
    src: Path,
    out: Path,
    formats: Sequence[str] = tuple(FORMATS),
    only: Sequence[str] | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Render every source under `src` (or the doc ids in `only`) into `out/<format>/`.

    All sources are parsed before anything is written, so a broken source fails the run
    cleanly. Returns the rendered document paths (each also gets a `.meta.yaml` sidecar);
    `log` gets one line per rendered file.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(
            f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}"
        )
    paths = discover_sources(src)
    if only:
        by_id = {p.parent.name: p for p in paths}
        missing = [d for d in only if d not in by_id]
        if missing:
            raise ValueError(f"no source for {', '.join(missing)} under {src}")
        paths = [by_id[d] for d in dict.fromkeys(only)]
    if not paths:
        raise ValueError(f"no sources (<doc_id>/source.md) under {src}")
    sources = [parse_source(p) for p in paths]
    written: list[Path] = []
    for fmt in formats:
        folder = Path(out) / fmt
        folder.mkdir(parents=True, exist_ok=True)
        for source in sources:
            data = render_source(source, fmt)
            target = folder / f"{source.doc_id}.{FORMATS[fmt]}"
            target.write_bytes(data)
            sidecar = yaml.safe_dump(
                source.front.sidecar(), sort_keys=False, allow_unicode=True, width=1000
            )
            (folder / f"{source.doc_id}{META_SUFFIX}").write_text(sidecar, encoding="utf-8")
            written.append(target)
            if log is not None:
                log(f"{target}  ({len(data):,} bytes)")
    return written


def _split_formats(value: str) -> Iterator[str]:
    yield from (f.strip() for f in value.split(",") if f.strip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.render",
        description="Render the suite sources into md, PDF (1 and 2 columns), DOCX, HTML, txt.",
    )
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder of <doc_id>/")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help="comma-separated (default: all)"
    )
    parser.add_argument(
        "--only", nargs="+", action="extend", metavar="DOC_ID", help="render only these ids"
    )
    args = parser.parse_args(argv)
    try:
        paths = render_suite(
            args.src, args.out, list(_split_formats(args.formats)), args.only, log=print
        )
    except ValueError as exc:  # SourceError included
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(paths)} files rendered into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
