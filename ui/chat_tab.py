"""The "Chat" tab: the question box and streamed, cited answers, feedback on the latest answer,
the conversation export, and the sources panel with its source viewer.

`build_chat_tab` lays the tab out (inside `create_app`'s ``gr.Tab``) and returns its
components; `wire_chat` and `wire_sources` attach the events once every tab exists, in the
order `create_app` has always registered them. The callbacks only call `UIService` (and so the
library), never the database, and turn its results into component updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant import generators
from assistant.settings import Settings
from ui import format as fmt
from ui import viewer as viewer_fmt
from ui.page import Shared, scratch_dir

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


@dataclass
class ChatTab:
    """The Chat tab's components that events read or write."""

    generator: Any
    doc_types: Any
    doc_filter: Any  # also refreshed by the Documents tab (Shared.refresh_library)
    chatbot: Any
    up: Any
    down: Any
    comment: Any
    feedback_status: Any
    question: Any
    send: Any
    new_chat: Any
    export_btn: Any
    export_md: Any
    export_docx: Any
    example_buttons: list[tuple[Any, str]]
    sources: Any
    viewer: Any
    viewer_download: Any
    viewer_ref: Any
    viewer_open: Any
    export_preview: Any


# ----------------------------------------------------------------------------- layout
def build_chat_tab(gr: Any, shared: Shared, doc_choices: list[tuple[str, str]]) -> ChatTab:
    """The conversation column (filters, chat, feedback, question, export, examples) beside
    the sources column (cards, source viewer, export preview)."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            generator, doc_types, doc_filter = _filters_row(gr, shared.settings, doc_choices)
            chatbot = gr.Chatbot(
                label="Conversation",
                elem_id="chatbot",
                height=440,
                buttons=["copy"],
                feedback_options=None,
                latex_delimiters=[],
                placeholder="Ask a question about the documents, or pick an example below.",
            )
            up, down, comment, feedback_status = _feedback_row(gr)
            question, send, new_chat = _question_row(gr)
            export_btn, export_md, export_docx = _export_row(gr)
            example_buttons = _example_buttons(gr)
        with gr.Column(scale=2, min_width=300):
            sources, viewer, viewer_download, viewer_ref, viewer_open = _sources_column(gr)
            with gr.Accordion("Export preview", open=True, elem_id="export-box"):
                export_preview = gr.Markdown(
                    "Export the conversation to see its Markdown here.",
                    elem_id="export-preview",
                )
    return ChatTab(
        generator=generator,
        doc_types=doc_types,
        doc_filter=doc_filter,
        chatbot=chatbot,
        up=up,
        down=down,
        comment=comment,
        feedback_status=feedback_status,
        question=question,
        send=send,
        new_chat=new_chat,
        export_btn=export_btn,
        export_md=export_md,
        export_docx=export_docx,
        example_buttons=example_buttons,
        sources=sources,
        viewer=viewer,
        viewer_download=viewer_download,
        viewer_ref=viewer_ref,
        viewer_open=viewer_open,
        export_preview=export_preview,
    )


def _filters_row(
    gr: Any, settings: Settings, doc_choices: list[tuple[str, str]]
) -> tuple[Any, Any, Any]:
    """Generator, document-type and document pickers above the conversation."""
    from assistant.documents import DOC_TYPES

    # each registered generator's `label` (assistant.generators), in registration order
    generator_choices = [(label, name) for name, label in generators.labels().items()]
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
    return generator, doc_types, doc_filter


def _toolbar_button(kind: Any, label: str, min_width: int, elem_id: str, **options: Any) -> Any:
    """A button of a toolbar row: its own width (scale 0), never narrower than `min_width`."""
    options.setdefault("size", "sm")
    return kind(label, scale=0, min_width=min_width, elem_id=elem_id, **options)


def _toolbar_textbox(
    gr: Any, label: str, placeholder: str, scale: int, elem_id: str, **options: Any
) -> Any:
    """A one-line text box of a toolbar row: no frame and no visible label (the placeholder
    says what goes in), the label kept for screen readers."""
    return gr.Textbox(
        label=label,
        show_label=False,
        container=False,
        placeholder=placeholder,
        lines=1,
        scale=scale,
        elem_id=elem_id,
        **options,
    )


def _feedback_row(gr: Any) -> tuple[Any, Any, Any, Any]:
    """Helpful / Not helpful, an optional comment and the status line, for the latest answer."""
    with gr.Row(elem_id="feedback-row", equal_height=True):
        gr.Markdown("Latest answer:", elem_classes=["examples-group"])
        up = _toolbar_button(gr.Button, "Helpful", 110, "thumbs-up")
        down = _toolbar_button(gr.Button, "Not helpful", 130, "thumbs-down")
        comment = _toolbar_textbox(
            gr, "Feedback comment", "Optional comment", 3, "feedback-comment"
        )
        status = gr.Markdown("", elem_id="feedback-status")
    return up, down, comment, status


def _question_row(gr: Any) -> tuple[Any, Any, Any]:
    """The question box with Send and New conversation."""
    with gr.Row(equal_height=True):
        question = _toolbar_textbox(
            gr, "Question", "Ask a question about the documents…", 6, "question", max_lines=5
        )
        send = _toolbar_button(gr.Button, "Send", 100, "send", variant="primary", size="md")
        new_chat = _toolbar_button(gr.Button, "New conversation", 170, "new-chat", size="md")
    return question, send, new_chat


def _export_row(gr: Any) -> tuple[Any, Any, Any]:
    """Export conversation, then its two downloads (enabled once there is an export)."""
    with gr.Row(equal_height=True, elem_id="export-row"):
        export_btn = _toolbar_button(gr.Button, "Export conversation", 170, "export")
        export_md = _toolbar_button(
            gr.DownloadButton, "Download Markdown", 170, "export-md", interactive=False
        )
        export_docx = _toolbar_button(
            gr.DownloadButton, "Download Word (DOCX)", 190, "export-docx", interactive=False
        )
    return export_btn, export_md, export_docx


def _example_buttons(gr: Any) -> list[tuple[Any, str]]:
    """One column of example questions per group; each button asks its question."""
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
    return example_buttons


def _sources_column(gr: Any) -> tuple[Any, Any, Any, Any, Any]:
    """The source cards, the source viewer and its download, and the viewer's hidden trigger."""
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
    viewer_ref = gr.Textbox(label="Source to open", visible="hidden", elem_id="viewer-ref")
    viewer_open = gr.Button("Open the source", visible="hidden", elem_id="viewer-open")
    return sources, viewer, viewer_download, viewer_ref, viewer_open


# ----------------------------------------------------------------------------- events
def wire_chat(gr: Any, shared: Shared, chat: ChatTab) -> None:
    """Asking (Send, Enter, an example), starting afresh, and feedback on the latest answer."""
    respond = _respond(gr, shared)
    private = shared.private
    chat_inputs = [
        chat.question,
        shared.messages,
        shared.turns,
        shared.records,
        chat.generator,
        chat.doc_types,
        chat.doc_filter,
    ]
    # the chatbot and its State copy get the same messages, so the chatbot is never read back
    chat_outputs = [
        chat.chatbot,
        shared.messages,
        chat.sources,
        shared.turns,
        shared.records,
        chat.question,
        chat.feedback_status,
        shared.answer_live,
        shared.answer_alert,
    ]
    for trigger in (chat.send.click, chat.question.submit):
        trigger(respond, chat_inputs, chat_outputs, **private)
    for btn, text in chat.example_buttons:
        btn.click(lambda t=text: t, None, chat.question, queue=False, **private).then(
            respond, chat_inputs, chat_outputs, **private
        )

    def new_conversation() -> tuple[Any, ...]:
        return [], [], fmt.sources_panel_html([]), [], [], "", "", "", ""

    chat.new_chat.click(new_conversation, None, chat_outputs, queue=False, **private)
    # the chatbot's own trash button must forget the conversation too, not just hide it
    chat.chatbot.clear(new_conversation, None, chat_outputs, queue=False, **private)
    _wire_feedback(gr, shared, chat)


def _respond(gr: Any, shared: Shared) -> Any:
    """The chat callback: streams one answer into the conversation."""
    service = shared.service

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

    return respond


def _wire_feedback(gr: Any, shared: Shared, chat: ChatTab) -> None:
    """Helpful / Not helpful record the latest answer with the comment (rate-limited)."""
    from ui.security import toast_text
    from ui.service import FeedbackLimited

    service = shared.service

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

    def feedback_up(r: Any, c: str, request: gr.Request) -> tuple[str, str]:
        return give_feedback(r, c, "up", request)

    def feedback_down(r: Any, c: str, request: gr.Request) -> tuple[str, str]:
        return give_feedback(r, c, "down", request)

    # Gradio passes the request by type hint; `gr` is local here, so give it the class
    for handler in (feedback_up, feedback_down):
        handler.__annotations__["request"] = gr.Request

    for button, handler in ((chat.up, feedback_up), (chat.down, feedback_down)):
        button.click(
            handler,
            [shared.records, chat.comment],
            [chat.feedback_status, chat.comment],
            **shared.private,
        )


def wire_sources(gr: Any, shared: Shared, chat: ChatTab) -> None:
    """A source card's "Open source" fills the viewer; Export builds the two downloads."""
    from assistant.export import ExportError
    from assistant.source_view import SourceError

    service = shared.service

    def open_viewer(ref: str, records: list[dict[str, Any]]) -> tuple[Any, Any]:
        """Show the document behind a source card, with a download of the original file."""
        off = gr.update(value=None, interactive=False, label="Download the original file")
        try:
            view, label = service.source(ref, records or [])
        except SourceError as exc:
            return viewer_fmt.viewer_error_html(fmt.sentence(str(exc))), off
        original = Path(view.path)
        if not original.is_file():
            return viewer_fmt.viewer_html(view, label), off
        copy = scratch_dir("source") / original.name
        copy.write_bytes(original.read_bytes())
        name = original.name if len(original.name) <= 48 else original.name[:47] + "…"
        return viewer_fmt.viewer_html(view, label), gr.update(
            value=str(copy), interactive=True, label=f"Download the original file ({name})"
        )

    def export_conversation(records: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
        """Build the Markdown and DOCX files of this session's answers and show a preview."""
        try:
            result = service.export(records or [])
        except ExportError as exc:
            raise gr.Error(fmt.sentence(str(exc)), print_exception=False) from exc
        folder = scratch_dir("export")
        md_path = folder / f"{result.filename}.md"
        docx_path = folder / f"{result.filename}.docx"
        md_path.write_text(result.markdown, encoding="utf-8")
        docx_path.write_bytes(result.docx)
        return (
            gr.update(value=str(md_path), interactive=True),
            gr.update(value=str(docx_path), interactive=True),
            gr.update(value=fmt.preview_markdown(result.markdown)),
        )

    chat.viewer_open.click(
        open_viewer,
        [chat.viewer_ref, shared.records],
        [chat.viewer, chat.viewer_download],
        **shared.private,
    )
    chat.export_btn.click(
        export_conversation,
        shared.records,
        [chat.export_md, chat.export_docx, chat.export_preview],
        **shared.private,
    )
