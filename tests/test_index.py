"""Index building: incremental updates, deletions, duplicates, bad files, rebuilds, crash
safety (kill -9 mid-build), the build lock and `assistant index --check`.

Everything uses the deterministic hash embedder except the one slow MiniLM test."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EDI_ID, NEWS_ID, cli_env, copy_seeds, make_settings

from assistant.index import (
    Index,
    IndexProblem,
    build_index,
    check_index,
    chroma_client,
    read_current,
    read_manifest,
    sentence_collection_name,
)
from assistant.loaders import load_file
from assistant.retrieve import Retriever
from assistant.settings import Settings

NEW_PARAGRAPH = "Ofsted will also review the quokka pilot scheme in Swindon during the autumn term."


def chroma_ids(settings: Settings) -> tuple[set[str], set[str]]:
    """(chunk ids, parents of sentence ids) stored in the live Chroma collections."""
    current = read_current(settings)
    assert current is not None
    client = chroma_client(settings)
    coll = client.get_collection(current["collection"])
    sent = client.get_collection(sentence_collection_name(current["collection"]))
    chunk_ids = set(coll.get(include=[])["ids"])
    parents = {i.rsplit("#", 1)[0] for i in sent.get(include=[])["ids"]}
    return chunk_ids, parents


def index_ids(settings: Settings) -> set[str]:
    return {c.chunk_id for c in Index.open(settings).chunks}


def run_cli(settings: Settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        env=cli_env(settings),
        cwd=settings.root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ---------------------------------------------------------------------------- incremental
def test_first_build_then_nothing_to_do(hash_settings: Settings) -> None:
    stages: list[str] = []

    def progress(stage: str, done: int, total: int, detail: str) -> None:
        stages.append(stage)

    first = build_index(hash_settings, progress=progress)
    assert sorted(first.added) == [EDI_ID, NEWS_ID]
    assert first.changed and first.generation == "g000001" and not first.errors
    assert first.chunks_embedded == first.chunks_total == sum(first.chunks_per_doc.values())
    assert all(n > 0 for n in first.chunks_per_doc.values())
    assert {"documents", "embedding", "bm25"} <= set(stages)
    assert check_index(hash_settings) == []
    pointer = (hash_settings.indexes / "CURRENT.json").read_bytes()

    second = build_index(hash_settings)
    assert second.changed is False
    assert second.chunks_embedded == 0
    assert second.generation == first.generation
    assert sorted(second.unchanged) == [EDI_ID, NEWS_ID] and not second.added
    assert second.chunks_total == first.chunks_total
    assert (hash_settings.indexes / "CURRENT.json").read_bytes() == pointer
    assert check_index(hash_settings) == []


def test_editing_one_document_reembeds_only_that_document(hash_settings: Settings) -> None:
    first = build_index(hash_settings)
    before = index_ids(hash_settings)
    news = hash_settings.corpus / f"{NEWS_ID}.txt"
    news.write_text(news.read_text(encoding="utf-8") + f"\n\n{NEW_PARAGRAPH}\n", encoding="utf-8")

    report = build_index(hash_settings)
    after = index_ids(hash_settings)
    assert report.changed and report.generation != first.generation
    assert report.updated == [NEWS_ID] and report.unchanged == [EDI_ID]
    assert not report.added and not report.removed
    new_ids = after - before
    assert new_ids and all(i.startswith(f"{NEWS_ID}:") for i in new_ids)
    assert before - after <= {i for i in before if i.startswith(f"{NEWS_ID}:")}
    # at most the edited document's chunks, never the other document's
    assert len(new_ids) <= report.chunks_embedded <= report.chunks_per_doc[NEWS_ID]
    assert report.chunks_embedded < first.chunks_per_doc[EDI_ID]
    assert check_index(hash_settings) == []

    for mode in ("bm25", "dense", "hybrid"):
        hits = Retriever(hash_settings).search("quokka pilot scheme in Swindon", 3, mode).hits
        assert NEW_PARAGRAPH in hits[0].chunk.text, mode


def test_appending_to_a_long_document_embeds_only_new_chunks(hash_settings: Settings) -> None:
    build_index(hash_settings)
    before = index_ids(hash_settings)
    edi = hash_settings.corpus / f"{EDI_ID}.txt"
    edi.write_text(edi.read_text(encoding="utf-8") + f"\n\n{NEW_PARAGRAPH}\n", encoding="utf-8")
    report = build_index(hash_settings)
    new_ids = index_ids(hash_settings) - before
    assert 1 <= len(new_ids) <= 2
    assert report.chunks_embedded == len(new_ids)


def test_sidecar_type_change_updates_filters(hash_settings: Settings) -> None:
    build_index(hash_settings)
    sidecar = hash_settings.corpus / f"{NEWS_ID}.meta.yaml"
    sidecar.write_text(
        sidecar.read_text(encoding="utf-8").replace("type: news", "type: guidance"),
        encoding="utf-8",
    )
    report = build_index(hash_settings)
    assert report.updated == [NEWS_ID]
    retriever = Retriever(hash_settings)
    query = "Ofsted inspection of Cafcass"
    for mode in ("dense", "bm25", "hybrid"):
        assert retriever.search(query, 5, mode, doc_types=["news"]).hits == []
        hits = retriever.search(query, 30, mode, doc_types=["guidance"]).hits
        assert NEWS_ID in {h.chunk.doc_id for h in hits}, mode


def test_deleting_a_document_removes_its_chunks(hash_settings: Settings) -> None:
    build_index(hash_settings)
    (hash_settings.corpus / f"{NEWS_ID}.txt").unlink()
    (hash_settings.corpus / f"{NEWS_ID}.meta.yaml").unlink()
    report = build_index(hash_settings)
    assert report.removed == [NEWS_ID] and report.unchanged == [EDI_ID]
    index = Index.open(hash_settings)
    assert index.chunks and {c.doc_id for c in index.chunks} == {EDI_ID}
    assert NEWS_ID not in index.documents
    assert check_index(hash_settings) == []
    chunk_ids, parents = chroma_ids(hash_settings)
    wanted = {c.chunk_id for c in index.chunks}
    assert chunk_ids == wanted
    assert parents <= wanted
    for mode in ("dense", "bm25", "hybrid"):
        result = Retriever(hash_settings).search("Ofsted announces full inspection", 5, mode)
        assert all(h.chunk.doc_id == EDI_ID for h in result.hits)
        assert Retriever(hash_settings).search("inspection", 5, mode, doc_ids=[NEWS_ID]).hits == []


def test_duplicate_content_is_indexed_once(hash_settings: Settings) -> None:
    copy = hash_settings.corpus / "zz-copy-of-the-edi-statement.txt"
    shutil.copy(hash_settings.corpus / f"{EDI_ID}.txt", copy)
    report = build_index(hash_settings)
    assert report.duplicates == {copy.stem: EDI_ID}
    assert sorted(report.chunks_per_doc) == [EDI_ID, NEWS_ID]
    index = Index.open(hash_settings)
    assert copy.stem not in {c.doc_id for c in index.chunks}
    assert index.documents[EDI_ID].get("aliases") == [copy.stem]
    assert check_index(hash_settings) == []
    again = build_index(hash_settings)
    assert not again.changed and again.duplicates == {copy.stem: EDI_ID}


def test_unreadable_file_is_reported_and_the_rest_indexed(hash_settings: Settings) -> None:
    rng = random.Random(7)
    (hash_settings.corpus / "bad.pdf").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    report = build_index(hash_settings)
    assert any("bad.pdf" in e for e in report.errors), report.errors
    assert sorted(report.added) == [EDI_ID, NEWS_ID]
    assert "bad" not in report.chunks_per_doc
    assert check_index(hash_settings) == []
    assert any("bad.pdf" in e for e in read_manifest(hash_settings)["errors"])


def test_rebuild_gives_new_generation_with_same_ids(hash_settings: Settings) -> None:
    first = build_index(hash_settings)
    ids = index_ids(hash_settings)
    old_collection = read_current(hash_settings)["collection"]  # type: ignore[index]
    report = build_index(hash_settings, rebuild=True)
    assert report.changed and report.generation == "g000002" != first.generation
    assert report.chunks_embedded == report.chunks_total == len(ids)
    current = read_current(hash_settings)
    assert current is not None and current["generation"] == "g000002"
    assert current["collection"] != old_collection
    assert index_ids(hash_settings) == ids
    assert check_index(hash_settings) == []
    names = {
        c if isinstance(c, str) else c.name for c in chroma_client(hash_settings).list_collections()
    }
    assert names == {current["collection"], sentence_collection_name(current["collection"])}
    chunk_ids, parents = chroma_ids(hash_settings)
    assert chunk_ids == ids and parents <= ids
    # and the rebuilt index is incremental again afterwards
    assert build_index(hash_settings).changed is False


# ---------------------------------------------------------------------------- crash safety
def _generate_corpus(folder: Path, count: int, seed: int = 1234) -> None:
    """Many documents recombining seed sentences (deterministic)."""
    sentences: list[str] = []
    for path in sorted(folder.glob("*.txt")):
        text = load_file(path).text
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 6]
    rng = random.Random(seed)
    for i in range(count):
        paragraphs = [" ".join(rng.sample(sentences, 3)) for _ in range(2)]
        body = f"Generated document {i}\n\n" + "\n\n".join(paragraphs) + "\n"
        (folder / f"gen-{i:03d}.txt").write_text(body, encoding="utf-8")


QUERIES = [
    "What are the three aims of the public sector equality duty?",
    "How long does the full inspection of Cafcass take?",
]


def _top_hits(settings: Settings, retriever: Retriever | None = None) -> list[str]:
    r = retriever or Retriever(settings)
    return [r.search(q, 3).hits[0].chunk.chunk_id for q in QUERIES]


def _only_orphan_problems(problems: list[str]) -> bool:
    return all("orphaned vectors" in p or "sentence vectors of" in p for p in problems)


def _vector_log_position(settings: Settings) -> int | None:
    """How far embedded Chroma's write log has got (read-only peek at its SQLite file), or
    None when that cannot be read; used only to time a kill while vectors are being written."""
    db = settings.indexes / "chroma" / "chroma.sqlite3"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as con:
            row = con.execute("SELECT max(seq_id) FROM embeddings_queue").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0] or 0)


@pytest.mark.timeout(240)
def test_kill_9_mid_build_keeps_the_old_generation(hash_settings: Settings) -> None:
    build_index(hash_settings)
    old_generation = read_current(hash_settings)["generation"]  # type: ignore[index]
    live = Retriever(hash_settings)  # a long-lived reader, like the web server
    expected = _top_hits(hash_settings, live)
    _generate_corpus(hash_settings.corpus, 300)
    env = cli_env(hash_settings)

    killed: list[str] = []
    # fixed delays, then "shortly after the build starts writing vectors"
    for point in (0.5, 1.5, 3.0, "writing"):
        baseline = _vector_log_position(hash_settings)
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "index"],
            env=env,
            cwd=hash_settings.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if point == "writing":
                # fall back to a fixed delay if Chroma's log table cannot be read
                deadline = started + (60 if baseline is not None else 6)
                while proc.poll() is None and time.monotonic() < deadline:
                    position = _vector_log_position(hash_settings)
                    if baseline is not None and position is not None and position > baseline:
                        time.sleep(0.2)
                        break
                    time.sleep(0.02)
            else:
                while proc.poll() is None and time.monotonic() - started < float(point):
                    time.sleep(0.02)
            if proc.poll() is not None:
                break  # finished (or failed) before this point: nothing left to kill
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            killed.append(f"{point}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        current = read_current(hash_settings)
        assert current is not None and current["generation"] == old_generation, point
        assert not (hash_settings.indexes / "generations" / "g000002").exists()
        assert Index.open(hash_settings).generation == old_generation
        assert _top_hits(hash_settings) == expected, point
        assert _top_hits(hash_settings, live) == expected, point
        problems = check_index(hash_settings)
        # When the killed build wrote to Chroma, also check from a fresh process (as `assistant
        # index --check` after the crash would): it replays Chroma's log and sees those writes,
        # which this long-lived process may not.
        position = _vector_log_position(hash_settings)
        fresh_problems: list[str] = []
        if baseline is None or position is None or position > baseline:
            fresh = run_cli(hash_settings, "index", "--check")
            fresh_problems = [
                line.split("Problem:", 1)[1].strip()
                for line in (fresh.stderr + fresh.stdout).splitlines()
                if "Problem:" in line
            ]
            assert fresh.returncode == (1 if fresh_problems else 0), fresh.stderr
            assert _only_orphan_problems(fresh_problems), (point, fresh_problems)
        print(f"kill -9 at {point}: in-process {problems}, fresh process {fresh_problems}")
        assert _only_orphan_problems(problems), (point, problems)
    assert killed, "the build finished before every kill point; make the corpus bigger"

    # a normal build (holding no stale lock from the killed processes) completes
    done = run_cli(hash_settings, "index", "--corpus", str(hash_settings.corpus), timeout=180)
    assert done.returncode == 0, done.stderr
    current = read_current(hash_settings)
    assert current is not None and current["generation"] != old_generation
    assert check_index(hash_settings) == []
    index = Index.open(hash_settings)
    assert len(index.documents) == 302
    chunk_ids, parents = chroma_ids(hash_settings)
    assert chunk_ids == {c.chunk_id for c in index.chunks} and parents <= chunk_ids
    # the long-lived reader switches to the new generation by itself
    assert live.index.generation == current["generation"]
    assert len(live.search(QUERIES[0], 3).hits) == 3


def test_long_lived_reader_sees_documents_indexed_by_another_process(
    hash_settings: Settings,
) -> None:
    build_index(hash_settings)
    live = Retriever(hash_settings)  # e.g. the web server
    assert live.search("equality duty", 3, "dense").hits
    (hash_settings.corpus / "zebra.txt").write_text(
        "The zebra crossing audit of Cafcass offices concluded that striped paint was adequate.\n",
        encoding="utf-8",
    )
    done = run_cli(hash_settings, "index")
    assert done.returncode == 0, done.stderr
    assert live.index.generation == read_current(hash_settings)["generation"]  # type: ignore[index]
    query = "zebra crossing audit striped paint"
    assert live.search(query, 3, "dense").hits[0].chunk.doc_id == "zebra"
    assert [h.chunk.doc_id for h in live.search(query, 3, "dense", doc_ids=["zebra"]).hits] == [
        "zebra"
    ]


_HOLD_LOCK = """
import fcntl, sys, time
fh = open(sys.argv[1], "w")
fcntl.flock(fh, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


def test_build_lock_is_released_when_its_holder_dies(hash_settings: Settings) -> None:
    hash_settings.indexes.mkdir(parents=True)
    lock = hash_settings.indexes / ".build.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(IndexProblem, match="already updating"):
            build_index(hash_settings)
        assert read_current(hash_settings) is None
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert lock.exists()  # the stale lock file is still there ...
    report = build_index(hash_settings)  # ... but flock died with its holder
    assert sorted(report.added) == [EDI_ID, NEWS_ID]
    assert check_index(hash_settings) == []


# ---------------------------------------------------------------------------- index --check
def test_cli_check_detects_damage(hash_settings: Settings) -> None:
    build_index(hash_settings)
    ok = run_cli(hash_settings, "index", "--check")
    assert ok.returncode == 0, ok.stderr
    assert "consistent" in ok.stderr + ok.stdout

    generation = hash_settings.indexes / "generations" / read_current(hash_settings)["generation"]  # type: ignore[index]
    backup = hash_settings.indexes.parent / "bm25-backup"
    shutil.copytree(generation / "bm25", backup)
    shutil.rmtree(generation / "bm25")
    assert check_index(hash_settings)
    bad = run_cli(hash_settings, "index", "--check")
    assert bad.returncode != 0
    assert "Problem" in bad.stderr + bad.stdout
    shutil.copytree(backup, generation / "bm25")
    assert check_index(hash_settings) == []

    chunks_file = generation / "chunks.jsonl"
    good_lines = chunks_file.read_text(encoding="utf-8").splitlines(keepends=True)
    # a dropped line: the chunk store disagrees with the manifest and BM25
    chunks_file.write_text("".join(good_lines[:-1]), encoding="utf-8")
    problems = check_index(hash_settings)
    assert any("disagree" in p for p in problems) and any("BM25" in p for p in problems)
    # a garbled line
    chunks_file.write_text("".join(good_lines[:3]) + '{"chunk_id": "x", trunc\n', encoding="utf-8")
    assert any("unreadable" in p for p in check_index(hash_settings))
    bad = run_cli(hash_settings, "index", "--check")
    assert bad.returncode != 0
    assert "Problem" in bad.stderr + bad.stdout


def test_check_on_missing_index(hash_settings: Settings) -> None:
    assert check_index(hash_settings) == [f"no index in {hash_settings.indexes}"]
    with pytest.raises(IndexProblem, match="assistant index"):
        Index.open(hash_settings)


# ---------------------------------------------------------------------------- real model
@pytest.mark.slow
def test_minilm_index_over_the_seeds(minilm_index: Settings) -> None:
    manifest = read_manifest(minilm_index)
    assert manifest["embedder"] == "minilm:all-MiniLM-L6-v2"
    docs = manifest["documents"]
    assert sorted(docs) == [EDI_ID, NEWS_ID]
    assert all(len(doc["chunks"]) > 0 for doc in docs.values())
    assert docs[EDI_ID]["doc_type"] == "guidance" and docs[NEWS_ID]["doc_type"] == "news"
    assert docs[EDI_ID]["removed_chars"] > 0
    index = Index.open(minilm_index)
    assert {c.doc_id for c in index.chunks} == {EDI_ID, NEWS_ID}
    assert check_index(minilm_index) == []
    # a second build with the same model does nothing
    again = build_index(minilm_index)
    assert not again.changed and again.chunks_embedded == 0


def test_changing_chunk_sizes_forces_a_fresh_generation(tmp_path: Path, repo_root: Path) -> None:
    corpus = copy_seeds(tmp_path / "corpus")
    settings = make_settings(repo_root, corpus, tmp_path / "idx")
    build_index(settings)
    bigger = make_settings(repo_root, corpus, tmp_path / "idx", chunk_max_chars=1200)
    report = build_index(bigger)
    assert report.changed and report.chunks_embedded == report.chunks_total
    assert read_current(bigger)["collection"] != "chunks"  # type: ignore[index]
    assert check_index(bigger) == []
    manifest = json.loads(
        (bigger.indexes / "generations" / report.generation / "manifest.json").read_text()
    )
    assert manifest["pipeline"].endswith(":1200")
