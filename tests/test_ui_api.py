"""The UI's JSON endpoint (/ask) through gradio_client against a real MiniLM index, plus the
launch safety checks and the feedback log (those two are fast and need no server)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
PSED_QUESTION = "What are the three aims of the public sector equality duty?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ui_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings over a private corpus copy; environment and assistant.toml are ignored."""
    corpus = tmp / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for pattern in ("*.txt", "*.meta.yaml"):
        for path in sorted((REPO / "corpus").glob(pattern)):
            shutil.copy2(path, corpus / path.name)
    values: dict[str, Any] = {
        "corpus_dir": corpus,
        "index_dir": tmp / "idx",
        "trace": False,
        "feedback_path": tmp / "fb.jsonl",
        "upload_dir": corpus / "uploads",
    }
    values.update(overrides)
    return load_settings(root=REPO, config_file=Path(os.devnull), environ={}, **values)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    """The app on a free loopback port over a freshly built MiniLM index."""
    from assistant.index import build_index
    from ui.app import create_app

    settings = ui_settings(tmp_path_factory.mktemp("ui-api"))
    report = build_index(settings)
    assert report.changed and not report.errors, report
    demo = create_app(settings)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", settings
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(served: tuple[str, Settings]) -> Any:
    from gradio_client import Client

    os.environ["HF_HUB_OFFLINE"] = "1"
    return Client(served[0], verbose=False)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_ask_returns_a_cited_verified_answer(client: Any) -> None:
    result = client.predict(PSED_QUESTION, "[]", "extractive", api_name="/ask")
    assert isinstance(result, dict)
    assert result["question"] == PSED_QUESTION
    assert result["refused"] is False and result["generator"] == "extractive"
    citations = {c["n"]: c for c in result["citations"]}
    assert citations, result
    for c in citations.values():
        assert c["doc_id"] and c["chunk_id"] and c["quote"] and "title" in c
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", result["answer"])}
    assert markers and markers <= set(citations)
    shown = [s for s in result["sentences"] if s["text"] and s["text"] in result["answer"]]
    assert shown
    for sentence in shown:
        assert sentence["supported"], sentence
        assert sentence["citations"] and set(sentence["citations"]) <= set(citations)
    assert "total" in result["timings_ms"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_follow_up_uses_history(client: Any) -> None:
    history = json.dumps(
        [
            {"role": "user", "content": PSED_QUESTION},
            {"role": "assistant", "content": "eliminate discrimination ... [1]"},
        ]
    )
    result = client.predict("And how are they monitored?", history, "extractive", api_name="/ask")
    assert result["rewritten_query"] != "And how are they monitored?"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_unanswerable_question_is_refused(client: Any) -> None:
    result = client.predict("How do I renew my passport?", "[]", "extractive", api_name="/ask")
    assert result["refused"] is True
    assert result["citations"] == []
    assert result["closest"] and result["refusal_reason"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_bad_requests_give_clear_errors_not_crashes(client: Any) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="(?i)question is empty"):
        client.predict("   ", "[]", "extractive", api_name="/ask")
    with pytest.raises(AppError, match="(?i)history_json"):
        client.predict("What is the PSED?", "{not json", "extractive", api_name="/ask")
    with pytest.raises(AppError, match="(?i)unknown generator"):
        client.predict("What is the PSED?", "[]", "gpt-99", api_name="/ask")
    # the server is still healthy afterwards
    assert client.predict(PSED_QUESTION, api_name="/ask")["citations"]


@pytest.mark.slow
def test_only_the_ask_endpoint_is_public(client: Any) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == ["/ask"]
    params = [p["parameter_name"] for p in api["named_endpoints"]["/ask"]["parameters"]]
    assert params == ["question", "history_json", "generator"]


# ----------------------------------------------------------------------------- no server needed
def test_public_address_without_auth_is_refused(tmp_path: Path) -> None:
    from ui.app import ServeError, launch

    settings = ui_settings(tmp_path, host="0.0.0.0")
    with pytest.raises(ServeError, match="refusing to listen on 0.0.0.0 without auth"):
        launch(settings)
    with pytest.raises(ServeError, match="ASSISTANT_AUTH=user:password or pass --insecure"):
        launch(settings, host="192.168.1.10")


def test_exposure_rules_and_auth_sources(tmp_path: Path) -> None:
    from ui.app import ServeError, check_exposure, is_loopback, resolve_auth

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    check_exposure("127.0.0.1", None, insecure=False)
    check_exposure("0.0.0.0", ("u", "p"), insecure=False)
    check_exposure("0.0.0.0", None, insecure=True)
    assert resolve_auth(ui_settings(tmp_path, auth="inspector:s3cr:et")) == ("inspector", "s3cr:et")
    secret = tmp_path / "auth.txt"
    secret.write_text("inspector:from-file\n", encoding="utf-8")
    assert resolve_auth(ui_settings(tmp_path, auth=str(secret))) == ("inspector", "from-file")
    assert resolve_auth(ui_settings(tmp_path)) is None
    with pytest.raises(ServeError, match="user:password"):
        resolve_auth(ui_settings(tmp_path, auth="no-colon"))


def test_feedback_lines_are_whole_under_concurrency(tmp_path: Path) -> None:
    from ui.service import UIService

    # 80 records from one client: well over the per-client rate limit, which is not tested here
    settings = ui_settings(
        tmp_path, feedback_path=tmp_path / "deep" / "fb.jsonl", feedback_limit=1000
    )
    service = UIService(settings, assistant=object())  # type: ignore[arg-type]
    answer = {
        "question": "q?",
        "answer": "a [1]",
        "generator": "extractive",
        "citations": [{"n": 1, "doc_id": "d", "chunk_id": "d#0", "quote": "a" * 5000}],
    }

    def write(i: int) -> None:
        for _ in range(10):
            service.record_feedback(answer, "up" if i % 2 else "down", f"comment {i}")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "deep" / "fb.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 80
    records = [json.loads(line) for line in lines]
    assert {r["rating"] for r in records} == {"up", "down"}
    assert set(records[0]) >= {
        "question",
        "answer",
        "citations",
        "generator",
        "rating",
        "comment",
        "timestamp",
    }
