"""Issue 17 (web security, CLI output, feedback), tested against the real parts.

* Other origins: a real Gradio server with a password, real HTTP requests with foreign Origin
  headers, and a real Chromium in which a page from another port of 127.0.0.1 tries to read
  ``/config`` and to delete a document through ``queue/join`` in the signed-in browser.
* Security headers and CSP: on every response, and the page still works under the CSP with
  no violation reported by the browser.
* Sign-in rate limit: parallel wrong passwords, then the right one refused while locked out.
* Toasts: a file name holding HTML is shown as text, never rendered.
* CLI: a real tiny corpus whose text holds ``[/bold]`` and ``[x]``, through subprocesses.
* Feedback log: rotation at a size, per-client rate limit, any text accepted.

Servers listen on 127.0.0.1 only, over hash-embedder indexes (fast).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EDI_ID, cli_env, free_port, make_settings, ui_settings

from assistant.index import build_index
from assistant.library import list_documents
from assistant.settings import Settings

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
USER, PASSWORD = "inspector", "right-horse-battery"
FOREIGN_ORIGINS = [
    "http://127.0.0.1:{other}",  # another port of the same host (the reported attack)
    "http://localhost:{port}",  # same port, other host name: another origin all the same
    "http://evil.example",
    "null",  # sandboxed frames, file:// pages
]


def app_settings(tmp: Path, **overrides: Any) -> Settings:
    """`ui_settings` with sign-in on (these tests are about a signed-in browser)."""
    return ui_settings(tmp, **{"auth": f"{USER}:{PASSWORD}", **overrides})


class Served:
    """A launched app: its URL, settings and Blocks."""

    def __init__(self, settings: Settings) -> None:
        from ui.app import create_app

        build_index(settings)
        self.settings = settings
        self.demo = create_app(settings)
        self.port = free_port()
        self.demo.launch(prevent_thread_lock=True, server_port=self.port, quiet=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def login(self, client: httpx.Client) -> None:
        resp = client.post(f"{self.url}/login", data={"username": USER, "password": PASSWORD})
        assert resp.status_code == 200, resp.text

    def close(self) -> None:
        self.demo.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    app = Served(app_settings(tmp_path_factory.mktemp("websec")))
    try:
        yield app
    finally:
        app.close()


# ----------------------------------------------------------------------------- origins
def test_foreign_origins_can_neither_read_nor_call(served: Served) -> None:
    with httpx.Client(timeout=30) as client:
        served.login(client)
        own = client.get(f"{served.url}/config")  # no Origin: what a same-origin GET sends
        assert own.status_code == 200 and "components" in own.json()
        join = f"{served.url}/gradio_api/queue/join"
        for template in FOREIGN_ORIGINS:
            origin = template.format(other=free_port(), port=served.port)
            hdr = {"Origin": origin}
            reads = client.get(f"{served.url}/config", headers=hdr)
            calls = client.post(join, headers=hdr, json={"data": [], "fn_index": 0})
            upload = client.post(
                f"{served.url}/gradio_api/upload",
                headers=hdr,
                files={"files": ("a.txt", b"x", "text/plain")},
            )
            preflight = client.options(
                join,
                headers={
                    **hdr,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            )
            for resp in (reads, calls, upload, preflight):
                assert resp.status_code == 403, (origin, resp.request.url, resp.status_code)
                assert "components" not in resp.text
                cors = [h for h in resp.headers if h.lower().startswith("access-control-")]
                assert not cors, (origin, resp.headers)
            assert "Cross-origin" in reads.json()["detail"]
        # the page's own origin still works, and gets no CORS headers either (none needed)
        same = client.post(
            join, headers={"Origin": served.url}, json={"data": [], "fn_index": 10_000}
        )
        assert same.status_code != 403, same.text
        assert not [h for h in same.headers if h.lower().startswith("access-control-")]


def test_unknown_host_header_is_refused_on_a_loopback_server(served: Served) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 must not reach the app."""
    for host in ("evil.example", "127.0.0.1.evil.example", "127.evil.example"):
        resp = httpx.get(f"{served.url}/", headers={"Host": f"{host}:{served.port}"})
        assert resp.status_code == 403 and "loopback" in resp.json()["detail"], host
    assert httpx.get(f"http://localhost:{served.port}/").status_code == 200


def test_allowed_origins_setting_admits_a_listed_proxy_origin(tmp_path: Path) -> None:
    from ui.app import ServeError
    from ui.security import policy_from_settings

    settings = app_settings(tmp_path, allowed_origins="https://assistant.example.org")
    policy = policy_from_settings(settings, "127.0.0.1", None)
    assert ("assistant.example.org", 443) in policy.extra_origins
    with pytest.raises(ServeError, match="not an origin"):
        policy_from_settings(app_settings(tmp_path, allowed_origins="not a url"), "::1", None)
    # a running server behind that proxy: the listed origin and host pass, others do not
    app = Served(
        app_settings(tmp_path / "proxy", auth="", allowed_origins="https://assistant.example.org")
    )
    try:
        proxied = {"Host": "assistant.example.org", "Origin": "https://assistant.example.org"}
        assert httpx.get(f"{app.url}/config", headers=proxied).status_code == 200
        other = {**proxied, "Origin": "https://other.example.org"}
        assert httpx.get(f"{app.url}/config", headers=other).status_code == 403
    finally:
        app.close()


# ----------------------------------------------------------------------------- headers
def test_security_headers_on_every_response(served: Served) -> None:
    with httpx.Client(timeout=30) as client:
        served.login(client)
        page = client.get(f"{served.url}/")
        asset = next(
            part.split('"')[0]
            for part in page.text.split('src="./')[1:]
            if part.startswith("assets/")
        )
        responses = [
            page,
            client.get(f"{served.url}/config"),
            client.get(f"{served.url}/gradio_api/info"),
            client.get(f"{served.url}/{asset}"),
            client.get(f"{served.url}/no-such-page"),
            httpx.get(f"{served.url}/config"),  # not signed in: 401, still with headers
        ]
    for resp in responses:
        h = resp.headers
        assert h["x-frame-options"] == "DENY", resp.request.url
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        csp = h["content-security-policy"]
        assert csp.startswith("default-src 'self';") and "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp and "'unsafe-inline'" not in csp.split(";")[1]
    # every script of the HTML page carries this response's nonce, and only this one
    csp = page.headers["content-security-policy"]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert page.text.count("<script") == page.text.count(f'<script nonce="{nonce}"') > 0
    again = httpx.get(f"{served.url}/").headers["content-security-policy"]
    assert nonce not in again  # fresh per response
    # other HTML on this origin gets no nonce, so its scripts stay off (Gradio serves uploads
    # as attachments today; this holds even if one is ever served as text/html)
    with httpx.Client(timeout=30) as client:
        served.login(client)
        evil = b"<html><script>alert(document.cookie)</script></html>"
        up = client.post(
            f"{served.url}/gradio_api/upload", files={"files": ("page.html", evil, "text/html")}
        )
        (stored,) = up.json()
        back = client.get(f"{served.url}/gradio_api/file={stored}")
    assert back.status_code == 200 and b"alert(document.cookie)" in back.content
    assert b"nonce" not in back.content
    assert "'nonce-" not in back.headers["content-security-policy"]


# ----------------------------------------------------------------------------- sign-in
def test_login_is_rate_limited_per_client(tmp_path: Path) -> None:
    # a 6 s lock-out: the 40 parallel guesses and the checks after them must fit inside it
    # even on a loaded machine (at 2 s the lock had lifted before the right password was tried
    # while two evaluations ran beside the suite)
    app = Served(app_settings(tmp_path, login_max_failures=5, login_lockout_s=6.0))
    login = f"{app.url}/login"
    wrong = {"username": USER, "password": "guess"}
    right = {"username": USER, "password": PASSWORD}
    try:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: httpx.post(login, data=wrong).status_code, range(40)))
        # parallel guesses get no more tries than sequential ones
        assert codes.count(400) <= 5 and codes.count(429) >= 35, codes
        assert set(codes) <= {400, 429}, codes
        locked = httpx.post(login, data=right)
        assert locked.status_code == 429, "the right password must be refused while locked out"
        assert "Too many failed sign-in attempts" in locked.json()["detail"]
        assert int(locked.headers["retry-after"]) >= 1
        # another client address is not locked out by this one
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with other:
            assert other.post(login, data=right).status_code == 200
        # the lock-out lifts by itself once the announced wait (rounded up) has passed
        time.sleep(int(locked.headers["retry-after"]) + 0.2)
        assert httpx.post(login, data=right).status_code == 200
        # a success clears the count: four more failures do not lock the client out
        for _ in range(4):
            assert httpx.post(login, data=wrong).status_code == 400
        assert httpx.post(login, data=right).status_code == 200
    finally:
        app.close()


def test_login_limiter_counts_attempts_in_flight() -> None:
    from ui.security import LoginLimiter

    now = [0.0]
    limiter = LoginLimiter(3, window_s=60, lockout_s=30, clock=lambda: now[0])
    assert [limiter.begin("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.begin("a") == 30  # three attempts still open: the fourth waits
    assert limiter.begin("b") == 0.0
    for _ in range(3):
        limiter.finish("a", success=False)
    now[0] = 29.0
    assert limiter.begin("a") == pytest.approx(1.0)  # still locked out
    now[0] = 31.0
    assert limiter.begin("a") == 0.0  # the lock-out lifted: a fresh start
    limiter.finish("a", success=True)


# ----------------------------------------------------------------------------- real browser
class _AttackerPage(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


ATTACK_JS = """
async ([app, fnIndex, triggerId, docId]) => {
  const out = {};
  try {
    const r = await fetch(app + "/config", {credentials: "include"});
    out.config = "read " + r.status + " " + (await r.text()).slice(0, 60);
  } catch (e) { out.config = "blocked " + e.name; }
  try {
    const r = await fetch(app + "/gradio_api/queue/join", {
      method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({data: [docId], event_data: null, fn_index: fnIndex,
                            trigger_id: triggerId, session_hash: "attacker01"}),
    });
    out.join = "sent " + r.status;
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 60000);
    const d = await fetch(app + "/gradio_api/queue/data?session_hash=attacker01",
                          {credentials: "include", signal: ctl.signal});
    out.data = "read " + d.status + " " + (await d.text()).slice(-120);
  } catch (e) { out.join = out.join || ("blocked " + e.name); }
  try {
    await fetch(app + "/gradio_api/queue/join", {method: "POST", mode: "no-cors",
      credentials: "include", headers: {"Content-Type": "text/plain"}, body: "{}"});
    out.nocors = "sent (opaque)";
  } catch (e) { out.nocors = "blocked " + e.name; }
  return out;
}
"""
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture
def browser_context() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium; CI installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        context.add_init_script(CSP_LISTENER)
        try:
            yield context
        finally:
            context.close()
            browser.close()


def _sign_in(page: Any, url: str) -> None:
    page.goto(url)
    page.locator("input[type=text]").first.fill(USER)
    page.locator("input[type=password]").fill(PASSWORD)
    page.locator("button", has_text="Login").click()
    page.locator("#question textarea").wait_for()


def _delete_handler(demo: Any) -> tuple[int, int]:
    """(fn_index, trigger id) of the Documents tab's delete button, as the page would send."""
    for index, block_fn in demo.fns.items():
        if getattr(block_fn.fn, "__name__", "") == "delete":
            return index, block_fn.targets[0][0]
    raise AssertionError("no delete handler")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(240)
def test_other_local_page_cannot_act_for_a_signed_in_browser(
    served: Served, browser_context: Any, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>attacker</title><p>hi</p>")
    attacker = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_AttackerPage, directory=str(tmp_path))
    )
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    console: list[str] = []
    try:
        app_page = browser_context.new_page()
        app_page.on("console", lambda msg: console.append(msg.text))
        _sign_in(app_page, served.url + "/")
        # the page works under the CSP: an answer with its sources panel (gr.HTML) renders
        app_page.locator("#question textarea").fill(
            "What are the three aims of the public sector equality duty?"
        )
        app_page.locator("#send").click()
        app_page.wait_for_selector("#chatbot .answer-meta", timeout=90_000)
        app_page.wait_for_selector("#sources-panel .src-card", timeout=30_000)
        app_page.get_by_role("tab", name="Documents").click()
        app_page.locator("#docs-table").get_by_text(EDI_ID).first.wait_for()
        for tab in ("Criteria", "PSED obligations", "Chat"):
            app_page.get_by_role("tab", name=tab).click()
        app_page.locator("#question textarea").wait_for()
        violations = app_page.evaluate("window.__csp")
        csp_console = [m for m in console if "Content Security Policy" in m]
        assert not violations and not csp_console, (violations, csp_console)
        # feedback from the page: any text is accepted, then the per-client limit says so
        box = app_page.locator("#feedback-comment textarea")
        box.evaluate(
            "(el) => { el.value = 'lone \\ud800 surrogate'; "
            "el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        app_page.locator("#thumbs-down").click()
        status = app_page.locator("#feedback-status")
        status.get_by_text("Thanks").wait_for()
        log = served.settings.path(served.settings.feedback_path)
        record = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
        assert record["comment"] == "lone \ufffd surrogate", record["comment"]
        for _ in range(served.settings.feedback_limit):
            app_page.locator("#thumbs-up").click()
            app_page.wait_for_timeout(150)  # one click at a time, as a person clicks
        toast = app_page.locator("[data-testid=toast-body]", has_text="Too much feedback")
        toast.first.wait_for()
        lines = log.read_text(encoding="utf-8").splitlines()
        assert len(lines) == served.settings.feedback_limit, len(lines)
        # what the CSP is for: markup that slips into the page cannot run script
        app_page.evaluate(
            "() => { const d = document.createElement('div');"
            " d.innerHTML = '<img src=x onerror=\"window.__ran = 1\">';"
            " document.body.appendChild(d); }"
        )
        app_page.wait_for_function("window.__csp.length > 0")
        assert app_page.evaluate("window.__ran") is None

        assert any(d.doc_id == EDI_ID for d in list_documents(served.settings))
        fn_index, trigger = _delete_handler(served.demo)
        evil = browser_context.new_page()
        evil.goto(f"http://127.0.0.1:{attacker.server_address[1]}/index.html")
        result = evil.evaluate(ATTACK_JS, [served.url, fn_index, trigger, EDI_ID])
        print(json.dumps(result, indent=1))
        assert result["config"].startswith("blocked"), result
        assert result["join"].startswith("blocked"), result
        assert "data" not in result, result
        # the document the attacker tried to delete is still there
        assert any(d.doc_id == EDI_ID for d in list_documents(served.settings))
        # and the signed-in page itself still works
        app_page.reload()
        app_page.locator("#question textarea").wait_for()
    finally:
        attacker.shutdown()
        attacker.server_close()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(180)
def test_file_name_in_the_upload_toast_is_text_not_html(
    served: Served, browser_context: Any
) -> None:
    requested: list[str] = []
    page = browser_context.new_page()
    page.on("request", lambda req: requested.append(req.url))
    _sign_in(page, served.url + "/")
    page.get_by_role("tab", name="Documents").click()
    names = [
        '<img src="pixel-from-name.png" onerror="window.__pwned=1">.exe',
        '<form action="steal"><input name="secret" value="1"><button>Go</button></form>.exe',
    ]
    page.locator("#upload input[type=file]").set_input_files(
        [{"name": n, "mimeType": "application/octet-stream", "buffer": b"MZ"} for n in names]
    )
    toast = page.locator("[data-testid=toast-body]").first
    toast.wait_for()
    page.wait_for_timeout(500)  # let every toast render before looking for live elements
    text = page.locator("[data-testid=toast-body]").all_inner_texts()
    print(text)
    bodies = page.locator("[data-testid=toast-body]")
    live = bodies.locator("img, form, input, button:not([data-testid=toast-close])")
    assert live.count() == 0, [
        live.nth(i).evaluate("e => e.outerHTML") for i in range(live.count())
    ]
    assert not any("pixel-from-name" in u for u in requested), requested
    assert page.evaluate("window.__pwned") is None
    # the warning names the files (as text) and says what can be added
    assert any("Not a supported file type" in t and "form" in t for t in text), text


def test_toast_text_escapes_html_and_bad_code_points() -> None:
    from ui.security import toast_text

    assert toast_text('<img src="x">.exe') == '&lt;img src="x"&gt;.exe'
    assert toast_text("a & b") == "a &amp; b"
    assert toast_text("x\ud800y") == "x\ufffdy"


# ----------------------------------------------------------------------------- CLI output
MARKUP_DOC = (
    "Zephyr visitor rules\n\n"
    "Visitors to the zephyr unit must sign in at the reception desk [/bold] before entering "
    "the building.\n"
    "Completed zephyr checks are ticked with [x] on the visitor checklist by the duty officer.\n"
)


@pytest.fixture(scope="module")
def markup_cli(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """Environment for `python -m assistant` over a one-document corpus full of rich markup."""
    tmp = tmp_path_factory.mktemp("cli-markup")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "zephyr-markup.txt").write_text(MARKUP_DOC, encoding="utf-8")
    settings = make_settings(tmp, corpus, tmp / "idx")
    env = cli_env(settings)
    run = subprocess.run(
        [sys.executable, "-m", "assistant", "index"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
    )
    assert run.returncode == 0, run.stderr
    return env, tmp


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.mark.timeout(300)
def test_cli_shows_document_markup_as_text(markup_cli: tuple[dict[str, str], Path]) -> None:
    env, cwd = markup_cli
    question = "What must visitors to the zephyr unit do before entering?"
    human = _cli(env, cwd, "ask", question)
    assert human.returncode == 0, human.stderr
    assert "MarkupError" not in human.stderr
    assert "reception desk [/bold] before entering" in human.stdout
    as_json = _cli(env, cwd, "ask", question, "--json")
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)["answer"]
    assert "reception desk [/bold] before entering" in answer
    assert "ticked with [x] on the visitor checklist" in answer  # "[x]" is not dropped
    for args in (["search", "zephyr checks ticked"], ["search", "zephyr checks", "--json"]):
        found = _cli(env, cwd, *args)
        assert found.returncode == 0, found.stderr
        assert "[/bold]" in found.stdout and "with [x] on" in found.stdout, found.stdout
    hits = json.loads(_cli(env, cwd, "search", "zephyr", "--json").stdout)
    assert any("[/bold]" in h["text"] and "[x]" in h["text"] for h in hits)


@pytest.mark.timeout(300)
def test_cli_error_messages_with_markup_are_printed_not_parsed(
    markup_cli: tuple[dict[str, str], Path],
) -> None:
    env, cwd = markup_cli
    missing = cwd / "[/bold] history [x].json"
    run = _cli(env, cwd, "ask", "zephyr visitors", "--history", str(missing))
    assert run.returncode == 2, run.stderr
    assert "MarkupError" not in run.stderr
    assert "[/bold] history [x].json" in run.stderr  # the name as it is, brackets and all
    bad = _cli({**env, "ASSISTANT_GENERATOR": "[/bold]"}, cwd, "ask", "zephyr visitors")
    assert bad.returncode == 2 and "MarkupError" not in bad.stderr
    assert "'[/bold]'" in bad.stderr


# ----------------------------------------------------------------------------- feedback
ANSWER = {
    "question": "What are the three aims?",
    "answer": "Eliminate discrimination [1].",
    "generator": "extractive",
    "citations": [{"n": 1, "doc_id": EDI_ID, "chunk_id": "c1", "quote": "q" * 300}],
}


def _service(tmp: Path, **overrides: Any) -> Any:
    from ui.service import UIService

    settings = make_settings(
        REPO, tmp / "corpus", tmp / "idx", feedback_path=tmp / "logs" / "fb.jsonl", **overrides
    )
    return UIService(settings, assistant=object())  # type: ignore[arg-type]


def test_feedback_log_rotates_at_its_size_limit(tmp_path: Path) -> None:
    service = _service(tmp_path, feedback_max_bytes=3000, feedback_backups=2, feedback_limit=1000)
    for i in range(60):
        service.record_feedback(ANSWER, "up", f"comment {i}")
    log = tmp_path / "logs" / "fb.jsonl"
    files = sorted(log.parent.iterdir())
    assert [p.name for p in files] == ["fb.jsonl", "fb.jsonl.1", "fb.jsonl.2"]
    assert all(0 < p.stat().st_size <= 3000 for p in files)
    kept = [
        json.loads(line)["comment"]
        for p in reversed(files)
        for line in p.read_text(encoding="utf-8").splitlines()
    ]
    # oldest dropped, newest kept, in order, every line whole
    assert kept[-1] == "comment 59" and "comment 0" not in kept
    assert kept == [f"comment {i}" for i in range(60 - len(kept), 60)]


def test_feedback_is_rate_limited_per_client(tmp_path: Path) -> None:
    from ui.service import FeedbackLimited

    service = _service(tmp_path, feedback_limit=3, feedback_window_s=60.0)
    for _ in range(3):
        service.record_feedback(ANSWER, "down", "x", client="10.0.0.1")
    with pytest.raises(FeedbackLimited, match=r"at most 3 per 60 seconds.*Try again in \d+"):
        service.record_feedback(ANSWER, "down", "one too many", client="10.0.0.1")
    with pytest.raises(ValueError, match="rating"):  # bad input is refused, not counted
        service.record_feedback(ANSWER, "sideways", "x", client="10.0.0.2")
    for _ in range(3):
        service.record_feedback(ANSWER, "up", "other", client="10.0.0.2")
    lines = (tmp_path / "logs" / "fb.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 and "one too many" not in "".join(lines)


def test_feedback_accepts_any_text(tmp_path: Path) -> None:
    service = _service(tmp_path)
    odd = {**ANSWER, "question": "lone \udc80 surrogate"}
    record = service.record_feedback(odd, "up", "bad \ud800 pair \ud83d\ude00 ok \x00 nul")
    raw = (tmp_path / "logs" / "fb.jsonl").read_bytes()
    line = json.loads(raw.decode("utf-8"))  # valid UTF-8, valid JSON
    assert line == record
    assert line["comment"] == "bad \ufffd pair 😀 ok \x00 nul"
    assert line["question"] == "lone \ufffd surrogate"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("login_max_failures", 0),
        ("login_lockout_s", 0),
        ("feedback_limit", 0),
        ("feedback_window_s", -1),
        ("feedback_max_bytes", 0),
        ("feedback_backups", -1),
    ],
)
def test_limit_settings_refuse_values_that_switch_them_off(
    tmp_path: Path, name: str, value: float
) -> None:
    from assistant.settings import SettingsError

    with pytest.raises(SettingsError, match=name):
        make_settings(REPO, tmp_path, tmp_path / "idx", **{name: value})
