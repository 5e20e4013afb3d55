"""Building and opening the index: Chroma vectors + BM25 + chunk store + manifest.

Layout under ``settings.indexes``::

    CURRENT.json              which generation is live (replaced atomically, last step of a build)
    chroma/                   embedded Chroma data (absent in server mode)
    generations/gNNNNNN/      manifest.json, chunks.jsonl, bm25/  (immutable once written)

Chunk ids are content addressed (doc id + text hash), so an incremental build only embeds the
chunks that changed and upserts them into the live collection; readers only trust ids listed in
their own generation, so an interrupted build (Ctrl-C, kill -9) leaves extra vectors that nothing
reads, and the next build removes them. ``--rebuild`` writes into a new collection and switches
over only when complete, so the previous index keeps answering throughout.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.blocks import STRUCTURE_VERSION
from assistant.bm25 import BM25Index
from assistant.documents import Chunk
from assistant.embeddings import get_embedder
from assistant.ingest import process_file
from assistant.loaders import SIDECAR_SUFFIXES, LoadError, discover
from assistant.settings import Settings
from assistant.text import sentence_spans

# The structure version of what an index holds (loaders + chunker): 1 was the line-based
# splitter, 2 the block model (assistant.blocks). An index of another version is rebuilt.
PIPELINE_VERSION = str(STRUCTURE_VERSION)
Progress = Callable[[str, int, int, str], None]  # (stage, done, total, detail)


class IndexProblem(RuntimeError):
    """The index is missing, busy or inconsistent; the message says what to run."""


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
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or 8000,
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
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
def build_lock(settings: Settings) -> Iterator[None]:
    """One build at a time per index folder (a second one fails fast with a clear message)."""
    settings.indexes.mkdir(parents=True, exist_ok=True)
    with open(settings.indexes / ".build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
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
) -> BuildReport:
    """Bring the index up to date with the corpus folder (incremental by content hash)."""
    started = time.perf_counter()
    report = BuildReport()
    with build_lock(settings):
        embedder = embedder or get_embedder(settings)
        current = read_current(settings)
        old_manifest = read_manifest(settings, current) if current else {"documents": {}}
        old_chunks: dict[str, Chunk] = {}
        if current:
            old_chunks = {
                c.chunk_id: c
                for c in _read_chunks(_generation_dir(settings, current["generation"]))
            }
        fingerprint = f"{PIPELINE_VERSION}:{settings.chunk_min_chars}:{settings.chunk_max_chars}"
        fresh = (
            rebuild
            or current is None
            or old_manifest.get("embedder") != embedder.name
            or old_manifest.get("pipeline") != fingerprint
        )
        old_version = str(old_manifest.get("pipeline") or "").split(":")[0]
        if current and not rebuild and old_version != PIPELINE_VERSION:
            report.notes.append(
                f"the index was built with document structure version {old_version or '?'}; "
                f"rebuilding every document with version {PIPELINE_VERSION} (block model)"
            )
        client = chroma_client(settings)
        gen_number = int(current["generation"][1:]) + 1 if current else 1
        generation = f"g{gen_number:06d}"
        coll_name = (
            f"{settings.collection}-{generation}"
            if fresh and current
            else (current["collection"] if current else settings.collection)
        )
        keep = {coll_name, (current or {}).get("collection")}
        _drop_stale_collections(
            client, settings, keep=keep | {sentence_collection_name(k) for k in keep if k}
        )
        collection = _collection(client, coll_name, embedder.name)
        sentences = _collection(client, sentence_collection_name(coll_name), embedder.name)

        paths, discover_errors = discover(settings.corpus) if files is None else (files, [])
        report.errors += [str(e) for e in discover_errors]
        old_docs: dict[str, Any] = {} if fresh else old_manifest.get("documents", {})
        new_docs: dict[str, Any] = {}
        chunks_by_doc: dict[str, list[Chunk]] = {}
        seen_hashes: dict[str, str] = {}
        to_embed: list[Chunk] = []
        refresh_meta: list[Chunk] = []  # unchanged text, possibly changed title/type/offsets
        progress("documents", 0, len(paths), "")
        for i, path in enumerate(paths):
            doc_id = path.stem
            progress("documents", i, len(paths), path.name)
            if doc_id in new_docs:
                report.errors.append(
                    f"{path.name}: another file already has document id {doc_id!r}"
                )
                continue
            content_hash = _file_hash(path)
            if content_hash in seen_hashes:
                report.duplicates[doc_id] = seen_hashes[content_hash]
                continue
            doc_hash = hashlib.sha256(
                content_hash.encode() + _sidecar_bytes(path) + fingerprint.encode()
            ).hexdigest()
            previous = old_docs.get(doc_id)
            if (
                previous
                and previous.get("hash") == doc_hash
                and all(cid in old_chunks for cid in previous["chunks"])
            ):
                # a copy without aliases: they are recomputed below and compared with the old
                new_docs[doc_id] = {k: v for k, v in previous.items() if k != "aliases"}
                chunks_by_doc[doc_id] = [old_chunks[cid] for cid in previous["chunks"]]
                report.unchanged.append(doc_id)
                seen_hashes[content_hash] = doc_id
                continue
            try:
                chunks, entry = process_file(
                    path,
                    settings,
                    progress=lambda done, total, name=path.name: progress(
                        "pages", done, total, name
                    ),
                )
            except LoadError as exc:
                report.errors.append(str(exc))
                if previous and all(cid in old_chunks for cid in previous["chunks"]):
                    # keep the last good version rather than lose it (aliases recomputed below)
                    new_docs[doc_id] = {k: v for k, v in previous.items() if k != "aliases"}
                    chunks_by_doc[doc_id] = [old_chunks[cid] for cid in previous["chunks"]]
                    report.kept_on_error.append(doc_id)
                continue
            # only a file that indexed can be the original of a duplicate (two empty or two
            # broken files with equal bytes are each reported with their own error)
            seen_hashes[content_hash] = doc_id
            entry["hash"] = doc_hash
            entry["indexed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            new_docs[doc_id] = entry
            chunks_by_doc[doc_id] = chunks
            (report.updated if previous else report.added).append(doc_id)
            to_embed.extend(c for c in chunks if c.chunk_id not in old_chunks)
            refresh_meta.extend(c for c in chunks if c.chunk_id in old_chunks)
        progress("documents", len(paths), len(paths), "")
        for dup, original in report.duplicates.items():
            if original in new_docs:
                new_docs[original].setdefault("aliases", [])
                if dup not in new_docs[original]["aliases"]:
                    new_docs[original]["aliases"].append(dup)
        report.removed = sorted(set(old_manifest.get("documents", {})) - set(new_docs))

        all_chunks = [c for doc_id in new_docs for c in chunks_by_doc[doc_id]]
        wanted_ids = {c.chunk_id for c in all_chunks}
        # Chunks listed as unchanged must really have vectors (self-healing after a crash).
        present = _existing_ids(collection, [c.chunk_id for c in all_chunks])
        pending = {c.chunk_id: c for c in to_embed}
        for chunk in all_chunks:
            if chunk.chunk_id not in present:
                pending.setdefault(chunk.chunk_id, chunk)
        report.chunks_embedded = _embed_and_store(
            collection, sentences, embedder, list(pending.values()), progress
        )
        keep_meta = [c for c in refresh_meta if c.chunk_id not in pending]
        for i in range(0, len(keep_meta), 1000):
            part = keep_meta[i : i + 1000]
            collection.update(
                ids=[c.chunk_id for c in part], metadatas=[c.chroma_metadata() for c in part]
            )
            pieces = [(c, vid) for c in part for vid, _, _ in sentence_vectors(c)]
            if pieces:
                sentences.update(
                    ids=[vid for _, vid in pieces],
                    metadatas=[{"parent": c.chunk_id, **c.chroma_metadata()} for c, _ in pieces],
                )
        report.changed = bool(
            fresh
            or report.added
            or report.updated
            or report.removed
            or report.chunks_embedded
            or keep_meta
            or set(new_docs) != set(old_manifest.get("documents", {}))
            or any(
                new_docs[d].get("aliases") != old_docs.get(d, {}).get("aliases") for d in new_docs
            )
        )
        report.chunks_total = len(all_chunks)
        report.chunks_per_doc = {d: len(chunks_by_doc[d]) for d in new_docs}
        if not report.changed and current is not None:
            report.generation = current["generation"]
            _remove_orphans(collection, sentences, wanted_ids)
            report.seconds = time.perf_counter() - started
            return report

        progress("bm25", 0, 1, "")
        gen_tmp = settings.indexes / "generations" / f".tmp-{generation}-{os.getpid()}"
        shutil.rmtree(gen_tmp, ignore_errors=True)
        gen_tmp.mkdir(parents=True)
        BM25Index.build([embed_text(c) for c in all_chunks]).save(gen_tmp / "bm25")
        progress("bm25", 1, 1, "")
        with open(gen_tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for chunk in all_chunks:
                fh.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        manifest = {
            "generation": generation,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedder": embedder.name,
            "pipeline": fingerprint,
            "collection": coll_name,
            "chunks": len(all_chunks),
            "documents": new_docs,
            "errors": report.errors,
        }
        _atomic_write(gen_tmp / "manifest.json", json.dumps(manifest, indent=1))
        final_dir = _generation_dir(settings, generation)
        shutil.rmtree(final_dir, ignore_errors=True)
        os.rename(gen_tmp, final_dir)
        pointer = {"generation": generation, "collection": coll_name, "chunks": len(all_chunks)}
        _atomic_write(settings.indexes / "CURRENT.json", json.dumps(pointer))
        # The switch is done; everything below is clean-up a crash can safely skip.
        report.generation = generation
        if current and current["collection"] != coll_name:
            for old in (current["collection"], sentence_collection_name(current["collection"])):
                with contextlib.suppress(Exception):
                    client.delete_collection(old)
        _remove_orphans(collection, sentences, wanted_ids)
        _prune_generations(settings, keep={generation, (current or {}).get("generation")})
        report.seconds = time.perf_counter() - started
        return report


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
    batch: int = 256,
) -> int:
    """Embed chunks (and their sentences) in batches and upsert them; returns chunks stored."""
    total = len(chunks)
    progress("embedding", 0, total, "")
    for i in range(0, total, batch):
        part = chunks[i : i + batch]
        pieces = [(c, vid, c.text[a:b]) for c in part for vid, a, b in sentence_vectors(c)]
        vectors = embedder.encode([embed_text(c) for c in part] + [s for _, _, s in pieces])
        if pieces:
            sentences.upsert(
                ids=[vid for _, vid, _ in pieces],
                embeddings=vectors[len(part) :],
                metadatas=[{"parent": c.chunk_id, **c.chroma_metadata()} for c, _, _ in pieces],
            )
        # the chunk vector goes last: its presence marks the chunk as completely stored
        collection.upsert(
            ids=[c.chunk_id for c in part],
            embeddings=vectors[: len(part)],
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
    return len(stale)


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
class Index:
    """A read-only view of one generation: chunks, BM25 and the Chroma collection.

    Loaded once and kept in memory; `reload_if_changed()` picks up a newer generation (after
    an upload) without restarting. Safe to share across threads for queries.
    """

    def __init__(self, settings: Settings, current: dict[str, Any], fresh: bool = False):
        self.settings = settings
        self.generation = current["generation"]
        folder = _generation_dir(settings, self.generation)
        self.manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        self.chunks = _read_chunks(folder)
        self.position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.bm25 = BM25Index.load(folder / "bm25")
        self.client = chroma_client(settings, fresh=fresh)
        self.collection = _collection(self.client, current["collection"], "", create=False)
        self.sentences = _collection(
            self.client, sentence_collection_name(current["collection"]), "", create=False
        )
        self.extra = max(0, self.collection.count() - len(self.chunks))
        self._doc_ids = np.array([c.doc_id for c in self.chunks], dtype=object)
        self._doc_types = np.array([c.doc_type for c in self.chunks], dtype=object)
        self._lock = threading.Lock()

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

    @property
    def documents(self) -> dict[str, Any]:
        return self.manifest.get("documents", {})

    def mask(self, doc_ids: list[str] | None, doc_types: list[str] | None) -> np.ndarray | None:
        if not doc_ids and not doc_types:
            return None
        keep = np.ones(len(self.chunks), dtype=bool)
        if doc_ids:
            keep &= np.isin(self._doc_ids, doc_ids)
        if doc_types:
            keep &= np.isin(self._doc_types, doc_types)
        return keep

    def dense(
        self,
        vector: list[float],
        n: int,
        doc_ids: list[str] | None = None,
        doc_types: list[str] | None = None,
    ) -> list[tuple[int, float]]:
        """Top `n` (position, cosine similarity) from Chroma, limited to this generation."""
        if not self.chunks:
            return []
        where: dict[str, Any] | None = None
        clauses = []
        if doc_ids:
            clauses.append({"doc_id": {"$in": list(doc_ids)}})
        if doc_types:
            clauses.append({"doc_type": {"$in": list(doc_types)}})
        if clauses:
            where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        fetch = max(1, min(n + self.extra, len(self.chunks) + self.extra))
        whole = self.collection.query(
            query_embeddings=[vector], n_results=fetch, where=where, include=["distances"]
        )
        parts = self.sentences.query(
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
        # Unseen halves are bounded by the lowest similarity retrieved of that kind.
        floor_c = min(chunk_sim.values(), default=0.0)
        floor_s = min(sent_sim.values(), default=floor_c)
        scores = {
            pos: 0.5 * chunk_sim.get(pos, floor_c) + 0.5 * sent_sim.get(pos, floor_s)
            for pos in set(chunk_sim) | set(sent_sim)
        }
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:n]

    def sparse(
        self,
        query: str,
        n: int,
        doc_ids: list[str] | None = None,
        doc_types: list[str] | None = None,
    ) -> list[tuple[int, float]]:
        return self.bm25.search(query, n, self.mask(doc_ids, doc_types))


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
        return [f"generation {current['generation']} is unreadable: {exc}"]
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
        return problems + [f"Chroma collection {current['collection']!r} unreadable: {exc}"]
    missing = set(ids) - in_chroma
    orphans = in_chroma - set(ids)
    if missing:
        problems.append(f"{len(missing)} chunks have no vector in Chroma")
    if orphans:
        problems.append(f"{len(orphans)} orphaned vectors in Chroma (removed by the next build)")
    stray = sentence_parents - set(ids)
    if stray:
        problems.append(
            f"sentence vectors of {len(stray)} unknown chunks (removed by the next build)"
        )
    return problems
