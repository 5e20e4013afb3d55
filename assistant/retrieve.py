"""Hybrid retrieval: dense (Chroma, MiniLM) and sparse (BM25) fused by reciprocal rank fusion,
after expanding the query with the domain glossary.

`Retriever` owns one `Index` and one embedder for the process; it notices a newer index
generation (for example after an upload) by a cheap stat of CURRENT.json and switches to it.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from assistant.documents import Hit
from assistant.embeddings import get_embedder
from assistant.index import Index
from assistant.question import TermStats
from assistant.settings import Settings


@lru_cache(maxsize=8)
def load_glossary(path: Path) -> tuple[tuple[str, ...], ...]:
    """Synonym groups from the glossary YAML (``groups: [[term, synonym, ...], ...]``)."""
    if not path.is_file():
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    groups = data.get("groups", []) if isinstance(data, dict) else []
    return tuple(tuple(str(t) for t in g) for g in groups if isinstance(g, list) and len(g) > 1)


def expand_query(query: str, groups: tuple[tuple[str, ...], ...]) -> tuple[str, list[str]]:
    """The query plus the synonyms of every glossary term it mentions (each added once)."""
    lowered = query.lower()
    added: list[str] = []
    for group in groups:
        if any(re.search(rf"(?<!\w){re.escape(t.lower())}(?!\w)", lowered) for t in group):
            for term in group:
                if term.lower() not in lowered and term not in added:
                    added.append(term)
    return (f"{query} ({'; '.join(added)})" if added else query), added


@dataclass
class SearchResult:
    """Ranked hits plus what the retriever did, for traces and evaluation."""

    query: str
    expanded: str
    hits: list[Hit]
    retriever: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    max_dense: float = 0.0
    max_bm25: float = 0.0
    expansion_terms: list[str] = field(default_factory=list)  # glossary synonyms added


class Retriever:
    """Dense, BM25 or hybrid search over the live index generation."""

    def __init__(self, settings: Settings, index: Index | None = None):
        self.settings = settings
        self._index = index
        self._lock = threading.Lock()
        self._current_mtime = 0.0
        self.glossary = load_glossary(settings.path(settings.glossary_path))
        self._stats: tuple[str, TermStats] | None = None

    @property
    def term_stats(self) -> TermStats:
        """Term document frequencies of the live generation (for IDF), read once per generation
        from its BM25 postings."""
        index = self.index
        with self._lock:
            if self._stats is None or self._stats[0] != index.generation:
                self._stats = (index.generation, TermStats.from_bm25(index.bm25))
            return self._stats[1]

    @property
    def embedder(self):  # type: ignore[no-untyped-def]
        return get_embedder(self.settings)

    @property
    def index(self) -> Index:
        """The index, opened on first use and refreshed when a newer generation is live."""
        pointer = self.settings.indexes / "CURRENT.json"
        try:
            mtime = pointer.stat().st_mtime
        except FileNotFoundError:
            mtime = 0.0
        with self._lock:
            if self._index is None:
                self._index = Index.open(self.settings)
                self._current_mtime = mtime
            elif mtime != self._current_mtime:
                self._index = self._index.reload_if_changed()
                self._current_mtime = mtime
            return self._index

    def search(
        self,
        query: str,
        k: int | None = None,
        retriever: str | None = None,
        doc_ids: list[str] | None = None,
        doc_types: list[str] | None = None,
    ) -> SearchResult:
        k = k or self.settings.k
        mode = retriever or self.settings.retriever
        index = self.index
        expanded, added = expand_query(query, self.glossary)
        n = max(self.settings.candidates, k)
        timings: dict[str, float] = {}
        dense: list[tuple[int, float]] = []
        sparse: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            t0 = time.perf_counter()
            vector = self.embedder.embed_query(query)
            timings["embed"] = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            dense = index.dense(vector, n, doc_ids, doc_types)
            timings["dense"] = (time.perf_counter() - t0) * 1000
        if mode in ("bm25", "hybrid"):
            t0 = time.perf_counter()
            sparse = index.sparse(expanded, n, doc_ids, doc_types)
            timings["bm25"] = (time.perf_counter() - t0) * 1000
        if mode not in ("dense", "bm25", "hybrid"):
            raise ValueError(f"unknown retriever {mode!r}; use dense, bm25 or hybrid")
        hits = fuse(index, dense, sparse, self.settings.rrf_k, mode)[:k]
        return SearchResult(
            query=query,
            expanded=expanded,
            hits=hits,
            retriever=mode,
            timings_ms=timings,
            max_dense=max((s for _, s in dense), default=0.0),
            max_bm25=max((s for _, s in sparse), default=0.0),
            expansion_terms=added,
        )


def fuse(
    index: Index,
    dense: list[tuple[int, float]],
    sparse: list[tuple[int, float]],
    rrf_k: int,
    mode: str,
) -> list[Hit]:
    """Reciprocal rank fusion (score = sum of 1/(rrf_k + rank)); single lists keep raw scores."""
    info: dict[int, dict[str, float | int]] = {}
    for rank, (pos, score) in enumerate(dense, 1):
        info.setdefault(pos, {}).update(dense_rank=rank, dense_score=score)
    for rank, (pos, score) in enumerate(sparse, 1):
        info.setdefault(pos, {}).update(bm25_rank=rank, bm25_score=score)

    def fused(d: dict[str, float | int]) -> float:
        if mode == "dense":
            return float(d.get("dense_score", 0.0))
        if mode == "bm25":
            return float(d.get("bm25_score", 0.0))
        return sum(1.0 / (rrf_k + float(d[key])) for key in ("dense_rank", "bm25_rank") if key in d)

    ordered = sorted(info.items(), key=lambda item: (-fused(item[1]), item[0]))
    return [
        Hit(
            chunk=index.chunks[pos],
            score=fused(d),
            rank=rank,
            dense_score=d.get("dense_score"),  # type: ignore[arg-type]
            bm25_score=d.get("bm25_score"),  # type: ignore[arg-type]
            dense_rank=d.get("dense_rank"),  # type: ignore[arg-type]
            bm25_rank=d.get("bm25_rank"),  # type: ignore[arg-type]
        )
        for rank, (pos, d) in enumerate(ordered, 1)
    ]
