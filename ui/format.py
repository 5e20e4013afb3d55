"""Pure formatting for the chat UI: answer objects -> chat HTML, source cards, feedback records.

No Gradio import here, so everything is unit-testable in milliseconds. Every piece of text that
comes from a user or a document goes through `esc`, which escapes HTML *and* the characters
Markdown/KaTeX would interpret: the chatbot renders Markdown, so a document containing
``![x](http://host/pixel)`` or ``<script>`` must reach the browser as inert text. The answer is
emitted as a single raw-HTML block with no blank lines, so the Markdown renderer passes it
through untouched and only our own tags (links to source cards, <mark>, lists) are live.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

REFUSAL_HEADING = "⚠ Not covered by the documents"

# Characters escaped to numeric entities: HTML specials plus Markdown/GFM/KaTeX syntax, so a
# Markdown pass over our HTML cannot create links, images, emphasis, tables or maths.
_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "[": "&#91;",
    "]": "&#93;",
    "(": "&#40;",
    ")": "&#41;",
    "*": "&#42;",
    "_": "&#95;",
    "`": "&#96;",
    "!": "&#33;",
    "~": "&#126;",
    "$": "&#36;",
    "\\": "&#92;",
    "|": "&#124;",
    "#": "&#35;",
    ":": "&#58;",  # stops GFM autolinking of http://… in document text
}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)
_MARKER = re.compile(r"\[(\d{1,3})\]")
_UID_OK = re.compile(r"^[A-Za-z0-9-]{1,40}$")


def esc(text: Any) -> str:
    """Text made inert for both HTML and Markdown rendering (newlines become spaces)."""
    return " ".join(str(text if text is not None else "").translate(_ESCAPE_TABLE).split())


_SPACE_RUN = re.compile(r"(\s+)")


def esc_passage(text: Any) -> str:
    """Like `esc`, but keeps edge spaces, and paragraph breaks (blank lines) become ``<br>``.

    Edge spaces matter because a passage is escaped in pieces around the highlighted quote.
    """
    out = []
    for i, piece in enumerate(_SPACE_RUN.split(str(text if text is not None else ""))):
        if i % 2:
            out.append("<br>" if piece.count("\n") >= 2 else " ")
        elif piece:
            out.append(piece.translate(_ESCAPE_TABLE))
    return "".join(out)


def new_uid() -> str:
    """A short id for one answer, so anchors of several answers on a page never clash."""
    return "a" + secrets.token_hex(4)


def _uid(uid: str) -> str:
    if not _UID_OK.match(uid):
        raise ValueError(f"answer uid must be short and alphanumeric, not {uid!r}")
    return uid


def card_id(uid: str, n: int | str) -> str:
    """DOM id of source card `n` of answer `uid` (the target of its inline [n] link)."""
    return f"src-{_uid(uid)}-{n}"


# ----------------------------------------------------------------------------- answer in chat
def _cite_link(uid: str, n: int, known: set[int]) -> str:
    if n not in known:  # a marker without a citation is shown, but links nowhere
        return f'<span class="cite cite-missing">&#91;{n}&#93;</span>'
    target = card_id(uid, n)
    return f'<a href="#{target}" class="cite">[{n}]</a>'


def _linked(text: str, uid: str, known: set[int]) -> str:
    """Escape a line of answer text, turning its ``[n]`` markers into links to the cards."""
    line = " ".join(text.split())
    parts: list[str] = []
    pos = 0
    for match in _MARKER.finditer(line):
        parts.append(esc_passage(line[pos : match.start()]))
        parts.append(_cite_link(uid, int(match.group(1)), known))
        pos = match.end()
    parts.append(esc_passage(line[pos:]))
    return "".join(parts)


def _answer_body(text: str, uid: str, known: set[int]) -> str:
    """Paragraphs and bullet lists from the answer text (items are ``- `` lines)."""
    html: list[str] = []
    items: list[str] = []
    for raw in str(text).split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("- "):
            items.append(f"<li>{_linked(line[2:], uid, known)}</li>")
            continue
        if items:
            html.append("<ul>" + "".join(items) + "</ul>")
            items = []
        html.append(f"<p>{_linked(line, uid, known)}</p>")
    if items:
        html.append("<ul>" + "".join(items) + "</ul>")
    return "".join(html)


def meta_line(answer: Mapping[str, Any]) -> str:
    """The small 'generator · latency' line under an answer."""
    generator = esc(answer.get("generator") or "?")
    total = (answer.get("timings_ms") or {}).get("total")
    latency = f"{float(total) / 1000:.2f} s" if isinstance(total, int | float) else "–"
    rewritten = answer.get("rewritten_query") or ""
    extra = ""
    if rewritten and rewritten != answer.get("question"):
        extra = f" · searched as “{esc(rewritten)}”"
    return f'<div class="answer-meta">{generator} · {latency}{extra}</div>'


def _place(item: Mapping[str, Any]) -> str:
    """'Section · page n' for a citation or passage (parts omitted when unknown)."""
    bits = []
    if item.get("section") and item.get("section") != item.get("title"):
        bits.append(esc(item["section"]))
    if item.get("page") not in (None, ""):
        bits.append(f"page {esc(item['page'])}")
    return " · ".join(bits)


def answer_markdown(answer: Mapping[str, Any], uid: str | None = None) -> str:
    """Chat message for a final answer: text with clickable [n] links, or a visible refusal.

    Returned as one raw-HTML block (safe to hand to a Markdown renderer, see module doc).
    """
    uid = _uid(uid or new_uid())
    notice = answer.get("notice") or ""
    notice_html = f'<p class="answer-notice">{esc(notice)}</p>' if notice else ""
    if answer.get("refused"):
        closest = list(answer.get("closest") or [])
        rows = "".join(
            f'<li><a href="#{card_id(uid, f"c{i}")}" class="cite">'
            f"<b>{esc(c.get('title') or c.get('doc_id'))}</b></a>"
            + (f" — {_place(c)}" if _place(c) else "")
            + f'<br><span class="closest-text">“{esc(_clip(c.get("text", ""), 220))}”</span></li>'
            for i, c in enumerate(closest, 1)
        )
        listing = (
            f'<p class="closest-title">Closest passages (they do not answer it):</p><ol>{rows}</ol>'
            if rows
            else '<p class="closest-title">No passage came close.</p>'
        )
        reason = answer.get("refusal_reason") or ""
        reason_html = f'<p class="refusal-reason">Why: {esc(reason)}</p>' if reason else ""
        return (
            f'<div class="answer refusal" data-uid="{uid}">'
            f'<p class="refusal-title"><strong>{esc(REFUSAL_HEADING)}</strong></p>'
            f"<p>{esc(answer.get('answer', ''))}</p>{notice_html}{listing}{reason_html}"
            f"{meta_line(answer)}{explain_html(answer.get('explain'))}</div>"
        )
    known = {int(c["n"]) for c in answer.get("citations") or [] if "n" in c}
    body = _answer_body(str(answer.get("answer", "")), uid, known)
    why = explain_html(answer.get("explain"))
    return f'<div class="answer" data-uid="{uid}">{body}{notice_html}{meta_line(answer)}{why}</div>'


# ----------------------------------------------------------------------------- why this answer
EXPLAIN_SUMMARY = "Why this answer"
_UNITS_SHOWN = 6  # dropped units listed by name; the rest are counted by reason


def _n(value: Any, digits: int = 2) -> str:
    return "–" if not isinstance(value, int | float) else f"{value:.{digits}f}"


def _section(title: str, body: str) -> str:
    return f'<div class="why-h">{esc(title)}</div>{body}'


def _why_query(query: Mapping[str, Any]) -> str:
    parts = [f"asked “{esc(query.get('question', ''))}”"]
    if query.get("followup"):
        parts.append(
            f"follow-up, searched as “{esc(query.get('rewritten_query', ''))}” "
            f"({esc(query.get('rewrite', ''))} rewrite)"
        )
    terms = query.get("expansion_terms") or []
    parts.append("glossary added: " + (esc(", ".join(map(str, terms))) if terms else "nothing"))
    parts.append(f"{esc(query.get('retriever', ''))} retrieval, k {esc(query.get('k', ''))}")
    return f'<p class="why-p">{" · ".join(parts)}</p>'


def _why_passages(passages: Sequence[Mapping[str, Any]]) -> str:
    head = "<tr><th>rank</th><th>passage</th><th>dense</th><th>BM25</th><th>RRF</th></tr>"
    rows = []
    for p in passages:
        where = esc(p.get("doc_id", "")) + (f" · {esc(p['section'])}" if p.get("section") else "")
        ranks = [
            (p.get("dense_score"), p.get("dense_rank")),
            (p.get("bm25_score"), p.get("bm25_rank")),
        ]
        cells = "".join(
            f'<td class="why-num">{_n(score, 3)} '
            f"<small>{esc(f'#{rank}' if rank else 'not listed')}</small></td>"
            for score, rank in ranks
        )
        rows.append(
            f"<tr><td>{esc(p.get('rank', ''))}</td><td>{where}<br>"
            f'<small class="why-id">{esc(p.get("chunk_id", ""))}</small></td>{cells}'
            f'<td class="why-num">{_n(p.get("fused_score"), 4)}</td></tr>'
        )
    if not rows:
        return '<p class="why-p">No passage was retrieved.</p>'
    return f'<table class="why-table">{head}{"".join(rows)}</table>'


def _why_refusal(refusal: Mapping[str, Any]) -> str:
    signals = refusal.get("signals") or {}
    words = "; ".join(
        ("✓ " if w.get("found") else "✗ ") + " / ".join(map(str, w.get("alternatives") or []))
        for w in refusal.get("key_words") or []
    )
    parts = [f"key words (stemmed): {esc(words) if words else 'none'}"]
    if "coverage" in signals:
        parts.append(f"expected answer {esc(str(signals.get('answer_type')))}")
        parts.append(f"coverage {float(signals['coverage']):.0%}")
        parts.append(f"best dense similarity {_n(signals.get('dense'), 3)}")
        parts.append(f"p(answerable) {_n(signals.get('p_answerable'), 3)}")
    fired = [r for r in refusal.get("rules") or [] if r.get("fired")]
    parts.append(
        "rule fired: " + (esc(f"{fired[0]['rule']} ({fired[0]['test']})") if fired else "none")
    )
    if refusal.get("refused"):
        stage = esc(refusal.get("stage") or "")
        parts.append(f"<b>refused</b> at {stage}: {esc(refusal.get('reason', ''))}")
    else:
        parts.append("answered")
    return f'<p class="why-p">{" · ".join(parts)}</p>'


def _why_unit(u: Mapping[str, Any]) -> str:
    verdict = "kept" if u.get("selected") else "dropped"
    notes = u.get("form_notes") or []
    form = f" ({esc('; '.join(map(str, notes)))})" if notes else ""
    return (
        f'<li class="why-{verdict}"><b>{esc("#" + str(u.get("n", "")))} {verdict}</b> '
        f"{esc(u.get('reason', ''))} · score {_n(u.get('score'), 3)} = (similarity "
        f"{_n(u.get('similarity'), 2)}, overlap {_n(u.get('overlap'), 2)}, prior "
        f"{_n(u.get('rank_prior'), 2)}) × form {_n(u.get('form'), 2)}{form} · passage "
        f"{esc(u.get('passage', ''))}<br>“{esc(_clip(u.get('text', ''), 160))}”</li>"
    )


def _why_units(units: Sequence[Mapping[str, Any]] | None, generation: Mapping[str, Any]) -> str:
    fallback = generation.get("fallback")
    note = (
        f'<p class="why-p">The {esc(fallback.get("from", ""))} model\'s answer had no '
        "sentence supported by its cited passage, so the extractive answer is shown.</p>"
        if fallback
        else ""
    )
    return note + _why_unit_list(units, generation)


def _why_unit_list(units: Sequence[Mapping[str, Any]] | None, generation: Mapping[str, Any]) -> str:
    if units is None:
        if not generation.get("ran"):
            return '<p class="why-p">Not generated: the answer was refused first.</p>'
        given = ", ".join(str(n) for n in generation.get("passages_given") or [])
        name = esc(generation.get("generator", ""))
        return f'<p class="why-p">Written by the {name} generator from passages {esc(given)}.</p>'
    kept = [u for u in units if u.get("selected")]
    dropped = [u for u in units if not u.get("selected")]
    shown = kept + dropped[:_UNITS_SHOWN]
    counts: dict[str, int] = {}
    for u in dropped[_UNITS_SHOWN:]:
        counts[str(u.get("reason", ""))] = counts.get(str(u.get("reason", "")), 0) + 1
    rest = "; ".join(f"{reason} ({n})" for reason, n in counts.items())
    hidden = len(dropped) - _UNITS_SHOWN
    more = f'<p class="why-p">{hidden} more dropped: {esc(rest)}</p>'
    items = "".join(_why_unit(u) for u in shown)
    return f'<ul class="why-units">{items}</ul>' + (more if counts else "")


def _why_verification(verification: Mapping[str, Any]) -> str:
    items = []
    for row in verification.get("sentences") or []:
        mark = "✓ supported" if row.get("supported") else "✗ not supported"
        cited = "; ".join(
            f"passage {esc(c.get('passage', ''))} ({esc(c.get('chunk_id', ''))}): overlap "
            f"{_n(c.get('overlap'))}, similarity {_n(c.get('similarity'))}"
            for c in row.get("cited") or []
        )
        reason = f" · {esc(row['reason'])}" if row.get("reason") else ""
        items.append(
            f"<li><b>{mark}</b>{reason} · {cited or 'no passage'}<br>"
            f"“{esc(_clip(row.get('text', ''), 160))}”</li>"
        )
    if not items:
        return '<p class="why-p">No draft sentence to verify.</p>'
    return f'<ul class="why-checks">{"".join(items)}</ul>'


def explain_html(explain: Mapping[str, Any] | None) -> str:
    """The folded "Why this answer" panel: query, passages with scores, the units kept and
    dropped with the selector's reasons, refusal signals and per-sentence verification.

    Everything from the documents or the user is escaped (`esc`); "" when there is nothing.
    """
    if not explain:
        return ""
    body = (
        _section("Query", _why_query(explain.get("query") or {}))
        + _section("Passages retrieved", _why_passages(explain.get("passages") or []))
        + _section("Refusal check", _why_refusal(explain.get("refusal") or {}))
        + _section(
            "Sentences considered",
            _why_units(explain.get("units"), explain.get("generation") or {}),
        )
        + _section("Verification", _why_verification(explain.get("verification") or {}))
    )
    return (
        f'<details class="why"><summary>{esc(EXPLAIN_SUMMARY)}</summary>'
        f'<div class="why-body">{body}</div></details>'
    )


def streaming_markdown(partial: str) -> str:
    """The preview shown while an answer streams in (plain, escaped, not yet verified)."""
    text = esc(partial) if partial.strip() else "Searching the documents…"
    return f'<div class="answer streaming"><p>{text} <span class="cursor">▍</span></p></div>'


def question_markdown(question: str) -> str:
    """A user's question as an inert chat message."""
    return f'<div class="question">{esc(question)}</div>'


def error_markdown(message: str) -> str:
    """A clear, non-crashing chat message when a question could not be answered."""
    return (
        f'<div class="answer error"><p><strong>⚠ Could not answer</strong></p>'
        f"<p>{esc(message)}</p></div>"
    )


def sentence(message: str) -> str:
    """A library message as a sentence for the page ("the question is empty" -> "The question…")."""
    message = message.strip()
    return message[:1].upper() + message[1:] if message else "Unknown error"


def live_text(message: str) -> str:
    """Text for a screen-reader live region (escaped; the region's role is set by the page)."""
    return f"<p>{esc(message)}</p>" if message.strip() else ""


def spoken_answer(answer: Mapping[str, Any]) -> str:
    """What the polite live region reads when an answer is ready: the text, markers spoken."""
    text = " ".join(str(answer.get("answer", "")).split())
    text = _MARKER.sub(lambda m: f" (source {m.group(1)})", text)
    if answer.get("refused"):
        return f"{REFUSAL_HEADING.lstrip('⚠ ')}. {text}"
    n = len(answer.get("citations") or [])
    return f"Answer ready, {n} source{'s' if n != 1 else ''}: {text}"


def preview_markdown(markdown: str, shift: int = 2) -> str:
    """An export's Markdown for the in-page preview: headings moved `shift` levels down, so the
    page keeps one top-level heading and a sensible outline (the files keep their own)."""
    out = []
    for line in markdown.splitlines():
        level = len(line) - len(line.lstrip("#"))
        if 0 < level and line[level : level + 1] == " ":
            line = "#" * min(6, level + shift) + line[level:]
        out.append(line)
    return "\n".join(out) + ("\n" if markdown.endswith("\n") else "")


def plain_answer_text(answer: Mapping[str, Any]) -> str:
    """What the conversation history keeps of an answer: its text, never the HTML."""
    return str(answer.get("answer", ""))


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


# ----------------------------------------------------------------------------- source cards
def _normalised(text: str) -> tuple[str, list[int]]:
    """Text with whitespace runs collapsed to one space, and each kept char's original index."""
    out: list[str] = []
    index: list[int] = []
    in_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if not in_space and out:
                out.append(" ")
                index.append(i)
            in_space = True
            continue
        in_space = False
        out.append(ch)
        index.append(i)
    return "".join(out), index


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    """Span of `quote` in `text`, tolerant of whitespace and case differences; None if absent."""
    wanted = " ".join(str(quote).split())
    if not wanted or not text:
        return None
    norm, index = _normalised(text)
    pos = norm.find(wanted)
    if pos < 0:
        pos = norm.lower().find(wanted.lower())
    if pos < 0:
        return None
    end = pos + len(wanted) - 1
    return index[pos], index[end] + 1


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight_quote(text: str, quote: str, also: Sequence[str] = ()) -> str:
    """Escaped passage with the quoted span wrapped in <mark> (the exact original characters).

    `also` are further spans worth marking (the answer's other sentences taken from this
    passage); they are marked only where found. When the quote itself cannot be found, it is
    shown highlighted above the passage, so the user still sees what was cited.
    """
    text = str(text).strip()
    primary = find_quote(text, quote)
    spans = [primary] if primary else []
    # very short fragments ("Yes.") would mark random places, so only sentence-sized ones
    spans += [span for extra in also if len(extra) >= 12 and (span := find_quote(text, extra))]
    shown = ""
    if primary is None and quote.strip():
        shown = f'<p class="quote-only"><mark>{esc(quote)}</mark></p>'
    if not text:
        return shown
    parts: list[str] = []
    pos = 0
    for start, end in _merge(spans):
        parts.append(esc_passage(text[pos:start]))
        parts.append(f"<mark>{esc_passage(text[start:end])}</mark>")
        pos = end
    parts.append(esc_passage(text[pos:]))
    return f'{shown}<p class="passage">{"".join(parts)}</p>'


def _card(
    dom_id: str, label: str, item: Mapping[str, Any], body: str, cls: str, ref: str = ""
) -> str:
    """One source card; with `ref` ("uid:n") it has an "Open source" button for the viewer."""
    title = esc(item.get("title") or item.get("doc_id") or "Untitled")
    place = _place(item)
    doc_id = esc(item.get("doc_id", ""))
    opener = ""
    if ref and item.get("chunk_id"):
        opener = (
            f'<button type="button" class="open-src" data-ref="{esc(ref)}" '
            f'aria-label="Open source {esc(label)} in the viewer: {title}">Open source</button>'
        )
    return (
        f'<div class="src-card {cls}" id="{dom_id}">'
        f'<div class="src-head"><span class="src-n">{label}</span> '
        f'<span class="src-title">{title}</span></div>'
        + (f'<div class="src-place">{place}</div>' if place else "")
        + f'<div class="src-body">{body}</div>'
        f'<div class="src-foot"><span class="src-doc">{doc_id}</span>{opener}</div></div>'
    )


def source_cards_html(answer: Mapping[str, Any], uid: str | None = None) -> str:
    """One card per citation (title, section, page, passage with the quote highlighted).

    For a refusal, the closest passages are shown instead, clearly labelled as not answering.
    Pass the same `uid` as to `answer_markdown` so the inline links find their cards.
    """
    uid = _uid(uid or new_uid())
    cards: list[str] = []
    if answer.get("refused"):
        for i, c in enumerate(answer.get("closest") or [], 1):
            body = f'<p class="passage">{esc_passage(str(c.get("text", "")).strip())}</p>'
            ref = f"{uid}:c{i}"
            cards.append(_card(card_id(uid, f"c{i}"), f"~{i}", c, body, "closest", ref))
        if not cards:
            return '<div class="src-empty">No passage came close to this question.</div>'
        return '<div class="src-note">Closest passages — they do not answer the question.</div>' + (
            "".join(cards)
        )
    sentences = [s for s in answer.get("sentences") or [] if s.get("supported")]
    for c in answer.get("citations") or []:
        n = int(c.get("n", 0))
        drawn = [str(s.get("text", "")) for s in sentences if n in (s.get("citations") or [])]
        body = highlight_quote(str(c.get("text") or ""), str(c.get("quote") or ""), drawn)
        cards.append(_card(card_id(uid, n), f"[{n}]", c, body, "cited", f"{uid}:{n}"))
    if not cards:
        return '<div class="src-empty">This answer has no sources.</div>'
    return "".join(cards)


def sources_panel_html(records: Sequence[Mapping[str, Any]]) -> str:
    """The sources panel: cards of the latest answer, earlier answers' cards folded away.

    Earlier cards stay in the page so the [n] links of older answers keep working.
    """
    if not records:
        return (
            '<div class="src-empty">Sources for the latest answer appear here. '
            "Click a [n] marker in an answer to jump to its passage.</div>"
        )
    latest = records[-1]
    asked = esc(_clip(latest["answer"].get("question", ""), 120))
    parts = [
        f'<div class="src-question">Sources for: “{asked}”</div>',
        source_cards_html(latest["answer"], latest["uid"]),
    ]
    for record in reversed(records[:-1]):
        question = esc(_clip(record["answer"].get("question", ""), 80))
        parts.append(
            f'<details class="src-older"><summary>Earlier: “{question}”</summary>'
            f"{source_cards_html(record['answer'], record['uid'])}</details>"
        )
    return "".join(parts)


# ----------------------------------------------------------------------------- feedback
def feedback_record(
    answer: Mapping[str, Any], rating: str, comment: str = "", now: float | None = None
) -> dict[str, Any]:
    """One JSON line for the feedback log: what was asked, answered and cited, and the verdict."""
    if rating not in ("up", "down"):
        raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
    stamp = time.gmtime(time.time() if now is None else now)
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp),
        "rating": rating,
        "comment": " ".join(str(comment or "").split())[:2000],
        "question": answer.get("question", ""),
        "answer": answer.get("answer", ""),
        "refused": bool(answer.get("refused")),
        "generator": answer.get("generator", ""),
        "citations": [
            {k: c.get(k) for k in ("n", "doc_id", "chunk_id", "section", "page", "quote")}
            for c in answer.get("citations") or []
        ],
    }


# ----------------------------------------------------------------------------- documents tab
DOCUMENT_HEADERS = [
    "Title",
    "Type",
    "Format",
    "Pages",
    "Chunks",
    "Indexed at",
    "Ingestion warnings",
    "ID",
]
DOCUMENT_TYPES = ["str", "str", "str", "str", "number", "str", "str", "str"]
DOCUMENT_WIDTHS = ["25%", "8%", "7%", "6%", "7%", "13%", "18%", "16%"]


def _as_dict(item: Any) -> dict[str, Any]:
    if is_dataclass(item) and not isinstance(item, type):
        return asdict(item)
    return dict(item)


def document_rows(documents: Iterable[Any]) -> list[list[Any]]:
    """Rows of the documents table (DocumentInfo objects or dicts), in the header order.

    The table shows plain text cells (Gradio escapes them), so no escaping is needed here.
    """
    rows = []
    for doc in map(_as_dict, documents):
        indexed = str(doc.get("indexed_at", "")).replace("T", " ")[:19]
        pages = doc.get("pages")
        warnings = "; ".join(str(w) for w in doc.get("warnings") or []) or "none"
        rows.append(
            [
                doc.get("title", ""),
                doc.get("doc_type", ""),
                str(doc.get("format") or "").upper(),
                str(pages) if isinstance(pages, int) else "–",
                doc.get("chunks", 0),
                indexed,
                warnings,
                doc.get("doc_id", ""),
            ]
        )
    return rows


def document_choices(documents: Iterable[Any]) -> list[tuple[str, str]]:
    """(label, doc_id) pairs for the document filter and the delete picker."""
    choices = []
    for doc in map(_as_dict, documents):
        title = str(doc.get("title") or doc["doc_id"])
        label = title if len(title) <= 70 else title[:69] + "…"
        choices.append((f"{label} ({doc['doc_id']})", str(doc["doc_id"])))
    return choices


def build_report_html(report: Any, refused: Sequence[str] = ()) -> str:
    """What an upload or deletion did, including refused files and load errors, as HTML."""
    data = _as_dict(report) if report is not None else {}
    lines: list[str] = []

    def listing(label: str, names: Iterable[str], cls: str = "") -> None:
        names = list(names)
        if names:
            items = "".join(f"<li>{esc(n)}</li>" for n in names)
            lines.append(f'<div class="report-{cls or "ok"}"><b>{label}</b><ul>{items}</ul></div>')

    listing("Added", data.get("added", []))
    listing("Updated", data.get("updated", []))
    listing("Removed", data.get("removed", []))
    listing("Refused", refused, "bad")
    listing("Could not be read", data.get("errors", []), "bad")
    listing(
        "Duplicates (same content as an indexed document, indexed once)",
        [f"{d} = {o}" for d, o in (data.get("duplicates") or {}).items()],
        "warn",
    )
    listing("Kept the previous version (new file failed)", data.get("kept_on_error", []), "warn")
    if data:
        total = data.get("chunks_total", 0)
        docs = len(data.get("chunks_per_doc") or {})
        secs = float(data.get("seconds") or 0.0)
        changed = "Index updated" if data.get("changed") else "Index unchanged"
        lines.append(
            f'<div class="report-summary">{changed}: {docs} documents, {total} chunks '
            f"({secs:.1f} s). New documents are searchable now.</div>"
        )
    return '<div class="build-report">' + "".join(lines) + "</div>"


REJECTED_HEADING = "Files that could not be added"


def _rejected_reason(name: str, reason: str) -> str:
    """The reason without its leading "<name>: " (the row already names the file)."""
    prefix = f"{name}: "
    return reason[len(prefix) :] if reason.startswith(prefix) else reason


def rejected_html(rejected: Iterable[Any], waiting: Sequence[str] = ()) -> str:
    """The Documents tab's "Files that could not be added" section, every text escaped.

    Rejected files (RejectedFile objects or dicts) are a real table with column headers, so
    a screen reader announces each reason with its file; uploads still waiting to be indexed
    are listed only when there are some. File names come from users and may hold HTML.
    """
    rows = []
    for item in map(_as_dict, rejected):
        name = str(item.get("name", ""))
        when = str(item.get("rejected_at", "")).replace("T", " ").rstrip("Z")
        reason = _rejected_reason(name, str(item.get("reason", "")))
        rows.append(f"<tr><td>{esc(name)}</td><td>{esc(reason)}</td><td>{esc(when)}</td></tr>")
    parts = [f'<h2 id="rejected-heading">{REJECTED_HEADING}</h2>']
    if rows:
        parts.append(
            '<table class="rejected-table" aria-labelledby="rejected-heading"><thead><tr>'
            '<th scope="col">File</th><th scope="col">Reason</th>'
            '<th scope="col">Rejected at (UTC)</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            "<p>They are not indexed and are not read again. Upload a fixed file with the "
            "same name to try again, or delete it below.</p>"
        )
    else:
        parts.append('<p class="rejected-none">None</p>')
    if waiting:
        items = "".join(f"<li>{esc(n)}</li>" for n in waiting)
        parts.append(
            '<h3 id="waiting-heading">Waiting to be indexed</h3>'
            f'<ul aria-labelledby="waiting-heading">{items}</ul>'
            "<p>Saved, but the indexing did not finish; the next upload or index build adds "
            "them.</p>"
        )
    return (
        '<section class="rejected-files" aria-labelledby="rejected-heading">'
        + "".join(parts)
        + "</section>"
    )


def rejected_choices(rejected: Iterable[Any]) -> list[str]:
    """The names for the "Rejected file to delete" picker (the name is also the key)."""
    return [str(_as_dict(item).get("name", "")) for item in rejected]
