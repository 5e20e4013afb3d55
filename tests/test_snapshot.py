"""The read side of a generation (issue 14): the chunk store read on demand, the vector copy
that dense search reads instead of Chroma, and BM25 scored without bm25s - each checked
against the thing it replaces on the query path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_env, make_settings

from assistant.bm25 import BM25Index, tokenize
from assistant.documents import Chunk
from assistant.index import (
    Index,
    _collection,
    build_index,
    chroma_client,
    read_current,
    sentence_collection_name,
    sentence_vectors,
)
from assistant.retrieve import Retriever
from assistant.settings import Settings
from assistant.snapshot import OFFSETS, ChunkStore, VectorCopy

QUESTIONS = [
    "What are the three aims of the public sector equality duty?",
    "How will Ofsted monitor the new inspection arrangements?",
    "Which protected characteristics are relevant to children and parents?",
    "When was the full inspection of Cafcass announced?",
    "What does the framework say about the workforce?",
    "harassment and victimisation",
]


def _generation(settings: Settings) -> Path:
    current = read_current(settings)
    assert current is not None
    return settings.indexes / "generations" / current["generation"]


def _parsed(folder: Path) -> list[Chunk]:
    lines = (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    return [Chunk.from_dict(json.loads(line)) for line in lines if line.strip()]


# ----------------------------------------------------------------------------- chunk store
def test_chunk_store_reads_what_the_file_holds(hash_settings: Settings) -> None:
    build_index(hash_settings)
    folder = _generation(hash_settings)
    expected = _parsed(folder)
    store = ChunkStore(folder)
    assert len(store) == len(expected) > 5
    assert list(store) == expected
    assert store[0] == expected[0] and store[-1] == expected[-1]
    assert store[2:5] == expected[2:5]
    with pytest.raises(IndexError):
        store[len(expected)]
    keys = store.keys()
    assert keys["ids"] == [c.chunk_id for c in expected]
    assert keys["docs"] == [c.doc_id for c in expected]
    assert keys["types"] == [c.doc_type for c in expected]


def test_chunk_store_without_or_with_stale_offsets_scans_the_file(hash_settings: Settings) -> None:
    build_index(hash_settings)
    folder = _generation(hash_settings)
    expected = _parsed(folder)
    (folder / OFFSETS).unlink()  # a generation written before the offsets file
    assert list(ChunkStore(folder)) == expected
    np.save(folder / OFFSETS, np.array([0, 10, 20], dtype=np.int64))  # does not end at the size
    assert list(ChunkStore(folder)) == expected


# ----------------------------------------------------------------------------- vector copy
def test_vector_copy_holds_the_vectors_chroma_holds(hash_settings: Settings) -> None:
    build_index(hash_settings)
    index = Index.open(hash_settings)
    assert index.vectors is not None
    current = read_current(hash_settings)
    assert current is not None
    client = chroma_client(hash_settings)
    whole = _collection(client, current["collection"], "", create=False)
    parts = _collection(client, sentence_collection_name(current["collection"]), "", create=False)
    for pos, chunk in enumerate(index.chunks):
        got = whole.get(ids=[chunk.chunk_id], include=["embeddings"])
        np.testing.assert_allclose(index.vectors.chunk[pos], got["embeddings"][0], atol=1e-6)
        ids = [vid for vid, _, _ in sentence_vectors(chunk)]
        rows = index.vectors.sentence_rows(pos)
        assert len(rows) == len(ids)
        if ids:
            stored = parts.get(ids=ids, include=["embeddings"])
            by_id = dict(zip(stored["ids"], stored["embeddings"], strict=True))
            np.testing.assert_allclose(rows, [by_id[i] for i in ids], atol=1e-6)


def test_incremental_build_carries_unchanged_vectors_over(hash_settings: Settings) -> None:
    build_index(hash_settings)
    before = Index.open(hash_settings)
    vectors = {c.chunk_id: np.array(before.vectors.chunk[i]) for i, c in enumerate(before.chunks)}
    extra = hash_settings.corpus / "added-note.md"
    extra.write_text("# Added note\n\nInspectors read case files before the visit.\n")
    report = build_index(hash_settings)
    assert report.added == ["added-note"]
    after = Index.open(hash_settings)
    assert after.generation != before.generation and after.vectors is not None
    carried = 0
    for pos, chunk in enumerate(after.chunks):
        if chunk.chunk_id in vectors:
            np.testing.assert_array_equal(after.vectors.chunk[pos], vectors[chunk.chunk_id])
            carried += 1
    assert carried == len(before.chunks)
    hits = Retriever(hash_settings).search("case files before the visit", 3, "dense").hits
    assert hits[0].chunk.doc_id == "added-note"


def test_a_missing_or_torn_copy_falls_back_to_chroma(hash_settings: Settings) -> None:
    build_index(hash_settings)
    folder = _generation(hash_settings)
    expected = Retriever(hash_settings).search(QUESTIONS[0], 5, "dense").hits
    sent = folder / "vectors" / "sent.npy"
    sent.write_bytes(sent.read_bytes()[:200])  # torn
    assert VectorCopy.load(folder, len(ChunkStore(folder))) is None
    index = Index.open(hash_settings)
    assert index.vectors is None  # Chroma answers instead
    hits = Retriever(hash_settings, index).search(QUESTIONS[0], 5, "dense").hits
    assert [h.chunk.chunk_id for h in hits] == [h.chunk.chunk_id for h in expected]


@pytest.mark.slow
def test_copy_and_chroma_rank_alike_with_the_real_model(minilm_index: Settings) -> None:
    """Exact search over the copy against Chroma's HNSW: the same passages, same order."""
    local = Retriever(minilm_index)
    chroma = Retriever(make_settings_like(minilm_index, dense_from_chroma=True))
    assert local.index.vectors is not None and chroma.index.vectors is None
    for q in QUESTIONS:
        for mode in ("dense", "hybrid"):
            a, b = local.search(q, 5, mode).hits, chroma.search(q, 5, mode).hits
            assert [h.chunk.chunk_id for h in a] == [h.chunk.chunk_id for h in b], (q, mode)
            # float32 dot products here, Chroma's own distance code there
            np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-5)
    filtered = local.search("inspection", 5, "dense", doc_types=["news"]).hits
    assert filtered and all(h.chunk.doc_type == "news" for h in filtered)


def make_settings_like(settings: Settings, **overrides: object) -> Settings:
    return make_settings(
        settings.root, settings.corpus, settings.indexes, embedder=settings.embedder, **overrides
    )


# ----------------------------------------------------------------------------- BM25
def test_bm25_scores_equal_bm25s_scores(hash_settings: Settings) -> None:
    import bm25s

    from assistant.text import english_stemmer

    build_index(hash_settings)
    folder = _generation(hash_settings) / "bm25"
    ours = BM25Index.load(folder)
    theirs = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
    texts = [c.text for c in ChunkStore(_generation(hash_settings))]
    queries = QUESTIONS + [s for t in texts for s in t.split(". ")]
    compared = 0
    for q in queries:
        reference = bm25s.tokenize(
            [q], stopwords="en", stemmer=english_stemmer(), return_ids=False, show_progress=False
        )[0]
        assert tokenize([q], ours.stopwords)[0] == reference, q
        known = [t for t in reference if t in theirs.vocab_dict]
        if known:
            np.testing.assert_array_equal(ours.scores(q), theirs.get_scores(known))
            compared += 1
        else:
            assert ours.scores(q) is None
    assert compared > 50


def test_a_torn_bm25_file_is_refused(hash_settings: Settings) -> None:
    build_index(hash_settings)
    folder = _generation(hash_settings) / "bm25"
    data = folder / "data.csc.index.npy"
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(ValueError):
        BM25Index.load(folder)


# ----------------------------------------------------------------------------- cold path
HEAVY = ("chromadb", "gradio", "langchain_core", "bm25s", "scipy", "matplotlib", "torch")
PROBE = """
import runpy, sys
sys.argv = ["assistant", *sys.argv[1:]]
try:
    runpy.run_module("assistant", run_name="__main__")
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("command", [["ask", QUESTIONS[0]], ["search", "equality duty"]])
def test_ask_and_search_import_nothing_heavy(hash_settings: Settings, command: list[str]) -> None:
    build_index(hash_settings)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *command],
        env=cli_env(hash_settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    line = [x for x in proc.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line == ["HEAVY="], proc.stderr[-2000:]


# ----------------------------------------------------------------------------- recipes
def test_derived_chunk_vectors_are_the_weighted_mean_of_their_parts(
    hash_settings: Settings,
) -> None:
    from assistant.embeddings import HashEmbeddings
    from assistant.index import _head, embed_text, encode_chunks

    build_index(hash_settings)
    chunks = list(Index.open(hash_settings).chunks)
    emb = HashEmbeddings()
    whole, parts = encode_chunks(emb, chunks, derive=True)
    again, same_parts = encode_chunks(emb, chunks, derive=False)
    for j, chunk in enumerate(chunks):
        spans = sentence_vectors(chunk)
        texts = [chunk.text[a:b] for _, a, b in spans]
        np.testing.assert_allclose(parts[j], emb.encode(texts) if texts else parts[j], atol=1e-6)
        np.testing.assert_allclose(parts[j], same_parts[j], atol=1e-6)
        np.testing.assert_allclose(again[j], emb.encode([embed_text(chunk)])[0], atol=1e-6)
        if not texts:
            np.testing.assert_allclose(whole[j], again[j], atol=1e-6)
            continue
        head = _head(chunk)
        pieces = ([head] if head else []) + texts
        vecs = emb.encode(pieces)
        mean = (np.array([len(p) for p in pieces], dtype=np.float32)[:, None] * vecs).sum(0)
        np.testing.assert_allclose(whole[j], mean / np.linalg.norm(mean), atol=1e-5)
        assert abs(float(np.linalg.norm(whole[j])) - 1.0) < 1e-5


def test_changing_the_recipe_re_embeds_everything(hash_settings: Settings) -> None:
    build_index(hash_settings)
    encoded = hash_settings.with_overrides(chunk_vectors="sentences")
    report = build_index(encoded)
    assert report.chunks_embedded == report.chunks_total > 0
    assert build_index(encoded).changed is False
    with pytest.raises(Exception, match="chunk_vectors"):
        hash_settings.with_overrides(chunk_vectors="average")
