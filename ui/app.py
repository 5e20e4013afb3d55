"""The Gradio web UI: chat with cited answers, a sources panel, the document library, feedback,
criteria and PSED tabs, and a JSON API (``/ask``, ``/export``).

`create_app(settings)` assembles the page from one builder per tab (ui/chat_tab.py,
ui/documents_tab.py, ui/tabs.py) and the API (ui/api.py), handing each the `Shared` state
(ui/page.py) that crosses tabs; `launch(settings)` is the entry point of `assistant serve`: it
sets the offline flags, checks the network exposure (a non-loopback address needs a password)
and serves the page at once, bringing the index up to date in the background (ui/startup.py) -
the page says so in a status line until it is done. Gradio is imported only inside these
functions, so importing this module is cheap and has no side effects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.offline import go_offline
from assistant.settings import Settings
from ui.security import is_loopback

if TYPE_CHECKING:
    import gradio as gr

    from assistant.answer import Assistant
    from ui.page import Shared
    from ui.service import UIService
    from ui.startup import BackgroundIndex

log = logging.getLogger(__name__)

QUEUE_CONCURRENCY = 4  # answers computed at once; more wait in the queue (CPU-bound work)
QUEUE_MAX_SIZE = 64  # beyond this, new requests are rejected instead of waiting forever
STATUS_POLL_S = 2.0  # how often an open page asks whether the background build finished


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
    until the build is done. The environment is left alone (see `launch`): a caller that
    builds the app directly is expected to have set the offline flags it wants.
    """
    import gradio as gr

    from ui import format as fmt
    from ui.api import register_api
    from ui.chat_tab import build_chat_tab, wire_chat, wire_sources
    from ui.documents_tab import build_documents_tab, library_refreshers, wire_documents
    from ui.service import UIService
    from ui.tabs import build_criteria_tab, build_psed_tab

    service = UIService(settings, assistant, indexing=indexing)
    docs = service.documents()
    doc_choices = fmt.document_choices(docs)
    blocks = _blocks_class(gr, settings, launch_defaults(settings))

    with blocks(title="Inspection Assistant", analytics_enabled=False) as demo:
        shared = _page_top(gr, service, library_refreshers(gr, service))
        index_status, status_timer = _index_status_line(gr, indexing)
        retriever = service.assistant.retriever
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat = build_chat_tab(gr, shared, doc_choices)
            with gr.Tab("Documents", id="documents"):
                documents = build_documents_tab(gr, shared, docs, doc_choices)
            with gr.Tab("Criteria", id="criteria"):
                gr.Markdown(
                    "Criteria, grade-descriptor statements, expectations and principles in the "
                    "documents that apply to a topic, each quoted with its source."
                )
                build_criteria_tab(gr, settings, retriever, shared.private)
            with gr.Tab("PSED obligations", id="psed"):
                gr.Markdown(
                    "Each aim of the public sector equality duty and each protected "
                    "characteristic, with the passages of the indexed documents that address "
                    "it - or a clear *no passage found*. Export as CSV or Markdown."
                )
                build_psed_tab(gr, settings, retriever, shared.private)

        # events, in the order they have always been registered (it fixes the fn indices)
        wire_chat(gr, shared, chat)
        library_outputs = documents.library_outputs(chat.doc_filter)
        wire_documents(gr, shared, documents, library_outputs)
        demo.load(shared.refresh_library, None, library_outputs, **shared.private)
        _wire_index_status(gr, shared, indexing, index_status, status_timer, library_outputs)
        wire_sources(gr, shared, chat)
        register_api(gr, service)

    demo.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    return demo


def _blocks_class(gr: Any, settings: Settings, defaults: dict[str, Any]) -> type[gr.Blocks]:
    """A Blocks subclass whose launch() applies `defaults` and the exposure rule."""

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

    return AssistantBlocks


def _page_top(
    gr: Any, service: UIService, refreshers: tuple[Callable[..., Any], Callable[..., Any]]
) -> Shared:
    """The session state, the skip link, the live regions and the title, in page order; the
    state, regions and refreshers are returned as the tabs' `Shared`."""
    from ui.page import Shared

    messages, turns, records = gr.State([]), gr.State([]), gr.State([])
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
    refresh_library, refresh_rejected = refreshers
    return Shared(
        settings=service.settings,
        service=service,
        private={"api_visibility": "private"},
        messages=messages,
        turns=turns,
        records=records,
        answer_live=answer_live,
        answer_alert=answer_alert,
        refresh_library=refresh_library,
        refresh_rejected=refresh_rejected,
    )


def _index_status_line(gr: Any, indexing: BackgroundIndex | None) -> tuple[Any, Any]:
    """`serve` indexes stale files in the background: a line says so until it is done, and
    a timer polls it meanwhile."""
    status_text = indexing.message() if indexing is not None else ""
    index_status = gr.Markdown(status_text, visible=bool(status_text), elem_id="index-status")
    status_timer = gr.Timer(STATUS_POLL_S, active=bool(indexing and indexing.busy))
    return index_status, status_timer


def _wire_index_status(
    gr: Any,
    shared: Shared,
    indexing: BackgroundIndex | None,
    index_status: Any,
    status_timer: Any,
    library_outputs: list[Any],
) -> None:
    """Each tick updates the status line; the last one also refreshes the library views."""

    def index_status_update() -> tuple[Any, Any, Any, Any, Any]:
        """The status line; once the build is done, the timer stops and the library and
        filters show the new documents."""
        text = indexing.message() if indexing is not None else ""
        busy = bool(indexing and indexing.busy)
        library = (gr.update(),) * 3 if busy else shared.refresh_library()
        return (gr.update(value=text, visible=bool(text)), gr.Timer(active=busy), *library)

    status_timer.tick(
        index_status_update,
        None,
        [index_status, status_timer, *library_outputs],
        queue=False,
        **shared.private,
    )


# ----------------------------------------------------------------------------- serving
def launch(
    settings: Settings, host: str | None = None, port: int | None = None, insecure: bool = False
) -> None:
    """Serve the UI until interrupted (loopback by default; elsewhere only with a password).

    The entry point of `assistant serve`, and so the one place that writes the environment:
    the offline flags are set here, once, before Gradio, the embedder or Chroma is imported.
    Forced, not defaulted: analytics and hub calls would send data off this machine.
    """
    go_offline()
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


def start_line(url: str) -> str:
    """The single line `assistant serve` prints once the page is up."""
    return f"Inspection Assistant is ready at {url} (Ctrl+C to stop)"
