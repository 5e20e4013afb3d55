"""Structure-aware splitting of cleaned text into citable chunks.

Chunks follow the document's own structure: numbered sections ("3.1 The proposed evaluation
criteria", "4. Eliminating discrimination"), markdown headings (which the loaders write for
DOCX/HTML), paragraphs and list items. A chunk never crosses a section boundary and is cut
between sentences; `text == cleaned[start:end]` always holds so a citation can point at it.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass

from assistant.documents import Chunk

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A section number at a line start or just after a sentence end: "4. Title", "3.1 Title".
_NUMBERED = re.compile(
    r"(?:(?<=\n)|(?<=^)|(?<=[.?!:]\s)|(?<=[.?!:]['’\"]\s))"
    r"(?P<num>\d{1,2}(?:\.\d{1,2}){0,2})(?P<dot>\.?)[ \t]+(?P<title>[A-Z][^\n]*)"
)
# Capitalised words that start a new sentence after a heading written inline with its text.
_SENTENCE_STARTERS = {
    "The",
    "This",
    "These",
    "Those",
    "We",
    "Our",
    "It",
    "Its",
    "In",
    "As",
    "A",
    "An",
    "All",
    "Any",
    "When",
    "After",
    "Before",
    "There",
    "They",
    "Inspectors",
    "Inspections",
    "If",
    "For",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])['’\")\]]*\s+(?=['‘\"(]?[A-Z0-9•-])")


@dataclass
class Heading:
    """A section heading found in the text: where it starts and the label it gives."""

    start: int
    end: int
    label: str


def _next_ok(prev: tuple[int, ...] | None, num: tuple[int, ...]) -> bool:
    """Accept a section number only when it continues the sequence (1, 2, 2.1, 2.2, 3 ...).

    This rejects tables of contents, list counts ("3 PSED aims") and stray numbers.
    """
    if prev is None:
        return num in ((1,), (1, 1))
    for depth in range(len(prev), 0, -1):
        if num == prev[: depth - 1] + (prev[depth - 1] + 1,):
            return True
    return num == prev + (1,)


def _is_contents(text: str, run: list[Heading], next_start: int) -> bool:
    """True when the headings of `run` follow each other with no body text between them."""
    ends = [h.end for h in run]
    starts = [h.start for h in run[1:]] + [next_start]
    return all(not text[e:s].strip() for e, s in zip(ends, starts, strict=True))


def _heading_title(rest: str) -> str:
    words = rest.split()
    title: list[str] = []
    for i, word in enumerate(words[:12]):
        if i > 0 and word in _SENTENCE_STARTERS:
            break
        title.append(word)
        if word[-1:] in ".?!:":
            break
    return " ".join(title).rstrip(".:")


def find_headings(text: str) -> list[Heading]:
    """Markdown headings and numbered section headings, in order."""
    found: list[Heading] = []
    for m in _MD_HEADING.finditer(text):
        found.append(Heading(m.start(), m.end(), m.group(2).strip()))
    prev: tuple[int, ...] | None = None
    run: list[Heading] = []  # numbered headings of the current sequence
    for m in _NUMBERED.finditer(text):
        num = tuple(int(p) for p in m.group("num").split("."))
        if len(num) == 1 and not m.group("dot"):
            continue
        if run and num == (1,) and _is_contents(text, run, m.start()):
            # the sequence so far was a table of contents: the real sections start again here
            found = [h for h in found if h not in run]
            run, prev = [], None
        if not _next_ok(prev, num):
            continue
        title = _heading_title(m.group("title"))
        if not title:
            continue
        prev = num
        label = f"{m.group('num')}{m.group('dot')} {title}"
        end = m.start("title") + m.group("title").find(title.split()[-1]) + len(title.split()[-1])
        heading = Heading(m.start(), end, label)
        found.append(heading)
        run.append(heading)
    found.sort(key=lambda h: h.start)
    return found


def _units(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """Sentence/list-item spans in text[start:end] as (start, end, starts_paragraph)."""
    spans: list[tuple[int, int, bool]] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", text[start:end]):
        p_start = start + para.start()
        block = para.group()
        first = True
        for line in re.finditer(r"[^\n]+", block):
            l_start = p_start + line.start()
            content = line.group()
            is_item = content.lstrip().startswith("- ")
            pieces = [content] if is_item else None
            cut = 0
            if pieces is None:
                for m in _SENTENCE_END.finditer(content):
                    spans.append((l_start + cut, l_start + m.start(), first))
                    first = False
                    cut = m.end()
                spans.append((l_start + cut, l_start + len(content), first))
            else:
                spans.append((l_start, l_start + len(content), first))
            first = False if not is_item else first and False
    return [(s, e, f) for s, e, f in spans if text[s:e].strip()]


def _split_long(text: str, s: int, e: int, limit: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than `limit` at clause or word boundaries (unavoidable)."""
    out: list[tuple[int, int]] = []
    while e - s > limit:
        window = text[s : s + limit]
        cut = max(window.rfind("; "), window.rfind(", "), window.rfind(" "))
        cut = cut + 1 if cut > limit // 3 else limit
        out.append((s, s + cut))
        s += cut
        while s < e and text[s] == " ":
            s += 1
    out.append((s, e))
    return out


def chunk_id(doc_id: str, text: str) -> str:
    """Stable id: the document id plus a hash of the chunk's whitespace-normalised text."""
    digest = hashlib.sha1(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]
    return f"{doc_id}:{digest}"


def split_text(
    text: str,
    *,
    doc_id: str,
    title: str,
    doc_type: str,
    pages: list[tuple[int, int]] | None = None,
    source: str = "",
    min_chars: int = 300,
    max_chars: int = 800,
) -> list[Chunk]:
    """Split cleaned `text` into chunks of about `min_chars`..`max_chars` characters."""
    headings = find_headings(text)
    bounds = [0] + [h.start for h in headings] + [len(text)]
    labels = [""] + [h.label for h in headings]
    page_starts = [p[0] for p in pages or []]
    target = (min_chars + max_chars) // 2
    chunks: list[Chunk] = []
    seen: set[str] = set()

    def emit(s: int, e: int, section: str) -> None:
        body = text[s:e]
        strip_l = len(body) - len(body.lstrip())
        s, e = s + strip_l, s + len(body.rstrip())
        if e <= s:
            return
        piece = text[s:e]
        cid = chunk_id(doc_id, piece)
        if cid in seen:  # identical passage twice in one document: index it once
            return
        seen.add(cid)
        page = None
        if page_starts:
            page = pages[max(bisect.bisect_right(page_starts, s) - 1, 0)][1]  # type: ignore[index]
        chunks.append(
            Chunk(cid, doc_id, piece, title, doc_type, section or title, page, s, e, source)
        )

    for i in range(len(bounds) - 1):
        sec_start, sec_end, section = bounds[i], bounds[i + 1], labels[i]
        units: list[tuple[int, int, bool]] = []
        for s, e, new_para in _units(text, sec_start, sec_end):
            for j, (ps, pe) in enumerate(_split_long(text, s, e, max_chars)):
                units.append((ps, pe, new_para and j == 0))
        cur_start: int | None = None
        cur_end = 0
        for s, e, new_para in units:
            if cur_start is not None:
                size = cur_end - cur_start
                grown = e - cur_start
                if grown > max_chars or (new_para and size >= min_chars and grown > target):
                    emit(cur_start, cur_end, section)
                    cur_start = None
            if cur_start is None:
                cur_start = s
            cur_end = e
        if cur_start is not None:
            emit(cur_start, cur_end, section)
    return chunks
