"""The UI in a real Chromium: ask, follow a citation to its highlighted passage, upload a
document and get an answer from it, with every request the page makes kept on this machine.

Screenshots go to test-artifacts/ui/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from conftest import free_port

from assistant.settings import Settings, load_settings

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ZEPHYR_TEXT = (
    "Zephyr protocol for inspection reports\n\n"
    "The Zephyr protocol sets the timetable for written inspection reports. "
    "The Zephyr protocol requires inspectors to file reports within 9 days. "
    "Reports filed late under the Zephyr protocol are escalated to the regional director.\n"
)
ZEPHYR_QUESTION = "How many days do inspectors have to file reports under the Zephyr protocol?"
ANSWER_TIMEOUT_MS = 90_000
INDEX_TIMEOUT_MS = 120_000


def _loopback(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about"):
        return True
    host = (parsed.hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    """The app on a free loopback port over its own MiniLM index (uploads change it)."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian chromium is not installed at /usr/bin/chromium "
            "(apt-get install -y chromium); CI installs it"
        )
    from assistant.index import build_index
    from ui.app import create_app

    tmp = tmp_path_factory.mktemp("ui-browser")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for pattern in ("*.txt", "*.meta.yaml"):
        for path in sorted((REPO / "corpus").glob(pattern)):
            shutil.copy2(path, corpus / path.name)
    settings = load_settings(
        root=REPO,
        config_file=Path(os.devnull),
        environ={},
        corpus_dir=corpus,
        index_dir=tmp / "idx",
        trace=False,
        feedback_path=tmp / "fb.jsonl",
        upload_dir=corpus / "uploads",
    )
    report = build_index(settings)
    assert report.changed and not report.errors, report
    demo = create_app(settings)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", settings
    finally:
        demo.close()


class Browser:
    """One Chromium for the module; each context records every request and blocks any that
    would leave this machine."""

    def __init__(self, browser: Any):
        self.browser = browser
        self.requested: list[str] = []
        self.blocked: list[str] = []

    def _guard(self, route: Any) -> None:
        url = route.request.url
        self.requested.append(url)
        if _loopback(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def context(self, scheme: str = "light", **options: Any) -> Any:
        context = self.browser.new_context(
            viewport={"width": 1400, "height": 1000}, color_scheme=scheme, **options
        )
        context.set_default_timeout(30_000)
        context.route("**/*", self._guard)
        context.on("request", lambda req: self.requested.append(req.url))
        return context

    @contextlib.contextmanager
    def themed_page(self, url: str, scheme: str) -> Iterator[Any]:
        """`url` in `scheme` (light or dark) on a page of its own context, closed after."""
        context = self.context(scheme)
        try:
            page = context.new_page()
            page.goto(f"{url}?__theme={scheme}")
            yield page
        finally:
            context.close()

    def assert_offline(self) -> None:
        assert self.requested, "no requests were recorded"
        outside = sorted({u for u in self.requested if not _loopback(u)})
        assert not outside and not self.blocked, f"non-loopback requests: {outside or self.blocked}"


@pytest.fixture(scope="module")
def chromium(app_url: tuple[str, Settings]) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield Browser(browser)
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser_page(chromium: Browser) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page whose every request is recorded; anything not on loopback is blocked too."""
    context = chromium.context()
    try:
        yield context.new_page(), chromium.requested, chromium.blocked
    finally:
        context.close()


def _ask(page: Any, question: str) -> Any:
    """Type a question, send it, and wait for the final (verified) answer message."""
    before = page.locator("#chatbot .answer-meta").count()
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#chatbot .answer-meta').length > n",
        arg=before,
        timeout=ANSWER_TIMEOUT_MS,
    )
    return page.locator("#chatbot .answer").last


def test_ask_follow_citation_upload_and_stay_offline(
    app_url: tuple[str, Settings], browser_page: tuple[Any, list[str], list[str]]
) -> None:
    from playwright.sync_api import expect

    url, settings = app_url
    page, requested, blocked = browser_page
    page.goto(url)
    page.locator("#question textarea").wait_for()
    page.screenshot(path=str(ARTIFACTS / "01-start.png"), full_page=True)

    # ask: the answer has numbered citations and the sources panel highlighted passages
    answer = _ask(page, "What are the three aims of the public sector equality duty?")
    expect(answer).to_contain_text("[1]")
    expect(answer).not_to_contain_text("Not covered by the documents")
    first = answer.locator("a.cite", has_text="[1]").first
    card_id = first.get_attribute("href").lstrip("#")
    card = page.locator(f"#{card_id}")
    expect(card.locator("mark").first).to_be_visible()

    # move the card out of view, click [1]: it is scrolled back into view and flashes
    page.evaluate(
        "() => { const p = document.getElementById('sources-panel');"
        " p.scrollTop = p.scrollHeight; window.scrollTo(0, 0); }"
    )
    first.click()
    expect(card).to_be_in_viewport(timeout=5_000)
    expect(card).to_have_class(re.compile(r"\bflash\b"))
    expect(card.locator("mark").first).to_be_in_viewport()
    page.screenshot(path=str(ARTIFACTS / "02-answer-citation.png"), full_page=True)

    # upload a document with a fact no seed document has, through the Documents tab
    doc = settings.root / "test-artifacts" / "ui" / "zephyr-protocol.txt"
    doc.write_text(ZEPHYR_TEXT, encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    expect(page.locator("#upload")).to_contain_text("zephyr-protocol.txt")
    page.locator("#add-docs").click()
    report = page.locator("#library-report")
    expect(report).to_contain_text("Added", timeout=INDEX_TIMEOUT_MS)
    expect(report).to_contain_text("zephyr-protocol")
    expect(page.locator("#docs-table")).to_contain_text("zephyr-protocol")
    page.wait_for_timeout(800)  # let the progress overlay fade before the screenshot
    page.screenshot(path=str(ARTIFACTS / "03-documents-uploaded.png"), full_page=True)

    # the new document answers a question right away, without a restart
    page.get_by_role("tab", name="Chat").click()
    page.locator("#new-chat").click()
    expect(page.locator("#chatbot .answer")).to_have_count(0)
    answer = _ask(page, ZEPHYR_QUESTION)
    expect(answer).to_contain_text("9 days")
    expect(answer).to_contain_text("[1]")
    cited = page.locator("#sources-panel .src-card.cited")
    expect(cited.filter(has_text="zephyr-protocol").first).to_be_visible()
    # one of its cards highlights the sentence with the fact
    expect(cited.locator("mark", has_text="9 days").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "04-answer-from-upload.png"), full_page=True)

    # feedback on that answer lands in the JSON-lines log
    page.locator("#feedback-comment textarea").fill("right number of days")
    page.locator("#thumbs-up").click()
    expect(page.locator("#feedback-status")).to_contain_text("Thanks")
    feedback = settings.path(settings.feedback_path)
    record = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert record["rating"] == "up" and record["comment"] == "right number of days"
    assert record["question"] == ZEPHYR_QUESTION and record["citations"]

    # delete the upload again: it leaves the table
    page.get_by_role("tab", name="Documents").click()
    page.locator("#delete-pick input").click()
    page.get_by_role("option", name=re.compile("zephyr-protocol")).click()
    # deleting asks first, and Cancel keeps the document
    page.locator("#delete-doc").click()
    question = page.locator("#delete-question")
    expect(question).to_contain_text("Delete “Zephyr protocol")
    expect(question).to_contain_text("cannot be undone")
    page.screenshot(path=str(ARTIFACTS / "03b-delete-confirm.png"), full_page=True)
    page.locator("#delete-cancel").click()
    expect(page.locator("#delete-confirm")).to_be_hidden()
    expect(page.locator("#docs-table")).to_contain_text("zephyr-protocol")
    page.locator("#delete-doc").click()
    page.locator("#delete-confirm").click()
    expect(page.locator("#library-report")).to_contain_text("Removed", timeout=INDEX_TIMEOUT_MS)
    expect(page.locator("#delete-confirm")).to_be_hidden()
    expect(page.locator("#docs-table")).not_to_contain_text("zephyr-protocol")

    # nothing the page did left this machine
    assert requested, "no requests were recorded"
    outside = sorted({u for u in requested if not _loopback(u)})
    assert not outside and not blocked, f"non-loopback requests: {outside or blocked}"


def test_criteria_and_psed_tabs(
    app_url: tuple[str, Settings], browser_page: tuple[Any, list[str], list[str]]
) -> None:
    """The two views shaped for inspectors and equality staff render real, cited results."""
    from playwright.sync_api import expect

    url, _settings = app_url
    page, requested, blocked = browser_page
    page.goto(url)
    page.get_by_role("tab", name="Criteria").click()
    page.locator("#criteria-topic textarea").fill("learning culture")
    page.locator("#criteria-go").click()
    out = page.locator("#criteria-out")
    expect(out).to_contain_text("Staff at all levels work in a culture", timeout=ANSWER_TIMEOUT_MS)
    expect(out.locator(".cite").first).to_contain_text("[1]")
    page.screenshot(path=str(ARTIFACTS / "05-criteria.png"), full_page=True)

    page.get_by_role("tab", name="PSED obligations").click()
    page.locator("#psed-go").click()
    table = page.locator("#psed-out table")
    expect(table).to_contain_text("Foster good relations", timeout=ANSWER_TIMEOUT_MS)
    expect(table.locator("tr.ok").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "06-psed.png"), full_page=True)
    outside = sorted({u for u in requested if not _loopback(u)})
    assert not outside and not blocked, f"non-loopback requests: {outside or blocked}"


# ----------------------------------------------------------------------------- accessibility
TABS = ["Chat", "Documents", "Criteria", "PSED obligations"]
PSED_QUESTION = "What are the three aims of the public sector equality duty?"
AXE_BLOCKING = ("serious", "critical")


def _axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (the script ships with the package)."""
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate(Axe().axe_script)
    result = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    return result["violations"]


def _summary(violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['impact']} {v['id']}: {v['help']} -> "
        + "; ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in violations
    ]


def _fill_every_tab(page: Any) -> None:
    """Put real content on each tab first: an answer with sources, an open source, an export
    preview, criteria and the PSED matrix, so axe checks what people actually see."""
    from playwright.sync_api import expect

    _ask(page, PSED_QUESTION)
    page.locator("#sources-panel button.open-src").first.click()
    expect(page.locator("#viewer .viewer-title")).to_be_visible(timeout=30_000)
    page.locator("#export").click()
    expect(page.locator("#export-preview")).to_contain_text("References", timeout=30_000)
    page.get_by_role("tab", name="Criteria").click()
    page.locator("#criteria-topic textarea").fill("learning culture")
    page.locator("#criteria-go").click()
    expect(page.locator("#criteria-out .cite").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#criteria-docx")).to_be_enabled()
    page.get_by_role("tab", name="PSED obligations").click()
    page.locator("#psed-go").click()
    expect(page.locator("#psed-out table")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#psed-docx")).to_be_enabled()


def test_axe_finds_no_serious_violation_on_any_tab_light_or_dark(
    app_url: tuple[str, Settings], chromium: Browser
) -> None:
    """WCAG 2.2 AA: axe-core on every tab, in light and dark mode, after real use."""
    url, _settings = app_url
    report: dict[str, Any] = {}
    failures: list[str] = []
    for scheme in ("light", "dark"):
        with chromium.themed_page(url, scheme) as page:
            page.locator("#question textarea").wait_for()
            dark = page.evaluate("() => document.body.classList.contains('dark')")
            assert dark == (scheme == "dark"), f"{scheme} mode was not applied"
            _fill_every_tab(page)
            for tab in TABS:
                page.get_by_role("tab", name=tab).click()
                page.wait_for_timeout(400)  # tab switch and any fade-in settle
                violations = _axe(page)
                report[f"{scheme}/{tab}"] = _summary(violations)
                bad = [v for v in violations if v["impact"] in AXE_BLOCKING]
                failures += [f"{scheme}/{tab}: {line}" for line in _summary(bad)]
                page.screenshot(
                    path=str(ARTIFACTS / f"axe-{scheme}-{tab.split()[0].lower()}.png"),
                    full_page=True,
                )
    (ARTIFACTS / "axe-report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    assert len(report) == 2 * len(TABS)
    assert not failures, "\n".join(failures)
    chromium.assert_offline()


def _focused(page: Any) -> dict[str, Any]:
    """What has keyboard focus, and whether it shows a visible focus indicator."""
    return page.evaluate(
        """() => {
          const e = document.activeElement;
          const cs = getComputedStyle(e);
          const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
          const card = e.closest ? e.closest('.src-card') : null;
          return { tag: e.tagName, id: e.id || '', cls: String(e.className || ''),
                   text: (e.innerText || e.value || '').trim().slice(0, 80),
                   href: e.getAttribute('href') || '', visible: outline,
                   card: card ? card.id : '' };
        }"""
    )


def _tab_until(page: Any, test: Any, key: str = "Tab", limit: int = 80) -> dict[str, Any]:
    """Press `key` until the focused element passes `test`; every stop must show focus."""
    for _ in range(limit):
        page.keyboard.press(key)
        now = _focused(page)
        if now["tag"] != "BODY":
            assert now["visible"], f"no visible focus on {now}"
        if test(now):
            return now
    raise AssertionError(f"no matching focus stop within {limit} presses of {key}")


def test_keyboard_only_journey(app_url: tuple[str, Settings], chromium: Browser) -> None:
    """Skip link, ask, move to a citation, open its source and come back: no mouse at all."""
    from playwright.sync_api import expect

    url, _settings = app_url
    context = chromium.context()
    page = context.new_page()
    try:
        page.goto(url)
        page.locator("#question textarea").wait_for()
        page.keyboard.press("Tab")
        first = _focused(page)
        assert first["tag"] == "A" and first["text"] == "Skip to the question box", first
        assert first["visible"]
        # every stop of the page, once round, shows where the focus is
        stops = [first]
        for _ in range(120):
            page.keyboard.press("Tab")
            now = _focused(page)
            if now["text"] == first["text"] and now["tag"] == "A":
                break
            if now["tag"] != "BODY":
                assert now["visible"], f"no visible focus on {now}"
                stops.append(now)
        else:
            raise AssertionError("the Tab order never came back to the skip link")
        names = {s["text"] for s in stops}
        assert {
            "Chat",
            "Documents",
            "Send",
            "New conversation",
            "Helpful",
            "Not helpful",
            "Export conversation",
        } <= names, names
        page.keyboard.press("Enter")
        expect(page.locator("#question textarea")).to_be_focused()
        # an empty question is refused out loud (assertive region), nothing else changes
        page.keyboard.press("Enter")
        expect(page.locator("#answer-alert")).to_contain_text("Type a question first")
        expect(page.locator("#chatbot .answer")).to_have_count(0)
        expect(page.locator("#question textarea")).to_be_focused()
        page.keyboard.type(PSED_QUESTION)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.querySelectorAll('#chatbot .answer-meta').length > 0",
            timeout=ANSWER_TIMEOUT_MS,
        )
        # the polite live region now holds the answer (not every streamed word)
        live = page.locator("#answer-live")
        expect(live).to_have_attribute("aria-live", "polite")
        expect(live).to_contain_text("Answer ready")
        expect(page.locator("#chatbot [role=log]")).to_have_attribute("aria-live", "off")
        expect(page.locator("#answer-alert")).to_have_attribute("role", "alert")
        # back up from the question box to the answer's last [n] marker
        cite = _tab_until(page, lambda f: f["tag"] == "A" and "cite" in f["cls"], "Shift+Tab")
        page.keyboard.press("Enter")
        card_id = cite["href"].lstrip("#")
        expect(page.locator(f"#{card_id}")).to_be_focused()
        expect(page.locator(f"#{card_id}")).to_be_in_viewport()
        opener = _tab_until(page, lambda f: "open-src" in f["cls"], limit=5)
        assert opener["card"] == card_id, opener
        page.keyboard.press("Enter")
        title = page.locator("#viewer .viewer-title")
        expect(title).to_be_focused(timeout=30_000)
        expect(page.locator("#viewer .viewer-passage.cited mark").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "09-keyboard-viewer.png"), full_page=True)
        _tab_until(page, lambda f: "viewer-back" in f["cls"], limit=3)
        page.keyboard.press("Enter")
        back = _focused(page)
        assert "open-src" in back["cls"] and back["card"] == card_id, back
    finally:
        context.close()
    chromium.assert_offline()


def test_errors_are_announced_assertively(app_url: tuple[str, Settings], chromium: Browser) -> None:
    """A refused action shows Gradio's (polite) toast and is re-said in a role=alert region."""
    from playwright.sync_api import expect

    url, _settings = app_url
    context = chromium.context()
    page = context.new_page()
    try:
        page.goto(url)
        page.locator("#question textarea").wait_for()
        page.locator("#export").focus()
        page.keyboard.press("Enter")  # nothing asked yet: nothing to export
        alert = page.locator("#page-alert")
        expect(alert).to_have_attribute("role", "alert")
        expect(alert).to_contain_text("nothing to export")
        expect(page.locator("#export-md")).to_be_disabled()
    finally:
        context.close()
    chromium.assert_offline()


# ----------------------------------------------------------------------------- viewer and export
LANTERN_QUESTION = "When is the water tank of the basement dehumidifier emptied?"


def test_source_viewer_on_an_uploaded_pdf_and_the_export(
    app_url: tuple[str, Settings], chromium: Browser
) -> None:
    """Upload a PDF, ask about it, open the citation at its page with the passage highlighted,
    download the original, then export the conversation and read the DOCX back."""
    import io

    from docx import Document
    from playwright.sync_api import expect

    from tests.test_source_view import write_lantern_pdf

    url, settings = app_url
    pdf = write_lantern_pdf(ARTIFACTS / "lantern-care-plan.pdf")
    context = chromium.context(accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(url)
        page.get_by_role("tab", name="Documents").click()
        page.locator("#upload input[type=file]").set_input_files(str(pdf))
        page.locator("#add-docs").click()
        expect(page.locator("#library-report")).to_contain_text("Added", timeout=INDEX_TIMEOUT_MS)
        # the Documents table lists its format, pages, chunks, time and warnings
        row = page.locator("#docs-table [role=row]", has_text="lantern-care-plan")
        cells = [c.strip() for c in row.locator("[role=gridcell]").all_inner_texts()]
        assert cells[2:4] == ["PDF", "3"] and int(cells[4]) >= 1, cells
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", cells[5]) and cells[6] == "none", cells
        page.get_by_role("tab", name="Chat").click()

        answer = _ask(page, LANTERN_QUESTION)
        expect(answer).to_contain_text("Tuesday")
        card = page.locator("#sources-panel .src-card.cited").filter(has_text="lantern").first
        card.locator("button.open-src").click()
        viewer = page.locator("#viewer")
        expect(viewer.locator(".viewer-place")).to_contain_text("PDF", timeout=30_000)
        expect(viewer.locator(".viewer-place")).to_contain_text("page 2 of 3")
        expect(viewer.locator("figure img")).to_be_visible()
        expect(viewer.locator("figcaption")).to_contain_text("is highlighted")
        expect(viewer.locator(".viewer-passage.cited mark").first).to_contain_text("Tuesday")
        viewer.scroll_into_view_if_needed()
        viewer.screenshot(path=str(ARTIFACTS / "07-source-viewer-pdf.png"))
        page.screenshot(path=str(ARTIFACTS / "07-source-viewer-pdf-page.png"), full_page=True)
        with page.expect_download() as info:
            page.locator("#viewer-download").click()
        assert Path(info.value.path()).read_bytes() == pdf.read_bytes()

        # two more turns, then export: the preview and the DOCX list every reference
        _ask(page, PSED_QUESTION)
        _ask(page, "Who services the boiler, and when?")
        page.locator("#export").click()
        preview = page.locator("#export-preview")
        expect(preview).to_contain_text("References", timeout=30_000)
        expect(preview).to_contain_text(LANTERN_QUESTION)
        expect(preview).to_contain_text("Index generation: g")
        page.locator("#export-box").scroll_into_view_if_needed()
        page.locator("#export-box").screenshot(path=str(ARTIFACTS / "08-export-preview.png"))
        with page.expect_download() as info:
            page.locator("#export-docx").click()
        doc = Document(io.BytesIO(Path(info.value.path()).read_bytes()))
        headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
        assert headings[0] == f"1. {LANTERN_QUESTION}" and len(headings) == 3
        texts = [p.text for p in doc.paragraphs]
        assert any(t.startswith("1. ") and "page 2" in t for t in texts), texts
        assert any("Tuesday" in p.text for p in doc.paragraphs if p.style.name == "Quote")
        # the cards shown for each answer are exactly the exported references
        shown = page.locator("#sources-panel .src-card.cited .src-title").all_inner_texts()
        assert shown and all(any(title in t for t in texts) for title in shown)
        with page.expect_download() as info:
            page.locator("#export-md").click()
        assert Path(info.value.path()).read_text("utf-8").startswith("# Inspection Assistant")

        # remove the upload again so later tests see the seed library
        page.get_by_role("tab", name="Documents").click()
        page.locator("#delete-pick input").click()
        page.get_by_role("option", name=re.compile("lantern-care-plan")).click()
        page.locator("#delete-doc").click()
        page.locator("#delete-confirm").click()
        expect(page.locator("#library-report")).to_contain_text("Removed", timeout=INDEX_TIMEOUT_MS)
    finally:
        context.close()
    chromium.assert_offline()


# ----------------------------------------------------------------------------- rejected files
def test_a_file_that_cannot_be_added_is_listed_with_its_reason_then_deleted(
    app_url: tuple[str, Settings], chromium: Browser
) -> None:
    """Upload a corrupt DOCX: the "Files that could not be added" section names it with its
    reason (axe still clean, light and dark), and it is deleted by keyboard after a
    confirmation that Cancel withdraws."""
    from playwright.sync_api import expect

    url, settings = app_url
    broken = ARTIFACTS / "broken-minutes.docx"
    broken.write_bytes(b"PK\x03\x04" + os.urandom(4000))  # a zip header and noise
    quarantined = settings.corpus / "rejected" / broken.name
    failures: list[str] = []
    for scheme in ("light", "dark"):
        with chromium.themed_page(url, scheme) as page:
            page.get_by_role("tab", name="Documents").click()
            section = page.locator("#rejected-files")
            if scheme == "light":
                expect(section).to_contain_text("Files that could not be added")
                expect(section.locator(".rejected-none")).to_have_text("None")
                page.locator("#upload input[type=file]").set_input_files(str(broken))
                page.locator("#add-docs").click()
                report = page.locator("#library-report")
                expect(report).to_contain_text("Could not be read", timeout=INDEX_TIMEOUT_MS)
            # listed after the upload, and again on a fresh page load (the dark pass)
            row = section.locator("tbody tr", has_text=broken.name)
            expect(row).to_contain_text("not a valid DOCX")
            assert quarantined.is_file()
            page.wait_for_timeout(400)
            bad = [v for v in _axe(page) if v["impact"] in AXE_BLOCKING]
            failures += [f"{scheme}/Documents: {line}" for line in _summary(bad)]
            page.screenshot(path=str(ARTIFACTS / f"05-rejected-{scheme}.png"), full_page=True)
            if scheme == "light":
                continue
            page.locator("#rejected-pick input").click()
            page.get_by_role("option", name=broken.name).click()
            page.locator("#delete-rejected").focus()
            page.keyboard.press("Enter")
            question = page.locator("#rejected-question")
            expect(question).to_contain_text(f"Delete the rejected file “{broken.name}”")
            page.locator("#rejected-cancel").focus()
            page.keyboard.press("Enter")
            expect(page.locator("#rejected-confirm")).to_be_hidden()
            assert quarantined.is_file()  # Cancel kept it
            page.locator("#delete-rejected").focus()
            page.keyboard.press("Enter")
            page.locator("#rejected-confirm").focus()
            page.keyboard.press("Enter")
            expect(section.locator(".rejected-none")).to_have_text("None")
            expect(page.locator("#rejected-confirm")).to_be_hidden()
            assert not quarantined.exists()
            assert not quarantined.with_name(broken.name + ".reason").exists()
    assert not failures, "\n".join(failures)
    chromium.assert_offline()
