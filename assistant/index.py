"""Building and opening the index: Chroma vectors + BM25 + chunk store + manifest.

Layout under ``settings.indexes``::

    CURRENT.json              which generation is live (replaced atomically, last step of a build)
    chroma/                   embedded Chroma data (absent in server mode)
    generations/gNNNNNN/      manifest.json, chunks.jsonl (+ offsets, keys), bm25/, vectors/
                              (immutable once written; vectors/ is the embedded mode's copy of
                              the Chroma vectors that queries read, see assistant.snapshot)

Chunk ids are content addressed (doc id + text hash), so an incremental build only embeds the
chunks that changed and upserts them into the live collection; readers only trust ids listed in
their own generation, so an interrupted build (Ctrl-C, kill -9) leaves extra vectors that nothing
reads, and the next build removes them. ``--rebuild`` writes into a new collection and switches
over only when complete, so the previous index keeps answering throughout.

Faults (issue 17): a build checks the free space before it writes and turns a write failure
(full disk, SQLite, Chroma) into `IndexProblem`/`DiskFull` after undoing what it left
(`assistant.storage`); files are parsed in a child process with limits
(`assistant.parse_pool`) and a file that fails is quarantined (`assistant.quarantine`);
`check_index`, `leftovers` and `repair_index` explain and remove what a fault left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant import quarantine
from assistant.blocks import STRUCTURE_VERSION
from assistant.bm25 import BM25Index, tokenize
from assistant.documents import Chunk
from assistant.embeddings import get_embedder
from assistant.loaders import SIDECAR_SUFFIXES, LoadError, discover
from assistant.parse_pool import make_parser
from assistant.settings import Settings
from assistant.snapshot import ChunkStore, VectorCopy, as_matrix, write_chunks, write_vectors
from assistant.storage import (
    MB,
    DiskFull,
    IndexProblem,
    SearchUnavailable,
    free_bytes,
    is_disk_full,
    is_store_failure,
    is_unreachable,
    rollback_unapplied_writes,
    unapplied_writes,
)
from assistant.text import sentence_spans

# The structure version of what an index holds (loaders + chunker): 1 was the line-based
# splitter, 2 the block model (assistant.blocks). An index of another version is rebuilt.
PIPELINE_VERSION = str(STRUCTURE_VERSION)
Progress = Callable[[str, int, int, str], None]  # (stage, done, total, detail)
EMBED_BATCH = 256  # chunks embedded and stored per Chroma write
log = logging.getLogger(__name__)


def _noop(stage: str, done: int, total: int, detail: str) -> None:
    return None


# ----------------------------------------------------------------------------- storage helpers
def chroma_client(settings: Settings, fresh: bool = False) -> Any:
    """Embedded Chroma under the index folder, or a Chroma server when `chroma_url` is set.

    Embedded clients are cached per folder by chromadb and keep their vector index in memory;
    `fresh` drops that cache so a long-running reader sees what another process wrote.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        try:
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or 8000,
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb says ValueError("Could not connect ...")
            if is_unreachable(exc):
                raise SearchUnavailable(settings.chroma_url) from exc
            raise
    path = settings.indexes / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    if fresh:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()  # existing clients keep their own system
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _collection(client: Any, name: str, embedder_name: str, create: bool = True) -> Any:
    if not create:
        return client.get_collection(name, embedding_function=None)
    return client.get_or_create_collection(
        name,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"embedder": embedder_name},
        embedding_function=None,
    )


def _atomic_write(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        os.fsync(dir_fd)
        os.close(dir_fd)


def read_current(settings: Settings) -> dict[str, Any] | None:
    """The live generation's pointer, or None when no index was built yet."""
    path = settings.indexes / "CURRENT.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexProblem(
            f"{path} is unreadable ({exc}); run `assistant index --rebuild`"
        ) from exc


def _generation_dir(settings: Settings, name: str) -> Path:
    return settings.indexes / "generations" / name


def read_manifest(settings: Settings, current: dict[str, Any] | None = None) -> dict[str, Any]:
    current = current if current is not None else read_current(settings)
    if not current:
        return {"documents": {}, "errors": []}
    path = _generation_dir(settings, current["generation"]) / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _read_chunks(folder: Path) -> list[Chunk]:
    with open(folder / "chunks.jsonl", encoding="utf-8") as fh:
        return [Chunk.from_dict(json.loads(line)) for line in fh if line.strip()]


@contextlib.contextmanager
def build_lock(settings: Settings, wait: bool = False) -> Iterator[None]:
    """One build at a time per index folder (a second one fails fast with a clear message).

    With `wait`, a second build waits for the first instead: `serve`'s background build, which
    has nobody to report "busy" to, then simply runs after a concurrent `assistant index`.
    """
    settings.indexes.mkdir(parents=True, exist_ok=True)
    with open(settings.indexes / ".build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexProblem(
                f"another `assistant index` is already updating {settings.indexes}"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


MAX_SENTENCE_VECTORS = 24


def sentence_vectors(chunk: Chunk) -> list[tuple[str, int, int]]:
    """``(vector id, start, end)`` of the chunk's sentences that get a vector of their own.

    PDF-extracted chunks often mix several topics; matching a question against the best single
    sentence as well as the whole chunk makes dense retrieval far less blurry. The indexer,
    the metadata refresh and the extractive generator (which reuses the vectors) all take ids
    from here, so they cannot drift apart. Very short fragments carry no meaning and get none.
    """
    spans = [(s, e) for s, e in sentence_spans(chunk.text) if e - s >= 20]
    return [(f"{chunk.chunk_id}#{j}", s, e) for j, (s, e) in enumerate(spans)][
        :MAX_SENTENCE_VECTORS
    ]


def parent_chunk_id(vector_id: str) -> str:
    """The chunk a sentence vector belongs to."""
    return vector_id.rsplit("#", 1)[0]


def sentence_collection_name(name: str) -> str:
    return f"{name}-sent"


def embed_text(chunk: Chunk) -> str:
    """What gets embedded and BM25-indexed: the section label and, for a continuation of a
    long list or table, its lead-in or header row give a passage its context."""
    head = []
    if chunk.section and chunk.section != chunk.title and not chunk.text.startswith(chunk.section):
        head.append(chunk.section)
    if chunk.context:
        head.append(chunk.context)
    return "\n".join([*head, chunk.text])


def encode_chunks(
    embedder: Any, chunks: list[Chunk], derive: bool = True
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each chunk's vector and its sentence vectors (`sentence_vectors` order), in one batch.

    By default (`Settings.chunk_vectors = "encode"`) a chunk is encoded whole, as `embed_text`,
    besides its sentences. With `derive` (`"sentences"`) only the sentences and the heading
    context are encoded and the chunk vector is their length-weighted mean, renormalised:
    MiniLM pools by a mean over tokens, so this approximates the whole-chunk pass at about
    two-thirds of the encoder time, but it ranks worse on the suite (README "Ingestion").
    A chunk with no sentence long enough for a vector is encoded whole either way.
    """
    spans = [sentence_vectors(c) for c in chunks]
    sentences = [[c.text[a:b] for _, a, b in sp] for c, sp in zip(chunks, spans, strict=True)]
    if derive:
        heads = [_head(c) if sp else embed_text(c) for c, sp in zip(chunks, spans, strict=True)]
    else:
        heads = [embed_text(c) for c in chunks]
    texts = [t for t in heads if t] + [t for group in sentences for t in group]
    vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
    dim = vectors.shape[1] if vectors.ndim == 2 and len(vectors) else getattr(embedder, "dim", 384)
    head_rows = iter(vectors[: sum(1 for t in heads if t)])
    rows = len(texts) - sum(len(g) for g in sentences)
    whole = np.zeros((len(chunks), dim), dtype=np.float32)
    parts: list[np.ndarray] = []
    for j, (head, group) in enumerate(zip(heads, sentences, strict=True)):
        head_vec = next(head_rows) if head else None
        mine = vectors[rows : rows + len(group)]
        rows += len(group)
        parts.append(mine)
        if not derive or not len(mine):
            whole[j] = head_vec if head_vec is not None else 0.0
            continue
        weights = np.array([len(t) for t in group], dtype=np.float32)
        total = (weights[:, None] * mine).sum(axis=0)
        if head_vec is not None:
            total += len(head) * head_vec
        whole[j] = total / max(float(np.linalg.norm(total)), 1e-12)
    return whole, parts


def vector_recipe(settings: Settings, embedder_name: str) -> str:
    """What made the vectors, as the manifest records it: another recipe means re-embedding."""
    if settings.chunk_vectors == "sentences":
        return f"{embedder_name}+sentence-mean"
    return embedder_name


def _head(chunk: Chunk) -> str:
    """What `embed_text` puts before the chunk's text (section label, lead-in), or ""."""
    full = embed_text(chunk)
    return full[: -len(chunk.text)].rstrip("\n") if full != chunk.text else ""


# ----------------------------------------------------------------------------- building
@dataclass
class BuildReport:
    """What a build did, for the CLI summary and the tests."""

    generation: str = ""
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    kept_on_error: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # file names moved to quarantine now
    chunks_total: int = 0
    chunks_embedded: int = 0
    chunks_per_doc: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    changed: bool = False
    notes: list[str] = field(default_factory=list)  # why the build did what it did


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sidecar_bytes(path: Path) -> bytes:
    for suffix in SIDECAR_SUFFIXES:
        side = path.with_name(path.stem + suffix)
        if side.is_file():
            return side.read_bytes()
    return b""


def build_index(
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: Progress = _noop,
    files: list[Path] | None = None,
    embedder: Any = None,
    expected: Collection[str] = (),
    wait: bool = False,
) -> BuildReport:
    """Bring the index up to date with the corpus folder (incremental by content hash).

    `wait` waits for a build already running on this index folder instead of failing.

    `expected` names files the caller has just saved (an upload); any other file of the upload
    folder that no generation lists was saved by an upload that never got indexed (the process
    was killed) and is reported as picked up. A file deleted while the build runs is left out;
    one deleted after the last look but before the switch gets a second, quick pass, so the
    index never lists a file that is gone. A write failure (a full disk) leaves the previous
    generation live and raises `IndexProblem` (`DiskFull`) with a clear message.
    """
    started = time.perf_counter()
    with build_lock(settings, wait=wait):
        embedder = embedder or get_embedder(settings)
        cleanup_notes = _clear_failed_builds(settings)
        with make_parser(settings) as parser:
            report = _build(settings, rebuild, progress, files, embedder, parser, expected)
            gone = _listed_but_gone(settings) if files is None else []
            if gone:
                again = _build(settings, False, progress, None, embedder, parser, expected)
                report.removed = sorted(set(report.removed) | set(again.removed))
                report.generation, report.chunks_total = again.generation, again.chunks_total
                report.chunks_per_doc = again.chunks_per_doc
                report.notes.append(f"removed during the build, now dropped: {', '.join(gone)}")
        report.notes[:0] = cleanup_notes
        report.seconds = time.perf_counter() - started
        return report


@dataclass
class _Docs:
    """What the document pass decided: entries, chunks, and which chunks need work."""

    new: dict[str, Any] = field(default_factory=dict)
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    to_embed: list[Chunk] = field(default_factory=list)
    refresh_meta: list[Chunk] = field(default_factory=list)  # same text, maybe new metadata


def _build(
    settings: Settings,
    rebuild: bool,
    progress: Progress,
    files: list[Path] | None,
    embedder: Any,
    parser: Any,
    expected: Collection[str],
) -> BuildReport:
    report = BuildReport()
    current = read_current(settings)
    old_manifest = read_manifest(settings, current) if current else {"documents": {}}
    old_chunks: dict[str, Chunk] = {}
    if current:
        old_chunks = {
            c.chunk_id: c for c in _read_chunks(_generation_dir(settings, current["generation"]))
        }
    fingerprint = f"{PIPELINE_VERSION}:{settings.chunk_min_chars}:{settings.chunk_max_chars}"
    fresh = (
        rebuild
        or current is None
        or old_manifest.get("embedder") != vector_recipe(settings, embedder.name)
        or old_manifest.get("pipeline") != fingerprint
    )
    old_version = str(old_manifest.get("pipeline") or "").split(":")[0]
    if current and not rebuild and old_version != PIPELINE_VERSION:
        report.notes.append(
            f"the index was built with document structure version {old_version or '?'}; "
            f"rebuilding every document with version {PIPELINE_VERSION} (block model)"
        )
    gen_number = int(current["generation"][1:]) + 1 if current else 1
    generation = f"g{gen_number:06d}"
    coll_name = (
        f"{settings.collection}-{generation}"
        if fresh and current
        else (current["collection"] if current else settings.collection)
    )
    old_docs: dict[str, Any] = {} if fresh else old_manifest.get("documents", {})
    if files is None:
        indexed = {d: e.get("path", "") for d, e in old_manifest.get("documents", {}).items()}
        paths, discover_errors = discover(
            settings.corpus, prefer=indexed, exclude=quarantine.folder(settings)
        )
    else:
        paths, discover_errors = files, []
    report.errors += [str(e) for e in discover_errors]
    report.notes += _unindexed_uploads(settings, paths, old_manifest, expected)
    docs = _collect_documents(
        settings, paths, old_docs, old_chunks, fingerprint, parser, progress, report
    )
    if files is None:
        _report_quarantined(settings, report)
    try:
        return _write(
            settings,
            report,
            docs,
            current,
            old_manifest,
            old_docs,
            old_chunks,
            fresh,
            generation,
            coll_name,
            embedder,
            fingerprint,
            progress,
        )
    except Exception as exc:
        if settings.chroma_url and not isinstance(exc, IndexProblem) and is_unreachable(exc):
            _abandon(settings, generation)  # the server went away mid-build: not a full disk
            raise SearchUnavailable(settings.chroma_url) from exc
        if isinstance(exc, IndexProblem) or not is_store_failure(exc):
            _abandon(settings, generation)
            raise
        raise _write_failure(settings, generation, docs, exc) from exc


def _collect_documents(
    settings: Settings,
    paths: list[Path],
    old_docs: dict[str, Any],
    old_chunks: dict[str, Chunk],
    fingerprint: str,
    parser: Any,
    progress: Progress,
    report: BuildReport,
) -> _Docs:
    """Hash every file, reuse unchanged documents and parse the rest (in the parse child)."""
    docs = _Docs()
    seen_hashes: dict[str, str] = {}
    progress("documents", 0, len(paths), "")
    for i, path in enumerate(paths):
        doc_id = path.stem
        progress("documents", i, len(paths), path.name)
        if doc_id in docs.new:
            report.errors.append(f"{path.name}: another file already has document id {doc_id!r}")
            continue
        try:
            content_hash = _file_hash(path)
            sidecar = _sidecar_bytes(path)
        except FileNotFoundError:
            report.notes.append(f"{path.name}: removed during the build; skipped")
            continue
        if content_hash in seen_hashes:
            report.duplicates[doc_id] = seen_hashes[content_hash]
            continue
        doc_hash = hashlib.sha256(
            content_hash.encode() + sidecar + fingerprint.encode()
        ).hexdigest()
        previous = old_docs.get(doc_id)
        reusable = bool(previous) and all(cid in old_chunks for cid in previous["chunks"])
        if reusable and previous.get("hash") == doc_hash:
            _keep(docs, doc_id, previous, old_chunks)
            report.unchanged.append(doc_id)
            seen_hashes[content_hash] = doc_id
            continue
        if reusable and previous.get("failed_hash") == doc_hash:
            # the same bad bytes as last time: not parsed again, the last good version stays
            _keep(docs, doc_id, previous, old_chunks, failed=(doc_hash, previous["failed_error"]))
            report.errors.append(previous["failed_error"])
            report.kept_on_error.append(doc_id)
            continue
        try:
            chunks, entry = parser.parse(
                path, lambda done, total, name=path.name: progress("pages", done, total, name)
            )
        except LoadError as exc:
            _load_failed(
                settings,
                docs,
                report,
                path,
                exc,
                previous if reusable else None,
                doc_hash,
                old_chunks,
            )
            continue
        # only a file that indexed can be the original of a duplicate (two empty or two
        # broken files with equal bytes are each reported with their own error)
        seen_hashes[content_hash] = doc_id
        entry["hash"] = doc_hash
        entry["indexed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        docs.new[doc_id] = entry
        docs.chunks[doc_id] = chunks
        (report.updated if previous else report.added).append(doc_id)
        docs.to_embed.extend(c for c in chunks if c.chunk_id not in old_chunks)
        docs.refresh_meta.extend(c for c in chunks if c.chunk_id in old_chunks)
    progress("documents", len(paths), len(paths), "")
    _note_rejected_and_aliases(settings, docs, report)
    return docs


def _note_rejected_and_aliases(settings: Settings, docs: _Docs, report: BuildReport) -> None:
    """Say which files were quarantined; list each duplicate file under its original."""
    if report.rejected:
        report.notes.append(
            f"moved {len(report.rejected)} unreadable file(s) to {quarantine.folder(settings)}; "
            f"not parsed again until replaced: {', '.join(report.rejected)}"
        )
    for dup, original in report.duplicates.items():
        if original in docs.new:
            docs.new[original].setdefault("aliases", [])
            if dup not in docs.new[original]["aliases"]:
                docs.new[original]["aliases"].append(dup)


def _keep(
    docs: _Docs,
    doc_id: str,
    previous: dict[str, Any],
    old_chunks: dict[str, Chunk],
    failed: tuple[str, str] | None = None,
) -> None:
    """Reuse the previous entry and chunks (aliases are recomputed, a failure is recorded)."""
    entry = {
        k: v for k, v in previous.items() if k not in ("aliases", "failed_hash", "failed_error")
    }
    if failed:
        entry["failed_hash"], entry["failed_error"] = failed
    docs.new[doc_id] = entry
    docs.chunks[doc_id] = [old_chunks[cid] for cid in previous["chunks"]]


def _load_failed(
    settings: Settings,
    docs: _Docs,
    report: BuildReport,
    path: Path,
    exc: LoadError,
    previous: dict[str, Any] | None,
    doc_hash: str,
    old_chunks: dict[str, Chunk],
) -> None:
    """A file that could not be read: skipped if gone, else kept (old version) or quarantined."""
    if not path.exists():
        report.notes.append(f"{path.name}: removed during the build; skipped")
        return
    message = str(exc)
    report.errors.append(message)
    if previous is not None:
        # keep the last good version rather than lose it; these bytes are not parsed again
        _keep(docs, path.stem, previous, old_chunks, failed=(doc_hash, message))
        report.kept_on_error.append(path.stem)
        return
    if Path(exc.path) == path and quarantine.can_quarantine(settings, path):
        moved = quarantine.reject(settings, path, message)
        if moved is not None:
            report.rejected.append(path.name)


def _report_quarantined(settings: Settings, report: BuildReport) -> None:
    """Files still in quarantine are reported again (their reason), without being parsed."""
    for item in quarantine.list_rejected(settings):
        if item.name not in report.rejected and item.reason not in report.errors:
            report.errors.append(item.reason)


def known_ids(manifest: dict[str, Any]) -> set[str]:
    """Document ids a manifest accounts for: indexed documents and their duplicates."""
    docs = manifest.get("documents", {})
    return set(docs) | {alias for entry in docs.values() for alias in entry.get("aliases", [])}


def _unindexed_uploads(
    settings: Settings, paths: list[Path], manifest: dict[str, Any], expected: Collection[str]
) -> list[str]:
    """A note naming upload-folder files no generation knows and nobody just saved."""
    uploads = settings.path(settings.upload_dir).resolve()
    known = known_ids(manifest)
    names = sorted(
        p.name
        for p in paths
        if p.resolve().parent == uploads and p.stem not in known and p.name not in expected
    )
    if not names:
        return []
    return [
        f"picked up {len(names)} uploaded file(s) saved earlier but never indexed "
        f"(an interrupted upload?): {', '.join(names)}"
    ]


def _listed_but_gone(settings: Settings) -> list[str]:
    """Documents of the live generation whose file no longer exists."""
    try:
        documents = read_manifest(settings).get("documents", {})
    except (OSError, ValueError, IndexProblem):
        return []
    return sorted(d for d, e in documents.items() if e.get("path") and not Path(e["path"]).exists())


def _drop_vanished(docs: _Docs, report: BuildReport) -> None:
    """Leave out documents whose file was deleted while the build was embedding."""
    for doc_id in [d for d, e in docs.new.items() if not Path(e.get("path", "")).exists()]:
        del docs.new[doc_id]
        docs.chunks.pop(doc_id, None)
        report.notes.append(f"{doc_id}: its file was removed during the build; left out")
        for lst in (report.added, report.updated, report.unchanged, report.kept_on_error):
            if doc_id in lst:
                lst.remove(doc_id)


def _write(
    settings: Settings,
    report: BuildReport,
    docs: _Docs,
    current: dict[str, Any] | None,
    old_manifest: dict[str, Any],
    old_docs: dict[str, Any],
    old_chunks: dict[str, Chunk],
    fresh: bool,
    generation: str,
    coll_name: str,
    embedder: Any,
    fingerprint: str,
    progress: Progress,
) -> BuildReport:
    """Everything that writes: vectors, then the generation folder, then the switch."""
    client = chroma_client(settings)
    keep = {coll_name, (current or {}).get("collection")}
    _drop_stale_collections(
        client, settings, keep=keep | {sentence_collection_name(k) for k in keep if k}
    )
    collection = _collection(client, coll_name, embedder.name)
    sentences = _collection(client, sentence_collection_name(coll_name), embedder.name)
    pending, fresh_vectors = _store_vectors(
        settings, report, docs, collection, sentences, embedder, progress
    )
    _drop_vanished(docs, report)
    new_docs = docs.new
    report.removed = sorted(set(old_manifest.get("documents", {})) - set(new_docs))
    all_chunks = [c for doc_id in new_docs for c in docs.chunks[doc_id]]
    wanted_ids = {c.chunk_id for c in all_chunks}
    report.changed = _is_changed(report, docs, pending, old_manifest, old_docs, fresh) or (
        fresh_vectors is not None and current is not None and not _has_copy(settings, current)
    )
    report.chunks_total = len(all_chunks)
    report.chunks_per_doc = {d: len(docs.chunks[d]) for d in new_docs}
    if not report.changed and current is not None:
        report.generation = current["generation"]
        _cleanup(settings, report, lambda: _remove_orphans(collection, sentences, wanted_ids))
        return report

    manifest = {
        "generation": generation,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "embedder": vector_recipe(settings, embedder.name),
        "pipeline": fingerprint,
        "collection": coll_name,
        "chunks": len(all_chunks),
        "documents": new_docs,
        "errors": report.errors,
    }
    copy = None
    if fresh_vectors is not None:
        copy = _vector_copy(settings, current, collection, sentences, all_chunks, fresh_vectors)
    _write_generation(settings, generation, all_chunks, manifest, progress, copy)
    pointer = {"generation": generation, "collection": coll_name, "chunks": len(all_chunks)}
    _atomic_write(settings.indexes / "CURRENT.json", json.dumps(pointer))
    # The switch is done; everything below is clean-up a crash (or a full disk) can skip.
    report.generation = generation

    def clean_up() -> None:
        if current and current["collection"] != coll_name:
            for old in (current["collection"], sentence_collection_name(current["collection"])):
                with contextlib.suppress(Exception):
                    client.delete_collection(old)
        _remove_orphans(collection, sentences, wanted_ids)
        _prune_generations(settings, keep={generation, (current or {}).get("generation")})

    _cleanup(settings, report, clean_up)
    return report


def _store_vectors(
    settings: Settings,
    report: BuildReport,
    docs: _Docs,
    collection: Any,
    sentences: Any,
    embedder: Any,
    progress: Progress,
) -> tuple[dict[str, Chunk], dict[str, tuple[np.ndarray, np.ndarray]] | None]:
    """Embed what changed (and what a crash left without vectors) into Chroma; refresh the
    metadata of the rest. Returns the chunks embedded and, in embedded mode, their vectors
    for the generation's copy."""
    all_chunks = [c for doc_id in docs.new for c in docs.chunks[doc_id]]
    # Chunks listed as unchanged must really have vectors (self-healing after a crash).
    present = _existing_ids(collection, [c.chunk_id for c in all_chunks])
    pending = {c.chunk_id: c for c in docs.to_embed}
    for chunk in all_chunks:
        if chunk.chunk_id not in present:
            pending.setdefault(chunk.chunk_id, chunk)
    check_free_space(settings, list(pending.values()), all_chunks)
    fresh_vectors: dict[str, tuple[np.ndarray, np.ndarray]] | None = (
        None if settings.chroma_url else {}
    )
    report.chunks_embedded = _embed_and_store(
        collection,
        sentences,
        embedder,
        list(pending.values()),
        progress,
        keep=fresh_vectors,
        derive=settings.chunk_vectors == "sentences",
    )
    _refresh_metadata(
        collection, sentences, [c for c in docs.refresh_meta if c.chunk_id not in pending]
    )
    return pending, fresh_vectors


def _is_changed(
    report: BuildReport,
    docs: _Docs,
    pending: dict[str, Chunk],
    old_manifest: dict[str, Any],
    old_docs: dict[str, Any],
    fresh: bool,
) -> bool:
    """Whether this build needs a new generation (anything a reader would see differs)."""
    new_docs = docs.new
    return bool(
        fresh
        or report.added
        or report.updated
        or report.removed
        or report.chunks_embedded
        or any(c.chunk_id not in pending for c in docs.refresh_meta)
        or set(new_docs) != set(old_manifest.get("documents", {}))
        or any(
            new_docs[d].get(key) != old_docs.get(d, {}).get(key)
            for d in new_docs
            for key in ("aliases", "failed_hash")
        )
    )


def _has_copy(settings: Settings, current: dict[str, Any]) -> bool:
    """Whether the live generation has a vector copy that matches its chunks."""
    folder = _generation_dir(settings, current["generation"])
    try:
        return VectorCopy.load(folder, len(ChunkStore(folder))) is not None
    except (OSError, ValueError):
        return False


def _write_generation(
    settings: Settings,
    generation: str,
    all_chunks: list[Chunk],
    manifest: dict[str, Any],
    progress: Progress,
    vectors: tuple[np.ndarray, list[np.ndarray]] | None = None,
) -> None:
    """BM25, chunk store, vector copy and manifest into a temporary folder, then renamed into
    place (not yet live: CURRENT.json is switched by the caller)."""
    progress("bm25", 0, 1, "")
    gen_tmp = _tmp_generation(settings, generation)
    shutil.rmtree(gen_tmp, ignore_errors=True)
    gen_tmp.mkdir(parents=True)
    BM25Index.build([embed_text(c) for c in all_chunks]).save(gen_tmp / "bm25")
    progress("bm25", 1, 1, "")
    write_chunks(gen_tmp, all_chunks)
    if vectors is not None:
        write_vectors(gen_tmp, vectors[0], vectors[1], vectors[0].shape[1])
    _atomic_write(gen_tmp / "manifest.json", json.dumps(manifest, indent=1))
    final_dir = _generation_dir(settings, generation)
    shutil.rmtree(final_dir, ignore_errors=True)
    os.rename(gen_tmp, final_dir)


def _vector_copy(
    settings: Settings,
    current: dict[str, Any] | None,
    collection: Any,
    sentences: Any,
    chunks: list[Chunk],
    fresh: dict[str, tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every chunk's vectors for the new generation's copy, in position order.

    Chunks embedded by this build come from `fresh`; unchanged ones from the previous
    generation's copy; any other (a generation written before copies existed) from Chroma.
    """
    previous: VectorCopy | None = None
    previous_ids: dict[str, int] = {}
    if current is not None:
        folder = _generation_dir(settings, current["generation"])
        with contextlib.suppress(OSError, ValueError):
            store = ChunkStore(folder)
            previous = VectorCopy.load(folder, len(store))
            previous_ids = {cid: i for i, cid in enumerate(store.keys()["ids"])}
    rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    missing: list[Chunk] = []
    for chunk in chunks:
        got = fresh.get(chunk.chunk_id)
        pos = previous_ids.get(chunk.chunk_id)
        if got is None and previous is not None and pos is not None:
            got = (np.asarray(previous.chunk[pos]), previous.sentence_rows(pos))
        if got is None:
            missing.append(chunk)
        else:
            rows[chunk.chunk_id] = got
    rows.update(_vectors_from_chroma(collection, sentences, missing))
    dim = next((len(v) for v, _ in rows.values()), 384)
    matrix = as_matrix([rows[c.chunk_id][0] for c in chunks], dim)
    return matrix, [as_matrix(rows[c.chunk_id][1], dim) for c in chunks]


def _vectors_from_chroma(
    collection: Any, sentences: Any, chunks: list[Chunk], batch: int = 1000
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(vector, sentence vectors) of `chunks` as Chroma stores them."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for i in range(0, len(chunks), batch):
        part = chunks[i : i + batch]
        whole = collection.get(ids=[c.chunk_id for c in part], include=["embeddings"])
        vec = dict(zip(whole["ids"], whole["embeddings"], strict=False))
        sids = [vid for c in part for vid, _, _ in sentence_vectors(c)]
        got = sentences.get(ids=sids, include=["embeddings"]) if sids else {"ids": []}
        svec = dict(zip(got["ids"], got.get("embeddings", []), strict=False))
        for c in part:
            wanted = [vid for vid, _, _ in sentence_vectors(c)]
            if c.chunk_id not in vec or any(v not in svec for v in wanted):
                raise IndexProblem(
                    f"chunk {c.chunk_id} has no complete vectors in Chroma; "
                    "run `assistant index --rebuild`"
                )
            dim = len(vec[c.chunk_id])
            out[c.chunk_id] = (
                np.asarray(vec[c.chunk_id], dtype=np.float32),
                as_matrix([svec[v] for v in wanted], dim),
            )
    return out


def _refresh_metadata(collection: Any, sentences: Any, chunks: list[Chunk]) -> None:
    """New titles/types/offsets for chunks whose text (and so vector) did not change."""
    for i in range(0, len(chunks), 1000):
        part = chunks[i : i + 1000]
        collection.update(
            ids=[c.chunk_id for c in part], metadatas=[c.chroma_metadata() for c in part]
        )
        pieces = [(c, vid) for c in part for vid, _, _ in sentence_vectors(c)]
        if pieces:
            sentences.update(
                ids=[vid for _, vid in pieces],
                metadatas=[{"parent": c.chunk_id, **c.chroma_metadata()} for c, _ in pieces],
            )


def _cleanup(settings: Settings, report: BuildReport, work: Callable[[], Any]) -> None:
    """Run post-switch clean-up; a failure (full disk) is a note, never a failed build."""
    try:
        work()
    except Exception as exc:  # noqa: BLE001 - the new generation is live; nothing is lost
        if not is_store_failure(exc):
            raise
        _recover_store(settings)
        report.notes.append(
            f"clean-up after the build failed ({_short(exc)}); the index is fine; "
            "`assistant index --repair` finishes it"
        )


# ----------------------------------------------------------------------------- faults
def _tmp_generation(settings: Settings, generation: str) -> Path:
    return settings.indexes / "generations" / f".tmp-{generation}-{os.getpid()}"


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def space_needed(settings: Settings, pending: list[Chunk], all_chunks: list[Chunk]) -> int:
    """Bytes a build will write: vectors of new chunks and a new generation folder.

    The factors are Settings fields measured on Chroma 1.5.9 (see their comment)."""
    vectors = 0 if settings.chroma_url else sum(1 + len(sentence_vectors(c)) for c in pending)
    text = sum(len(c.text.encode("utf-8")) for c in all_chunks)
    reserve = settings.disk_reserve_mb * MB if vectors else 0  # headroom for Chroma's writes
    return (
        vectors * settings.disk_bytes_per_vector
        + int(text * settings.disk_generation_factor)
        + reserve
    )


def check_free_space(settings: Settings, pending: list[Chunk], all_chunks: list[Chunk]) -> None:
    """Refuse a build, before it writes anything, when the index folder lacks the space."""
    needed = space_needed(settings, pending, all_chunks)
    free = free_bytes(settings.indexes)
    if needed > free:
        raise DiskFull(settings.indexes, free, needed, "checked before writing")


def _write_failure(
    settings: Settings, generation: str, docs: _Docs, exc: BaseException
) -> IndexProblem:
    """Undo what a failed write left and say why: a full disk, or the store's own error."""
    _abandon(settings, generation)
    _recover_store(settings)
    free = free_bytes(settings.indexes)
    all_chunks = [c for doc_id in docs.new for c in docs.chunks[doc_id]]
    # Chroma's compaction error hides ENOSPC: a failure with less free space than the build
    # needs, or than one embedding batch needs at the measured rate, is a full disk.
    batch = EMBED_BATCH * 2 * max(settings.disk_bytes_per_vector, Settings.disk_bytes_per_vector)
    needed = max(space_needed(settings, docs.to_embed, all_chunks), batch)
    if is_disk_full(exc) or free < needed:
        return DiskFull(settings.indexes, free, needed, f"while writing: {_short(exc)}")
    return IndexProblem(
        f"writing the index failed ({_short(exc)}); the previous index is unchanged; "
        "run `assistant index --check`"
    )


def _abandon(settings: Settings, generation: str) -> None:
    """Remove this build's unfinished generation folder (it is never read)."""
    shutil.rmtree(_tmp_generation(settings, generation), ignore_errors=True)


def _recover_store(settings: Settings) -> None:
    """Make Chroma readable again after a failed write: roll back writes it could not apply
    (their vectors belong to no generation), then drop what the failed batch did apply."""
    if settings.chroma_url:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    try:
        rollback_unapplied_writes(settings.indexes)
    except (sqlite3.Error, OSError) as exc:
        log.warning("could not roll back Chroma's unapplied writes: %s", exc)
    with contextlib.suppress(Exception):
        _remove_current_orphans(settings)


def _remove_current_orphans(settings: Settings) -> int:
    """Delete vectors the live generation does not list; on failure roll the deletes back."""
    current = read_current(settings)
    if current is None:
        return 0
    wanted = {c.chunk_id for c in _read_chunks(_generation_dir(settings, current["generation"]))}
    try:
        client = chroma_client(settings, fresh=True)
        collection = _collection(client, current["collection"], "", create=False)
        sentences = _collection(
            client, sentence_collection_name(current["collection"]), "", create=False
        )
        return _remove_orphans(collection, sentences, wanted)
    except Exception:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
        with contextlib.suppress(sqlite3.Error, OSError):
            rollback_unapplied_writes(settings.indexes)
        raise


def _failed_generations(settings: Settings) -> list[Path]:
    """Unfinished generation folders of builds that failed or were killed."""
    root = settings.indexes / "generations"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.startswith(".tmp-"))


def _clear_failed_builds(settings: Settings) -> list[str]:
    """Remove what failed builds left (unfinished folders, unapplied Chroma writes)."""
    notes: list[str] = []
    failed = _failed_generations(settings)
    for folder in failed:
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        notes.append(f"removed {len(failed)} unfinished generation folder(s) of a failed build")
    if not settings.chroma_url and unapplied_writes(settings.indexes):
        try:  # reading applies a killed build's writes; a full disk makes that fail
            client = chroma_client(settings)
            for coll in client.list_collections():
                name = coll if isinstance(coll, str) else coll.name
                client.get_collection(name).get(limit=1, include=[])
        except Exception:  # noqa: BLE001 - they cannot be applied: roll them back
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
            rolled = rollback_unapplied_writes(settings.indexes)
            notes.append(f"rolled back {rolled} vector writes Chroma could not apply")
    return notes


def _existing_ids(collection: Any, ids: list[str], batch: int = 5000) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), batch):
        found.update(collection.get(ids=ids[i : i + batch], include=[])["ids"])
    return found


def _embed_and_store(
    collection: Any,
    sentences: Any,
    embedder: Any,
    chunks: list[Chunk],
    progress: Progress,
    batch: int = EMBED_BATCH,
    keep: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    derive: bool = True,
) -> int:
    """Embed chunks (and their sentences) in batches and upsert them; returns chunks stored.

    With `keep`, each chunk's (vector, sentence vectors) are also put there, for the
    generation's vector copy."""
    total = len(chunks)
    progress("embedding", 0, total, "")
    for i in range(0, total, batch):
        part = chunks[i : i + batch]
        pieces = [(c, vid) for c in part for vid, _, _ in sentence_vectors(c)]
        whole, parts = encode_chunks(embedder, part, derive)
        if keep is not None:
            keep.update((c.chunk_id, (whole[j], parts[j])) for j, c in enumerate(part))
        if pieces:
            sentences.upsert(
                ids=[vid for _, vid in pieces],
                embeddings=np.concatenate([p for p in parts if len(p)]),
                metadatas=[{"parent": c.chunk_id, **c.chroma_metadata()} for c, _ in pieces],
            )
        # the chunk vector goes last: its presence marks the chunk as completely stored
        collection.upsert(
            ids=[c.chunk_id for c in part],
            embeddings=whole,
            metadatas=[c.chroma_metadata() for c in part],
            documents=[c.text for c in part],
        )
        progress("embedding", min(i + batch, total), total, "")
    return total


def _all_ids(collection: Any, batch: int = 10000) -> list[str]:
    ids: list[str] = []
    offset = 0
    while True:
        got = collection.get(include=[], limit=batch, offset=offset)["ids"]
        ids.extend(got)
        if len(got) < batch:
            return ids
        offset += batch


def _remove_orphans(collection: Any, sentences: Any, wanted: set[str]) -> int:
    """Delete vectors no generation lists (left by an interrupted build or a removed doc)."""
    stale = [i for i in _all_ids(collection) if i not in wanted]
    stale_sent = [i for i in _all_ids(sentences) if parent_chunk_id(i) not in wanted]
    for coll, ids in ((sentences, stale_sent), (collection, stale)):
        for i in range(0, len(ids), 5000):
            coll.delete(ids=ids[i : i + 5000])
    return len(stale) + len(stale_sent)


def _drop_stale_collections(client: Any, settings: Settings, keep: set[str | None]) -> None:
    """Remove collections left by an interrupted --rebuild (never the live one)."""
    prefix = f"{settings.collection}-g"
    for coll in client.list_collections():
        name = coll if isinstance(coll, str) else coll.name
        if name.startswith(prefix) and name not in keep:
            with contextlib.suppress(Exception):
                client.delete_collection(name)


def _prune_generations(settings: Settings, keep: set[str | None]) -> None:
    root = settings.indexes / "generations"
    for child in root.iterdir():
        if child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


# ----------------------------------------------------------------------------- reading
@contextlib.contextmanager
def server_calls(settings: Settings) -> Iterator[None]:
    """Calls to a Chroma server: "cannot connect" becomes `SearchUnavailable` (one clear line).

    The HTTP client reconnects on its own, so a reader that hit an outage works again as soon
    as the server is back; only the error in between needs to say what is wrong.
    """
    try:
        yield
    except IndexProblem:
        raise
    except Exception as exc:
        if settings.chroma_url and is_unreachable(exc):
            raise SearchUnavailable(settings.chroma_url) from exc
        raise


def pending_changes(settings: Settings) -> int:
    """How many corpus files the next build would (re)index or drop: new, changed or removed.

    A cheap look (hashes, no parsing), so `serve` can say on the page how much work its
    background build has before it starts. A different embedder or chunking counts every file.
    """
    current = read_current(settings)
    manifest = read_manifest(settings, current) if current else {"documents": {}}
    docs: dict[str, Any] = manifest.get("documents", {})
    indexed = {d: e.get("path", "") for d, e in docs.items()}
    paths, _errors = discover(settings.corpus, prefer=indexed, exclude=quarantine.folder(settings))
    fingerprint = f"{PIPELINE_VERSION}:{settings.chunk_min_chars}:{settings.chunk_max_chars}"
    if (
        current is None
        or manifest.get("pipeline") != fingerprint
        or manifest.get("embedder") != vector_recipe(settings, get_embedder(settings).name)
    ):
        return len(paths)
    pending = 0
    seen: set[str] = set()
    aliases = {a for e in docs.values() for a in e.get("aliases", [])}
    for path in paths:
        doc_id = path.stem
        seen.add(doc_id)
        if doc_id in aliases:
            continue
        try:
            content = _file_hash(path).encode() + _sidecar_bytes(path) + fingerprint.encode()
        except OSError:
            continue
        doc_hash = hashlib.sha256(content).hexdigest()
        entry = docs.get(doc_id) or {}
        if doc_hash not in (entry.get("hash"), entry.get("failed_hash")):
            pending += 1
    return pending + len(set(docs) - seen)


class Index:
    """A read-only view of one generation: chunks, BM25 and its vectors.

    Opened once and kept; `reload_if_changed()` picks up a newer generation (after an upload)
    without restarting. Safe to share across threads for queries. In embedded mode dense
    search reads the generation's memory-mapped vector copy (assistant.snapshot) and Chroma is
    not even imported unless something asks for `collection`; in server mode, or without a
    copy (a generation written before copies existed), it queries Chroma as before.
    """

    def __init__(self, settings: Settings, current: dict[str, Any], fresh: bool = False):
        self.settings = settings
        self.generation = current["generation"]
        self._current = current
        self._fresh = fresh
        folder = _generation_dir(settings, self.generation)
        self.manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        self.chunks = ChunkStore(folder)
        self.bm25 = BM25Index.load(folder / "bm25")
        self.vectors = (
            None
            if settings.chroma_url or settings.dense_from_chroma
            else VectorCopy.load(folder, len(self.chunks))
        )
        self._lock = threading.Lock()
        self._chroma: tuple[Any, Any, Any] | None = None
        self._extra = 0
        self._position: dict[str, int] | None = None
        self._masks: tuple[np.ndarray, np.ndarray] | None = None
        self._labels: dict[str, frozenset[str]] | None = None
        if self.vectors is None:
            self._open_chroma()  # a server that is down is reported now, as before

    @classmethod
    def open(cls, settings: Settings) -> Index:
        current = read_current(settings)
        if current is None:
            raise IndexProblem(f"no index in {settings.indexes}; build it with `assistant index`")
        return cls(settings, current)

    def reload_if_changed(self) -> Index:
        current = read_current(self.settings)
        if current and current["generation"] != self.generation:
            return Index(self.settings, current, fresh=True)
        return self

    # -- Chroma, opened on first use
    def _open_chroma(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._chroma is None:
                name = self._current["collection"]
                with server_calls(self.settings):
                    client = chroma_client(self.settings, fresh=self._fresh)
                    collection = _collection(client, name, "", create=False)
                    sentences = _collection(
                        client, sentence_collection_name(name), "", create=False
                    )
                    # vectors left by a crashed build that this generation does not list
                    self._extra = max(0, collection.count() - len(self.chunks))
                self._chroma = (client, collection, sentences)
            return self._chroma

    @property
    def client(self) -> Any:
        return self._open_chroma()[0]

    @property
    def collection(self) -> Any:
        return self._open_chroma()[1]

    @property
    def sentences(self) -> Any:
        return self._open_chroma()[2]

    # -- lookups built on first use
    @property
    def position(self) -> dict[str, int]:
        """Chunk id -> position in this generation."""
        if self._position is None:
            self._position = {cid: i for i, cid in enumerate(self.chunks.keys()["ids"])}
        return self._position

    @property
    def documents(self) -> dict[str, Any]:
        return self.manifest.get("documents", {})

    def mask(self, doc_ids: list[str] | None, doc_types: list[str] | None) -> np.ndarray | None:
        if not doc_ids and not doc_types:
            return None
        if self._masks is None:
            keys = self.chunks.keys()
            self._masks = (
                np.array(keys["docs"], dtype=object),
                np.array(keys["types"], dtype=object),
            )
        keep = np.ones(len(self.chunks), dtype=bool)
        if doc_ids:
            keep &= np.isin(self._masks[0], doc_ids)
        if doc_types:
            keep &= np.isin(self._masks[1], doc_types)
        return keep

    def sentence_vectors(self, positions: list[int]) -> dict[tuple[int, int], np.ndarray]:
        """Stored sentence vectors of the chunks at `positions`, keyed by (position, start)."""
        wanted = [(p, sentence_vectors(self.chunks[p])) for p in positions]
        if self.vectors is not None:
            out = {}
            for p, spans in wanted:
                rows = self.vectors.sentence_rows(p)
                out.update({(p, s): rows[j] for j, (_vid, s, _e) in enumerate(spans)})
            return out
        ids = [vid for _, spans in wanted for vid, _, _ in spans]
        if not ids:
            return {}
        with server_calls(self.settings):
            got = self.sentences.get(ids=ids, include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=False))
        return {
            (p, s): np.asarray(by_id[vid], dtype=np.float32)
            for p, spans in wanted
            for vid, s, _e in spans
            if vid in by_id
        }

    def dense(
        self,
        vector: list[float],
        n: int,
        doc_ids: list[str] | None = None,
        doc_types: list[str] | None = None,
    ) -> list[tuple[int, float]]:
        """Top `n` (position, similarity): the mean of the chunk's own cosine similarity and
        its best sentence's, each from the top of its own list."""
        if not len(self.chunks):
            return []
        if self.vectors is not None:
            fetch = max(1, min(n, len(self.chunks)))
            query = np.asarray(vector, dtype=np.float32)
            chunk_sim, sent_sim = self.vectors.search(query, fetch, self.mask(doc_ids, doc_types))
        else:
            chunk_sim, sent_sim = self._chroma_dense(vector, n, doc_ids, doc_types)
        # Unseen halves are bounded by the lowest similarity retrieved of that kind.
        floor_c = min(chunk_sim.values(), default=0.0)
        floor_s = min(sent_sim.values(), default=floor_c)
        scores = {
            pos: 0.5 * chunk_sim.get(pos, floor_c) + 0.5 * sent_sim.get(pos, floor_s)
            for pos in set(chunk_sim) | set(sent_sim)
        }
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:n]

    def _chroma_dense(
        self,
        vector: list[float],
        n: int,
        doc_ids: list[str] | None,
        doc_types: list[str] | None,
    ) -> tuple[dict[int, float], dict[int, float]]:
        """The two similarity lists from Chroma, limited to this generation's chunks."""
        clauses = []
        if doc_ids:
            clauses.append({"doc_id": {"$in": list(doc_ids)}})
        if doc_types:
            clauses.append({"doc_type": {"$in": list(doc_types)}})
        where = (clauses[0] if len(clauses) == 1 else {"$and": clauses}) if clauses else None
        collection, sentences, extra = self.collection, self.sentences, self._extra
        fetch = max(1, min(n + extra, len(self.chunks) + extra))
        with server_calls(self.settings):
            whole = collection.query(
                query_embeddings=[vector], n_results=fetch, where=where, include=["distances"]
            )
            parts = sentences.query(
                query_embeddings=[vector], n_results=3 * fetch, where=where, include=["distances"]
            )
        chunk_sim: dict[int, float] = {}
        for cid, dist in zip(whole["ids"][0], whole["distances"][0], strict=False):
            if (pos := self.position.get(cid)) is not None:
                chunk_sim[pos] = 1.0 - float(dist)
        sent_sim: dict[int, float] = {}
        for sid, dist in zip(parts["ids"][0], parts["distances"][0], strict=False):
            pos = self.position.get(parent_chunk_id(sid))
            if pos is not None and pos not in sent_sim:
                sent_sim[pos] = 1.0 - float(dist)
        return chunk_sim, sent_sim

    def sparse(
        self,
        query: str,
        n: int,
        doc_ids: list[str] | None = None,
        doc_types: list[str] | None = None,
    ) -> list[tuple[int, float]]:
        return self.bm25.search(query, n, self.mask(doc_ids, doc_types), variants=True)

    def documents_with(self, word: str) -> frozenset[str]:
        """The documents whose indexed text holds `word` (stemmed as BM25 indexes it), read
        from the BM25 postings: a question naming "Northmoor" is about documents that do."""
        positions = self.bm25.postings(word)
        if not len(positions):
            return frozenset()
        docs = self.chunks.keys()["docs"]
        return frozenset(docs[int(i)] for i in positions)

    def documents_naming(self, word: str) -> frozenset[str]:
        """`documents_with`, plus the documents whose title or publisher (as the manifest
        records them) holds `word`: a handbook need not name its own publisher in its text
        ("we", "the inspectorate"), yet it is that body's handbook."""
        stems = tokenize([word], self.bm25.stopwords)[0]
        if len(stems) != 1:
            return self.documents_with(word)
        if self._labels is None:
            self._labels = {
                doc: frozenset(
                    tokenize(
                        [f"{entry.get('title') or ''} {entry.get('publisher') or ''}"],
                        self.bm25.stopwords,
                    )[0]
                )
                for doc, entry in self.documents.items()
            }
        labelled = {doc for doc, terms in self._labels.items() if stems[0] in terms}
        return self.documents_with(word) | labelled


def check_index(settings: Settings) -> list[str]:
    """Consistency problems between CURRENT, manifest, chunk store, BM25 and Chroma ids."""
    problems: list[str] = []
    current = read_current(settings)
    if current is None:
        return [f"no index in {settings.indexes}"]
    folder = _generation_dir(settings, current["generation"])
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        chunks = _read_chunks(folder)
        bm25 = BM25Index.load(folder / "bm25")
    except (OSError, ValueError) as exc:
        return [
            f"generation {current['generation']} is unreadable: {exc}; "
            "`assistant index --repair` switches back to the newest readable generation"
        ]
    ids = [c.chunk_id for c in chunks]
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} duplicate chunk ids in chunks.jsonl")
    listed = [cid for doc in manifest["documents"].values() for cid in doc["chunks"]]
    if sorted(listed) != sorted(ids):
        problems.append("manifest chunk lists and chunks.jsonl disagree")
    if bm25.size != len(ids):
        problems.append(f"BM25 has {bm25.size} documents but there are {len(ids)} chunks")
    try:
        client = chroma_client(settings)
        collection = _collection(client, current["collection"], "", create=False)
        in_chroma = set(_all_ids(collection))
        sentences = _collection(
            client, sentence_collection_name(current["collection"]), "", create=False
        )
        sentence_parents = {parent_chunk_id(i) for i in _all_ids(sentences)}
    except Exception as exc:  # noqa: BLE001 - report whatever the store says
        return problems + [_chroma_problem(settings, current["collection"], exc)]
    missing = set(ids) - in_chroma
    orphans = in_chroma - set(ids)
    if missing:
        problems.append(f"{len(missing)} chunks have no vector in Chroma (run `assistant index`)")
    if orphans:
        problems.append(
            f"{len(orphans)} orphaned vectors in Chroma (left by a failed or killed build; "
            "removed by the next build or `assistant index --repair`)"
        )
    stray = sentence_parents - set(ids)
    if stray:
        problems.append(
            f"sentence vectors of {len(stray)} unknown chunks (removed by the next build or "
            "`assistant index --repair`)"
        )
    return problems


def _chroma_problem(settings: Settings, name: str, exc: BaseException) -> str:
    """Why Chroma cannot be read, with the cause a full disk hides behind "compaction"."""
    pending = unapplied_writes(settings.indexes) if not settings.chroma_url else 0
    text = f"Chroma collection {name!r} unreadable: {_short(exc)}"
    if pending:
        free = free_bytes(settings.indexes) / MB
        text += (
            f"; Chroma holds {pending} writes of a failed build it cannot apply "
            f"({free:.1f} MB free at {settings.indexes}; a full disk?); "
            "`assistant index --repair` rolls them back"
        )
    return text


def leftovers(settings: Settings) -> list[str]:
    """What failed or killed builds left that readers never use (`--repair` removes it)."""
    found: list[str] = []
    failed = _failed_generations(settings)
    if failed:
        names = ", ".join(p.name for p in failed)
        found.append(f"{len(failed)} unfinished generation folder(s) of a failed build: {names}")
    uploads = settings.path(settings.upload_dir)
    parts = sorted(uploads.glob(".*.part")) if uploads.is_dir() else []
    if parts:
        found.append(f"{len(parts)} partial upload(s) of an interrupted upload in {uploads}")
    return found


def repair_index(settings: Settings) -> list[str]:
    """Fix what a fault left: unfinished folders, unapplied Chroma writes, a broken pointer,
    orphaned vectors, stale collections and partial uploads. Returns what was done; what it
    cannot fix (chunks without vectors) is named with the command that does."""
    actions: list[str] = []
    with build_lock(settings):
        actions += _clear_failed_builds(settings)
        try:
            current = read_current(settings)
        except IndexProblem:
            current = None
        if current is None or not _readable(settings, current["generation"]):
            restored = _restore_pointer(settings)
            if restored is None:
                return actions + ["no readable generation: run `assistant index --rebuild`"]
            actions.append(f"switched back to the newest readable generation {restored}")
        actions += _repair_vectors(settings)
        _prune_generations(settings, keep={(read_current(settings) or {}).get("generation")})
        uploads = settings.path(settings.upload_dir)
        for part in sorted(uploads.glob(".*.part")) if uploads.is_dir() else []:
            part.unlink(missing_ok=True)
            actions.append(f"removed partial upload {part.name}")
    return actions


def _repair_vectors(settings: Settings) -> list[str]:
    """Drop stale collections and orphaned vectors; on a full disk, say so and roll back."""
    current = read_current(settings) or {}
    try:
        client = chroma_client(settings, fresh=True)
        name = current["collection"]
        _drop_stale_collections(client, settings, keep={name, sentence_collection_name(name)})
        removed = _remove_current_orphans(settings)
    except Exception as exc:  # noqa: BLE001 - report the store's reason
        _recover_store(settings)
        return [f"could not remove orphaned vectors ({_short(exc)}); free space and run again"]
    return [f"removed {removed} orphaned vectors"] if removed else []


def _readable(settings: Settings, generation: str) -> bool:
    folder = _generation_dir(settings, generation)
    try:
        json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        _read_chunks(folder)
        BM25Index.load(folder / "bm25")
    except (OSError, ValueError):
        return False
    return True


def _restore_pointer(settings: Settings) -> str | None:
    """Point CURRENT at the newest generation that reads completely (None when none does)."""
    root = settings.indexes / "generations"
    if not root.is_dir():
        return None
    for name in sorted((p.name for p in root.iterdir() if p.name.startswith("g")), reverse=True):
        if _readable(settings, name):
            manifest = json.loads((root / name / "manifest.json").read_text(encoding="utf-8"))
            pointer = {
                "generation": name,
                "collection": manifest["collection"],
                "chunks": manifest["chunks"],
            }
            _atomic_write(settings.indexes / "CURRENT.json", json.dumps(pointer))
            return name
    return None
