"""The typed block model between loading and chunking.

Every loader turns a file into a list of `Block`s - heading (with level), paragraph, list (items
with nesting level and marker kind), table (rows of cells), quote (a quotation or quoted
criterion) and caption - each with the page it starts on. Cleaning and chunking work on blocks,
so a sentence, a list item or a table row is never cut at a printed line end, and the
structure the reader sees (a lead-in and its list, a heading and its section) survives.

`layout` writes the blocks into one cleaned text, the text that chunks are slices of and that
citations quote, and records each block's character offsets in it. The text form is stable and
simple on purpose: blocks are separated by a blank line, a list item is a line ``- item`` (two
spaces per nesting level before the dash), a table row is its cells joined by `` | ``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

BlockKind = Literal["heading", "paragraph", "list", "table", "quote", "caption"]
MarkerKind = Literal["bullet", "number", "letter", "roman", "none"]
BLOCK_KINDS: tuple[str, ...] = ("heading", "paragraph", "list", "table", "quote", "caption")
# bump when loaders or the chunker change what an index holds (9: an HTML page's publisher)
STRUCTURE_VERSION = 9
CELL_SEPARATOR = " | "


@dataclass(frozen=True)
class Item:
    """One list item: its text (whole, however many printed lines it had) and where it sits."""

    text: str
    level: int = 0  # 0 = top level, 1 = nested once ...
    marker: MarkerKind = "bullet"
    label: str = ""  # the printed marker when it carries meaning: "1.", "(a)", "ii."


@dataclass(frozen=True)
class Block:
    """One structural unit of a document.

    `text` holds the whole text of a heading, paragraph, quote or caption on one line
    (whitespace normalised); for a list it is empty and `items` hold the text; for a table
    `rows` hold the cells. `start`/`end` are offsets into the cleaned text, set by `layout`.
    """

    kind: BlockKind
    text: str = ""
    level: int = 0  # heading level, 1 = title or top section
    items: tuple[Item, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    page: int | None = None
    start: int = 0
    end: int = 0

    def __post_init__(self) -> None:
        if self.kind not in BLOCK_KINDS:
            raise ValueError(f"unknown block kind {self.kind!r}")


@dataclass
class BlockDocument:
    """A loaded file: its blocks plus what the loader learned about it (title, warnings)."""

    doc_id: str
    path: str
    format: str
    blocks: list[Block]
    metadata: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    pages: int | None = None
    removed: list[str] = field(default_factory=list)  # furniture or chrome the loader dropped

    @classmethod
    def of_file(
        cls,
        path: Path,
        format: str,
        blocks: list[Block],
        *,
        title: str | None = None,
        metadata: dict[str, object] | None = None,
        **rest: Any,
    ) -> BlockDocument:
        """What a loader returns for `path`. The file's stem is the document id every loader
        gives (the index, citations and sidecars key documents by it); a `title` the loader
        found, when there is one, is added to `metadata` (its only entry for most formats)."""
        meta = dict(metadata or {})
        if title:
            meta["title"] = title
        return cls(
            doc_id=path.stem, path=str(path), format=format, blocks=blocks, metadata=meta, **rest
        )


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def squash(text: str) -> str:
    """Whitespace normalised to single spaces (a block's text is one logical line), invisible
    characters (zero-width spaces and joiners, BOMs, soft hyphens) removed: they would break
    matching of quotes and facts while showing nothing."""
    return " ".join(text.translate(_INVISIBLE).split())


def render_block(block: Block) -> str:
    """The block's form in the cleaned text (see the module docstring)."""
    if block.kind == "list":
        return "\n".join(f"{'  ' * it.level}- {squash(it.text)}" for it in block.items)
    if block.kind == "table":
        return "\n".join(CELL_SEPARATOR.join(squash(c) for c in row) for row in block.rows)
    return squash(block.text)


def is_empty(block: Block) -> bool:
    """A block with no visible text (dropped by `layout`)."""
    return not render_block(block).strip()


def layout(blocks: list[Block]) -> tuple[str, list[Block]]:
    """The cleaned text and the non-empty blocks with their offsets into it."""
    parts: list[str] = []
    placed: list[Block] = []
    pos = 0
    for block in blocks:
        body = render_block(block)
        if not body.strip():
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        parts.append(body)
        placed.append(replace(block, start=pos, end=pos + len(body)))
        pos += len(body)
    return "".join(parts), placed


_ROMAN = (
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
)  # fmt: skip


def counter_label(value: int, kind: str, upper: bool = False) -> str:
    """A list counter as documents print it: "c" / "C" for letters, "iv" / "IV" for roman,
    decimal otherwise (shared by the DOCX and HTML loaders, which read numbered lists)."""
    if kind == "letter" and value > 0:
        text = chr(ord("a") + (value - 1) % 26) * ((value - 1) // 26 + 1)
    elif kind == "roman" and 0 < value < 4000:
        text, rest = "", value
        for n, sym in _ROMAN:
            while rest >= n:
                text, rest = text + sym, rest - n
    else:
        return str(value)
    return text.upper() if upper else text


_MARKER = re.compile(
    r"^(?:(?P<bullet>[•●▪◦‣∙·\-–—*])|(?P<number>\d{1,3}[.)])|(?P<paren>\((?:[a-z]|[ivx]{1,5}|\d{1,3})\))"
    r"|(?P<letter>[a-z][.)])|(?P<roman>(?:[ivx]{1,5})[.)]))\s+"
)


def split_marker(text: str) -> tuple[MarkerKind, str, str] | None:
    """``("number", "1.", "rest")`` when `text` starts with a list marker, else None.

    Shared by the loaders that see printed markers (PDF, text, DOCX without numbering).
    """
    m = _MARKER.match(text.lstrip())
    if not m:
        return None
    label = m.group(0).strip()
    rest = text.lstrip()[m.end() :]
    if m.group("bullet"):
        return "bullet", "", rest
    if m.group("number"):
        return "number", label, rest
    inner = label.strip("().")
    if m.group("paren"):
        kind: MarkerKind = (
            "number" if inner.isdigit() else "roman" if set(inner) <= set("ivx") else "letter"
        )
        return kind, label, rest
    if m.group("roman"):
        return "roman", label, rest
    return "letter", label, rest


def _clause_value(kind: MarkerKind, label: str) -> int:
    """The counter of a clause label: "(c)" -> 3, "(iv)" -> 4 (0 when it is not one)."""
    inner = label.strip("().").lower()
    if kind == "letter" and len(inner) == 1:
        return ord(inner) - ord("a") + 1
    if kind == "roman":
        values = {"i": 1, "v": 5, "x": 10}
        total = 0
        for a, b in zip(inner, [*inner[1:], ""], strict=True):
            total += -values[a] if b and values[b] > values[a] else values[a]
        return total
    return 0


def _clause(text: str, expect: tuple[MarkerKind, int] | None) -> tuple[MarkerKind, int] | None:
    """(kind, value) when `text` opens with the next clause label of a run - "(a)" or "(i)"
    to start one, the following letter or numeral to continue it - else None. "(i)" after
    "(h)" is a letter."""
    marker = split_marker(text)
    if marker is None or marker[0] not in ("letter", "roman") or not marker[1].startswith("("):
        return None
    kind, label, _rest = marker
    if expect is None:
        value = _clause_value(kind, label)
        return (kind, 1) if value == 1 else None
    want_kind, want = expect
    if want_kind == "letter" and label.strip("()").lower() == counter_label(want, "letter"):
        return "letter", want
    return (kind, want) if kind == want_kind and _clause_value(kind, label) == want else None


def group_clauses(blocks: list[Block]) -> list[Block]:
    """Lettered or roman clauses set as paragraphs ("(a) enter and inspect ...;", "(b) inspect
    and copy ...;") as one list, and statute-style numbered subsections ("(1)", "(2)") that a
    loader read as list items as paragraphs again, with their clauses as lists.

    Statutes, and the frameworks and equality guidance that quote them, set each clause as its
    own paragraph; the Markdown, DOCX, HTML and PDF loaders keep them paragraphs and the text
    loader reads the whole section as one flat list. Either way a clause lost its lead-in
    ("an authorised inspector may:") and its siblings, so an answer quoted one clause or mixed
    clauses with subsections. The labels stay in the text: they are how a reader cites a clause.
    """
    flat: list[Block] = []
    for block in blocks:  # a flat list mixing "(1)" subsections with "(a)" clauses
        if block.kind == "list" and _mixes_subsections(block):
            for it in block.items:
                text = f"{it.label} {it.text}" if it.label else it.text
                flat.append(replace(block, kind="paragraph", text=text, items=()))
        elif block.kind == "list" and all(_is_clause_label(it) for it in block.items):
            items = tuple(replace(it, text=f"{it.label} {it.text}") for it in block.items)
            flat.append(replace(block, items=items))  # labels in the text, as set as paragraphs
        else:
            flat.append(block)
    out: list[Block] = []
    run: list[tuple[Block, MarkerKind]] = []

    def close() -> None:
        if len(run) >= 2:
            items = tuple(
                Item(b.text, marker=kind, label=b.text.split(None, 1)[0]) for b, kind in run
            )
            out.append(Block("list", items=items, page=run[0][0].page))
        else:
            out.extend(b for b, _ in run)
        run.clear()

    for block in flat:
        if block.kind == "paragraph":
            expect = (run[-1][1], len(run) + 1) if run else None
            found = _clause(block.text, expect)
            if found is None and run:
                close()
                found = _clause(block.text, None)
            if found is not None:
                run.append((block, found[0]))
                continue
        close()
        out.append(block)
    close()
    return out


def _is_clause_label(item: Item) -> bool:
    """An item a loader read from a printed "(a)" or "(iv)" label it took out of the text."""
    return (
        item.marker in ("letter", "roman")
        and item.label.startswith("(")
        and not item.text.startswith(item.label)
    )


def _mixes_subsections(block: Block) -> bool:
    """A list whose items include both "(1)"-style subsections and "(a)"-style clauses."""
    kinds = {it.marker for it in block.items if it.label.startswith("(") and it.label.endswith(")")}
    return "number" in kinds and bool(kinds & {"letter", "roman"})
