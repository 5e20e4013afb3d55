"""Plain data types shared by ingestion, indexing, retrieval and answering.

Kept free of heavy imports so every module (and the tests) can use them cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable
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

    def to_dict(self, full: bool = True) -> dict[str, Any]:
        """`full`: the chunk's fields with every score (``assistant search --json``); else the
        ranking entry an answer's ``retrieved`` list and an eval row keep (chunk, rank, score)."""
        if not full:
            return {
                "chunk_id": self.chunk.chunk_id,
                "doc_id": self.chunk.doc_id,
                "rank": self.rank,
                "score": round(self.score, 5),
            }
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


CITED_FIELDS = ("doc_id", "title", "section", "page", "chunk_id")


def cited_fields(source: Any) -> dict[str, Any]:
    """What every cited record shows of its passage (an answer's citations and closest
    passages, a criteria item, a PSED passage), read from a `Chunk` or anything with its
    fields (a criteria `Candidate`): one list, so the records cannot drift apart."""
    return {name: getattr(source, name) for name in CITED_FIELDS}


@dataclass
class CitedPassage:
    """A numbered, quoted passage: what every citation shows, whoever cites it (an answer,
    the PSED matrix). `quote` is verbatim from the chunk."""

    n: int
    doc_id: str
    title: str
    section: str
    page: int | None
    chunk_id: str
    quote: str


@dataclass
class Citation(CitedPassage):
    """A numbered source shown with the answer, with its retrieval score."""

    score: float
    text: str = ""

    @classmethod
    def from_chunk(cls, n: int, chunk: Chunk, quote: str, score: float, text: str = "") -> Citation:
        """Citation `n` of `chunk`; `text` is the passage the claim was checked against."""
        return cls(n=n, **cited_fields(chunk), quote=quote, score=score, text=text)


def layout_answer(parts: Iterable[tuple[str, str, bool]]) -> str:
    """Answer text from ``(text, markers, is_item)`` parts: prose runs on with its ``[n]``
    markers, list items stand on their own ``- `` lines, and prose after a list starts a new
    line. The extractive draft and the final answer are laid out by this one rule."""
    out: list[str] = []
    for text, marks, is_item in parts:
        if is_item:
            out.append(f"\n- {text} {marks}")
        else:
            sep = "\n" if out and out[-1].startswith("\n- ") else " "
            out.append(f"{sep}{text} {marks}")
    return "".join(out).strip()
