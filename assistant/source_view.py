"""The cited document at its place, for the UI's source viewer.

Given a cited chunk, `open_source` returns the passage with the chunks around it in document
order (the rest of its section and one passage either side), the original file's path for a
download, and - for a PDF - the cited page rendered as a PNG with the quoted passage
highlighted. It reads the live index (its chunks and manifest) and the original file, never the
vector database, and writes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE_SCALE = 1.5  # 108 dpi: readable in the viewer column, about 150-300 kB a page
MAX_AROUND = 6  # passages shown around the cited one, at most
_WINDOW = 6  # words per search window when a whole quote is not found on the page


class SourceError(ValueError):
    """The cited source cannot be shown; the message says why (meant for the user)."""


@dataclass
class Passage:
    """One chunk of the document as the viewer shows it."""

    chunk_id: str
    section: str
    page: int | None
    text: str
    cited: bool = False


@dataclass
class SourceView:
    """What the viewer needs to show one citation in its document."""

    doc_id: str
    title: str
    format: str
    path: str
    chunk_id: str
    section: str
    page: int | None
    quote: str
    passages: list[Passage] = field(default_factory=list)
    pages: int | None = None
    page_png: bytes | None = None  # PDF only: the cited page, passage highlighted
    page_shown: int | None = None  # the page the image shows (the quote may start on the next)
    highlighted: bool = False  # the quote was found and marked on the page image
    warnings: list[str] = field(default_factory=list)


def open_source(index: Any, chunk_id: str, quote: str = "") -> SourceView:
    """The document of `chunk_id` at that chunk (``index`` is an `assistant.index.Index`)."""
    position = getattr(index, "position", {}).get(chunk_id)
    if position is None:
        raise SourceError(
            "that passage is no longer in the index (the document was changed or removed); "
            "ask the question again"
        )
    chunk = index.chunks[position]
    entry = index.documents.get(chunk.doc_id) or {}
    order = list(entry.get("chunks") or [chunk_id])
    by_id = {cid: index.chunks[index.position[cid]] for cid in order if cid in index.position}
    at = order.index(chunk_id) if chunk_id in order else 0
    lo, hi = at, at
    # the cited chunk's whole section, plus one chunk either side, within MAX_AROUND
    while lo > 0 and by_id.get(order[lo - 1]) and by_id[order[lo - 1]].section == chunk.section:
        lo -= 1
    while (
        hi + 1 < len(order)
        and by_id.get(order[hi + 1])
        and (by_id[order[hi + 1]].section == chunk.section)
    ):
        hi += 1
    lo, hi = max(0, lo - 1, at - MAX_AROUND // 2), min(len(order) - 1, hi + 1, at + MAX_AROUND // 2)
    passages = [
        Passage(c.chunk_id, c.section, c.page, c.text, c.chunk_id == chunk_id)
        for c in (by_id.get(cid) for cid in order[lo : hi + 1])
        if c is not None
    ]
    view = SourceView(
        doc_id=chunk.doc_id,
        title=str(entry.get("title") or chunk.title or chunk.doc_id),
        format=str(entry.get("format") or Path(chunk.source or "").suffix.lstrip(".")),
        path=str(entry.get("path") or chunk.source or ""),
        chunk_id=chunk_id,
        section=chunk.section,
        page=chunk.page,
        quote=quote or chunk.text[:200],
        passages=passages,
        pages=entry.get("pages") if isinstance(entry.get("pages"), int) else None,
        warnings=[str(w) for w in entry.get("warnings") or []],
    )
    if view.format == "pdf" and view.page and Path(view.path).is_file():
        for page in (view.page, view.page + 1):  # a quote can start on the chunk's next page
            png, found = render_pdf_page(Path(view.path), page, view.quote)
            if png is not None and (found or view.page_png is None):
                view.page_png, view.page_shown, view.highlighted = png, page, found
            if found:
                break
    return view


def _normalised(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with whitespace runs as one space, and each kept char's index."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace() or ch in "\x02\ufffe":  # pdfium marks line-end hyphens with \x02
            if out and out[-1] != " ":
                out.append(" ")
                index.append(i)
            continue
        out.append(ch.lower())
        index.append(i)
    return "".join(out), index


def find_spans(page_text: str, quote: str) -> list[tuple[int, int]]:
    """Character spans of `quote` in a page's text: whole, else by windows of a few words."""
    norm, index = _normalised(page_text)
    wanted = " ".join(quote.lower().split())
    if not wanted:
        return []
    pos = norm.find(wanted)
    if pos >= 0:
        return [(index[pos], index[pos + len(wanted) - 1] + 1)]
    words = wanted.split()
    spans = []
    for i in range(0, len(words), _WINDOW):
        piece = " ".join(words[i : i + _WINDOW])
        if len(piece) < 12:
            continue
        pos = norm.find(piece)
        if pos >= 0:
            spans.append((index[pos], index[pos + len(piece) - 1] + 1))
    return spans


def render_pdf_page(path: Path, page: int, quote: str) -> tuple[bytes | None, bool]:
    """PNG of page `page` (1-based) with the quote's text boxes highlighted, and whether the
    quote was found; (None, False) when the file or page cannot be rendered."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    try:
        pdf = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError):
        return None, False
    try:
        if not 1 <= page <= len(pdf):
            return None, False
        pdf_page = pdf[page - 1]
        textpage = pdf_page.get_textpage()
        text = textpage.get_text_range()
        height = pdf_page.get_height()
        boxes = []
        for start, end in find_spans(text, quote):
            for i in range(textpage.count_rects(start, end - start)):
                boxes.append(textpage.get_rect(i))
        image = pdf_page.render(scale=PAGE_SCALE).to_pil().convert("RGB")
        if boxes:
            overlay = Image.new("RGB", image.size, "white")
            draw = ImageDraw.Draw(overlay)
            for left, bottom, right, top in boxes:
                draw.rectangle(
                    [
                        left * PAGE_SCALE - 2,
                        (height - top) * PAGE_SCALE - 2,
                        right * PAGE_SCALE + 2,
                        (height - bottom) * PAGE_SCALE + 2,
                    ],
                    fill=(253, 224, 71),
                )
            image = _multiply(image, overlay)
            outline = ImageDraw.Draw(image)
            x0 = min(b[0] for b in boxes) * PAGE_SCALE - 8
            y0 = (height - max(b[3] for b in boxes)) * PAGE_SCALE - 6
            y1 = (height - min(b[1] for b in boxes)) * PAGE_SCALE + 6
            outline.rectangle([max(0, x0 - 6), y0, max(0, x0 - 2), y1], fill=(180, 83, 9))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue(), bool(boxes)
    finally:
        pdf.close()


def _multiply(base: Any, overlay: Any) -> Any:
    """Highlighter-style blend: text under the yellow stays dark and readable."""
    from PIL import ImageChops

    return ImageChops.multiply(base, overlay)
