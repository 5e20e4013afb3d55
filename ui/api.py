"""The page's JSON API: ``/ask`` and ``/export``, the only endpoints listed on its API page.

Gradio documents each endpoint from its function's signature and docstring, so those are
written for an API user. Both call `UIService`, as the page's own callbacks do.
"""

from __future__ import annotations

import base64
from typing import Any

from ui.format import sentence
from ui.service import AskError, UIService


def register_api(gr: Any, service: UIService) -> None:
    """Add ``/ask`` and ``/export`` to the Blocks being built."""
    from assistant.export import ExportError

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
            raise gr.Error(sentence(str(exc)), print_exception=False) from exc
        return {
            "filename": result.filename,
            "markdown": result.markdown,
            "docx_base64": base64.b64encode(result.docx).decode("ascii"),
        }

    gr.api(ask, api_name="ask")
    gr.api(export, api_name="export")
