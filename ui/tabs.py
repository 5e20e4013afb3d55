"""The "Criteria" and "PSED obligations" tabs: renderers (pure, escaped HTML) and builders.

The builders are called inside `create_app`'s ``gr.Tabs()`` block, like those of the Chat
and Documents tabs (ui/chat_tab.py, ui/documents_tab.py); their callbacks call the
library (`find_criteria`, `psed_matrix`) with the app's shared retriever, never the database.
"""

from __future__ import annotations

import html
from typing import Any

from assistant.settings import Settings
from ui.page import scratch_dir

CRITERIA_EXAMPLES = ["learning culture", "workforce", "leadership", "equality issues in casework"]


def _e(text: Any) -> str:
    return html.escape(str(text or ""), quote=True)


def criteria_html(result: dict[str, Any]) -> str:
    """Criteria grouped by judgement area; every item quoted with its numbered source."""
    topic = _e(result.get("topic"))
    groups = result.get("groups") or []
    if not groups:
        return (
            f'<div class="criteria empty"><p>No criteria, expectations or principles in the '
            f"indexed documents match “{topic}”.</p></div>"
        )
    parts = [
        f'<div class="criteria"><p><b>{result.get("n_items", 0)}</b> statements for “{topic}”</p>'
    ]
    for group in groups:
        where = _e(group.get("title")) + (
            f" § {_e(group['section'])}" if group.get("section") else ""
        )
        parts.append(
            f'<section class="criteria-group"><h2>{_e(group.get("label"))}</h2>'
            f'<p class="where">{where}</p>'
        )
        if group.get("context"):
            parts.append(f"<blockquote>{_e(group['context'])}</blockquote>")
        parts.append("<ul>")
        for item in group.get("items", []):
            cut = "" if item.get("complete", True) else " <i>(quotation cut off in the source)</i>"
            parts.append(
                f'<li><span class="criterion">{_e(item.get("text"))}</span>{cut} '
                f'<span class="cite" title="{_e(item.get("chunk_id"))}">[{item.get("n")}]</span>'
                f" <small>{_e(item.get('kind', '').replace('_', ' '))}</small></li>"
            )
        parts.append("</ul></section>")
    parts.append("</div>")
    return "".join(parts)


def psed_html(matrix: dict[str, Any]) -> str:
    """The coverage matrix as a table: one row per aim or characteristic, ✓ or ✗."""
    rows = matrix.get("rows") or []
    head = (
        "<tr><th>PSED obligation</th><th>Kind</th><th>Addressed</th><th>Passages</th>"
        "<th>Relevance</th><th>Where</th><th>First passage</th></tr>"
    )
    body = []
    for r in rows:
        addressed = r.get("status") == "addressed"
        first = (r.get("passages") or [{}])[0]
        mark = "✓" if addressed else "✗ no passage found"
        quote = (
            f"“{_e(first.get('quote'))}” <small>[{_e(first.get('doc_id'))}]</small>"
            if addressed
            else "–"
        )
        body.append(
            f'<tr class="{"ok" if addressed else "missing"}"><td>{_e(r.get("label"))}</td>'
            f"<td>{_e(r.get('kind'))}</td><td>{mark}</td><td>{int(r.get('count', 0))}</td>"
            f"<td>{_e(r.get('relevance'))}</td><td>{_e('; '.join(r.get('sections', [])))}</td>"
            f"<td>{quote}</td></tr>"
        )
    summary = matrix.get("summary", {})
    missing = ", ".join(_e(x) for x in summary.get("not_found", [])) or "none"
    return (
        f'<div class="psed"><p>{summary.get("addressed", 0)} of {len(rows)} obligations '
        f"addressed · no passage found: {missing}</p>"
        f'<table class="psed-table">{head}{"".join(body)}</table></div>'
    )


def build_criteria_tab(gr: Any, settings: Settings, retriever: Any, private: dict) -> None:
    """Topic box → grouped criteria with citations."""
    from assistant.criteria import find_criteria
    from assistant.export import criteria_docx

    with gr.Row():
        topic = gr.Textbox(
            label="Topic", placeholder="e.g. learning culture", scale=4, elem_id="criteria-topic"
        )
        go = gr.Button("Find criteria", variant="primary", scale=1, elem_id="criteria-go")
    gr.Examples([[t] for t in CRITERIA_EXAMPLES], inputs=[topic], label="Topics")
    out = gr.HTML("", elem_id="criteria-out")
    docx_file = gr.DownloadButton(
        "Download Word (DOCX)", interactive=False, elem_id="criteria-docx"
    )

    def run(text: str) -> tuple[str, Any]:
        off = gr.update(value=None, interactive=False)
        if not (text or "").strip():
            return "<p>Type a topic, for example “learning culture”.</p>", off
        try:
            result = find_criteria(settings, text, retriever=retriever).to_dict()
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            return f"<p class='error' role='alert'>Could not list criteria: {_e(exc)}</p>", off
        path = scratch_dir("criteria") / "criteria.docx"
        path.write_bytes(criteria_docx(result))
        return criteria_html(result), gr.update(value=str(path), interactive=True)

    for trigger in (go.click, topic.submit):
        trigger(run, [topic], [out, docx_file], **private)


def build_psed_tab(gr: Any, settings: Settings, retriever: Any, private: dict) -> None:
    """Button → coverage matrix, with CSV and Markdown downloads."""
    from assistant.export import psed_docx
    from assistant.psed import psed_matrix

    go = gr.Button("Build the PSED coverage matrix", variant="primary", elem_id="psed-go")
    out = gr.HTML("", elem_id="psed-out")
    with gr.Row():
        # download buttons, not gr.File boxes: an empty File box is an unlabelled
        # aria-label'd div (an axe "serious" violation) and needs a mouse-sized target
        csv_file = gr.DownloadButton("Download CSV", interactive=False, elem_id="psed-csv")
        md_file = gr.DownloadButton("Download Markdown", interactive=False, elem_id="psed-md")
        docx_file = gr.DownloadButton(
            "Download Word (DOCX)", interactive=False, elem_id="psed-docx"
        )

    def run() -> tuple[str, Any, Any, Any]:
        try:
            matrix = psed_matrix(settings, retriever=retriever)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            off = gr.update(value=None, interactive=False)
            message = f"<p class='error' role='alert'>Could not build the matrix: {_e(exc)}</p>"
            return message, off, off, off
        folder = scratch_dir("psed")
        csv_path = folder / "psed-coverage.csv"
        md_path = folder / "psed-coverage.md"
        docx_path = folder / "psed-coverage.docx"
        data = matrix.to_dict()
        csv_path.write_text(matrix.to_csv(), encoding="utf-8")
        md_path.write_text(matrix.to_markdown(), encoding="utf-8")
        docx_path.write_bytes(psed_docx(data))
        return (
            psed_html(data),
            gr.update(value=str(csv_path), interactive=True),
            gr.update(value=str(md_path), interactive=True),
            gr.update(value=str(docx_path), interactive=True),
        )

    go.click(run, [], [out, csv_file, md_file, docx_file], **private)
