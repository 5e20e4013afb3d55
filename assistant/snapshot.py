"""The read side of an index generation: chunks and vectors opened without parsing them.

Chroma is the vector store of record (every build writes to it, server mode queries it), but
opening it costs a cold `assistant ask` about a second (`import chromadb` ~0.7 s, the client
and its HNSW segments ~0.3 s; issue 14), longer than the rest of the answer. So each embedded
generation also keeps a copy of its vectors as plain float32 matrices, memory-mapped when the
index opens and searched exactly (a matrix-vector product: 4 ms at 10k chunks, ~70 ms at 100k
on this 2-core machine, `assistant bench`), and its chunks as JSON lines read through an
array of byte offsets, so a 100k-chunk index opens in milliseconds and parses only the chunks
a question touches.

Files in the generation folder (all written before the folder is renamed into place, so a
crashed build never leaves half of them):
- ``chunks.jsonl`` + ``chunks.offsets.npy`` (int64, one start per chunk and the file size);
- ``chunk_keys.json``: chunk ids, document ids and types in position order (for filters and
  id lookups, read on first use);
- ``vectors/chunk.npy`` (N x dim), ``vectors/sent.npy`` (S x dim: the sentence vectors of
  `index.sentence_vectors`, chunk by chunk) and ``vectors/sent_offsets.npy`` (N + 1 starts).
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from assistant.documents import Chunk

OFFSETS = "chunks.offsets.npy"
KEYS = "chunk_keys.json"
VECTORS = "vectors"


def _save(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())


# ----------------------------------------------------------------------------- chunks
def write_chunks(folder: Path, chunks: list[Chunk]) -> None:
    """``chunks.jsonl`` with its offsets and keys (fsynced: the folder is renamed into place)."""
    offsets = [0]
    with open(folder / "chunks.jsonl", "wb") as fh:
        for chunk in chunks:
            line = (json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            offsets.append(offsets[-1] + len(line))
        fh.flush()
        os.fsync(fh.fileno())
    _save(folder / OFFSETS, np.asarray(offsets, dtype=np.int64))
    keys = {
        "ids": [c.chunk_id for c in chunks],
        "docs": [c.doc_id for c in chunks],
        "types": [c.doc_type for c in chunks],
    }
    (folder / KEYS).write_text(json.dumps(keys, ensure_ascii=False), encoding="utf-8")


class ChunkStore(Sequence[Chunk]):
    """The chunks of a generation, parsed one line at a time when first asked for.

    Behaves as the list it replaces (len, index, slice, iterate). A generation written before
    the offsets file existed is scanned for line starts once (no JSON parsing).
    """

    def __init__(self, folder: Path):
        self.path = folder / "chunks.jsonl"
        offsets_file = folder / OFFSETS
        size = self.path.stat().st_size
        offsets: np.ndarray | None = None
        if offsets_file.is_file():
            offsets = np.load(offsets_file)
            if len(offsets) == 0 or int(offsets[-1]) != size:
                offsets = None  # stale or torn: rebuild below rather than misread
        if offsets is None:
            offsets = self._scan()
        self._offsets = offsets
        self._keys_file = folder / KEYS
        self._keys: dict[str, list[str]] | None = None
        self._parsed: dict[int, Chunk] = {}
        # Kept open, so reads still work after a newer build prunes this generation's folder
        # (as the memory-mapped vectors do); closed with the store.
        self._fh = open(self.path, "rb")  # noqa: SIM115
        weakref.finalize(self, self._fh.close)

    def _scan(self) -> np.ndarray:
        data = self.path.read_bytes()
        starts = [0]
        pos = data.find(b"\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = data.find(b"\n", pos + 1)
        if starts[-1] != len(data):
            starts.append(len(data))
        return np.asarray(starts, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        chunk = self._parsed.get(i)
        if chunk is None:
            start, end = int(self._offsets[i]), int(self._offsets[i + 1])
            line = os.pread(self._fh.fileno(), end - start, start)
            chunk = Chunk.from_dict(json.loads(line))
            self._parsed[i] = chunk
        return chunk

    def __iter__(self) -> Iterator[Chunk]:
        for i in range(len(self)):
            yield self[i]

    def keys(self) -> dict[str, list[str]]:
        """Ids, document ids and types by position (the keys file, or the chunks themselves)."""
        if self._keys is None:
            if self._keys_file.is_file():
                self._keys = json.loads(self._keys_file.read_text(encoding="utf-8"))
            else:
                chunks = list(self)
                self._keys = {
                    "ids": [c.chunk_id for c in chunks],
                    "docs": [c.doc_id for c in chunks],
                    "types": [c.doc_type for c in chunks],
                }
        return self._keys

    def close(self) -> None:
        self._fh.close()


# ----------------------------------------------------------------------------- vectors
def write_vectors(folder: Path, chunk: np.ndarray, sentences: list[np.ndarray], dim: int) -> None:
    """The generation's vector copy: chunk vectors and each chunk's sentence vectors."""
    out = folder / VECTORS
    out.mkdir(parents=True, exist_ok=True)
    counts = [len(s) for s in sentences]
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    sent = (
        np.concatenate([s for s in sentences if len(s)]).astype(np.float32)
        if any(counts)
        else np.zeros((0, dim), dtype=np.float32)
    )
    _save(out / "chunk.npy", np.asarray(chunk, dtype=np.float32).reshape(-1, dim))
    _save(out / "sent.npy", sent)
    _save(out / "sent_offsets.npy", offsets)


class VectorCopy:
    """Memory-mapped chunk and sentence vectors of one generation, searched exactly."""

    def __init__(self, chunk: np.ndarray, sent: np.ndarray, offsets: np.ndarray):
        self.chunk = chunk
        self.sent = sent
        self.offsets = offsets
        self._parent: np.ndarray | None = None

    @classmethod
    def load(cls, folder: Path, n_chunks: int) -> VectorCopy | None:
        """The copy, or None when the generation has none or it does not match its chunks."""
        base = folder / VECTORS
        try:
            chunk = np.load(base / "chunk.npy", mmap_mode="r")
            sent = np.load(base / "sent.npy", mmap_mode="r")
            offsets = np.load(base / "sent_offsets.npy")
        except (OSError, ValueError):
            return None
        if len(chunk) != n_chunks or len(offsets) != n_chunks + 1 or offsets[-1] != len(sent):
            return None
        return cls(chunk, sent, offsets)

    @property
    def parent(self) -> np.ndarray:
        """Chunk position of every sentence row."""
        if self._parent is None:
            self._parent = np.repeat(
                np.arange(len(self.offsets) - 1, dtype=np.int64), np.diff(self.offsets)
            )
        return self._parent

    def search(
        self, query: np.ndarray, fetch: int, mask: np.ndarray | None
    ) -> tuple[dict[int, float], dict[int, float]]:
        """Cosine similarity of the `fetch` best chunks and of the parents of the `3 * fetch`
        best sentences (each parent's best sentence), the two lists Chroma gave before."""
        chunk_sim = self.chunk @ query
        if mask is not None:
            chunk_sim = np.where(mask, chunk_sim, -np.inf)
        chunks = _top(chunk_sim, fetch)
        out_c = {int(i): float(chunk_sim[i]) for i in chunks}
        out_s: dict[int, float] = {}
        if len(self.sent):
            sent_sim = self.sent @ query
            if mask is not None:
                sent_sim = np.where(mask[self.parent], sent_sim, -np.inf)
            for row in _top(sent_sim, 3 * fetch):
                pos = int(self.parent[row])
                if pos not in out_s:
                    out_s[pos] = float(sent_sim[row])
        return out_c, out_s

    def sentence_rows(self, position: int) -> np.ndarray:
        """The sentence vectors of the chunk at `position`, in `sentence_vectors` order."""
        return np.asarray(self.sent[int(self.offsets[position]) : int(self.offsets[position + 1])])


def _top(scores: np.ndarray, n: int) -> list[int]:
    """Indices of the `n` highest finite scores, best first (ties: lower index first)."""
    n = min(n, len(scores))
    if n <= 0:
        return []
    top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    top = top[np.lexsort((top, -scores[top]))]
    return [int(i) for i in top if np.isfinite(scores[i])]


def as_matrix(rows: list[Any] | np.ndarray, dim: int) -> np.ndarray:
    """Rows (lists or arrays) as a float32 matrix, (0, dim) when there are none."""
    if len(rows) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), dim)
