"""Retrieval over the live index: dense (Chroma, MiniLM), sparse (BM25 of the query expanded
with the domain glossary) or both fused by reciprocal rank fusion - the retrievers registered
in `assistant.retrievers`, chosen by name.

`Retriever` owns one `Index` and one embedder for the process; it notices a newer index
generation (for example after an upload) by a cheap stat of CURRENT.json and switches to it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from functools import lru_cache
from pathlib import Path

from assistant import retrievers
from assistant.embeddings import get_embedder
from assistant.index import Index
from assistant.question import TermStats
from assistant.retrievers import BaseRetriever, Filters, SearchResult, fuse
from assistant.settings import Settings

__all__ = ["Retriever", "SearchResult", "expand_query", "fuse", "load_glossary"]


@lru_cache(maxsize=8)
def load_glossary(path: Path, cache_dir: Path | None = None) -> tuple[tuple[str, ...], ...]:
    """Synonym groups from the glossary YAML (``groups: [[term, synonym, ...], ...]``).

    With `cache_dir` (the index folder), the parsed groups are kept there as JSON, stamped with
    the file's size and modification time: PyYAML's import is ~25 ms of a cold `ask`'s 0.5 s
    (issue 14), and the glossary changes far less often than questions are asked.
    """
    if not path.is_file():
        return ()
    stat = path.stat()
    stamp = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    cache = cache_dir / "glossary.json" if cache_dir is not None else None
    if cache is not None:
        try:
            saved = json.loads(cache.read_text(encoding="utf-8"))
            if saved.get("stamp") == stamp:
                return tuple(tuple(g) for g in saved["groups"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # missing or unreadable: parse the YAML below and write it again
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    groups = data.get("groups", []) if isinstance(data, dict) else []
    parsed = tuple(tuple(str(t) for t in g) for g in groups if isinstance(g, list) and len(g) > 1)
    if cache is not None and cache.parent.is_dir():
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"stamp": stamp, "groups": parsed}), encoding="utf-8")
            os.replace(tmp, cache)
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only index folder: parse again next time
    return parsed


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


class Retriever:
    """Search over the live index generation by any registered retriever."""

    def __init__(self, settings: Settings, index: Index | None = None):
        self.settings = settings
        self._index = index
        self._lock = threading.Lock()
        self._current_mtime = 0.0
        self.glossary = load_glossary(settings.path(settings.glossary_path), settings.indexes)
        self._stats: tuple[str, TermStats] | None = None
        self._strategies: dict[str, BaseRetriever] = {}

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

    def expand(self, query: str) -> tuple[str, list[str]]:
        """The query with the glossary synonyms of its terms, and the synonyms added."""
        return expand_query(query, self.glossary)

    def search(
        self,
        query: str,
        k: int | None = None,
        retriever: str | None = None,
        doc_ids: list[str] | None = None,
        doc_types: list[str] | None = None,
    ) -> SearchResult:
        """The `k` best passages by `retriever` (a registered name; default: the settings')."""
        strategy = self.strategy(retriever or self.settings.retriever)
        return strategy.search(query, k or self.settings.k, Filters(doc_ids, doc_types))

    def strategy(self, name: str) -> BaseRetriever:
        """The retriever registered as `name`, made once per `Retriever` (`UnknownName`, a
        ValueError, for a name that is not registered)."""
        kind = retrievers.get(name)
        with self._lock:
            if type(self._strategies.get(name)) is not kind:
                self._strategies[name] = kind(self)
            return self._strategies[name]
