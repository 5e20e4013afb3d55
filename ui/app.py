"""The Gradio web UI: chat with cited answers, a sources panel, the document library, feedback,
and a JSON API endpoint (``/ask``).

`create_app(settings)` builds the page; `launch(settings)` checks the network exposure (a
non-loopback address needs a password) and serves it at once, bringing the index up to date in
the background (ui/startup.py) - the page says so in a status line until it is done. Gradio is
imported only inside these functions, after analytics are switched off, so importing this
module is cheap and has no side effects.
"""

from __future__ import annotations

import base64
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant import generators
from assistant.settings import Settings
from ui.security import is_loopback

if TYPE_CHECKING:
    import gradio as gr

    from assistant.answer import Assistant
    from ui.startup import BackgroundIndex

log = logging.getLogger(__name__)

QUEUE_CONCURRENCY = 4  # answers computed at once; more wait in the queue (CPU-bound work)
QUEUE_MAX_SIZE = 64  # beyond this, new requests are rejected instead of waiting forever
MAX_KEPT_ANSWERS = 20  # per browser session: earlier source cards and history stay bounded
EXAMPLES: dict[str, list[str]] = {
    "Inspection criteria": [
        "What do inspectors expect of a learning culture?",
        "Which criteria apply to the workforce?",
    ],
    "Equality duty (PSED)": [
        "What are the three aims of the public sector equality duty?",
        "How does Ofsted eliminate discrimination in Cafcass inspections?",
    ],
    "Equality, diversity & inclusion": [
        "Which protected characteristics are relevant to children and parents?",
    ],
}
_OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
}


class ServeError(ValueError):
    """The server cannot start as configured; the message says what to change.

    A ValueError, so `assistant serve` reports it as a usage error (exit 2), not a crash.
    """


# ----------------------------------------------------------------------------- network safety
def resolve_auth(settings: Settings) -> tuple[str, str] | None:
    """(user, password) from settings.auth: "user:password", or a file containing that."""
    raw = (settings.auth or "").strip()
    if not raw:
        return None
    candidate = settings.path(Path(raw))
    try:
        if candidate.is_file():
            raw = candidate.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ServeError(f"cannot read the auth file {candidate}: {exc}") from exc
    user, sep, password = raw.partition(":")
    if not sep or not user.strip() or not password:
        raise ServeError(
            "auth must be 'user:password' or the path of an existing file containing that "
            f"(got a value of {len(raw)} characters that is neither)"
        )
    return user.strip(), password


def check_exposure(host: str, auth: tuple[str, str] | None, insecure: bool) -> None:
    """Refuse to serve an unauthenticated UI on an address other machines can reach."""
    if is_loopback(host) or auth is not None:
        return
    if not insecure:
        raise ServeError(
            f"refusing to listen on {host} without auth: set ASSISTANT_AUTH=user:password "
            "or pass --insecure"
        )
    log.warning("serving on %s WITHOUT authentication (--insecure)", host)


STATUS_POLL_S = 2.0  # how often an open page asks whether the background build finished


def _offline_env() -> None:
    # Forced, not defaulted: analytics and hub calls would send data off this machine.
    os.environ.update(_OFFLINE_ENV)


# ----------------------------------------------------------------------------- the page
def launch_defaults(settings: Settings) -> dict[str, Any]:
    """Options every launch of this app gets (tests may override any of them)."""
    from ui.theme import CSS, HEAD, make_theme

    return {
        "theme": make_theme(),
        "css": CSS,
        "head": HEAD,
        "max_file_size": settings.max_file_mb * 1024 * 1024,
        "footer_links": ["api", "settings"],
        "run_history": False,  # don't keep questions/answers in the browser's storage
        "share": False,
        "ssr_mode": False,
        "mcp_server": False,
        "enable_monitoring": False,
        "pwa": False,
        "show_error": True,
    }


def create_app(
    settings: Settings,
    assistant: Assistant | None = None,
    indexing: BackgroundIndex | None = None,
) -> gr.Blocks:
    """Build the Gradio app around one shared `Assistant` (created here when not given).

    `indexing` is `serve`'s background build: the page shows its status line and polls it
    until the build is done.
    """
    _offline_env()
    import gradio as gr

    from assistant.documents import DOC_TYPES
    from assistant.export import ExportError
    from assistant.index import IndexProblem
    from assistant.library import LibraryError
    from assistant.loaders import SUPPORTED_SUFFIXES
    from assistant.source_view import SourceError
    from ui import format as fmt
    from ui import viewer as viewer_fmt
    from ui.security import toast_text
    from ui.service import AskError, FeedbackLimited, UIService
    from ui.tabs import build_criteria_tab, build_psed_tab

    service = UIService(settings, assistant, indexing=indexing)
    defaults = launch_defaults(settings)

    class AssistantBlocks(gr.Blocks):
        """Blocks whose launch() applies this app's theme, CSS, script and limits by default.

        The address defaults to `settings.host` (never Gradio's $GRADIO_SERVER_NAME) and the
        exposure rule holds here too, so even a direct ``create_app(...).launch()`` cannot
        serve an unauthenticated UI beyond loopback unless `insecure=True` is passed.
        """

        def launch(self, *args: Any, insecure: bool = False, **kwargs: Any) -> Any:
            for key, value in defaults.items():
                kwargs.setdefault(key, value)
            if not kwargs.get("server_name"):
                kwargs["server_name"] = settings.host or "127.0.0.1"
            if "auth" not in kwargs:
                kwargs["auth"] = resolve_auth(settings)
            check_exposure(str(kwargs["server_name"]), kwargs["auth"], insecure)
            # same-origin only, security headers, sign-in rate limit (ui/security.py)
            from ui.security import policy_from_settings, secured_app

            policy = policy_from_settings(settings, str(kwargs["server_name"]), kwargs["head"])
            kwargs.setdefault("_app", secured_app(policy, debug=bool(kwargs.get("debug"))))
            # Gradio's own start-up lines end with a "set share=True" hint that does not apply
            # to an offline app: they are silenced and one line says where the page is instead
            announce = not kwargs.get("quiet", False)
            block = not kwargs.get("prevent_thread_lock", False)
            kwargs.update(quiet=True, prevent_thread_lock=True)
            result = super().launch(*args, **kwargs)
            if announce:
                print(start_line(self.local_url or ""), flush=True)
            if block:
                self.block_thread()
            return result

    private: dict[str, Any] = {"api_visibility": "private"}

    # ------------------------------------------------------------------ callbacks
    def refresh_library() -> tuple[Any, ...]:
        """The documents table, both pickers and the rejected-files section, read afresh."""
        docs = service.documents()
        choices = fmt.document_choices(docs)
        # the filter is reset: a selection could name a document that no longer exists
        return (
            gr.update(value=fmt.document_rows(docs)),
            gr.update(choices=choices, value=[]),
            gr.update(choices=choices, value=None),
            *refresh_rejected(),
        )

    def refresh_rejected() -> tuple[Any, Any]:
        """The "Files that could not be added" section and its picker (reset: a kept pick
        could name a file that is gone)."""
        rejected = service.rejected()
        return (
            gr.update(value=fmt.rejected_html(rejected, service.unindexed())),
            gr.update(choices=fmt.rejected_choices(rejected), value=None),
        )

    def respond(
        question: str,
        messages: list[dict[str, str]],
        turns: list[dict[str, str]],
        records: list[dict[str, Any]],
        generator: str,
        doc_types: list[str] | None,
        doc_ids: list[str] | None,
    ) -> Any:
        """Stream one answer into the chat; the last yield carries the verified answer."""
        question = (question or "").strip()
        messages = list(messages or [])
        turns = list(turns or [])
        records = list(records or [])
        panel = fmt.sources_panel_html(records)
        if not question:
            gr.Warning("Type a question first.")
            alert = fmt.live_text("Type a question first.")
            yield messages, messages, panel, turns, records, "", gr.update(), gr.update(), alert
            return
        messages += [
            {"role": "user", "content": fmt.question_markdown(question)},
            {"role": "assistant", "content": fmt.streaming_markdown("")},
        ]
        # the polite region says once that work started, and then the final answer: announcing
        # every streamed word would drown a screen reader (the chat log itself stays polite too)
        busy = fmt.live_text("Searching the documents…")
        yield messages, messages, panel, turns, records, "", "", busy, ""
        final = None
        for event in service.stream(question, turns, generator, doc_types, doc_ids):
            if event.error:
                messages[-1] = {"role": "assistant", "content": fmt.error_markdown(event.error)}
                alert = fmt.live_text("Could not answer: " + event.error)
                yield messages, messages, panel, turns, records, "", "", "", alert
                return
            if event.answer is not None:
                final = event.answer
                break
            messages[-1] = {"role": "assistant", "content": fmt.streaming_markdown(event.partial)}
            yield messages, messages, panel, turns, records, "", "", gr.update(), gr.update()
        if final is None:  # pragma: no cover - the service always ends with an event
            return
        uid = fmt.new_uid()
        messages[-1] = {"role": "assistant", "content": fmt.answer_markdown(final, uid)}
        turns += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": fmt.plain_answer_text(final)},
        ]
        records.append({"uid": uid, "answer": final})
        turns, records = turns[-2 * MAX_KEPT_ANSWERS :], records[-MAX_KEPT_ANSWERS:]
        done = fmt.live_text(fmt.spoken_answer(final))
        panel = fmt.sources_panel_html(records)
        yield messages, messages, panel, turns, records, "", "", done, ""

    def new_conversation() -> tuple[Any, ...]:
        return [], [], fmt.sources_panel_html([]), [], [], "", "", "", ""

    def give_feedback(
        records: list[dict[str, Any]], comment: str, rating: str, request: gr.Request | None
    ) -> tuple[str, str]:
        if not records:
            return "Ask a question first; feedback applies to the latest answer.", comment
        client = getattr(getattr(request, "client", None), "host", None) or "unknown"
        try:
            service.record_feedback(records[-1]["answer"], rating, comment, client=client)
        except FeedbackLimited as exc:
            raise gr.Error(toast_text(exc), print_exception=False) from exc
        except OSError as exc:
            raise gr.Error(toast_text(f"Could not save the feedback: {exc}")) from exc
        thanks = (
            "Thanks, noted as helpful."
            if rating == "up"
            else "Thanks, noted as not helpful; we will look at it."
        )
        return thanks, ""

    # Gradio finds the progress tracker by its default value; one instance per callback
    upload_progress, delete_progress = gr.Progress(), gr.Progress()

    def upload(files: list[str] | None, progress: gr.Progress = upload_progress) -> tuple[Any, ...]:
        if not files:
            raise gr.Error("Choose one or more files first.")
        progress(0, desc="Saving files")

        def report_progress(stage: str, done: int, total: int, detail: str) -> None:
            progress((done, total or 1), desc=f"{stage}: {detail}"[:80])

        try:
            report, refused = service.upload(files, progress=report_progress)
        except (IndexProblem, LibraryError) as exc:
            raise gr.Error(toast_text(exc), print_exception=False) from exc
        except Exception as exc:  # unexpected: logged, and shown as text (it may name a file)
            log.exception("upload failed")
            raise gr.Error(
                toast_text(f"The upload failed ({type(exc).__name__}: {exc})"),
                print_exception=False,
            ) from exc
        html = fmt.build_report_html(asdict(report) if report else None, refused)
        return (html, *refresh_library(), None)

    def warn_unsupported(files: list[str] | None) -> None:
        """Name the chosen files that cannot be added (escaped: a name may hold HTML)."""
        names = [
            Path(f).name for f in files or [] if Path(f).suffix.lower() not in SUPPORTED_SUFFIXES
        ]
        if names:
            gr.Warning(
                toast_text(
                    f"Not a supported file type: {', '.join(names)}. Only "
                    f"{' '.join(sorted(SUPPORTED_SUFFIXES))} can be added."
                )
            )

    def confirm_delete(doc_id: str | None) -> tuple[Any, Any]:
        """First step of a deletion: say what will go and ask; nothing is removed yet."""
        if not doc_id:
            raise gr.Error("Choose a document to delete first.", print_exception=False)
        docs = {d.doc_id: d for d in service.documents()}
        if doc_id not in docs:
            raise gr.Error(
                toast_text(f"No indexed document with id {doc_id!r}."), print_exception=False
            )
        doc = docs[doc_id]
        text = (
            f"**Delete “{fmt.esc(doc.title)}” ({fmt.esc(doc.doc_id)})?** Its file is removed "
            f"from the corpus folder and its {doc.chunks} passages from the index. "
            "This cannot be undone."
        )
        return gr.update(visible=True), gr.update(value=text)

    def delete(doc_id: str | None, progress: gr.Progress = delete_progress) -> tuple[Any, ...]:
        progress(0, desc="Updating the index")
        try:
            report = service.delete(doc_id or "")
        except (IndexProblem, LibraryError) as exc:
            raise gr.Error(toast_text(exc), print_exception=False) from exc
        except Exception as exc:  # unexpected: logged, and shown as text (it names a document)
            log.exception("deleting %r failed", doc_id)
            raise gr.Error(
                toast_text(f"Deleting failed ({type(exc).__name__}: {exc})"), print_exception=False
            ) from exc
        return (fmt.build_report_html(asdict(report)), *refresh_library(), gr.update(visible=False))

    def confirm_delete_rejected(name: str | None) -> tuple[Any, Any]:
        """First step of deleting a rejected file: name it and ask; nothing is removed yet."""
        if not name:
            raise gr.Error("Choose a rejected file to delete first.", print_exception=False)
        found = {r.name: r for r in service.rejected()}.get(name)
        if found is None:
            raise gr.Error(toast_text(f"No rejected file named {name!r}."), print_exception=False)
        text = (
            f"**Delete the rejected file “{fmt.esc(found.name)}”?** It and its reason are "
            "removed from the rejected folder. This cannot be undone."
        )
        return gr.update(visible=True), gr.update(value=text)

    def delete_rejected(name: str | None) -> tuple[Any, ...]:
        """Delete the confirmed rejected file; the message names it (escaped by the toast)."""
        try:
            deleted = service.delete_rejected(name or "")
        except (LibraryError, OSError) as exc:
            raise gr.Error(toast_text(_sentence(str(exc))), print_exception=False) from exc
        gr.Info(toast_text(f"Deleted the rejected file {deleted}."))
        return (*refresh_rejected(), gr.update(visible=False))

    def export_conversation(records: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
        """Build the Markdown and DOCX files of this session's answers and show a preview."""
        try:
            result = service.export(records or [])
        except ExportError as exc:
            raise gr.Error(_sentence(str(exc)), print_exception=False) from exc
        folder = Path(tempfile.mkdtemp(prefix="export-"))
        md_path = folder / f"{result.filename}.md"
        docx_path = folder / f"{result.filename}.docx"
        md_path.write_text(result.markdown, encoding="utf-8")
        docx_path.write_bytes(result.docx)
        return (
            gr.update(value=str(md_path), interactive=True),
            gr.update(value=str(docx_path), interactive=True),
            gr.update(value=fmt.preview_markdown(result.markdown)),
        )

    def open_viewer(ref: str, records: list[dict[str, Any]]) -> tuple[Any, Any]:
        """Show the document behind a source card, with a download of the original file."""
        off = gr.update(value=None, interactive=False, label="Download the original file")
        try:
            view, label = service.source(ref, records or [])
        except SourceError as exc:
            return viewer_fmt.viewer_error_html(_sentence(str(exc))), off
        original = Path(view.path)
        if not original.is_file():
            return viewer_fmt.viewer_html(view, label), off
        copy = Path(tempfile.mkdtemp(prefix="source-")) / original.name
        copy.write_bytes(original.read_bytes())
        name = original.name if len(original.name) <= 48 else original.name[:47] + "…"
        return viewer_fmt.viewer_html(view, label), gr.update(
            value=str(copy), interactive=True, label=f"Download the original file ({name})"
        )

    def export(conversation_json: str) -> dict[str, Any]:
        """Export a conversation as Markdown and DOCX.

        `conversation_json` is a JSON list of answer objects as /ask returns them (question,
        answer, citations, index_generation, answered_at). Returns {"filename": stem,
        "markdown": text, "docx_base64": the .docx file, base64-encoded}: each question, its
        answer and its numbered references (title, section, page, quoted passage), with the
        export date and the index generation(s) the answers came from.
        """
        try:
            result = service.export(conversation_json)
        except ExportError as exc:
            raise gr.Error(_sentence(str(exc)), print_exception=False) from exc
        return {
            "filename": result.filename,
            "markdown": result.markdown,
            "docx_base64": base64.b64encode(result.docx).decode("ascii"),
        }

    def ask(
        question: str, history_json: str = "[]", generator: str = "extractive"
    ) -> dict[str, Any]:
        """Answer a question from the indexed documents.

        Returns the answer object: question, answer (text with [n] markers), refused,
        sentences, citations (n, doc_id, title, section, page, chunk_id, quote, score),
        generator, timings_ms, rewritten_query, notice, closest, refusal_reason.
        `history_json` is a JSON list of {"role": "user"|"assistant", "content": text}.
        """
        try:
            return service.ask(question, history_json, generator)
        except AskError as exc:  # API only (no toast): the message stays plain text
            raise gr.Error(str(exc), print_exception=False) from exc

    # ------------------------------------------------------------------ layout
    docs = service.documents()
    doc_choices = fmt.document_choices(docs)
    # each registered generator's `label` (assistant.generators), in registration order
    generator_choices = [(label, name) for name, label in generators.labels().items()]

    with AssistantBlocks(title="Inspection Assistant", analytics_enabled=False) as demo:
        messages_state = gr.State([])
        turns_state = gr.State([])
        records_state = gr.State([])

        # first stop of the Tab order: straight to the question box (WCAG 2.4.1 bypass blocks)
        gr.HTML(
            '<a class="skip-link" href="#question">Skip to the question box</a>',
            elem_id="skip",
            padding=False,
        )
        # screen-reader announcements (visually hidden; roles set by the page script)
        answer_live = gr.HTML("", elem_id="answer-live", padding=False)
        answer_alert = gr.HTML("", elem_id="answer-alert", padding=False)

        gr.Markdown(
            "# Inspection Assistant\n"
            "Answers questions about the indexed inspection frameworks and equality guidance. "
            "Every sentence cites the passage it comes from; if the documents don't cover a "
            "question, it says so.",
            elem_classes=["app-header"],
        )
        # `serve` indexes stale files in the background: say so until it is done
        status_text = indexing.message() if indexing is not None else ""
        index_status = gr.Markdown(status_text, visible=bool(status_text), elem_id="index-status")
        status_timer = gr.Timer(STATUS_POLL_S, active=bool(indexing and indexing.busy))
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=360):
                        with gr.Row():
                            generator = gr.Dropdown(
                                generator_choices,
                                value=settings.generator,
                                label="Generator",
                                elem_id="generator",
                                scale=2,
                            )
                            doc_types = gr.Dropdown(
                                list(DOC_TYPES),
                                value=[],
                                multiselect=True,
                                label="Document types",
                                elem_id="doc-types",
                                scale=2,
                            )
                            doc_filter = gr.Dropdown(
                                doc_choices,
                                value=[],
                                multiselect=True,
                                label="Documents",
                                elem_id="doc-filter",
                                scale=3,
                            )
                        chatbot = gr.Chatbot(
                            label="Conversation",
                            elem_id="chatbot",
                            height=440,
                            buttons=["copy"],
                            feedback_options=None,
                            latex_delimiters=[],
                            placeholder="Ask a question about the documents, or pick an "
                            "example below.",
                        )
                        with gr.Row(elem_id="feedback-row", equal_height=True):
                            gr.Markdown("Latest answer:", elem_classes=["examples-group"])
                            up = gr.Button(
                                "Helpful", size="sm", scale=0, min_width=110, elem_id="thumbs-up"
                            )
                            down = gr.Button(
                                "Not helpful",
                                size="sm",
                                scale=0,
                                min_width=130,
                                elem_id="thumbs-down",
                            )
                            comment = gr.Textbox(
                                label="Feedback comment",
                                show_label=False,
                                container=False,
                                placeholder="Optional comment",
                                lines=1,
                                scale=3,
                                elem_id="feedback-comment",
                            )
                            feedback_status = gr.Markdown("", elem_id="feedback-status")
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(
                                label="Question",
                                show_label=False,
                                container=False,
                                placeholder="Ask a question about the documents…",
                                lines=1,
                                max_lines=5,
                                scale=6,
                                elem_id="question",
                            )
                            send = gr.Button(
                                "Send",
                                variant="primary",
                                size="md",
                                scale=0,
                                min_width=100,
                                elem_id="send",
                            )
                            new_chat = gr.Button(
                                "New conversation",
                                size="md",
                                scale=0,
                                min_width=170,
                                elem_id="new-chat",
                            )
                        with gr.Row(equal_height=True, elem_id="export-row"):
                            export_btn = gr.Button(
                                "Export conversation",
                                size="sm",
                                scale=0,
                                min_width=170,
                                elem_id="export",
                            )
                            export_md = gr.DownloadButton(
                                "Download Markdown",
                                size="sm",
                                scale=0,
                                min_width=170,
                                interactive=False,
                                elem_id="export-md",
                            )
                            export_docx = gr.DownloadButton(
                                "Download Word (DOCX)",
                                size="sm",
                                scale=0,
                                min_width=190,
                                interactive=False,
                                elem_id="export-docx",
                            )
                        example_buttons: list[tuple[Any, str]] = []
                        with gr.Row():
                            for group, items in EXAMPLES.items():
                                with gr.Column(min_width=200):
                                    gr.Markdown(group, elem_classes=["examples-group"])
                                    for text in items:
                                        btn = gr.Button(
                                            text,
                                            size="sm",
                                            variant="secondary",
                                            elem_classes=["example-btn"],
                                        )
                                        example_buttons.append((btn, text))
                    with gr.Column(scale=2, min_width=300):
                        gr.Markdown("## Sources", elem_classes=["sources-heading"])
                        sources = gr.HTML(fmt.sources_panel_html([]), elem_id="sources-panel")
                        viewer = gr.HTML(viewer_fmt.EMPTY, elem_id="viewer")
                        viewer_download = gr.DownloadButton(
                            "Download the original file",
                            size="sm",
                            interactive=False,
                            elem_id="viewer-download",
                        )
                        # driven by the page script when a card's "Open source" is pressed
                        viewer_ref = gr.Textbox(
                            label="Source to open", visible="hidden", elem_id="viewer-ref"
                        )
                        viewer_open = gr.Button(
                            "Open the source", visible="hidden", elem_id="viewer-open"
                        )
                        with gr.Accordion("Export preview", open=True, elem_id="export-box"):
                            export_preview = gr.Markdown(
                                "Export the conversation to see its Markdown here.",
                                elem_id="export-preview",
                            )

            with gr.Tab("Documents", id="documents"):
                docs_table = gr.Dataframe(
                    value=fmt.document_rows(docs),
                    headers=fmt.DOCUMENT_HEADERS,
                    datatype=fmt.DOCUMENT_TYPES,
                    interactive=False,
                    wrap=True,
                    column_widths=fmt.DOCUMENT_WIDTHS,
                    elem_id="docs-table",
                    label="Indexed documents",
                )
                with gr.Row(equal_height=False):
                    with gr.Column():
                        files = gr.File(
                            label="Add documents (" + " ".join(sorted(SUPPORTED_SUFFIXES)) + ")",
                            file_count="multiple",
                            # no file_types: Gradio's own type check puts the file name into
                            # its toast as HTML; `warn_unsupported` checks with the name escaped
                            elem_id="upload",
                        )
                        add_btn = gr.Button(
                            "Add to library and index", variant="primary", elem_id="add-docs"
                        )
                    with gr.Column():
                        delete_pick = gr.Dropdown(
                            doc_choices,
                            value=None,
                            label="Document to delete",
                            elem_id="delete-pick",
                        )
                        delete_btn = gr.Button(
                            "Delete document…", variant="stop", elem_id="delete-doc"
                        )
                        # deleting asks first; the question sits right after the button, so
                        # it is also the next keyboard stop
                        with gr.Group(visible=False, elem_id="delete-confirm-box") as confirm_box:
                            confirm_text = gr.Markdown("", elem_id="delete-question")
                            with gr.Row():
                                confirm_yes = gr.Button(
                                    "Yes, delete it", variant="stop", elem_id="delete-confirm"
                                )
                                confirm_no = gr.Button("Cancel", elem_id="delete-cancel")
                        gr.Markdown(
                            f"Uploads are limited to {settings.max_file_mb} MB per file. "
                            "Deleting removes the file from the corpus folder and the index."
                        )
                library_report = gr.HTML("", elem_id="library-report")
                rejected_now = service.rejected()
                rejected_box = gr.HTML(
                    fmt.rejected_html(rejected_now, service.unindexed()), elem_id="rejected-files"
                )
                with gr.Row(equal_height=False):
                    with gr.Column():
                        rejected_pick = gr.Dropdown(
                            fmt.rejected_choices(rejected_now),
                            value=None,
                            label="Rejected file to delete",
                            elem_id="rejected-pick",
                        )
                        rejected_btn = gr.Button(
                            "Delete rejected file…", variant="stop", elem_id="delete-rejected"
                        )
                        # same confirm-first pattern as deleting a document
                        with gr.Group(
                            visible=False, elem_id="rejected-confirm-box"
                        ) as rejected_confirm_box:
                            rejected_question = gr.Markdown("", elem_id="rejected-question")
                            with gr.Row():
                                rejected_yes = gr.Button(
                                    "Yes, delete the rejected file",
                                    variant="stop",
                                    elem_id="rejected-confirm",
                                )
                                rejected_no = gr.Button("Cancel", elem_id="rejected-cancel")
                    gr.Column()  # keeps the picker half-width, aligned with the one above

            with gr.Tab("Criteria", id="criteria"):
                gr.Markdown(
                    "Criteria, grade-descriptor statements, expectations and principles in the "
                    "documents that apply to a topic, each quoted with its source."
                )
                build_criteria_tab(gr, settings, service.assistant.retriever, private)

            with gr.Tab("PSED obligations", id="psed"):
                gr.Markdown(
                    "Each aim of the public sector equality duty and each protected "
                    "characteristic, with the passages of the indexed documents that address "
                    "it - or a clear *no passage found*. Export as CSV or Markdown."
                )
                build_psed_tab(gr, settings, service.assistant.retriever, private)

        # -------------------------------------------------------------- events
        chat_inputs = [
            question,
            messages_state,
            turns_state,
            records_state,
            generator,
            doc_types,
            doc_filter,
        ]
        # the chatbot and its State copy get the same messages, so the chatbot is never read back
        chat_outputs = [
            chatbot,
            messages_state,
            sources,
            turns_state,
            records_state,
            question,
            feedback_status,
            answer_live,
            answer_alert,
        ]
        for trigger in (send.click, question.submit):
            trigger(respond, chat_inputs, chat_outputs, **private)
        for btn, text in example_buttons:
            btn.click(lambda t=text: t, None, question, queue=False, **private).then(
                respond, chat_inputs, chat_outputs, **private
            )
        new_chat.click(new_conversation, None, chat_outputs, queue=False, **private)
        # the chatbot's own trash button must forget the conversation too, not just hide it
        chatbot.clear(new_conversation, None, chat_outputs, queue=False, **private)

        def feedback_up(r: Any, c: str, request: gr.Request) -> tuple[str, str]:
            return give_feedback(r, c, "up", request)

        def feedback_down(r: Any, c: str, request: gr.Request) -> tuple[str, str]:
            return give_feedback(r, c, "down", request)

        # Gradio passes the request by type hint; `gr` is local here, so give it the class
        for handler in (feedback_up, feedback_down):
            handler.__annotations__["request"] = gr.Request

        up.click(
            feedback_up,
            [records_state, comment],
            [feedback_status, comment],
            **private,
        )
        down.click(
            feedback_down,
            [records_state, comment],
            [feedback_status, comment],
            **private,
        )

        rejected_outputs = [rejected_box, rejected_pick]
        library_outputs = [docs_table, doc_filter, delete_pick, *rejected_outputs]
        files.upload(warn_unsupported, files, None, **private)  # queued: toasts need it
        add_btn.click(
            upload,
            files,
            [library_report, *library_outputs, files],
            concurrency_limit=1,
            concurrency_id="library",
            **private,
        )
        delete_btn.click(
            confirm_delete, delete_pick, [confirm_box, confirm_text], queue=False, **private
        )
        confirm_no.click(
            lambda: gr.update(visible=False), None, confirm_box, queue=False, **private
        )
        # a new pick withdraws a pending question, so "Yes" always means the document named
        delete_pick.change(
            lambda: gr.update(visible=False), None, confirm_box, queue=False, **private
        )
        confirm_yes.click(
            delete,
            delete_pick,
            [library_report, *library_outputs, confirm_box],
            concurrency_limit=1,
            concurrency_id="library",
            **private,
        )
        rejected_btn.click(
            confirm_delete_rejected,
            rejected_pick,
            [rejected_confirm_box, rejected_question],
            queue=False,
            **private,
        )
        # Cancel, or a new pick, withdraws the question: "Yes" always means the file named
        for trigger in (rejected_no.click, rejected_pick.change):
            trigger(
                lambda: gr.update(visible=False), None, rejected_confirm_box, queue=False, **private
            )
        rejected_yes.click(
            delete_rejected,
            rejected_pick,
            [*rejected_outputs, rejected_confirm_box],
            concurrency_limit=1,
            concurrency_id="library",
            **private,
        )
        demo.load(refresh_library, None, library_outputs, **private)

        def index_status_update() -> tuple[Any, Any, Any, Any, Any]:
            """The status line; once the build is done, the timer stops and the library and
            filters show the new documents."""
            text = indexing.message() if indexing is not None else ""
            busy = bool(indexing and indexing.busy)
            library = (gr.update(),) * 3 if busy else refresh_library()
            return (gr.update(value=text, visible=bool(text)), gr.Timer(active=busy), *library)

        status_timer.tick(
            index_status_update,
            None,
            [index_status, status_timer, *library_outputs],
            queue=False,
            **private,
        )

        viewer_open.click(
            open_viewer, [viewer_ref, records_state], [viewer, viewer_download], **private
        )
        export_btn.click(
            export_conversation,
            records_state,
            [export_md, export_docx, export_preview],
            **private,
        )

        gr.api(ask, api_name="ask")
        gr.api(export, api_name="export")

    demo.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    return demo


# ----------------------------------------------------------------------------- serving
def launch(
    settings: Settings, host: str | None = None, port: int | None = None, insecure: bool = False
) -> None:
    """Serve the UI until interrupted (loopback by default; elsewhere only with a password)."""
    _offline_env()
    host = host or settings.host or "127.0.0.1"
    port = port or settings.port
    auth = resolve_auth(settings)
    check_exposure(host, auth, insecure)
    from assistant.answer import Assistant
    from assistant.index import IndexProblem
    from ui.startup import BackgroundIndex

    assistant = Assistant(settings)
    # load the embedder and the index now, so the first question is not the slow one
    assistant.retriever.embedder.embed_query("warm up")
    try:
        _ = assistant.retriever.index
    except IndexProblem as exc:  # no index yet, or the Chroma server is down: serve anyway
        log.warning("starting without a readable index: %s", exc)
    # stale files are indexed while the page already answers from the current generation
    indexing = BackgroundIndex(settings).start()
    if indexing.busy:
        print(indexing.message(), flush=True)
    demo = create_app(settings, assistant, indexing=indexing)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="Inspection Assistant: sign in to continue." if auth else None,
        insecure=insecure,
    )


def _sentence(message: str) -> str:
    """A library message as a sentence for the page ("the conversation…" -> "The…")."""
    message = message.strip()
    return message[:1].upper() + message[1:] if message else "Unknown error"


def start_line(url: str) -> str:
    """The single line `assistant serve` prints once the page is up."""
    return f"Inspection Assistant is ready at {url} (Ctrl+C to stop)"
