"""`assistant serve` listens at once: stale files (or a whole first index) are built in the
background while the page already answers from the current generation.

The "slow build" is made deterministic by holding the index folder's build lock from the test,
as a long `assistant index` in another terminal would: serve's background build waits for it,
so the page is checked while its build has certainly not finished, and then after it has.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port, start_serve, stop, wait_until_up

from assistant.index import build_index
from assistant.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

NEW_DOC = "zephyr-visit-protocol"
NEW_TEXT = (
    "Zephyr visit protocol\n\n"
    "Under the Zephyr visit protocol, inspectors record every home visit in the case log "
    "within two working days and tell the family practitioner the outcome.\n"
)
NEW_QUESTION = "What does the Zephyr visit protocol ask inspectors to record?"


@contextlib.contextmanager
def serving(settings: Settings, tmp_path: Path, timeout: float = 180) -> Iterator[str]:
    """`assistant serve` in a subprocess; yields the page's URL once it answers /config."""
    proc, port, log = start_serve(settings, tmp_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(proc, url + "config", log, "serve", timeout)
        yield url
        assert "Traceback" not in log.read_text("utf-8"), log.read_text("utf-8")
    finally:
        stop(proc)


class BuildLock:
    """The index folder's build lock, held as a concurrent `assistant index` would hold it."""

    def __init__(self, settings: Settings) -> None:
        settings.indexes.mkdir(parents=True, exist_ok=True)
        self._fh = open(settings.indexes / ".build.lock", "w")  # noqa: SIM115 - held across calls
        fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self) -> None:
        if not self._fh.closed:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


def _ask(client: Any, question: str) -> dict[str, Any]:
    return client.predict(question, "[]", "extractive", api_name="/ask")


def _cited(answer: dict[str, Any]) -> set[str]:
    return {c["doc_id"] for c in answer.get("citations", [])}


def _until(check: Any, timeout: float = 120) -> Any:
    """Poll `check()` until it returns something truthy (generous timeout, not a target)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"still not true after {timeout:.0f} s")
        time.sleep(1)


def test_serve_listens_before_the_build_and_answers_the_new_file_after(
    hash_settings: Settings, tmp_path: Path
) -> None:
    from gradio_client import Client

    assert not build_index(hash_settings).errors
    (hash_settings.corpus / f"{NEW_DOC}.txt").write_text(NEW_TEXT, encoding="utf-8")
    lock = BuildLock(hash_settings)  # serve's background build cannot finish while held
    try:
        with serving(hash_settings, tmp_path) as url:
            config = httpx.get(url + "config", timeout=10, trust_env=False).text
            assert (
                "Indexing 1 new or changed file in the background; answers use the current "
                "index until it finishes."
            ) in config
            client = Client(url, verbose=False)
            before = _ask(client, NEW_QUESTION)  # answered, from the current generation
            assert NEW_DOC not in _cited(before), before
            lock.release()

            def new_doc_cited() -> dict[str, Any] | None:
                answer = _ask(client, NEW_QUESTION)
                return answer if NEW_DOC in _cited(answer) else None

            after = _until(new_doc_cited)
            assert after["refused"] is False
    finally:
        lock.release()


def test_serve_listens_without_an_index_and_answers_once_it_is_built(
    hash_settings: Settings, tmp_path: Path
) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    question = "What are the three aims of the public sector equality duty?"
    lock = BuildLock(hash_settings)
    try:
        with serving(hash_settings, tmp_path) as url:
            config = httpx.get(url + "config", timeout=10, trust_env=False).text
            assert "Building the index (2 new or changed files) in the background" in config
            client = Client(url, verbose=False)
            with pytest.raises(AppError, match="still being built in the background"):
                _ask(client, question)
            lock.release()

            def answered() -> dict[str, Any] | None:
                try:
                    return _ask(client, question)
                except AppError as exc:
                    assert "still being built" in str(exc), exc  # no other error meanwhile
                    return None

            answer = _until(answered)
            assert answer["refused"] is False and answer["citations"], answer
    finally:
        lock.release()


@pytest.mark.timeout(120)
def test_status_line_follows_the_background_build(hash_settings: Settings) -> None:
    """What the page's status line says before, during and after the build (in-process)."""
    from ui.startup import BackgroundIndex

    assert not build_index(hash_settings).errors
    assert BackgroundIndex(hash_settings).start().message() == ""  # nothing stale: no line
    (hash_settings.corpus / f"{NEW_DOC}.txt").write_text(NEW_TEXT, encoding="utf-8")
    lock = BuildLock(hash_settings)
    try:
        indexing = BackgroundIndex(hash_settings).start()
        assert indexing.busy and indexing.not_ready() == ""  # the current index answers
        assert indexing.message().startswith("Indexing 1 new or changed file in the background")
    finally:
        lock.release()
    assert indexing.thread is not None
    indexing.thread.join(timeout=120)
    assert indexing.state == "done" and indexing.message() == ""


@pytest.mark.timeout(120)
def test_status_line_says_when_the_chroma_server_is_down(
    hash_settings: Settings, repo_root: Path
) -> None:
    """A build that cannot reach the server waits and retries, and the line names the URL."""
    from conftest import make_settings

    from ui.startup import BackgroundIndex

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = make_settings(repo_root, hash_settings.corpus, hash_settings.indexes, chroma_url=url)
    indexing = BackgroundIndex(settings, retry_s=0.2).start()
    try:
        _until(lambda: indexing.state == "waiting", timeout=60)
        assert indexing.busy and indexing.not_ready()  # no index yet: questions must wait
        line = indexing.message()
        assert line.startswith("Indexing is waiting: Search service unavailable") and url in line
    finally:
        indexing.stop()
