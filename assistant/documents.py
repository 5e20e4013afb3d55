"""Plain data types shared by ingestion, indexing, retrieval and answering.

Kept free of heavy imports so every module (and the tests) can use them cheaply.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field
from typing import Any

DOC_TYPES = ("framework", "guidance", "news", "other")


@dataclass
class LoadedDocument:
    """A source file as plain text: its blocks laid out (`assistant.loaders.load_file`).

    `pages` maps character offsets to page numbers for paginated sources (PDF):
    a list of ``(start_offset, page_number)`` pairs in ascending order, empty otherwise.
    For structure (headings, lists, tables) use `assistant.blocks.BlockDocument`.
    """

    doc_id: str
    path: str
    text: str
    format: str
    pages: list[tuple[int, int]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Chunk:
    """A retrievable passage with the metadata that citations show."""

    chunk_id: str
    doc_id: str
    text: str
    title: str
    doc_type: str
    section: str
    page: int | None
    start: int
    end: int
    source: str = ""
    context: str = ""  # a list's lead-in or a table's header row, for a continuation chunk

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        values = {}
        for name, f in cls.__dataclass_fields__.items():
            default = None if f.default is MISSING else f.default
            values[name] = data.get(name, default)
        return cls(**values)

    def chroma_metadata(self) -> dict[str, Any]:
        """Metadata for Chroma, which rejects None values."""
        meta = {k: v for k, v in self.to_dict().items() if k not in ("text", "chunk_id")}
        return {k: v for k, v in meta.items() if v is not None}


@dataclass
class Hit:
    """One retrieved chunk with its fused score and per-retriever ranks/scores."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self.chunk.to_dict()
        data.update(
            rank=self.rank,
            score=round(self.score, 6),
            dense_score=None if self.dense_score is None else round(self.dense_score, 6),
            bm25_score=None if self.bm25_score is None else round(self.bm25_score, 6),
            dense_rank=self.dense_rank,
            bm25_rank=self.bm25_rank,
        )
        return data
