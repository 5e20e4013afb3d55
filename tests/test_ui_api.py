"""The UI's JSON endpoint (/ask) through gradio_client against a real MiniLM index, plus the
launch safety checks and the feedback log (those two are fast and need no server)."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port

from assistant.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
PSED_QUESTION = "What are the three aims of the public sector equality duty?"


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
def test_only_the_ask_and_export_endpoints_are_public(
    client: Any, served: tuple[str, Settings]
) -> None:
    import httpx

    api = client.view_api(return_format="dict", print_info=False)
    assert sorted(api["named_endpoints"]) == ["/ask", "/export"]
    params = [p["parameter_name"] for p in api["named_endpoints"]["/ask"]["parameters"]]
    assert params == ["question", "history_json", "generator"]
    params = [p["parameter_name"] for p in api["named_endpoints"]["/export"]["parameters"]]
    assert params == ["conversation_json"]
    info = httpx.get(served[0] + "gradio_api/info", timeout=30).json()
    assert "/export" in info["named_endpoints"]


THREE_TURNS = [
    PSED_QUESTION,
    "Which protected characteristics are relevant to children and parents?",
    "What do inspectors expect of a learning culture?",
]


def _docx_turns(data: bytes) -> list[dict[str, Any]]:
    """Each exported question with its reference lines and quotes, read back from the DOCX."""
    import io

    from docx import Document

    turns: list[dict[str, Any]] = []
    in_refs = False
    for para in Document(io.BytesIO(data)).paragraphs:
        style, text = para.style.name, para.text
        if style == "Heading 1":
            turns.append({"heading": text, "refs": [], "quotes": [], "body": []})
            in_refs = False
        elif style == "Heading 2" and text == "References":
            in_refs = True
        elif turns and in_refs and style == "Quote":
            turns[-1]["quotes"].append(text)
        elif turns and in_refs:
            turns[-1]["refs"].append(text)
        elif turns:
            turns[-1]["body"].append(text)
    return turns


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_export_of_a_three_turn_conversation_matches_the_citations(client: Any) -> None:
    import base64

    answers, history = [], []
    for question in THREE_TURNS:
        answer = client.predict(question, json.dumps(history), "extractive", api_name="/ask")
        assert answer["citations"], answer
        assert answer["index_generation"].startswith("g")
        answers.append(answer)
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer["answer"]},
        ]
    result = client.predict(json.dumps(answers), api_name="/export")
    assert result["filename"].startswith("conversation-")
    md = result["markdown"]
    assert f"Index generation: {answers[0]['index_generation']}" in md
    turns = _docx_turns(base64.b64decode(result["docx_base64"]))
    assert [t["heading"] for t in turns] == [f"{i}. {q}" for i, q in enumerate(THREE_TURNS, 1)]
    for turn, answer in zip(turns, answers, strict=True):
        expected_refs, expected_quotes = [], []
        for c in sorted(answer["citations"], key=lambda c: c["n"]):
            place = []
            if c["section"] and c["section"] != c["title"]:
                place.append(f"section “{' '.join(c['section'].split())}”")
            if c["page"] is not None:
                place.append(f"page {c['page']}")
            line = f"{c['n']}. {c['title']}" + (f", {', '.join(place)}" if place else "")
            expected_refs.append(line)
            expected_quotes.append(f"“{' '.join(c['quote'].split())}”")
        assert turn["refs"] == expected_refs
        assert turn["quotes"] == expected_quotes
        # every [n] in the exported answer text has its reference
        body = " ".join(turn["body"])
        markers = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
        assert markers and markers <= {c["n"] for c in answer["citations"]}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_export_refuses_bad_input_clearly(client: Any) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="(?i)not valid JSON"):
        client.predict("{oops", api_name="/export")
    with pytest.raises(AppError, match="(?i)conversation is empty"):
        client.predict("[]", api_name="/export")
    with pytest.raises(AppError, match="(?i)item 1 has no question"):
        client.predict('[{"answer": "x"}]', api_name="/export")


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


# ----------------------------------------------------------------------------- rejected files
def _broken_docx(folder: Path) -> Path:
    """A .docx that is a zip header and noise: the DOCX loader fails on it for real."""
    path = folder / "broken-report.docx"
    path.write_bytes(b"PK\x03\x04" + os.urandom(4000))
    return path


def test_a_failed_upload_is_listed_as_rejected_with_its_reason_and_can_be_deleted(
    tmp_path: Path,
) -> None:
    """Upload through the UI service, build a real (hash-embedder) index, then delete."""
    from assistant.index import build_index
    from assistant.library import LibraryError
    from ui.format import rejected_choices, rejected_html
    from ui.service import UIService

    settings = ui_settings(tmp_path / "app", embedder="hash")
    build_index(settings)
    service = UIService(settings, assistant=object())  # type: ignore[arg-type]
    assert service.rejected() == [] and service.unindexed() == []
    assert '<p class="rejected-none">None</p>' in rejected_html([], [])

    report, refused = service.upload([_broken_docx(tmp_path)])
    assert not refused and report is not None
    assert report.rejected == ["broken-report.docx"], report
    listed = service.rejected()
    assert [r.name for r in listed] == ["broken-report.docx"]
    assert "not a valid DOCX" in listed[0].reason
    quarantined = listed[0].path
    assert quarantined.is_file() and quarantined.parent == settings.corpus / "rejected"
    html = rejected_html(listed, service.unindexed())
    assert "broken-report.docx" in html and "not a valid DOCX" in html
    assert "None" not in html and rejected_choices(listed) == ["broken-report.docx"]

    with pytest.raises(LibraryError, match="no rejected file named 'other.docx'"):
        service.delete_rejected("other.docx")
    with pytest.raises(LibraryError, match="choose a rejected file"):
        service.delete_rejected("")
    assert quarantined.is_file()  # a refused name deletes nothing

    assert service.delete_rejected("broken-report.docx") == "broken-report.docx"
    assert not quarantined.exists()
    assert not quarantined.with_name(quarantined.name + ".reason").exists()
    assert service.rejected() == []
    assert '<p class="rejected-none">None</p>' in rejected_html(service.rejected(), [])


def test_rejected_names_and_reasons_are_escaped_in_the_section_and_the_toast(
    tmp_path: Path,
) -> None:
    """A file put in the corpus by hand keeps its name, HTML and all, when quarantined."""
    from assistant.index import build_index
    from assistant.library import LibraryError
    from ui.format import esc, rejected_html
    from ui.security import toast_text
    from ui.service import UIService

    settings = ui_settings(tmp_path / "app", embedder="hash")
    hostile = "<img src=x onerror=alert(1)>.pdf"
    (settings.corpus / hostile).write_bytes(b"%PDF-1.4 nothing")
    waiting = settings.path(settings.upload_dir)
    waiting.mkdir(parents=True)
    report = build_index(settings)
    assert report.rejected == [hostile], report
    (waiting / "late-upload.txt").write_text("Saved, never indexed.", encoding="utf-8")
    service = UIService(settings, assistant=object())  # type: ignore[arg-type]
    assert service.unindexed() == ["late-upload.txt"]

    html = rejected_html(service.rejected(), service.unindexed())
    assert "<img" not in html and f"<td>{esc(hostile)}</td>" in html
    assert "&lt;img src=x onerror=alert&#40;1&#41;&gt;.pdf" in html
    assert "not a valid PDF" in html
    assert "Waiting to be indexed" in html and "late-upload.txt" in html

    with pytest.raises(LibraryError) as caught:
        service.delete_rejected("<b>nope</b>.pdf")
    assert "<b>" not in toast_text(caught.value) and "&lt;b&gt;nope" in toast_text(caught.value)
    service.delete_rejected(hostile)
    assert service.rejected() == [] and not (settings.corpus / "rejected" / hostile).exists()
