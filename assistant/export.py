"""Exports of what the assistant produced: a conversation (Markdown and DOCX) and the Criteria
and PSED tables (DOCX).

A conversation export is built from the answer objects themselves (``Answer.to_dict()``, as the
UI keeps them and ``/ask`` returns them), so each reference is the citation the answer showed:
document title, section, page and the verbatim quoted passage, numbered as the answer's ``[n]``
markers are. The date of the export and the index generation each answer came from are written
at the top, so a reader can tell which version of the documents an answer reflects.

The functions return text or bytes and write nothing; the UI (or any caller) decides where the
file goes. Bad input raises `ExportError` with a message meant for the person exporting.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_TURNS = 200  # a conversation export larger than this is refused, not truncated silently
TITLE = "Inspection Assistant conversation"
_MARKER = re.compile(r"\[(\d{1,3})\]")
_SPACES = re.compile(r"[ \t\r\f\v]+")


class ExportError(ValueError):
    """The export input is unusable; the message says what is wrong with it."""


@dataclass
class Reference:
    """One numbered source of an answer, as its citation showed it."""

    n: int
    title: str
    section: str
    page: int | None
    quote: str
    doc_id: str

    def place(self) -> str:
        """'section · page n' (either part left out when unknown or same as the title)."""
        bits = []
        if self.section and self.section != self.title:
            bits.append(f"section “{self.section}”")
        if self.page is not None:
            bits.append(f"page {self.page}")
        return ", ".join(bits)


@dataclass
class Turn:
    """One question and its answer, with the references its markers point to."""

    question: str
    answer: str
    refused: bool = False
    references: list[Reference] = field(default_factory=list)
    generation: str = ""
    answered_at: str = ""


def _text(value: Any) -> str:
    """Control characters out, runs of spaces folded (newlines kept: answers have lists)."""
    raw = "" if value is None else str(value)
    clean = "".join(ch for ch in raw if ch in "\n\t" or ch.isprintable())
    return "\n".join(_SPACES.sub(" ", line).strip() for line in clean.splitlines()).strip()


def _page(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def turns_from_answers(answers: Any) -> list[Turn]:
    """Turns from a list of answer objects; ExportError names the first unusable item."""
    if isinstance(answers, Mapping):
        answers = answers.get("answers", answers.get("conversation"))
    if not isinstance(answers, Sequence) or isinstance(answers, str | bytes):
        raise ExportError("the conversation must be a list of answer objects")
    if not answers:
        raise ExportError("there is nothing to export yet: the conversation is empty")
    if len(answers) > MAX_TURNS:
        raise ExportError(f"at most {MAX_TURNS} answers can be exported at once")
    turns = []
    for i, item in enumerate(answers, 1):
        if isinstance(item, Mapping) and isinstance(item.get("answer"), Mapping):
            item = item["answer"]  # a UI record {"uid": ..., "answer": {...}}
        if not isinstance(item, Mapping):
            raise ExportError(f"item {i} is not an answer object")
        question, answer = item.get("question"), item.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise ExportError(f"item {i} has no question")
        if not isinstance(answer, str):
            raise ExportError(f"item {i} has no answer text")
        citations = item.get("citations") or []
        if not isinstance(citations, Sequence) or isinstance(citations, str):
            raise ExportError(f"item {i}: citations must be a list")
        refs = []
        for c in citations:
            if not isinstance(c, Mapping) or not isinstance(c.get("n"), int):
                raise ExportError(f"item {i}: every citation needs a number n")
            refs.append(
                Reference(
                    n=int(c["n"]),
                    title=_text(c.get("title") or c.get("doc_id") or "Untitled"),
                    section=_text(c.get("section")),
                    page=_page(c.get("page")),
                    quote=_text(c.get("quote")),
                    doc_id=_text(c.get("doc_id")),
                )
            )
        turns.append(
            Turn(
                question=_text(question),
                answer=_text(answer),
                refused=bool(item.get("refused")),
                references=sorted(refs, key=lambda r: r.n),
                generation=_text(item.get("index_generation")),
                answered_at=_text(item.get("answered_at")),
            )
        )
    return turns


def _stamp(when: datetime | None) -> str:
    when = when or datetime.now(UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def generations(turns: Iterable[Turn]) -> list[str]:
    """The index generations the answers came from, in order of first use."""
    seen: list[str] = []
    for turn in turns:
        if turn.generation and turn.generation not in seen:
            seen.append(turn.generation)
    return seen


def _header_lines(turns: Sequence[Turn], exported_at: datetime | None) -> list[str]:
    gens = generations(turns)
    index = ", ".join(gens) if gens else "not recorded"
    return [
        f"Exported {_stamp(exported_at)}",
        f"Index generation: {index}",
        f"{len(turns)} question{'s' if len(turns) != 1 else ''}",
    ]


def _md_escape(text: str) -> str:
    """Markdown-inert text (so a passage with `*` or `#` prints as written)."""
    return re.sub(r"([\\`*_{}<>#|!])", r"\\\1", text).replace("[", "\\[").replace("]", "\\]")


def _md_answer(text: str) -> str:
    """Answer text for Markdown: escaped, but its [n] markers and "- " list items kept."""
    lines = []
    for line in text.splitlines():
        bullet = line.startswith("- ")
        body = line[2:] if bullet else line
        parts, pos = [], 0
        for m in _MARKER.finditer(body):
            parts.append(_md_escape(body[pos : m.start()]))
            parts.append(f"[{m.group(1)}]")
            pos = m.end()
        parts.append(_md_escape(body[pos:]))
        lines.append(("- " if bullet else "") + "".join(parts))
    return "\n".join(lines)


def conversation_markdown(turns: Sequence[Turn], exported_at: datetime | None = None) -> str:
    """The conversation as Markdown: each question, its answer, then its numbered references."""
    out = [f"# {TITLE}", ""]
    out += [f"{line}  " for line in _header_lines(turns, exported_at)]
    for i, turn in enumerate(turns, 1):
        out += ["", f"## {i}. {_md_escape(turn.question)}", ""]
        if turn.refused:
            out += ["*Not covered by the documents.*", ""]
        out.append(_md_answer(turn.answer))
        meta = [f"index generation {turn.generation}"] if turn.generation else []
        if turn.answered_at:
            meta.append(f"answered {turn.answered_at}")
        if meta:
            out += ["", f"*{'; '.join(meta)}*"]
        if turn.references:
            out += ["", "### References", ""]
            for ref in turn.references:
                place = f", {ref.place()}" if ref.place() else ""
                out.append(f"{ref.n}. **{_md_escape(ref.title)}**{_md_escape(place)}")
                if ref.quote:
                    out.append(f"   > “{_md_escape(ref.quote)}”")
    return "\n".join(out).rstrip() + "\n"


# ----------------------------------------------------------------------------- DOCX
def _new_document(title: str, lines: Sequence[str]) -> Any:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    doc.core_properties.title = title
    doc.styles["Normal"].font.size = Pt(11)
    doc.add_heading(title, level=0)
    for line in lines:
        doc.add_paragraph(line)
    return doc


def _save(doc: Any) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def conversation_docx(turns: Sequence[Turn], exported_at: datetime | None = None) -> bytes:
    """The conversation as a Word document, laid out like `conversation_markdown`.

    References are paragraphs of the style "List Number"-like text "n. Title, section, page"
    followed by the quote in an indented "Quote" paragraph, so they read back in order.
    """
    doc = _new_document(TITLE, _header_lines(turns, exported_at))
    for i, turn in enumerate(turns, 1):
        doc.add_heading(f"{i}. {turn.question}", level=1)
        if turn.refused:
            doc.add_paragraph().add_run("Not covered by the documents.").italic = True
        for line in turn.answer.splitlines():
            if line.startswith("- "):
                doc.add_paragraph(line[2:], style="List Bullet")
            elif line:
                doc.add_paragraph(line)
        meta = [f"index generation {turn.generation}"] if turn.generation else []
        if turn.answered_at:
            meta.append(f"answered {turn.answered_at}")
        if meta:
            doc.add_paragraph().add_run("; ".join(meta)).italic = True
        if turn.references:
            doc.add_heading("References", level=2)
            for ref in turn.references:
                para = doc.add_paragraph()
                para.add_run(f"{ref.n}. ")
                para.add_run(ref.title).bold = True
                if ref.place():
                    para.add_run(f", {ref.place()}")
                if ref.quote:
                    doc.add_paragraph(f"“{ref.quote}”", style="Quote")
    return _save(doc)


def table_docx(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    notes: Sequence[str] = (),
    exported_at: datetime | None = None,
) -> bytes:
    """A titled Word table (header row bold), with a date line and optional notes above it."""
    doc = _new_document(title, [f"Exported {_stamp(exported_at)}", *notes])
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(str(name)).bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = _text(value)
    return _save(doc)


def criteria_docx(result: Mapping[str, Any], exported_at: datetime | None = None) -> bytes:
    """The Criteria tab's result (``CriteriaResult.to_dict()``): one row per statement."""
    headers = ["Judgement area", "Statement", "Kind", "Source", "Ref"]
    rows = []
    for group in result.get("groups") or []:
        where = _text(group.get("title")) + (
            f" § {_text(group['section'])}" if group.get("section") else ""
        )
        for item in group.get("items") or []:
            rows.append(
                [
                    group.get("label", ""),
                    item.get("text", ""),
                    str(item.get("kind", "")).replace("_", " "),
                    where,
                    f"[{item.get('n', '')}] {item.get('chunk_id', '')}",
                ]
            )
    topic = _text(result.get("topic"))
    notes = [f"Topic: {topic}", f"{len(rows)} statements"]
    return table_docx(f"Criteria: {topic}", headers, rows, notes, exported_at)


def psed_docx(matrix: Mapping[str, Any], exported_at: datetime | None = None) -> bytes:
    """The PSED coverage matrix (``PsedMatrix.to_dict()``): one row per obligation."""
    headers = ["PSED obligation", "Kind", "Addressed", "Passages", "Where", "First passage"]
    rows = []
    for r in matrix.get("rows") or []:
        addressed = r.get("status") == "addressed"
        first = (r.get("passages") or [{}])[0]
        quote = f"“{_text(first.get('quote'))}” [{_text(first.get('doc_id'))}]" if addressed else ""
        rows.append(
            [
                r.get("label", ""),
                r.get("kind", ""),
                "yes" if addressed else "no passage found",
                int(r.get("count", 0) or 0),
                "; ".join(map(str, r.get("sections") or [])),
                quote,
            ]
        )
    summary = matrix.get("summary") or {}
    notes = [f"{summary.get('addressed', 0)} of {len(rows)} obligations addressed"]
    return table_docx("PSED coverage matrix", headers, rows, notes, exported_at)
