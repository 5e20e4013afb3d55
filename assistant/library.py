"""The document library: list, add (upload) and delete documents, then update the index.

Used by the UI's Documents tab and by tests. Uploaded file names are reduced to a safe base
name inside the upload folder, so no name (``../../etc/x.txt``, control characters) can write
anywhere else; size and type limits are enforced here, server-side.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import quarantine
from assistant.index import BuildReport, Progress, build_index, known_ids, read_manifest
from assistant.loaders import SIDECAR_SUFFIXES, SUPPORTED_SUFFIXES, discover
from assistant.quarantine import RejectedFile
from assistant.settings import Settings
from assistant.storage import IndexProblem


class LibraryError(ValueError):
    """An upload or deletion was refused; the message is meant for the user."""


@dataclass
class DocumentInfo:
    """One indexed document as the Documents tab lists it."""

    doc_id: str
    title: str
    doc_type: str
    chunks: int
    indexed_at: str
    path: str
    removed_chars: int
    format: str = ""
    pages: int | None = None  # paginated formats (PDF) only
    warnings: list[str] = field(default_factory=list)  # what ingestion noticed (e.g. no text)


def list_documents(settings: Settings) -> list[DocumentInfo]:
    """Indexed documents from the live manifest (empty when nothing is indexed yet)."""
    manifest = read_manifest(settings)
    return [
        DocumentInfo(
            doc_id,
            d.get("title", doc_id),
            d.get("doc_type", "other"),
            len(d.get("chunks", [])),
            d.get("indexed_at", ""),
            d.get("path", ""),
            int(d.get("removed_chars", 0)),
            str(d.get("format") or ""),
            d.get("pages") if isinstance(d.get("pages"), int) else None,
            [str(w) for w in d.get("warnings") or []],
        )
        for doc_id, d in sorted(manifest.get("documents", {}).items())
    ]


def safe_filename(name: str) -> str:
    """A harmless base name: no folders, no control characters, only [A-Za-z0-9._-]."""
    base = unicodedata.normalize("NFKC", str(name)).replace("\\", "/").split("/")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-._")[:80] or "document"
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def save_upload(settings: Settings, filename: str, data: bytes) -> Path:
    """Store an uploaded file in the upload folder after checking type and size."""
    name = safe_filename(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise LibraryError(
            f"{filename}: file type '{suffix or 'none'}' is not accepted (allowed: {allowed})"
        )
    limit = settings.max_file_mb * 1024 * 1024
    if len(data) > limit:
        raise LibraryError(f"{filename}: larger than the {settings.max_file_mb} MB upload limit")
    if not data:
        raise LibraryError(f"{filename}: the file is empty")
    folder = settings.path(settings.upload_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / name).resolve()
    taken = _taken_ids(settings)
    n = 2
    while (target.exists() and target.read_bytes() != data) or taken.get(
        target.stem, target
    ) != target:
        target = (folder / f"{Path(name).stem}-{n}{suffix}").resolve()
        n += 1
    quarantine.forget(settings, target.name)  # a new file of that name replaces a rejected one
    if target.parent != folder:  # defence in depth: safe_filename already prevents this
        raise LibraryError(f"{filename}: refused unsafe file name")
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def _taken_ids(settings: Settings) -> dict[str, Path]:
    """Document id -> file for every document file of the corpus (any folder, any extension).

    An upload whose stem is taken by another file gets a free name (``x.md`` beside
    ``x.txt`` is saved as ``x-2.md``), so both stay indexed under distinct ids instead of
    one silently replacing the other.
    """
    paths, _errors = discover(settings.corpus, exclude=quarantine.folder(settings))
    return {p.stem: p.resolve() for p in paths}


def add_documents(
    settings: Settings, files: list[tuple[str, bytes]], progress: Progress | None = None
) -> tuple[BuildReport, list[str]]:
    """Save uploads and index them; returns the build report and per-file refusals."""
    refused: list[str] = []
    saved: list[str] = []
    renamed: list[str] = []
    for filename, data in files:
        try:
            path = save_upload(settings, filename, data)
        except LibraryError as exc:
            refused.append(str(exc))
            continue
        saved.append(path.name)
        if path.name != safe_filename(filename):
            renamed.append(f"{filename}: saved as {path.name} (the name was taken)")
    kwargs: dict[str, Any] = {"progress": progress} if progress else {}
    try:
        report = build_index(settings, expected=saved, **kwargs)
    except IndexProblem as exc:
        if "already updating" not in str(exc) or not saved:
            raise
        # the files are kept: say so, and when they will be searchable (not a failure)
        raise LibraryError(
            f"saved {', '.join(saved)}, but another build is updating the index right now, so "
            "they are not searchable yet; they are listed as waiting and are indexed by the "
            "next build (the next upload or delete, `assistant index`, or the next server start)"
        ) from exc
    report.notes += renamed
    return report, refused


def rejected(settings: Settings) -> list[RejectedFile]:
    """Files the build quarantined (could not be read), each with its reason.

    For the Documents tab: they are not indexed, so they are not in `list_documents`, but
    they can be deleted (`delete_rejected`) or replaced by uploading a fixed file."""
    return quarantine.list_rejected(settings)


def delete_rejected(settings: Settings, name: str) -> None:
    """Delete one quarantined file (and its reason); nothing is indexed, so no build runs."""
    if not quarantine.remove(settings, name):
        raise LibraryError(f"no rejected file named {name!r}")


def unindexed_uploads(settings: Settings) -> list[str]:
    """Uploaded files that no generation lists (saved, but the indexing never happened)."""
    folder = settings.path(settings.upload_dir)
    if not folder.is_dir():
        return []
    known = known_ids(read_manifest(settings))
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and p.suffix.lower() in SUPPORTED_SUFFIXES
        and p.stem not in known
    )


def delete_document(
    settings: Settings, doc_id: str, progress: Progress | None = None
) -> BuildReport:
    """Remove a document's file (and sidecar) from the corpus and update the index."""
    docs = read_manifest(settings).get("documents", {})
    if doc_id not in docs:
        raise LibraryError(f"no indexed document with id {doc_id!r}")
    path = Path(docs[doc_id]["path"]).resolve()
    corpus = settings.corpus.resolve()
    uploads = settings.path(settings.upload_dir).resolve()
    if not (path.is_relative_to(corpus) or path.is_relative_to(uploads)):
        raise LibraryError(f"{doc_id}: its file is outside the corpus folder; remove it by hand")
    for candidate in [path] + [path.with_name(path.stem + s) for s in SIDECAR_SUFFIXES]:
        candidate.unlink(missing_ok=True)
    kwargs: dict[str, Any] = {"progress": progress} if progress else {}
    try:
        return build_index(settings, **kwargs)
    except IndexProblem as exc:
        if "already updating" not in str(exc):
            raise
        raise LibraryError(
            f"{doc_id}: its file is deleted; the build that is running now leaves it out of "
            "the index"
        ) from exc
