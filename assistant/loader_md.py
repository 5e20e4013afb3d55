"""Markdown -> `BlockDocument` with a real CommonMark parser (markdown-it-py, tables on).

Line-based handling cut list items and paragraphs at their soft wraps and kept "##" markers in
the text; a parser sees the blocks the author meant: a wrapped paragraph or list item is one
block, nesting gives item levels, headings carry their level and no markers, inline markup is
reduced to its text. Raw HTML blocks are reduced to their text (or dropped when they are only
markup), YAML front matter is metadata, not content.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from assistant.blocks import Block, BlockDocument, Item, squash
from assistant.loaders import LoadError, _decode_text

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_LISTS = ("bullet_list", "ordered_list")
_HTML_SKIP = ("script", "style", "noscript", "template", "svg")
# inline token types whose own content is the visible text
_TEXT_TOKENS = ("text", "text_special", "code_inline")


@cache
def _parser() -> Any:
    """One parser per process: building the rule chains costs more than parsing a file."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def load_md(path: Path, data: bytes) -> BlockDocument:
    """Load a Markdown file; raises `LoadError` for undecodable or empty files."""
    path = Path(path)
    text, encoding = _decode_text(path, data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front, body, warnings = _split_front_matter(text)
    from markdown_it.tree import SyntaxTreeNode

    try:
        root = SyntaxTreeNode(_parser().parse(body))
    except RecursionError:
        raise LoadError(path, "Markdown is nested too deeply to parse") from None
    blocks: list[Block] = []
    for node in root.children:
        blocks.extend(_blocks(node))
    blocks = [b for b in blocks if b.text.strip() or b.items or b.rows]
    if not blocks:
        raise LoadError(path, "no readable text (Markdown contains only markup or front matter)")
    metadata: dict[str, object] = {"encoding": encoding}
    title = front.get("title")
    if not (isinstance(title, str) and title.strip()):
        title = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), None)
    if title:
        metadata["title"] = squash(str(title))
    for key in ("publisher", "date", "type", "summary"):
        if front.get(key) is not None:
            metadata[key] = str(front[key]).strip()
    return BlockDocument.of_file(path, "md", blocks, metadata=metadata, warnings=warnings)


def _split_front_matter(text: str) -> tuple[dict[str, Any], str, list[str]]:
    """(front matter mapping, body, warnings). Only a YAML *mapping* counts as front matter:
    a file that merely opens with a rule ("---") keeps all its text."""
    m = _FRONT.match(text)
    if not m:
        return {}, text, []
    import yaml

    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}, text[m.end() :], ["front matter is not valid YAML; its fields were ignored"]
    if not isinstance(data, dict):
        return {}, text, []
    return data, text[m.end() :], []


def _blocks(node: Any, quoted: bool = False) -> list[Block]:
    """The blocks of one top-level (or blockquote-level) node."""
    kind = node.type
    if kind == "heading":
        return [Block("heading", text=_inline(node), level=int(node.tag[1]))]
    if kind == "paragraph":
        return [Block("quote" if quoted else "paragraph", text=_inline(node))]
    if kind in _LISTS:
        items: list[Item] = []
        _list_items(node, 0, items)
        return [Block("list", items=tuple(items))] if items else []
    if kind == "blockquote":
        return [b for child in node.children for b in _blocks(child, quoted=True)]
    if kind == "table":
        return [_table(node)]
    if kind in ("fence", "code_block"):
        text = squash(node.content)
        return [Block("quote" if quoted else "paragraph", text=text)] if text else []
    if kind == "html_block":
        text = _html_text(node.content)
        return [Block("quote" if quoted else "paragraph", text=text)] if text else []
    return []  # hr and anything unknown carry no text


def _list_items(node: Any, level: int, out: list[Item]) -> None:
    """Items in document order, each nested item right after its parent (level + 1).

    An item's own text is everything in it but its nested lists, so a multi-paragraph item
    (or one holding a quote or code) stays one item rather than losing its later paragraphs.
    """
    ordered = node.type == "ordered_list"
    number = int(node.attrs.get("start", 1)) if ordered else 0
    for li in node.children:
        own = [c for c in li.children if c.type not in _LISTS]
        text = squash(" ".join(_flat_text(c) for c in own))
        if ordered:
            delim = li.markup or "."
            out.append(Item(text, level=level, marker="number", label=f"{number}{delim}"))
            number += 1
        else:
            out.append(Item(text, level=level, marker="bullet"))
        for sub in li.children:
            if sub.type in _LISTS:
                _list_items(sub, level + 1, out)


def _flat_text(node: Any) -> str:
    """All visible text of a block node (used inside list items)."""
    if node.type in ("paragraph", "heading"):
        return _inline(node)
    if node.type in ("fence", "code_block"):
        return node.content
    if node.type == "html_block":
        return _html_text(node.content)
    if node.type == "table":
        return " ".join(c for row in _table(node).rows for c in row)
    return " ".join(_flat_text(c) for c in node.children)


def _table(node: Any) -> Block:
    """Header row first, then body rows; cells hold their inline text."""
    rows = [
        tuple(_inline(cell) if cell.children else "" for cell in tr.children)
        for section in node.children
        for tr in section.children
    ]
    return Block("table", rows=tuple(r for r in rows if any(c.strip() for c in r)))


def _inline(node: Any) -> str:
    """The visible text of a block's inline content: emphasis, code and links reduced to
    their text, images to their alt text, raw inline HTML tags dropped."""
    parts: list[str] = []
    for inline in node.children:
        if inline.type == "inline":
            _inline_parts(inline, parts)
    return squash("".join(parts))


def _inline_parts(node: Any, parts: list[str]) -> None:
    """Collect visible text depth-first (strong inside a link inside emphasis ...)."""
    for child in node.children:
        if child.type in _TEXT_TOKENS:
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "html_inline":
            if child.content.lower().startswith("<br"):
                parts.append(" ")
        elif child.type == "image":
            parts.append(child.content or "")
        elif child.children:
            _inline_parts(child, parts)


def _html_text(markup: str) -> str:
    """The text of a raw HTML block ("" when it is only tags or comments)."""
    from bs4 import BeautifulSoup
    from bs4.element import Comment

    soup = BeautifulSoup(markup, "html.parser")
    for el in soup.find_all(_HTML_SKIP):
        el.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    # a space between elements keeps words of sibling blocks apart; none before punctuation
    return re.sub(r"\s+([.,;:!?])", r"\1", squash(soup.get_text(" ")))
