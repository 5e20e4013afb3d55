"""Server mode: the index lives in a real `chroma run` server on loopback instead of the
embedded store (hash embedder: the point here is the client/server path)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EDI_ID, NEWS_ID, cli_env, free_port, make_settings, stop, wait_until_up

from assistant.index import (
    Index,
    build_index,
    check_index,
    chroma_client,
    read_current,
    sentence_collection_name,
)
from assistant.retrieve import Retriever

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@contextlib.contextmanager
def chroma_running(tmp_path: Path, port: int, data: Path) -> Iterator[str]:
    """A real `chroma run` server on `port` over `data`, stopped on exit (the same port and
    folder can be started again: an outage and its end)."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.skip(f"no chroma executable next to {sys.executable}")
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / f"chroma-server-{time.monotonic_ns()}.log"
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(exe), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    try:
        wait_until_up(proc, f"{url}/api/v2/heartbeat", log_path, "chroma server", 30, 0.2)
        yield url
    finally:
        stop(proc, timeout=10)


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    with chroma_running(tmp_path, free_port(), tmp_path / "server-data") as url:
        yield url


def test_index_and_search_through_a_chroma_server(
    chroma_server: str, tmp_path: Path, seed_corpus: Path, repo_root: Path
) -> None:
    settings = make_settings(repo_root, seed_corpus, tmp_path / "idx", chroma_url=chroma_server)
    report = build_index(settings)
    assert sorted(report.added) == [EDI_ID, NEWS_ID] and not report.errors
    assert not (settings.indexes / "chroma").exists()  # nothing embedded: the server holds it
    assert check_index(settings) == []

    client = chroma_client(settings)
    current = read_current(settings)
    assert current is not None
    coll = client.get_collection(current["collection"])
    ids = {c.chunk_id for c in Index.open(settings).chunks}
    assert coll.count() == len(ids) == report.chunks_total
    assert set(coll.get(include=[])["ids"]) == ids

    retriever = Retriever(settings)
    for mode in ("dense", "bm25", "hybrid"):
        result = retriever.search("three aims of the public sector equality duty", 3, mode)
        assert len(result.hits) == 3, mode
        assert result.hits[0].chunk.doc_id == EDI_ID
    news = retriever.search("inspection", 5, "dense", doc_types=["news"])
    assert news.hits and all(h.chunk.doc_id == NEWS_ID for h in news.hits)

    # incremental: nothing to do, then a deletion leaves no orphans on the server
    assert build_index(settings).changed is False
    (seed_corpus / f"{NEWS_ID}.txt").unlink()
    report = build_index(settings)
    assert report.removed == [NEWS_ID]
    assert check_index(settings) == []
    remaining = {c.chunk_id for c in Index.open(settings).chunks}
    assert set(coll.get(include=[])["ids"]) == remaining

    # a rebuild switches to a new server collection and drops the old one
    report = build_index(settings, rebuild=True)
    current = read_current(settings)
    assert current is not None and current["collection"] != coll.name
    names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    assert names == {current["collection"], sentence_collection_name(current["collection"])}
    assert check_index(settings) == []

    # the CLI finds the server through ASSISTANT_CHROMA_URL
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "index", "--check"],
        env=cli_env(settings),
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "consistent" in proc.stderr + proc.stdout


# ----------------------------------------------------------------------------- outages
PSED_QUESTION = "What are the three aims of the public sector equality duty?"


def _built_then_stopped(tmp_path: Path, seed_corpus: Path, repo_root: Path) -> tuple[Any, int]:
    """Settings of an index built on a Chroma server that has been stopped since (its port)."""
    port = free_port()
    with chroma_running(tmp_path, port, tmp_path / "server-data") as url:
        settings = make_settings(repo_root, seed_corpus, tmp_path / "idx", chroma_url=url)
        assert not build_index(settings).errors
    return settings, port


def test_cli_says_in_one_line_that_the_chroma_server_is_down(
    tmp_path: Path, seed_corpus: Path, repo_root: Path
) -> None:
    settings, port = _built_then_stopped(tmp_path, seed_corpus, repo_root)
    url = f"http://127.0.0.1:{port}"
    for args in (["ask", PSED_QUESTION], ["search", "equality duty"], ["index"]):
        proc = subprocess.run(
            [sys.executable, "-m", "assistant", *args],
            env=cli_env(settings, COLUMNS="80"),  # narrow: the line must not wrap anyway
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode != 0, (args, proc.stdout)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error:")]
        assert len(errors) == 1, (args, proc.stderr)
        assert "search service unavailable" in errors[0] and url in errors[0], errors
        assert "chroma run" in errors[0] and "chroma_url" in errors[0], errors
        others = [line for line in lines if line not in errors]
        assert all(line.startswith("Loading the embedding model") for line in others), lines


def test_page_starts_while_chroma_is_down_and_answers_once_it_is_back(
    tmp_path: Path, seed_corpus: Path, repo_root: Path
) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from test_serve_start import serving

    settings, port = _built_then_stopped(tmp_path, seed_corpus, repo_root)
    url = f"http://127.0.0.1:{port}"
    with serving(settings, tmp_path) as page:
        client = Client(page, verbose=False)
        for _ in range(2):  # every answer says so while the server is down
            with pytest.raises(AppError) as err:
                client.predict(PSED_QUESTION, "[]", "extractive", api_name="/ask")
            message = str(err.value)
            assert message.startswith("Search service unavailable") and url in message, message
        with chroma_running(tmp_path, port, tmp_path / "server-data"):
            result = client.predict(PSED_QUESTION, "[]", "extractive", api_name="/ask")
            assert result["refused"] is False, result
            assert EDI_ID in {c["doc_id"] for c in result["citations"]}, result
        # down again mid-session (the index is open now): the same sentence, no crash
        with pytest.raises(AppError, match="Search service unavailable"):
            client.predict(PSED_QUESTION, "[]", "extractive", api_name="/ask")
