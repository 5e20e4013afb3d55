"""Security defaults, tested against a running app: loopback binding, no unauthenticated public
binding, Gradio's file route limited to its own upload/static folders, upload size and type
limits enforced on the server, and no secrets in logs, traces or error messages.

The app runs in-process on a free 127.0.0.1 port over a hash-embedder index (fast); every
request goes to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import cli_env, copy_seeds, free_port, ui_settings

from assistant.index import build_index
from assistant.library import LibraryError, save_upload
from assistant.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
API_KEY = "sk-test-SECRET123"
PASSWORD = "PW-SECRET-456"
QUESTION = "What are the three aims of the public sector equality duty?"


def listening_addresses(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses with a socket listening on `port` (from /proc/net/tcp*)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


LOOPBACK_V4 = "0100007F"  # 127.0.0.1, little-endian hex as /proc shows it


settings_for = ui_settings  # the served app's settings over a private seed copy


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    """The app with a 1 MB upload limit, launched with its own defaults (no server_name)."""
    from ui.app import create_app

    tmp = tmp_path_factory.mktemp("security")
    settings = settings_for(tmp, max_file_mb=1)
    build_index(settings)
    demo = create_app(settings)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        demo.close()


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (no client-side ../ normalisation)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# ----------------------------------------------------------------------------- binding
def test_loopback_is_the_default_everywhere(tmp_path: Path) -> None:
    from ui.app import launch_defaults

    assert Settings().host == "127.0.0.1"
    assert load_settings(root=REPO, config_file=Path(os.devnull), environ={}).host == "127.0.0.1"
    defaults = launch_defaults(settings_for(tmp_path))
    assert defaults["share"] is False and defaults["mcp_server"] is False
    assert defaults["max_file_size"] == 50 * 1024 * 1024


def test_launch_uses_loopback_and_no_auth_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.app

    settings = settings_for(tmp_path)
    build_index(settings)
    calls: list[dict[str, Any]] = []

    class FakeDemo:
        def launch(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    monkeypatch.setattr(ui.app, "create_app", lambda s, a=None, indexing=None: FakeDemo())
    ui.app.launch(settings)
    assert calls and calls[0]["server_name"] == "127.0.0.1" and calls[0]["auth"] is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_public_binding_without_auth_is_refused(tmp_path: Path, host: str) -> None:
    from ui.app import ServeError, create_app, launch

    settings = settings_for(tmp_path, host=host)
    with pytest.raises(ServeError, match="without auth"):
        launch(settings)
    build_index(settings)
    demo = create_app(settings)
    try:
        # the app object itself refuses too, before anything listens
        with pytest.raises(ServeError, match="without auth"):
            demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True)
        with pytest.raises(ServeError, match="without auth"):
            demo.launch(server_name=host, prevent_thread_lock=True, quiet=True)
    finally:
        with contextlib.suppress(Exception):
            demo.close()


def test_gradio_server_name_env_cannot_widen_the_binding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.app import create_app

    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    settings = settings_for(tmp_path)
    build_index(settings)
    demo = create_app(settings)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
    try:
        assert demo.server_name == "127.0.0.1"
        assert listening_addresses(port) == {LOOPBACK_V4}
    finally:
        demo.close()


def test_app_listens_on_loopback_only(app_url: tuple[str, Settings]) -> None:
    port = int(app_url[0].rsplit(":", 1)[1])
    assert listening_addresses(port) == {LOOPBACK_V4}


# ----------------------------------------------------------------------------- file route
def test_file_route_serves_nothing_outside_upload_and_static(app_url: tuple[str, Settings]) -> None:
    url, settings = app_url
    repo = str(REPO)
    corpus_file = next(settings.corpus.glob("*.txt"))
    gradio_tmp = os.environ.get("GRADIO_TEMP_DIR") or "/tmp/gradio"
    secrets = {
        "/etc/passwd": b"root:",
        f"{repo}/pyproject.toml": b"[project]",
        str(corpus_file): corpus_file.read_bytes()[:40],
        f"{settings.indexes}/CURRENT.json": b"generation",
    }
    attempts: list[tuple[str, bytes]] = []
    for target, marker in secrets.items():
        quoted = target.replace("/", "%2F")
        attempts += [
            (f"/gradio_api/file={target}", marker),
            (f"/gradio_api/file={quoted}", marker),
            (f"/gradio_api/file/{target.lstrip('/')}", marker),
            (f"/file={target}", marker),
            (f"/gradio_api/file={gradio_tmp}/../../..{target}", marker),
            (f"/gradio_api/file={gradio_tmp}/%2E%2E/%2E%2E/%2E%2E{target}", marker),
        ]
    attempts += [
        ("/gradio_api/file=pyproject.toml", b"[project]"),  # relative to the server's cwd
        ("/gradio_api/file=./README.md", b"Inspection Assistant"),
        ("/gradio_api/file=../../../../etc/passwd", b"root:"),
        ("/gradio_api/file=..%2F..%2F..%2F..%2Fetc%2Fpasswd", b"root:"),
        ("/gradio_api/file=file:///etc/passwd", b"root:"),
        ("/gradio_api/file=~/.bash_history", b""),
        ("/static/../../../../etc/passwd", b"root:"),
        ("/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd", b"root:"),
        ("/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd", b"root:"),
        ("/gradio_api/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd", b"root:"),
        # server-side fetches of loopback URLs (SSRF) are refused without connecting
        (f"/gradio_api/file={url}/config", b"{"),
        ("/gradio_api/file=http://127.0.0.1:1/x", b""),
    ]
    results = []
    for path, marker in attempts:
        status, body = raw_get(url, path)
        results.append((path, status))
        leaked = status == 200 and (not marker or marker in body)
        assert not leaked, (path, status, body[:200])
        assert status != 200 or b"root:" not in body
    print("\n".join(f"{status}  {path}" for path, status in results))

    # the route itself works for what it is meant to serve (so the refusals above mean something)
    up = httpx.post(
        f"{url}/gradio_api/upload",
        files={"files": ("note.txt", b"uploaded text", "text/plain")},
        timeout=30,
    )
    assert up.status_code == 200, up.text
    (served_path,) = up.json()
    status, body = raw_get(url, f"/gradio_api/file={served_path}")
    assert status == 200 and body == b"uploaded text"


# ----------------------------------------------------------------------------- upload limits
def test_http_upload_over_the_limit_is_rejected(app_url: tuple[str, Settings]) -> None:
    url, _ = app_url
    big = b"a" * (1024 * 1024 + 4096)  # the fixture's app has max_file_mb=1
    resp = httpx.post(
        f"{url}/gradio_api/upload", files={"files": ("big.txt", big, "text/plain")}, timeout=60
    )
    assert resp.status_code == 413, (resp.status_code, resp.text[:200])
    assert "maximum allowed size" in resp.text
    small = httpx.post(
        f"{url}/gradio_api/upload", files={"files": ("ok.txt", b"ok", "text/plain")}, timeout=30
    )
    assert small.status_code == 200


def test_http_upload_names_stay_in_gradio_temp_dir(app_url: tuple[str, Settings]) -> None:
    url, _ = app_url
    gradio_tmp = Path(os.environ.get("GRADIO_TEMP_DIR") or "/tmp/gradio").resolve()
    for name in ("../../../../tmp/escaped-upload.txt", "..\\..\\escaped.txt", "a\x07b.txt"):
        resp = httpx.post(
            f"{url}/gradio_api/upload", files={"files": (name, b"x", "text/plain")}, timeout=30
        )
        assert resp.status_code in (200, 400), resp.text
        if resp.status_code == 200:
            (stored,) = resp.json()
            assert gradio_tmp in Path(stored).resolve().parents, stored
    assert not Path("/tmp/escaped-upload.txt").exists()


def test_server_side_type_and_size_checks_on_the_library_path(
    app_url: tuple[str, Settings],
) -> None:
    from ui.service import UIService

    _, settings = app_url
    with pytest.raises(LibraryError, match="not accepted"):
        save_upload(settings, "setup.exe", b"MZ\x90\x00")
    with pytest.raises(LibraryError, match="not accepted"):
        save_upload(settings, "report.pdf.exe", b"%PDF-1.4")
    with pytest.raises(LibraryError, match="1 MB upload limit"):
        save_upload(settings, "big.txt", b"b" * (1024 * 1024 + 1))
    uploads = settings.path(settings.upload_dir)
    assert not uploads.exists() or not any(p.suffix == ".exe" for p in uploads.iterdir())
    # what the UI's upload button does with Gradio's temp files
    tmp = settings.corpus.parent / "incoming"
    tmp.mkdir(exist_ok=True)
    (tmp / "tool.exe").write_bytes(b"MZ")
    (tmp / "big.md").write_bytes(b"# x\n" * 300_000)
    report, refused = UIService(settings, assistant=object()).upload(  # type: ignore[arg-type]
        [tmp / "tool.exe", tmp / "big.md"]
    )
    assert report is None or (not report.changed and not report.added)  # nothing indexed
    assert any("tool.exe" in r and "not accepted" in r for r in refused), refused
    assert any("big.md" in r and "1 MB upload limit" in r for r in refused), refused


# ----------------------------------------------------------------------------- secrets
class FakeOpenAI(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible chat endpoint that streams a fixed answer."""

    seen_keys: list[str] = []
    answer = "The public sector equality duty has three aims [1]."

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        FakeOpenAI.seen_keys.append(self.headers.get("Authorization", ""))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.send_response(200)
        if body.get("stream"):
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in (self.answer, None):
                delta = {"role": "assistant", "content": piece} if piece else {}
                chunk = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "local",
                    "choices": [
                        {"index": 0, "delta": delta, "finish_reason": None if piece else "stop"}
                    ],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
        else:
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            message = {"role": "assistant", "content": self.answer}
            self.wfile.write(
                json.dumps(
                    {
                        "id": "c1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "local",
                        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    }
                ).encode()
            )

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@pytest.mark.timeout(180)
def test_no_secrets_in_logs_traces_or_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    from gradio_client import Client

    from assistant.answer import Assistant
    from ui.app import ServeError, create_app, resolve_auth

    caplog.set_level(logging.DEBUG)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOpenAI.seen_keys = []
    fake_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    secrets_env = {"ASSISTANT_OPENAI_API_KEY": API_KEY, "ASSISTANT_AUTH": f"inspector:{PASSWORD}"}
    corpus = copy_seeds(tmp_path / "corpus")
    settings = load_settings(
        root=REPO,
        config_file=Path(os.devnull),
        environ=secrets_env,  # the secrets come the way a deployment passes them
        embedder="hash",
        corpus_dir=corpus,
        index_dir=tmp_path / "idx",
        upload_dir=corpus / "uploads",
        feedback_path=tmp_path / "logs" / "feedback.jsonl",
        trace_dir=tmp_path / "logs",
        trace=True,
        openai_base_url=fake_url,
    )
    assert settings.openai_api_key == API_KEY and PASSWORD in settings.auth
    build_index(settings)
    port = free_port()
    demo = create_app(settings)
    demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        bad = httpx.post(f"{url}login", data={"username": "inspector", "password": "wrong"})
        assert bad.status_code >= 400
        assert httpx.get(f"{url}gradio_api/info", timeout=30).status_code in (401, 403)
        client = Client(url, auth=("inspector", PASSWORD), verbose=False)
        for generator in ("extractive", "openai"):
            result = client.predict(QUESTION, "[]", generator, api_name="/ask")
            assert isinstance(result["answer"], str)
        # a failing LLM endpoint: the error names the endpoint, never the key
        dead = settings_for(
            tmp_path / "dead",
            trace=True,
            openai_api_key=API_KEY,
            openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
            index_dir=settings.indexes,
        )
        from assistant.llm import GeneratorUnavailable

        with pytest.raises(GeneratorUnavailable) as info:
            Assistant(dead).ask(QUESTION, generator="openai")
        assert API_KEY not in str(info.value)
        # a malformed auth setting is reported without echoing it
        with pytest.raises(ServeError) as bad_auth:
            resolve_auth(settings_for(tmp_path / "auth", auth=f"no-colon-{PASSWORD}"))
        assert PASSWORD not in str(bad_auth.value)
        # the command line, with the secrets in its environment, answering and failing
        env = cli_env(
            settings,
            ASSISTANT_TRACE="true",
            ASSISTANT_TRACE_DIR=str(tmp_path / "logs"),
            ASSISTANT_OPENAI_BASE_URL=fake_url,
            **secrets_env,
        )
        cli = [sys.executable, "-m", "assistant", "ask", QUESTION, "--generator", "openai"]
        ok = subprocess.run([*cli, "--json"], env=env, capture_output=True, text=True, timeout=120)
        assert ok.returncode == 0, ok.stderr
        env["ASSISTANT_OPENAI_BASE_URL"] = f"http://127.0.0.1:{free_port()}/v1"
        down = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
        assert down.returncode != 0 and "127.0.0.1" in down.stdout + down.stderr
        cli_output = ok.stdout + ok.stderr + down.stdout + down.stderr
    finally:
        demo.close()
        server.shutdown()
        server.server_close()
    assert FakeOpenAI.seen_keys and all(k == f"Bearer {API_KEY}" for k in FakeOpenAI.seen_keys)
    out, err = capfd.readouterr()
    traces = list((tmp_path / "logs").glob("*"))
    assert any(p.name == "trace.jsonl" for p in traces)
    trace_text = (tmp_path / "logs" / "trace.jsonl").read_text(encoding="utf-8")
    assert len(trace_text.splitlines()) >= 2 and QUESTION in trace_text
    files_text = "".join(
        p.read_bytes().decode("utf-8", "replace")
        for p in tmp_path.rglob("*")
        if p.is_file() and p.stat().st_size < 5_000_000 and "chroma" not in p.parts
    )
    for secret in (API_KEY, "SECRET123", PASSWORD):
        assert secret not in caplog.text, secret
        assert secret not in out and secret not in err, secret
        assert secret not in files_text, secret
        assert secret not in cli_output, secret
