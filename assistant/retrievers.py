"""Retrievers: how the passages for a query are found, one small registered class each.

`assistant.retrieve.Retriever` owns the index, the embedder and the glossary for the process
and hands them to the retriever chosen by name (``settings.retriever`` or a per-call
``retriever=``); the registry here is the only list of retriever names (settings validation,
the CLI's help and the evaluation runner read it). A retriever implements one method,
``search(query, k, filters) -> SearchResult``; what it is can be read from class attributes:

- `measures_similarity`: its `SearchResult.max_dense` is the query's dense similarity to the
  passages (the refusal model reads it; BM25 alone has none);
- `baseline`: it is the naive LangChain-tutorial pipeline, which the evaluation runs whole
  (its own chunks and answers), not just its ranking.

Ranked lists are merged by a fusion strategy from `FUSIONS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from assistant.documents import Hit
from assistant.registry import Registry
from assistant.timing import ms_since

if TYPE_CHECKING:
    from assistant.index import Index
    from assistant.naive import NaiveRAG
    from assistant.retrieve import Retriever


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
    measures_similarity: bool = True  # max_dense is a real similarity (not BM25 alone)


@dataclass(frozen=True)
class Filters:
    """Only passages of these documents / document types (None: no restriction)."""

    doc_ids: list[str] | None = None
    doc_types: list[str] | None = None


# ----------------------------------------------------------------------------- fusion
Ranks = dict[str, float | int]  # a passage's dense/bm25 rank and score, where it has them


def _rrf(d: Ranks, rrf_k: int) -> float:
    """Reciprocal rank fusion: the sum of 1/(rrf_k + rank) over the lists that have it."""
    return sum(1.0 / (rrf_k + float(d[key])) for key in ("dense_rank", "bm25_rank") if key in d)


FUSIONS: dict[str, Callable[[Ranks, int], float]] = {
    "dense": lambda d, _rrf_k: float(d.get("dense_score", 0.0)),  # a single list: raw scores
    "bm25": lambda d, _rrf_k: float(d.get("bm25_score", 0.0)),
    "rrf": _rrf,
}


def fuse(
    index: Index,
    dense: list[tuple[int, float]],
    sparse: list[tuple[int, float]],
    rrf_k: int,
    fusion: str,
) -> list[Hit]:
    """The passages of both lists ranked by fusion strategy `fusion` (see `FUSIONS`)."""
    score = FUSIONS[fusion]
    info: dict[int, Ranks] = {}
    for rank, (pos, value) in enumerate(dense, 1):
        info.setdefault(pos, {}).update(dense_rank=rank, dense_score=value)
    for rank, (pos, value) in enumerate(sparse, 1):
        info.setdefault(pos, {}).update(bm25_rank=rank, bm25_score=value)
    ordered = sorted(info.items(), key=lambda item: (-score(item[1], rrf_k), item[0]))
    return [
        Hit(
            chunk=index.chunks[pos],
            score=score(d, rrf_k),
            rank=rank,
            dense_score=d.get("dense_score"),  # type: ignore[arg-type]
            bm25_score=d.get("bm25_score"),  # type: ignore[arg-type]
            dense_rank=d.get("dense_rank"),  # type: ignore[arg-type]
            bm25_rank=d.get("bm25_rank"),  # type: ignore[arg-type]
        )
        for rank, (pos, d) in enumerate(ordered, 1)
    ]


# ----------------------------------------------------------------------------- retrievers
class BaseRetriever:
    """Finds the `k` best passages for a query; one instance per `Retriever` and name."""

    name: ClassVar[str] = ""
    measures_similarity: ClassVar[bool] = True
    baseline: ClassVar[bool] = False

    def __init__(self, source: Retriever):
        self.source = source  # the live index, embedder, glossary and settings

    def search(self, query: str, k: int, filters: Filters) -> SearchResult:
        raise NotImplementedError


REGISTRY: Registry[type[BaseRetriever]] = Registry("retriever")
register = REGISTRY.register
unregister = REGISTRY.unregister
get = REGISTRY.get
names = REGISTRY.names


class IndexRetriever(BaseRetriever):
    """Dense (Chroma, MiniLM) and/or sparse (BM25 of the glossary-expanded query) search over
    the project index, merged by `fusion`."""

    dense: ClassVar[bool] = False
    sparse: ClassVar[bool] = False
    fusion: ClassVar[str] = "rrf"

    def search(self, query: str, k: int, filters: Filters) -> SearchResult:
        source = self.source
        index = source.index
        expanded, added = source.expand(query)
        n = max(source.settings.candidates, k)
        timings: dict[str, float] = {}
        dense: list[tuple[int, float]] = []
        sparse: list[tuple[int, float]] = []
        if self.dense:
            t0 = time.perf_counter()
            vector = source.embedder.embed_query(query)
            timings["embed"] = ms_since(t0)
            t0 = time.perf_counter()
            dense = index.dense(vector, n, filters.doc_ids, filters.doc_types)
            timings["dense"] = ms_since(t0)
        if self.sparse:
            t0 = time.perf_counter()
            sparse = index.sparse(expanded, n, filters.doc_ids, filters.doc_types)
            timings["bm25"] = ms_since(t0)
        return SearchResult(
            query=query,
            expanded=expanded,
            hits=fuse(index, dense, sparse, source.settings.rrf_k, self.fusion)[:k],
            retriever=self.name,
            timings_ms=timings,
            max_dense=max((s for _, s in dense), default=0.0),
            max_bm25=max((s for _, s in sparse), default=0.0),
            expansion_terms=added,
            measures_similarity=self.measures_similarity,
        )


@register
class HybridRetriever(IndexRetriever):
    """Dense and BM25, merged by reciprocal rank fusion (the default)."""

    name = "hybrid"
    dense = sparse = True
    fusion = "rrf"


@register
class DenseRetriever(IndexRetriever):
    name = "dense"
    dense = True
    fusion = "dense"


@register
class BM25Retriever(IndexRetriever):
    name = "bm25"
    sparse = True
    fusion = "bm25"
    measures_similarity = False


@register
class NaiveRetriever(BaseRetriever):
    """The LangChain tutorial's plain dense top-k over its own raw-text chunks
    (`assistant.naive`); built on first use, once per `Retriever`."""

    name = "naive"
    baseline = True

    def __init__(self, source: Retriever):
        super().__init__(source)
        self._rag: NaiveRAG | None = None
        self._lock = threading.Lock()

    def search(self, query: str, k: int, filters: Filters) -> SearchResult:
        from assistant.naive import NaiveRAG

        with self._lock:  # splitting the corpus once, whoever asks first
            if self._rag is None:
                self._rag = NaiveRAG(self.source.settings)
        return self._rag.search(query, k, filters)
