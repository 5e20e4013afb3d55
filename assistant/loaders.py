"""Turn corpus files (txt, markdown, HTML, PDF, DOCX) into typed blocks (`load_blocks`).

One loader module per format (`BLOCK_LOADERS`); this module holds what they share: reading
with a size limit, decoding text, sidecar metadata, discovering a corpus folder. Every failure
on a bad file becomes a `LoadError` so ingestion can report it and carry on with the rest of
the corpus instead of crashing on one odd upload. Format loaders are imported lazily so
importing this module stays cheap for callers that never load a file.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from assistant.blocks import BlockDocument
from assistant.documents import DOC_TYPES, LoadedDocument

_FORMATS = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMATS)
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")
# Zip-bomb guard for DOCX; module-level so tests (and deployments) can tune them.
DOCX_MAX_EXPANDED_BYTES = 200 * 1024 * 1024
DOCX_MAX_RATIO = 100.0

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


class LoadError(Exception):
    """A file could not be turned into text; `reason` is meant for the person fixing it."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(self.path).name}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:  # keep picklable across worker processes
        return (type(self), (self.path, self.reason))


def load_file(path: Path, *, max_bytes: int = 50 * 1024 * 1024) -> LoadedDocument:
    """One document as plain text: its blocks laid out (`assistant.blocks.layout`), with the
    page each block starts on. For callers that want text, not structure (the naive
    baseline, benchmarks); the index uses `load_blocks`."""
    from assistant.blocks import layout

    doc = load_blocks(path, max_bytes=max_bytes)
    text, placed = layout(doc.blocks)
    pages: list[tuple[int, int]] = []
    for block in placed:  # only paginated formats give blocks a page
        if block.page is not None and (not pages or pages[-1][1] != block.page):
            pages.append((block.start, block.page))
    return LoadedDocument(
        doc_id=doc.doc_id,
        path=doc.path,
        text=text,
        format=doc.format,
        pages=pages,
        metadata=doc.metadata,
    )


# One block loader per format (module, function), imported only when a file of that format is
# loaded: a new format is one module returning blocks plus one line here.
BLOCK_LOADERS: dict[str, tuple[str, str]] = {
    "pdf": ("assistant.loader_pdf", "load_pdf"),
    "docx": ("assistant.loader_docx", "load_docx"),
    "html": ("assistant.loader_html", "load_html"),
    "md": ("assistant.loader_md", "load_md"),
    "txt": ("assistant.loader_txt", "load_txt"),
}


def load_blocks(
    path: Path,
    *,
    max_bytes: int = 50 * 1024 * 1024,
    progress: Callable[[int, int], None] | None = None,
) -> BlockDocument:
    """Load one document as typed blocks; raises only `LoadError` for a bad file.

    Metadata: what the file states (its title), then the sidecar, which a curator uses to
    correct it, then a title made from the file name when nothing else gave one. `progress`
    (done, total) is called per page by the paginated formats (PDF).
    """
    import importlib

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(path, f"unsupported file type '{suffix}'")
    data = _read_bytes(path, max_bytes)
    fmt = _FORMATS[suffix]
    module_name, function = BLOCK_LOADERS[fmt]
    loader = getattr(importlib.import_module(module_name), function)
    try:
        extra = {"progress": progress} if progress is not None and fmt == "pdf" else {}
        doc: BlockDocument = loader(path, data, **extra)
    except LoadError:
        raise
    except Exception as exc:  # a parser bug on one odd file must not end the build
        raise LoadError(path, f"could not be read ({_detail(exc)})") from exc
    merged: dict[str, Any] = {"title": None, "publisher": None, "date": None, "type": "other"}
    merged.update({k: v for k, v in doc.metadata.items() if v})
    merged.update({k: v for k, v in read_sidecar(path).items() if v is not None})
    if not merged.get("title"):
        merged["title"] = _title_from_stem(path.stem)
    merged["type"] = merged.get("type") or "other"
    doc.metadata = merged
    return doc


def read_sidecar(path: Path) -> dict:
    """Metadata from `<stem>.meta.yaml|.meta.yml|.meta.json` beside `path`, or {} if none.

    Curators fix titles/types there without touching the source file, so a broken sidecar is
    an error (naming the sidecar) rather than silently ignored.
    """
    path = Path(path)
    for suffix in SIDECAR_SUFFIXES:
        side = path.with_name(path.stem + suffix)
        if side.is_file():
            break
    else:
        return {}
    try:
        raw = side.read_text(encoding="utf-8-sig")
        if suffix == ".meta.json":
            data = json.loads(raw)
        else:
            import yaml

            data = yaml.safe_load(raw)
    except Exception as exc:  # YAML/JSON syntax, decoding, or OS errors all mean "fix it"
        raise LoadError(side, f"malformed metadata sidecar ({_detail(exc)})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LoadError(side, "malformed metadata sidecar (expected a mapping of keys)")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dt.date):
            value = value.isoformat()
        out[str(key).strip().lower()] = value.strip() if isinstance(value, str) else value
    if out.get("type") is not None:
        out["type"] = str(out["type"]).lower()
        if out["type"] not in DOC_TYPES:
            raise LoadError(side, f"type must be one of {', '.join(DOC_TYPES)}")
    return out


def discover(
    corpus_dir: Path,
    *,
    prefer: Mapping[str, str] | None = None,
    exclude: Path | None = None,
) -> tuple[list[Path], list[LoadError]]:
    """Find loadable documents under `corpus_dir`, reporting (not raising) files we skip.

    Files sharing a stem would share a doc_id, so only one is kept: the one already indexed
    under that id (`prefer`: doc id -> path), else the first in sorted order. So adding
    ``x.md`` beside an indexed ``x.txt`` never replaces it; the newcomer is reported. Files
    under `exclude` (the quarantine folder) are not documents.
    """
    corpus_dir = Path(corpus_dir)
    skip = Path(exclude).resolve() if exclude is not None else None
    if not corpus_dir.is_dir():
        return [], [LoadError(corpus_dir, "corpus directory not found")]
    found: list[Path] = []
    errors: list[LoadError] = []

    def on_error(exc: OSError) -> None:
        errors.append(LoadError(exc.filename or corpus_dir, exc.strerror or str(exc)))

    for root, dirs, files in os.walk(corpus_dir, onerror=on_error):
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".") and (skip is None or Path(root, d).resolve() != skip)
        ]
        for name in files:
            if name.startswith(".") or name.lower().endswith(SIDECAR_SUFFIXES):
                continue
            found.append(Path(root, name))
    docs: list[Path] = []
    seen: dict[str, Path] = {}
    first = {str(v) for v in (prefer or {}).values()}
    order = sorted(found, key=lambda p: (str(p) not in first, p.relative_to(corpus_dir).as_posix()))
    for p in order:
        if p.suffix.lower() not in SUPPORTED_SUFFIXES:
            errors.append(LoadError(p, f"unsupported file type '{p.suffix.lower()}'"))
        elif p.stem in seen:
            errors.append(LoadError(p, f"duplicate document id '{p.stem}' (also {seen[p.stem]})"))
        else:
            seen[p.stem] = p
            docs.append(p)
    docs.sort(key=lambda p: p.relative_to(corpus_dir).as_posix())
    return docs, errors


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """Size checks first, so an oversized upload is never read into memory."""
    try:
        if not path.is_file():
            raise LoadError(path, "file not found" if not path.exists() else "not a regular file")
        size = path.stat().st_size
        if size == 0:
            raise LoadError(path, "empty file")
        if size > max_bytes:
            raise LoadError(path, f"file is larger than the {max_bytes // 1048576} MB limit")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise LoadError(path, exc.strerror or str(exc)) from exc
    if len(data) > max_bytes:
        raise LoadError(path, f"file is larger than the {max_bytes // 1048576} MB limit")
    return data


BINARY_CONTROL_SHARE = 0.1  # real text has next to no control characters


def reject_binary(path: Path, text: str) -> None:
    """A `LoadError` for decoded bytes that are not text (NULs, many control characters)."""
    controls = sum(1 for _ in _CONTROL.finditer(text))
    if "\x00" in text or controls > BINARY_CONTROL_SHARE * len(text):
        raise LoadError(path, "not a text file (binary content)")


def _decode_text(path: Path, data: bytes) -> tuple[str, str]:
    """UTF-8 first; Windows exports are usually cp1252 or BOM-marked UTF-16."""
    try:
        text, enc = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                text, enc = data.decode("utf-16"), "utf-16"
            else:
                text, enc = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            raise LoadError(path, "not a text file (binary content)") from None
    reject_binary(path, text)
    if not text.strip():
        raise LoadError(path, "no text (file contains only whitespace)")
    return text, enc


def _detail(exc: BaseException) -> str:
    """One short line from a parser exception, for an error message a person will read."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _title_from_stem(stem: str) -> str:
    words = " ".join(re.split(r"[-_\s]+", stem)).strip()
    return (words[:1].upper() + words[1:]) or stem
