"""`assistant bench` end to end on a tiny synthetic corpus (hash embedder): every figure the
README's table and issue 14 quote is produced, and sane. Speeds are reported by the bench, not
asserted here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import NO_CONFIG, make_settings

from assistant.bench import cold_ask, run_bench
from assistant.index import build_index

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_bench_reports_every_figure(tmp_path: Path, seed_corpus: Path, repo_root: Path) -> None:
    settings = make_settings(repo_root, seed_corpus, tmp_path / "idx")
    report = run_bench(settings, [80], n_queries=20, log=lambda _msg: None)
    (row,) = report["sizes"]
    assert row["chunks"] > 40 and row["encoder"] == "real"
    for key in (
        "ingest_chunks_per_s",
        "raw_encoder_chunks_per_s",
        "ingest_vs_raw",
        "dense_p95_ms",
        "bm25_p95_ms",
        "hybrid_p95_ms",
        "ask_p95_ms",
        "rss_mb",
        "startup_first_answer_s",
        "embedded_dense_p95_ms",
        "server_dense_p95_ms",
    ):
        assert isinstance(row[key], float) and row[key] > 0, (key, row.get(key))
    assert row["startup_ok"] is True
    assert report["chunk_vectors"] == "encode"


def test_cold_ask_times_ours_against_a_peer_command(
    tmp_path: Path, seed_corpus: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(repo_root, seed_corpus, tmp_path / "idx")
    build_index(settings)
    for key, value in {
        "ASSISTANT_ROOT": str(repo_root),
        "ASSISTANT_CORPUS_DIR": str(seed_corpus),
        "ASSISTANT_INDEX_DIR": str(settings.indexes),
        "ASSISTANT_EMBEDDER": "hash",
        "ASSISTANT_TRACE": "false",
        "ASSISTANT_CONFIG": str(NO_CONFIG),
    }.items():
        monkeypatch.setenv(key, value)
    peer = f"{sys.executable} -c 'import sys; print(sys.argv[1])'"
    row = cold_ask(settings, "What are the three aims of the equality duty?", peer, runs=2)
    assert row["cold_ask_s"] > 0 and row["peer_cold_ask_s"] > 0
    assert row["cold_ask_vs_peer"] == round(row["cold_ask_s"] / row["peer_cold_ask_s"], 2)
    failing = f"{sys.executable} -c 'raise SystemExit(3)'"
    with pytest.raises(RuntimeError, match="failed"):
        cold_ask(settings, "anything", failing, runs=1)
