"""The source viewer's HTML: a cited document at its place (pure functions, no Gradio).

The viewer shows the document's title and where the passage is, a "Back to the answer" button
(the page script returns focus to the card that opened it), then either the PDF page as an
image with the passage highlighted, or the passage in its section with the text around it,
the quoted words marked. Everything from a document is escaped with `ui.format.esc_passage`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from assistant.source_view import SourceView
from ui.format import esc, highlight_quote

FORMAT_NAMES = {"pdf": "PDF", "docx": "Word", "html": "Web page", "md": "Markdown", "txt": "Text"}
EMPTY = (
    '<div class="viewer-empty">Choose <b>Open source</b> on a source card to see the passage '
    "in its document.</div>"
)


def find_citation(records: Sequence[Mapping[str, Any]], ref: str) -> dict[str, Any] | None:
    """The citation (or closest passage) a card's "uid:n" / "uid:cN" ref points to."""
    uid, _, key = str(ref or "").partition(":")
    for record in records or []:
        if record.get("uid") != uid:
            continue
        answer = record.get("answer") or {}
        if key.startswith("c") and key[1:].isdigit():
            closest = list(answer.get("closest") or [])
            i = int(key[1:])
            if 1 <= i <= len(closest):
                item = dict(closest[i - 1])
                item.setdefault("quote", "")
                return item
            return None
        if key.isdigit():
            for c in answer.get("citations") or []:
                if int(c.get("n", -1)) == int(key):
                    return dict(c)
    return None


def _place(view: SourceView) -> str:
    bits = [FORMAT_NAMES.get(view.format, view.format.upper() or "Document")]
    if view.section and view.section != view.title:
        bits.append(f"section “{esc(view.section)}”")
    page = view.page_shown or view.page
    if page:
        bits.append(f"page {page}" + (f" of {view.pages}" if view.pages else ""))
    return " · ".join(bits)


def viewer_html(view: SourceView, label: str = "") -> str:
    """The viewer for one citation; `label` is the card's "[n]" for the heading."""
    title = esc(view.title)
    head = (
        f'<h2 class="viewer-title">Source {esc(label)} {title}</h2>'
        f'<p class="viewer-place">{_place(view)}</p>'
        '<p class="viewer-actions"><button type="button" class="viewer-back">'
        "Back to the answer</button></p>"
    )
    parts = [f'<div class="viewer" data-chunk="{esc(view.chunk_id)}">', head]
    if view.page_png:
        page = view.page_shown or view.page
        state = "highlighted" if view.highlighted else "not found on the page image; see below"
        data = base64.b64encode(view.page_png).decode("ascii")
        parts.append(
            f'<figure class="viewer-page"><img src="data:image/png;base64,{data}" '
            f'alt="Page {page} of {title}; the cited passage is {state}.">'
            f"<figcaption>Page {page}: the cited passage is {state}.</figcaption></figure>"
        )
    parts.append('<div class="viewer-text">')
    section = None
    for passage in view.passages:
        if passage.section != section:
            section = passage.section
            parts.append(f'<h3 class="viewer-section">{esc(section or view.title)}</h3>')
        page = f' <span class="viewer-pageno">page {passage.page}</span>' if passage.page else ""
        if passage.cited:
            body = highlight_quote(passage.text, view.quote)
            parts.append(f'<div class="viewer-passage cited">{body}{page}</div>')
        else:
            body = highlight_quote(passage.text, "")
            parts.append(f'<div class="viewer-passage">{body}{page}</div>')
    parts.append("</div>")
    if view.warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in view.warnings)
        parts.append(
            f'<div class="viewer-warnings"><b>Ingestion warnings</b><ul>{items}</ul></div>'
        )
    parts.append("</div>")
    return "".join(parts)


def viewer_error_html(message: str) -> str:
    """A viewer that could not open its source: the reason, announced assertively."""
    return (
        f'<div class="viewer"><h2 class="viewer-title">Source not available</h2>'
        f'<p role="alert">{esc(message)}</p>'
        '<p class="viewer-actions"><button type="button" class="viewer-back">'
        "Back to the answer</button></p></div>"
    )
