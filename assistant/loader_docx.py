"""DOCX -> `BlockDocument`: Word's own structure (styles, numbering, tables) read as blocks.

Word already knows what every paragraph is: its style says heading, list or quote, and real
lists carry numbering (`w:numPr`) whose format lives in numbering.xml. Reading those instead
of the printed text gives whole list items with their nesting level and marker, headings at the
level the author chose (Title = 1, Heading 1 = 2 ..., the levels of the suite's Markdown), and
tables as rows of cells, all in body order. Only the body is read: running headers and footers
live in separate section parts and never reach a block. The zip-bomb guard and the error
messages are those the line-based loader gave, so a bad upload reads the same as before.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import loaders
from assistant.blocks import (
    Block,
    BlockDocument,
    Item,
    MarkerKind,
    counter_label,
    split_marker,
    squash,
)
from assistant.loaders import LoadError

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _w(tag: str) -> str:
    return f"{{{_W}}}{tag}"


_HEADING_NAME = re.compile(r"heading\s*(\d)")
_LIST_NAME = re.compile(r"list(?: (bullet|number))?(?: (\d))?")
_TOC_NAME = re.compile(r"toc(?: \d| heading)?|table of contents|contents heading")
_QUOTE_NAMES = frozenset({"quote", "intense quote", "block text"})
# Glyphs that start a hand-typed bullet item in a Normal paragraph; dashes are left out because
# Word paragraphs starting "- " or "— " are attributions and asides more often than lists.
_TYPED_BULLETS = frozenset("•●▪◦‣∙")
_STYLE_DEPTH = 12  # basedOn chains in real templates are < 6 deep; the cap only stops cycles
_FMT_KIND: dict[str, MarkerKind] = {
    "bullet": "bullet",
    "none": "none",
    "lowerLetter": "letter",
    "upperLetter": "letter",
    "lowerRoman": "roman",
    "upperRoman": "roman",
}
# Run children that carry no visible text of the paragraph (deleted or moved-away revisions,
# field instructions, properties) or that repeat it (the VML fallback copy of a drawing, whose
# text box is read from the drawing itself).
_SKIP = frozenset(
    _w(t) for t in ("del", "moveFrom", "pPr", "rPr", "sdtPr", "sdtEndPr", "instrText", "delText")
) | {f"{{{_MC}}}Fallback"}
_SPACES = frozenset(_w(t) for t in ("tab", "ptab", "br", "cr"))


def load_docx(path: Path, data: bytes) -> BlockDocument:
    """Blocks of the document body in order; raises `LoadError` for anything wrong with it."""
    _guard_zip(path, data)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        reader = _Reader(_Styles(document), _Numbering.of(document))
        reader.walk(document.element.body)
        title = squash(document.core_properties.title or "")
    except LoadError:
        raise
    except Exception as exc:  # python-docx and lxml raise many types for a broken package
        raise LoadError(path, f"not a valid DOCX ({loaders._detail(exc)})") from exc
    blocks = reader.blocks()
    if not blocks:
        raise LoadError(path, "no readable text (DOCX is empty)")
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    return BlockDocument.of_file(
        path, "docx", blocks, title=title, warnings=reader.warnings + _part_warnings(data)
    )


def _guard_zip(path: Path, data: bytes) -> None:
    """Zip-bomb guard (`loaders.DOCX_MAX_*`), read at call time so tests can tune them."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise LoadError(path, "not a valid DOCX (corrupt or not a zip file)") from None
    expanded = sum(i.file_size for i in infos)
    compressed = max(sum(i.compress_size for i in infos), 1)
    if expanded > loaders.DOCX_MAX_EXPANDED_BYTES or expanded / compressed > loaders.DOCX_MAX_RATIO:
        mb = round(expanded / 1048576)
        raise LoadError(path, f"refused: DOCX expands to {mb} MB (possible zip bomb)")


def _part_warnings(data: bytes) -> list[str]:
    """Text a curator might look for that lives outside the body and is not loaded."""
    out = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            for part, what in (
                ("word/footnotes.xml", "footnotes"),
                ("word/endnotes.xml", "endnotes"),
            ):
                if part in names:
                    # the separator notes every file has carry a w:type; real notes do not
                    xml = zf.read(part)
                    count = len(re.findall(rb"<w:(?:footnote|endnote) (?![^>]*w:type=)", xml))
                    if count:
                        out.append(f"{count} {what} are not loaded (only the body text is)")
    except (zipfile.BadZipFile, OSError, ValueError):
        pass  # the body loaded; a damaged notes part only costs the warning
    return out


# ------------------------------------------------------------------------------------ styles


class _Styles:
    """What a paragraph's style (through its basedOn chain) makes it: heading, list, quote."""

    def __init__(self, document: Any) -> None:
        self._by_id: dict[str, Any] = {}
        self._default: str | None = None
        self._chains: dict[str | None, list[Any]] = {}
        for el in document.styles.element.iterchildren(_w("style")):
            sid = el.get(_w("styleId"))
            if sid is None or el.get(_w("type")) not in (None, "paragraph", "numbering"):
                continue
            self._by_id[sid] = el
            if el.get(_w("default")) in ("1", "true") and el.get(_w("type")) == "paragraph":
                self._default = sid

    def chain(self, style_id: str | None) -> list[Any]:
        """The style element and the ones it is based on, nearest first (cached: every
        paragraph asks up to three times)."""
        if style_id not in self._chains:
            self._chains[style_id] = self._chain(style_id)
        return self._chains[style_id]

    def _chain(self, style_id: str | None) -> list[Any]:
        out: list[Any] = []
        sid = style_id or self._default
        while sid and sid in self._by_id and len(out) < _STYLE_DEPTH:
            el = self._by_id[sid]
            if any(e is el for e in out):
                break
            out.append(el)
            sid = _val(el.find(_w("basedOn")))
        return out

    def by_id(self, style_id: str) -> Any | None:
        return self._by_id.get(style_id)

    @staticmethod
    def name(style: Any) -> str:
        """Lower-case style name (built-ins are stored lower-case: "heading 1", "caption")."""
        return " ".join((_val(style.find(_w("name"))) or style.get(_w("styleId")) or "").split())


def _val(el: Any) -> str | None:
    return None if el is None else el.get(_w("val"))


def heading_level(styles: _Styles, style_id: str | None, ppr: Any) -> int | None:
    """Title = 1, Heading N = N+1; an outline level (direct or in the style chain) counts too."""
    own = _val(ppr.find(_w("outlineLvl"))) if ppr is not None else None
    if own is not None and own.isdigit():
        return int(own) + 2 if int(own) < 9 else None
    for style in styles.chain(style_id):
        name = styles.name(style).lower()
        sid = (style.get(_w("styleId")) or "").lower()
        if name == "title" or sid == "title":
            return 1
        if m := (_HEADING_NAME.fullmatch(name) or _HEADING_NAME.fullmatch(sid)):
            return int(m.group(1)) + 1
        spr = style.find(_w("pPr"))
        lvl = _val(spr.find(_w("outlineLvl"))) if spr is not None else None
        if lvl is not None and lvl.isdigit():
            return int(lvl) + 2 if int(lvl) < 9 else None  # 9 = "body text", explicitly
    return None


def style_role(styles: _Styles, style_id: str | None) -> tuple[str, int, MarkerKind | None]:
    """("list", level, kind) / ("quote"|"caption"|"toc"|"", 0, None) from the style names."""
    for style in styles.chain(style_id):
        name = styles.name(style).lower()
        if name in _QUOTE_NAMES:
            return "quote", 0, None
        if name == "caption":
            return "caption", 0, None
        if _TOC_NAME.fullmatch(name):
            return "toc", 0, None
        if (m := _LIST_NAME.fullmatch(name)) and (m.group(1) or m.group(2)):
            kind: MarkerKind = "number" if m.group(1) == "number" else "bullet"
            return "list", int(m.group(2) or 1) - 1, kind
    return "", 0, None


# --------------------------------------------------------------------------------- numbering


@dataclass
class _Level:
    fmt: str = "decimal"
    text: str = "%1."
    start: int = 1
    style: str | None = None  # the paragraph style a multilevel list level is linked to


@dataclass
class _Numbering:
    """numbering.xml resolved: numId -> abstract list, levels, start overrides; counters."""

    abstract_of: dict[str, str] = field(default_factory=dict)
    levels: dict[str, dict[int, _Level]] = field(default_factory=dict)
    overrides: dict[str, dict[int, int]] = field(default_factory=dict)
    counters: dict[str, list[int | None]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    links: dict[str, str] = field(default_factory=dict)  # abstractNumId -> numbering style id

    @classmethod
    def of(cls, document: Any) -> _Numbering:
        """Read the numbering part if the document has one (never create it)."""
        num = cls()
        for rel in document.part.rels.values():
            if rel.reltype.endswith("/numbering") and not rel.is_external:
                num._read(rel.target_part.element)
        return num

    def _read(self, root: Any) -> None:
        for ab in root.iterchildren(_w("abstractNum")):
            aid = ab.get(_w("abstractNumId")) or ""
            self.levels[aid] = {
                int(lvl.get(_w("ilvl")) or 0): _level(lvl) for lvl in ab.iterchildren(_w("lvl"))
            }
            if (link := _val(ab.find(_w("numStyleLink")))) is not None:
                self.links[aid] = link
        for num in root.iterchildren(_w("num")):
            nid = num.get(_w("numId")) or ""
            self.abstract_of[nid] = _val(num.find(_w("abstractNumId"))) or ""
            for over in num.iterchildren(_w("lvlOverride")):
                ilvl = int(over.get(_w("ilvl")) or 0)
                if (start := _val(over.find(_w("startOverride")))) and start.isdigit():
                    self.overrides.setdefault(nid, {})[ilvl] = int(start)
                if (lvl := over.find(_w("lvl"))) is not None:
                    self.levels.setdefault(f"{nid}!", {})[ilvl] = _level(lvl)

    def resolve_links(self, styles: _Styles) -> None:
        """An abstract list that only points at a numbering style takes that style's list."""
        for aid, style_id in self.links.items():
            style = styles.by_id(style_id)
            ppr = style.find(_w("pPr")) if style is not None else None
            num_pr = ppr.find(_w("numPr")) if ppr is not None else None
            target = self.abstract_of.get(_val(num_pr.find(_w("numId"))) or "") if num_pr else None
            if target and target != aid and self.levels.get(target):
                self.levels[aid] = self.levels[target]

    def level_of_style(self, num_id: str, chain: list[Any]) -> str | None:
        """The level of list `num_id` whose w:pStyle is the paragraph's style (or a base)."""
        ids = [style.get(_w("styleId")) for style in chain]
        levels = self.levels.get(self.abstract_of.get(num_id, ""), {})
        for sid in ids:
            for ilvl, lvl in levels.items():
                if lvl.style is not None and lvl.style == sid:
                    return str(ilvl)
        return None

    def level(self, num_id: str, ilvl: int) -> _Level:
        own = self.levels.get(f"{num_id}!", {})
        return own.get(ilvl) or self.levels.get(self.abstract_of.get(num_id, ""), {}).get(
            ilvl, _Level()
        )

    def next_label(self, num_id: str, ilvl: int) -> tuple[MarkerKind, str]:
        """Count one paragraph of list `num_id` at `ilvl`; its marker kind and printed label.

        Counters are kept per abstract list, as Word continues a list across numbering
        instances; an instance with a start override restarts it where it is first used.
        """
        aid = self.abstract_of.get(num_id, num_id)
        counts = self.counters.setdefault(aid, [None] * 9)
        if num_id not in self.seen:
            self.seen.add(num_id)
            for lvl, start in self.overrides.get(num_id, {}).items():
                if 0 <= lvl < 9:
                    counts[lvl] = start - 1
        ilvl = min(max(ilvl, 0), 8)
        this = self.level(num_id, ilvl)
        current = counts[ilvl]
        counts[ilvl] = this.start if current is None else current + 1
        for deeper in range(ilvl + 1, 9):
            counts[deeper] = None
        kind = _FMT_KIND.get(this.fmt, "number")
        if kind == "bullet":
            return kind, ""

        def number(m: re.Match[str]) -> str:
            k = int(m.group(1)) - 1
            lvl = self.level(num_id, k)
            value = counts[k] if counts[k] is not None else lvl.start
            return _format_number(value or 0, lvl.fmt)

        return kind, squash(re.sub(r"%([1-9])", number, this.text))


def _level(lvl: Any) -> _Level:
    start = _val(lvl.find(_w("start")))
    return _Level(
        fmt=_val(lvl.find(_w("numFmt"))) or "decimal",
        text=_val(lvl.find(_w("lvlText"))) or "",
        start=int(start) if start and start.lstrip("-").isdigit() else 1,
        style=_val(lvl.find(_w("pStyle"))),
    )


def _format_number(value: int, fmt: str) -> str:
    """A counter as Word prints it for the common formats (others fall back to decimal)."""
    if fmt == "decimalZero":
        return f"{value:02d}"
    kind = {"lowerLetter": "letter", "upperLetter": "letter"}.get(fmt) or (
        "roman" if fmt in ("lowerRoman", "upperRoman") else "decimal"
    )
    return counter_label(value, kind, upper=fmt.startswith("upper"))


# ------------------------------------------------------------------------------------ reader


@dataclass
class _ListEntry:
    item: Item
    num_id: str | None


class _Reader:
    """Walks the body in order and builds blocks, grouping adjacent list paragraphs."""

    def __init__(self, styles: _Styles, numbering: _Numbering) -> None:
        self.styles = styles
        self.numbering = numbering
        numbering.resolve_links(styles)
        self._blocks: list[Block] = []
        self._items: list[_ListEntry] = []
        self.warnings: list[str] = []

    def blocks(self) -> list[Block]:
        self._flush_list()
        return self._blocks

    def walk(self, parent: Any) -> None:
        """Body-level children: paragraphs, tables, and the wrappers that hold them."""
        for el in parent.iterchildren():
            tag = el.tag
            if tag == _w("p"):
                self.paragraph(el)
            elif tag == _w("tbl"):
                self.table(el)
            elif tag == _w("sdt"):
                if not _is_toc(el) and (content := el.find(_w("sdtContent"))) is not None:
                    self.walk(content)  # content controls (cover pages, forms) wrap real text
            elif tag in (_w("customXml"), _w("ins"), _w("moveTo"), _w("smartTag")):
                self.walk(el)
            elif tag == _w("altChunk"):
                self.warnings.append("an embedded document (altChunk) is not loaded")

    def paragraph(self, p: Any) -> None:
        text, boxes = paragraph_text(p)
        if text:
            self._place(p, text)
        for box in boxes:  # text boxes read after the paragraph that anchors them
            self.walk(box)

    def _place(self, p: Any, text: str) -> None:
        ppr = p.find(_w("pPr"))
        style_id = _val(ppr.find(_w("pStyle"))) if ppr is not None else None
        role, style_level, style_kind = style_role(self.styles, style_id)
        if role == "toc":
            return  # a table of contents repeats the headings (as the HTML contents list does)
        level = heading_level(self.styles, style_id, ppr)
        num = self._num_pr(ppr, style_id)
        if level is not None:
            if num is not None:  # numbered headings: the number is printed, not in the text
                kind, label = self.numbering.next_label(*num)
                if label and kind != "bullet":
                    text = f"{label} {text}"
            self._add(Block("heading", text=text, level=level))
        elif num is not None:
            kind, label = self.numbering.next_label(*num)
            lvl = max(num[1], style_level)
            self._add_item(Item(text=text, level=lvl, marker=kind, label=label), num[0])
        elif role == "list" and style_kind is not None and not _numbering_removed(ppr):
            self._add_item(Item(text=text, level=style_level, marker=style_kind), None)
        elif role in ("quote", "caption"):
            self._add(Block(role, text=text))  # type: ignore[arg-type]
        elif text[0] in _TYPED_BULLETS and (typed := split_marker(text)) and typed[2].strip():
            self._add_item(Item(text=squash(typed[2]), marker="bullet"), None)  # typed "• x"
        else:
            self._add(Block("paragraph", text=text))

    def _num_pr(self, ppr: Any, style_id: str | None) -> tuple[str, int] | None:
        """(numId, ilvl) from the paragraph, else its style chain; numId 0 means "none"."""
        num_id = ilvl = None
        own = ppr.find(_w("numPr")) if ppr is not None else None
        if own is not None:
            num_id, ilvl = _val(own.find(_w("numId"))), _val(own.find(_w("ilvl")))
        if num_id is None:
            for style in self.styles.chain(style_id):
                spr = style.find(_w("pPr"))
                snum = spr.find(_w("numPr")) if spr is not None else None
                if snum is not None:
                    num_id = _val(snum.find(_w("numId")))
                    ilvl = ilvl if ilvl is not None else _val(snum.find(_w("ilvl")))
                    break
        if not num_id or num_id == "0" or num_id not in self.numbering.abstract_of:
            return None
        if ilvl is None:  # heading styles linked to a multilevel list name their level there
            ilvl = self.numbering.level_of_style(num_id, self.styles.chain(style_id))
        return num_id, int(ilvl) if ilvl and ilvl.isdigit() else 0

    def _add(self, block: Block) -> None:
        self._flush_list()
        self._blocks.append(block)

    def _add_item(self, item: Item, num_id: str | None) -> None:
        """Adjacent items form one list; a new top-level list (other kind or list) starts anew."""
        if self._items and item.level <= min(e.item.level for e in self._items):
            first = self._items[0]
            if item.marker != first.item.marker or (
                num_id and first.num_id and num_id != first.num_id
            ):
                self._flush_list()
        self._items.append(_ListEntry(item, num_id))

    def _flush_list(self) -> None:
        if not self._items:
            return
        base = min(e.item.level for e in self._items)
        items = tuple(
            Item(e.item.text, e.item.level - base, e.item.marker, e.item.label) for e in self._items
        )
        self._blocks.append(Block("list", items=items))
        self._items = []

    def table(self, tbl: Any) -> None:
        """Rows of cells; a one-column (layout or callout-box) table is read as body content."""
        rows = list(table_rows(tbl))
        if rows and all(len(cells) <= 1 for cells in rows):
            for cells in rows:
                for tc in cells:
                    if tc is not None:
                        self.walk(tc)
            return
        texts = tuple(tuple("" if tc is None else cell_text(tc) for tc in cells) for cells in rows)
        texts = tuple(row for row in texts if any(row))
        if texts:
            self._add(Block("table", rows=texts))


def _numbering_removed(ppr: Any) -> bool:
    """numId 0 on the paragraph switches off the numbering its (list) style would give."""
    num_id = ppr.find(f"{_w('numPr')}/{_w('numId')}") if ppr is not None else None
    return _val(num_id) == "0"


def _is_toc(sdt: Any) -> bool:
    gallery = sdt.find(f"{_w('sdtPr')}/{_w('docPartObj')}/{_w('docPartGallery')}")
    return "contents" in (_val(gallery) or "").lower()


def table_rows(tbl: Any) -> Iterator[list[Any]]:
    """Each row's cells once: a cell spanning columns is one cell, a vertically merged
    continuation is None (its text is in the row where the merge starts)."""
    for tr in _children(tbl, "tr"):
        cells = []
        for tc in _children(tr, "tc"):
            merge = tc.find(f"{_w('tcPr')}/{_w('vMerge')}")
            cells.append(None if merge is not None and _val(merge) != "restart" else tc)
        yield cells


def _children(parent: Any, tag: str) -> Iterator[Any]:
    """Direct `w:<tag>` children, looking through content controls and custom XML wrappers."""
    for el in parent.iterchildren():
        if el.tag == _w(tag):
            yield el
        elif el.tag == _w("sdt") and (content := el.find(_w("sdtContent"))) is not None:
            yield from _children(content, tag)
        elif el.tag == _w("customXml"):
            yield from _children(el, tag)


def cell_text(tc: Any) -> str:
    """All paragraphs of a cell (nested tables included) on one line."""
    parts = []
    for p in tc.iter(_w("p")):
        if any(True for _ in p.iterancestors(f"{{{_MC}}}Fallback")):
            continue  # the VML copy of a text box already read from its drawing
        text, _boxes = paragraph_text(p)
        if text:
            parts.append(text)
    return squash(" ".join(parts))


def paragraph_text(p: Any) -> tuple[str, list[Any]]:
    """The visible text of a paragraph (tracked insertions in, deletions out, hidden runs
    out) and the text boxes anchored in it, which are read as blocks of their own."""
    parts: list[str] = []
    boxes: list[Any] = []

    def visit(el: Any) -> None:
        for child in el.iterchildren():
            tag = child.tag
            if tag == _w("txbxContent"):
                boxes.append(child)
            elif tag in _SKIP or not isinstance(tag, str):
                continue
            elif tag == _w("r") and _hidden(child):
                continue
            elif tag == _w("t"):
                parts.append(child.text or "")
            elif tag in _SPACES:
                parts.append(" ")
            elif tag == _w("noBreakHyphen"):
                parts.append("-")
            elif tag != _w("p"):  # a nested paragraph belongs to a text box, handled there
                visit(child)

    visit(p)
    return squash("".join(parts).replace("\u00ad", "")), boxes


def _hidden(run: Any) -> bool:
    vanish = run.find(f"{_w('rPr')}/{_w('vanish')}")
    return vanish is not None and _val(vanish) not in ("0", "false")
