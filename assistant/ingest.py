"""The build pipeline: a file -> typed blocks -> cleaned blocks -> chunks (+ manifest entry).

Storage (Chroma, BM25, chunk store, manifest, generations) is `assistant.index`'s business;
this module only knows how a document becomes passages, so a new format is one loader that
returns blocks (`assistant.loaders.BLOCK_LOADERS`) and nothing here changes.

Cleaning on blocks: format loaders already drop what their format marks as furniture (PDF
running headers and footers, HTML navigation, DOCX headers and footers); what is left to drop
here is web chrome that any format can carry as ordinary text - comment forms, newsletter
blurbs, share prompts, GOV.UK banners (`assistant.clean.is_chrome_line`). A whole block or list
item is dropped, never part of one, and every removal is counted for the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.blocks import Block, group_clauses, layout
from assistant.chunking import chunk_blocks
from assistant.clean import is_chrome_line
from assistant.documents import DOC_TYPES, Chunk
from assistant.loaders import LoadError, load_blocks
from assistant.settings import Settings

# A block longer than this is content even when it mentions a chrome phrase: the longest
# chrome line of the seeds (a newsletter blurb) is 226 characters.
CHROME_MAX_CHARS = 300


def _chrome(text: str) -> bool:
    return len(text) <= CHROME_MAX_CHARS and is_chrome_line(text)


def clean_blocks(blocks: list[Block]) -> tuple[list[Block], list[str]]:
    """Blocks without web chrome, clauses grouped (`assistant.blocks.group_clauses`), and
    the texts removed (for the manifest's counts)."""
    kept: list[Block] = []
    removed: list[str] = []
    for block in blocks:
        if block.kind == "list":
            items = tuple(it for it in block.items if not _chrome(it.text))
            removed += [it.text for it in block.items if it not in items]
            if items:
                kept.append(replace(block, items=items))
        elif block.kind != "table" and _chrome(block.text):
            removed.append(block.text)
        else:
            kept.append(block)
    return group_clauses(kept), removed


def process_file(
    path: Path, settings: Settings, progress: Callable[[int, int], None] | None = None
) -> tuple[list[Chunk], dict[str, Any]]:
    """Load, clean and chunk one file; returns its chunks and its manifest entry.

    `progress(done, total)` follows a long PDF page by page."""
    doc = load_blocks(path, max_bytes=settings.max_file_mb * 1024 * 1024, progress=progress)
    blocks, removed = clean_blocks(doc.blocks)
    removed = doc.removed + removed
    text, placed = layout(blocks)
    title = str(doc.metadata.get("title") or doc.doc_id)
    doc_type = str(doc.metadata.get("type") or "other")
    if doc_type not in DOC_TYPES:
        doc_type = "other"
    chunks = chunk_blocks(
        placed,
        text,
        doc_id=doc.doc_id,
        title=title,
        doc_type=doc_type,
        source=str(path),
        min_chars=settings.chunk_min_chars,
        max_chars=settings.chunk_max_chars,
    )
    if not chunks:
        raise LoadError(path, "no text left after cleaning")
    kinds: dict[str, int] = {}
    for block in placed:
        kinds[block.kind] = kinds.get(block.kind, 0) + 1
    entry = {
        "path": str(path),
        "format": doc.format,
        "title": title,
        "doc_type": doc_type,
        "publisher": doc.metadata.get("publisher"),
        "date": str(doc.metadata["date"]) if doc.metadata.get("date") else None,
        "chars": len(text),
        "removed_chars": sum(len(r) for r in removed),
        "removed_lines": len(removed),
        "pages": doc.pages,
        "blocks": kinds,
        "warnings": list(doc.warnings),
        "chunks": [c.chunk_id for c in chunks],
    }
    return chunks, entry
