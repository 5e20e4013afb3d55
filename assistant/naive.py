"""The naive baseline: what a user following the LangChain RAG tutorial would build.

It exists so the evaluation can show what the project's own ingestion and retrieval buy over
the obvious pipeline, measured by the same rules:

- text: the RAW file text for text and Markdown files (as LangChain's TextLoader reads them:
  website chrome, PDF column interleaving and footer links all stay in), the loaders' plain
  text (`assistant.loaders.load_file`) for PDF, DOCX and HTML, with no chrome cleaning;
- split: ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``;
- embed: MiniLM through ``langchain_huggingface.HuggingFaceEmbeddings`` (loaded by path, offline,
  normalised vectors); with ``settings.embedder == "hash"`` the fast test embedder instead;
- store: ``langchain_chroma.Chroma`` in its own collection ``naive-baseline-<hash>`` of the
  index's Chroma client; the hash covers the corpus bytes and these parameters, so a changed
  corpus gets a fresh collection and stale ``naive-baseline-*`` collections are deleted;
- retrieve: plain dense top-k similarity search; the question only (the tutorial's first part
  keeps no conversation memory, so follow-up history is ignored). It is also the registered
  ``naive`` retriever (`assistant.retrievers`), so the real pipeline can answer over it;
- answer: the top chunk's first two sentences, each cited ``[1]`` to that chunk. No
  verification and never a refusal.

Retrieval metrics use this ranking, and relevance uses the same rule as for the real pipeline
(a chunk from one of the question's sources that contains one of its evidence strings).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from functools import lru_cache
from typing import Any

from assistant.answer import Answer, Sentence, render_answer
from assistant.documents import Chunk, Citation, Hit
from assistant.loaders import LoadError, _decode_text, discover, load_file
from assistant.retrievers import Filters, SearchResult
from assistant.settings import Settings
from assistant.text import sentence_spans
from assistant.timing import Stopwatch

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
COLLECTION_PREFIX = "naive-baseline-"
GENERATOR_NAME = "naive-top-chunk"
_build_lock = threading.Lock()


@lru_cache(maxsize=2)
def _hf_embeddings(model_path: str) -> Any:
    """The tutorial's embedding object, loaded once per process (by path, never from a hub:
    `local_files_only` says so to sentence-transformers without touching the environment)."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=model_path,
        model_kwargs={"local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )


def naive_embeddings(settings: Settings) -> Any:
    """MiniLM via langchain_huggingface (tutorial-faithful), or the hash embedder for tests."""
    if settings.embedder == "hash":
        from assistant.embeddings import as_langchain, get_embedder

        return as_langchain(get_embedder(settings))
    from assistant.embeddings import default_model_path

    return _hf_embeddings(settings.model_path or default_model_path())


def split_corpus(settings: Settings) -> tuple[list[Chunk], list[str]]:
    """Raw-text chunks of every corpus file, and the errors of files that would not load."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )
    paths, problems = discover(settings.corpus)
    errors = [str(p) for p in problems]
    chunks: list[Chunk] = []
    for path in paths:
        try:
            doc = load_file(path, max_bytes=settings.max_file_mb * 1024 * 1024)
            if doc.format in ("txt", "md"):  # the tutorial's TextLoader reads the file as it is
                doc.text = _decode_text(path, path.read_bytes())[0]
        except LoadError as exc:
            errors.append(str(exc))
            continue
        title = str(doc.metadata.get("title") or doc.doc_id)
        doc_type = str(doc.metadata.get("type") or "other")
        for i, piece in enumerate(splitter.create_documents([doc.text])):
            start = int(piece.metadata.get("start_index", -1))
            chunks.append(
                Chunk(
                    chunk_id=f"naive:{doc.doc_id}:{i:04d}",
                    doc_id=doc.doc_id,
                    text=piece.page_content,
                    title=title,
                    doc_type=doc_type,
                    section="",
                    page=None,
                    start=start,
                    end=start + len(piece.page_content),
                    source=str(path),
                )
            )
    return chunks, errors


def collection_name(chunks: list[Chunk], settings: Settings) -> str:
    """A name that changes whenever the chunk texts, the split parameters or the model do."""
    digest = hashlib.sha256(
        f"{CHUNK_SIZE}:{CHUNK_OVERLAP}:{settings.embedder}:{settings.model_path}".encode()
    )
    for chunk in chunks:
        digest.update(chunk.chunk_id.encode() + b"\0" + chunk.text.encode() + b"\0")
    return COLLECTION_PREFIX + digest.hexdigest()[:16]


class NaiveRAG:
    """The tutorial pipeline behind the same `ask` / `search` surface as the real one."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.chunks, self.errors = split_corpus(settings)
        self.by_id = {c.chunk_id: c for c in self.chunks}
        self.collection = collection_name(self.chunks, settings)
        self._store: Any = None

    # -------------------------------------------------------------- building
    @property
    def store(self) -> Any:
        """The Chroma vector store, filled on first use (reused when already complete)."""
        if self._store is None:
            with _build_lock:
                if self._store is None:
                    self._store = self._open_or_build()
        return self._store

    def _open_or_build(self) -> Any:
        from langchain_chroma import Chroma
        from langchain_core.documents import Document

        from assistant.index import chroma_client

        client = chroma_client(self.settings)
        existing = [c if isinstance(c, str) else c.name for c in client.list_collections()]
        for name in existing:  # an older corpus or parameters: its vectors are useless now
            if name.startswith(COLLECTION_PREFIX) and name != self.collection:
                with contextlib.suppress(Exception):
                    client.delete_collection(name)
        if self.collection in existing:
            count = client.get_collection(self.collection).count()
            if count != len(self.chunks):  # interrupted fill: start again
                client.delete_collection(self.collection)
        store = Chroma(
            client=client,
            collection_name=self.collection,
            embedding_function=naive_embeddings(self.settings),
        )
        if client.get_collection(self.collection).count() != len(self.chunks) and self.chunks:
            docs = [
                Document(
                    page_content=c.text,
                    metadata={
                        "chunk_id": c.chunk_id,
                        "doc_id": c.doc_id,
                        "source": c.source,
                        "start_index": c.start,
                    },
                )
                for c in self.chunks
            ]
            store.add_documents(docs, ids=[c.chunk_id for c in self.chunks])
        return store

    # -------------------------------------------------------------- querying
    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> SearchResult:
        """Dense top-k; the score is Chroma's distance turned into a similarity (1 - d/2).

        The tutorial has no filters; `filters` are honoured as a Chroma ``where`` on the
        documents they allow, so the baseline can stand in for any retriever."""
        clock = Stopwatch()
        hits: list[Hit] = []
        allowed = self._allowed(filters or Filters())
        if self.chunks and allowed != []:
            where = None if allowed is None else {"doc_id": {"$in": allowed}}
            with clock.stage("dense"):
                found = self.store.similarity_search_with_score(
                    query, k=min(k, len(self.chunks)), filter=where
                )
            for rank, (doc, distance) in enumerate(found, 1):
                chunk = self.by_id.get(doc.metadata.get("chunk_id", ""))
                if chunk is not None:
                    score = 1.0 - float(distance) / 2
                    hits.append(Hit(chunk, score, rank, dense_score=score))
        return SearchResult(
            query=query,
            expanded=query,
            hits=hits,
            retriever="naive",
            timings_ms=clock.rounded(total=False),
            max_dense=max((h.score for h in hits), default=0.0),
        )

    def _allowed(self, filters: Filters) -> list[str] | None:
        """The document ids `filters` allow (None: every document)."""
        if not filters.doc_ids and not filters.doc_types:
            return None
        return sorted(
            {
                c.doc_id
                for c in self.chunks
                if (not filters.doc_ids or c.doc_id in filters.doc_ids)
                and (not filters.doc_types or c.doc_type in filters.doc_types)
            }
        )

    def ask(
        self, question: str, history: Any = None, k: int | None = None, **_ignored: Any
    ) -> Answer:
        """Top chunk's first two sentences, cited [1]; never refuses, never verifies."""
        clock = Stopwatch()
        with clock.stage("retrieve"):
            hits = self.search(question, k or self.settings.k).hits
        sentences: list[Sentence] = []
        citations: list[Citation] = []
        with clock.stage("generate"):
            if hits:
                top = hits[0].chunk
                spans = sentence_spans(top.text)[:2] or [(0, len(top.text))]
                sentences = [Sentence(" ".join(top.text[s:e].split()), [1], True) for s, e in spans]
                quote = top.text[spans[0][0] : spans[-1][1]].strip()
                score = round(hits[0].score, 4)
                citations = [Citation.from_chunk(1, top, quote, score, text=top.text)]
        return Answer(
            question=question,
            answer=render_answer(sentences),
            refused=False,
            sentences=sentences,
            citations=citations,
            generator=GENERATOR_NAME,
            timings_ms=clock.rounded(),
            rewritten_query=question,
            retrieved=[h.to_dict(full=False) for h in hits],
        )

    def describe(self) -> dict[str, Any]:
        """What the report's config records about the baseline."""
        return {
            "collection": self.collection,
            "chunks": len(self.chunks),
            "documents": len({c.doc_id for c in self.chunks}),
            "chunk_size": CHUNK_SIZE,
            "chunk_overlap": CHUNK_OVERLAP,
        }
