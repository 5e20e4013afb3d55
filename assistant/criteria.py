"""Criteria finder: the evaluation criteria, expectations and principles that apply to a topic.

Generic question answering returns a few sentences; an inspector preparing a visit needs every
criterion that applies, quoted and laid out by judgement area. This module works in two steps.

1. *Extraction* (once per index generation, cached): every chunk of the live index is scanned
   for statements that read as criteria -
   quoted statements (``'…'``, ``‘…’``, ``"…"`` of 40+ characters; a quote cut off by PDF
   extraction is kept as far as the chunk has it and marked ``complete: false``), list items
   ("- …", "1. …") under an introducing line such as "we expect the following:" or "Inspection
   should:", and sentences that state what inspectors will evaluate or what is expected.
   Each candidate's text is a verbatim slice of its chunk, so it can be cited and checked with
   `assistant.verify.quote_in_chunk`. The introducing line (the *context*) names the judgement
   area ("under the impact of leadership judgement … 'learning culture'").
2. *Ranking* (per topic): hybrid retrieval of the glossary-expanded topic picks the passages
   worth looking at; each candidate there (and each candidate that shares words with the topic
   anywhere in the corpus) is scored by embedding similarity of the statement - and of its
   context - to the topic, plus lexical coverage of the topic's words and glossary synonyms.
   Statements listed together under one introduction are one set of criteria, so when one of
   them is clearly relevant the others come with it. Items above a calibrated threshold are
   grouped by judgement area and numbered as citations.

PDF extraction of two-column documents interleaves the columns, so an introducing line and the
quoted criteria it introduces can end up in different chunks. A list with no introduction of
its own is paired with an introduction left without a list in the same document when their
meanings match; such a context is marked ``context_inferred`` and cited to its own chunk.
Nothing is generated: every listed text, context and label comes from the documents.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.documents import cited_fields
from assistant.text import content_terms, normalise, sentence_spans
from assistant.timing import ms_since as _ms

if TYPE_CHECKING:
    from assistant.documents import Chunk
    from assistant.index import Index
    from assistant.retrieve import Retriever
    from assistant.settings import CriteriaConfig, Settings

KINDS = ("quoted_criterion", "expectation", "principle", "statement")
MIN_QUOTE_CHARS = 40
MIN_STATEMENT_CHARS = 30

# The cut-offs are `Settings.criteria` (`CriteriaConfig`), calibrated on the seed corpus with
# MiniLM (the topics of tests/test_criteria.py and evals/questions/modes.yaml): criteria that
# apply score 0.45-0.85, the other statements of the same documents 0.0-0.37, an unrelated
# topic ("passport renewal") at most 0.1. The blend's weights, from the same calibration:
W_DENSE, W_CONTEXT, W_LEXICAL = 0.55, 0.45, 0.45

_INTRO_WORDS = re.compile(
    r"\b(?:expect\w*|criteri(?:a|on)|should|must|principles?|evaluat\w*|descriptors?|"
    r"judge?ments?|standards?|requir\w*|following|assess\w*)\b",
    re.IGNORECASE,
)
_STATEMENT = re.compile(
    r"\b(?:we expect|expected to|will form a view|we require|criteria|criterion|"
    r"grade descriptors?|judge?ments?|must|should|"
    r"(?:inspectors?|we|inspections?|ofsted) (?:will|should|must) (?:\w+ ){0,2}?"
    r"(?:evaluate|assess|consider|judge|look|check|review|test|expect|require|take|"
    r"feed back|hold|form))\b",
    re.IGNORECASE,
)
_BULLET = re.compile(r"[-•*–]\s+")
_NUMBER = re.compile(r"(?:\d{1,2}|[a-z])[.)]\s+")
_OPENERS = {"'": "'’", "‘": "'’", '"': '"”', "“": '"”'}
_OPEN = re.compile(r"(?:^|(?<=[\s(\[/]))(['‘\"“])(?=[A-Za-z0-9])")
_TERMINAL = ".!?:;'\"’”)]"


# ----------------------------------------------------------------------------- data
@dataclass
class Candidate:
    """A statement that reads as a criterion, as it stands in its chunk (before ranking)."""

    text: str
    kind: str
    chunk_id: str
    doc_id: str
    title: str
    section: str
    page: int | None
    start: int  # offsets of `text` in the chunk's text
    end: int
    complete: bool = True
    context: str = ""  # the introducing line, verbatim from `context_chunk_id`
    context_chunk_id: str = ""
    context_inferred: bool = False
    area: str = ""  # the judgement area or section it is grouped under
    block: str = ""  # id of the list it belongs to ("" when it stands alone)
    order: int = 0  # position in the corpus (chunk order, then offset)
    terms: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    context_terms: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@dataclass
class CriteriaItem:
    """One listed criterion: a verbatim statement with its numbered citation."""

    n: int
    text: str
    kind: str
    doc_id: str
    title: str
    section: str
    page: int | None
    chunk_id: str
    quote: str
    complete: bool
    context: str
    context_chunk_id: str
    context_inferred: bool
    area: str
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class CriteriaGroup:
    """Items of one judgement area (or section) of one document, in document order."""

    label: str
    doc_id: str
    title: str
    section: str
    context: str
    items: list[CriteriaItem]


@dataclass
class CriteriaResult:
    """What the finder lists for a topic; `to_dict` is the JSON contract of the CLI and UI."""

    topic: str
    expanded: str
    groups: list[CriteriaGroup]
    generation: str
    n_candidates: int
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def items(self) -> list[CriteriaItem]:
        """All listed items in citation order."""
        return [item for group in self.groups for item in group.items]

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "expanded": self.expanded,
            "generation": self.generation,
            "n_candidates": self.n_candidates,
            "n_items": len(self.items),
            "groups": [asdict(g) for g in self.groups],
            "citations": [
                {
                    "n": i.n,
                    "doc_id": i.doc_id,
                    "title": i.title,
                    "section": i.section,
                    "page": i.page,
                    "chunk_id": i.chunk_id,
                    "quote": i.quote,
                }
                for i in self.items
            ],
            "timings_ms": self.timings_ms,
        }

    def to_markdown(self) -> str:
        """Readable listing: one heading per group, each item quoted with its citation."""
        lines = [f"## Criteria for “{self.topic}”", ""]
        if not self.groups:
            lines.append("No criteria, expectations or principles in the documents match.")
            return "\n".join(lines) + "\n"
        for group in self.groups:
            lines.append(f"### {_md(group.label)}")
            where = group.title + (f" § {group.section}" if group.section else "")
            lines.append(f"*{_md(where)}*")
            if group.context:
                lines.append(f"> {_md(group.context)}")
                if any(i.context_inferred for i in group.items):
                    lines.append(
                        ">\n> *(this introduction stands in another passage of the "
                        "document, which PDF extraction separated from its list; "
                        "matched by meaning)*"
                    )
            lines.append("")
            for item in group.items:
                note = "" if item.complete else " *(quotation cut off in the source)*"
                lines.append(f"- {_md(item.text)} [{item.n}]{note}")
            lines.append("")
        lines.append("**Sources**")
        lines.append("")
        for item in self.items:
            page = f", page {item.page}" if item.page else ""
            lines.append(
                f"[{item.n}] {_md(item.title)} § {_md(item.section)}{page} "
                f"({item.kind.replace('_', ' ')})"
            )
        return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


# ----------------------------------------------------------------------------- extraction
@dataclass
class _Line:
    start: int  # content start (after indentation and list marker)
    end: int  # content end (trailing spaces trimmed)
    line_start: int
    kind: str  # blank | bullet | number | quote | text
    text: str
    number: int = 0  # the item number of a numbered line ("3." -> 3, "c)" -> 3)


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    for m in re.finditer(r"[^\n]*", text):
        if m.start() > 0 and text[m.start() - 1] != "\n":
            continue  # the empty match right after a non-empty line
        raw = m.group()
        stripped = raw.strip()
        lead = len(raw) - len(raw.lstrip())
        s, e = m.start() + lead, m.start() + len(raw.rstrip())
        if not stripped:
            out.append(_Line(m.start(), m.start(), m.start(), "blank", ""))
            continue
        kind, value = "text", 0
        if bullet := _BULLET.match(stripped):
            kind, s = "bullet", s + bullet.end()
        elif number := _NUMBER.match(stripped):
            kind, s = "number", s + number.end()
            mark = number.group().rstrip()[:-1]
            value = int(mark) if mark.isdigit() else ord(mark) - ord("a") + 1
        elif stripped[0] in _OPENERS and _OPEN.match(stripped):
            kind = "quote"
        out.append(_Line(s, e, m.start(), kind, text[s:e], value))
    return out


def find_quotes(text: str, min_chars: int = MIN_QUOTE_CHARS) -> list[tuple[int, int, bool]]:
    """Spans (start, end, complete) of quoted statements, quote marks included.

    A quote ends at the first matching closing mark that follows a non-space character and is
    not followed by a letter (so "children's" does not close it), within its paragraph. With
    no closing mark the quote runs to the end of its line and is marked incomplete: the rest
    was cut off by the chunk or by PDF column extraction.
    """
    spans: list[tuple[int, int, bool]] = []
    pos = 0
    while (m := _OPEN.search(text, pos)) is not None:
        start = m.start()
        closers = _OPENERS[m.group(1)]
        para_end = text.find("\n\n", start)
        para_end = len(text) if para_end < 0 else para_end
        end, complete = -1, False
        for i in range(start + 1, para_end):
            ch = text[i]
            if ch == "\n" and _BULLET.match(text[i + 1 : i + 4].lstrip()):
                break  # the next line is a new list item: this quote was cut off
            if ch in _OPENERS and text[i - 1].isspace() and _OPEN.match(text, i):
                break  # another quotation opens before this one closed
            if ch in closers and not text[i - 1].isspace() and i > start + 1:
                after = text[i + 1] if i + 1 < len(text) else " "
                if not after.isalnum():
                    end, complete = i + 1, True
                    break
        if end < 0:
            line_end = text.find("\n", start)
            end = len(text) if line_end < 0 else line_end
            while end > start and text[end - 1].isspace():
                end -= 1
        body = text[start + 1 : end - 1 if complete else end].strip()
        if len(body) >= min_chars:
            spans.append((start, end, complete))
            pos = end
        else:
            pos = m.end()
    return spans


def _is_intro(line: _Line, following: _Line | None) -> bool:
    """An introducing line: ends with ':' (or dangles into a list) and says what follows."""
    if line.kind not in ("text", "number") or not _INTRO_WORDS.search(line.text):
        return False
    if line.text.endswith(":"):
        return True
    dangling = line.text[-1] not in _TERMINAL
    return dangling and following is not None and following.kind in ("bullet", "number")


def _intro_text(line: _Line) -> tuple[int, int]:
    """The introducing sentence(s) of a line: its last sentence, with the one before if short."""
    spans = [(line.start + s, line.start + e) for s, e in sentence_spans(line.text)]
    if not spans:
        return line.start, line.end
    s, e = spans[-1]
    if e - s < 40 and len(spans) > 1:
        s = spans[-2][0]
    return s, e


def _area(context: str, section: str, title: str) -> str:
    """The judgement area a context names ("impact of leadership: learning culture")."""
    if context:
        judgement = re.search(r"\bunder the (.{3,60}?) judge?ment\b", context, re.IGNORECASE)
        quoted = re.search(r"(?:^|(?<=\s))['‘\"“]([^'’\"”]{3,60})['’\"”]", context)
        evaluating = re.search(
            r"\bevaluat(?:ing|e) (?:the |a |an )?(.{3,60}?)(?:,| we\b| inspectors\b|:|$)",
            context,
            re.IGNORECASE,
        )
        parts = []
        if judgement:
            parts.append(f"{judgement.group(1)} judgement")
        if quoted:
            parts.append(quoted.group(1))
        elif evaluating and not judgement:
            parts.append(evaluating.group(1))
        if parts:
            label = ": ".join(parts)
            return label[0].upper() + label[1:]
    return section or title


def extract_candidates(chunks: list[Chunk]) -> list[Candidate]:
    """Every criterion-like statement of the chunks, in corpus order (no ranking, no pairing)."""
    return _extract(chunks)[0]


def _extract(chunks: list[Chunk]) -> tuple[list[Candidate], list[tuple[Chunk, int, int]]]:
    """Candidates, plus the introductions ("we expect the following:") that no list follows."""
    out: list[Candidate] = []
    orphan_intros: list[tuple[Chunk, int, int]] = []
    for pos, chunk in enumerate(chunks):
        found, intros = _chunk_candidates(chunk, pos)
        out.extend(found)
        orphan_intros.extend((chunk, s, e) for s, e in intros)
    return out, orphan_intros


def _chunk_candidates(chunk: Chunk, pos: int) -> tuple[list[Candidate], list[tuple[int, int]]]:
    """Candidates of one chunk, and the introductions in it that no list follows.

    Three passes, most specific first, each skipping the text an earlier one took: list items
    under their introduction, quotations standing in running text, then sentences that state
    what is expected. An introduction no pass used is left for `_pair_orphans`.
    """
    scan = _ChunkScan(chunk, pos, find_quotes(chunk.text))
    nonblank = [ln for ln in _lines(chunk.text) if ln.kind != "blank"]
    orphan_intros = _dangling_intros(nonblank)
    _list_candidates(scan, nonblank)
    spans = sentence_spans(chunk.text)
    _running_quotes(scan, spans)
    _statements(scan, spans)
    found, taken = scan.found, scan.taken
    for cand in found:
        cand.area = _area(cand.context, cand.section, cand.title)
        cand.terms = frozenset(content_terms(cand.text))
        cand.context_terms = frozenset(content_terms(cand.context))
    found.sort(key=lambda c: c.start)
    leftover = [(s, e) for s, e in orphan_intros if not any(s < te and ts < e for ts, te in taken)]
    return found, leftover


@dataclass
class _ChunkScan:
    """One chunk being scanned: the candidates found so far and the spans they (and their
    introductions) take, so that a later pass does not list the same text again."""

    chunk: Chunk
    pos: int
    quotes: list[tuple[int, int, bool]]
    taken: list[tuple[int, int]] = field(default_factory=list)
    found: list[Candidate] = field(default_factory=list)

    def make(self, s: int, e: int, kind: str, complete: bool = True, **extra: Any) -> Candidate:
        """Record the candidate at text[s:e] (a verbatim slice, so it can be cited)."""
        chunk = self.chunk
        self.taken.append((s, e))
        cand = Candidate(
            text=chunk.text[s:e],
            kind=kind,
            chunk_id=chunk.chunk_id,
            doc_id=chunk.doc_id,
            title=chunk.title,
            section=chunk.section,
            page=chunk.page,
            start=s,
            end=e,
            complete=complete,
            order=self.pos * 1_000_000 + s,
            **extra,
        )
        self.found.append(cand)
        return cand

    def quote_in(self, s: int, e: int) -> tuple[int, int, bool] | None:
        """The quotation that makes up most of text[s:e] (a list item that is a quote)."""
        for q in self.quotes:
            if s <= q[0] < e and (min(q[1], e) - q[0]) >= 0.6 * (e - s):
                return q
        return None


def _dangling_intros(nonblank: list[_Line]) -> list[tuple[int, int]]:
    """Introductions ending in ':' that running text, not a list, follows: PDF column
    extraction may have put their list elsewhere."""
    out: list[tuple[int, int]] = []
    for j, line in enumerate(nonblank):
        nxt = nonblank[j + 1] if j + 1 < len(nonblank) else None
        if _is_intro(line, nxt) and (nxt is None or nxt.kind == "text"):
            if line.text.endswith(":"):
                out.append(_intro_text(line))
    return out


_ITEM_KINDS = ("bullet", "number", "quote")


def _item_run(nonblank: list[_Line], i: int) -> list[_Line]:
    """The run of list items starting at nonblank[i] (blank lines between them allowed)."""
    run = [nonblank[i]]
    i += 1
    while i < len(nonblank) and nonblank[i].kind in _ITEM_KINDS:
        nxt = nonblank[i]
        if nxt.kind == "number" and run[-1].kind == "number" and nxt.number != run[-1].number + 1:
            break  # "4. Eliminating discrimination" after "2. …" is a heading, not item 3
        run.append(nxt)
        i += 1
    return run


def _list_candidates(scan: _ChunkScan, nonblank: list[_Line]) -> None:
    """Lists: runs of items and the line introducing them, which becomes their context.

    Items of one run share a block id, so ranking can bring a whole list when one item is
    clearly relevant; an unintroduced list keeps only its quoted items."""
    text, chunk_id = scan.chunk.text, scan.chunk.chunk_id
    i, n_block = 0, 0
    while i < len(nonblank):
        line = nonblank[i]
        if line.kind not in _ITEM_KINDS:
            i += 1
            continue
        prev = nonblank[i - 1] if i > 0 else None
        intro = prev if prev is not None and _is_intro(prev, line) else None
        run = _item_run(nonblank, i)
        i += len(run)
        n_block += 1
        block = f"{chunk_id}/{n_block}"
        context, ctx_kind = "", "expectation"
        if intro is not None:
            cs, ce = _intro_text(intro)
            context = text[cs:ce]
            scan.taken.append((cs, ce))
            if re.search(r"\bprinciples?\b", context, re.IGNORECASE):
                ctx_kind = "principle"
        for item in run:
            q = scan.quote_in(item.start, item.end)
            if q is not None:
                kind = "principle" if ctx_kind == "principle" else "quoted_criterion"
                scan.make(q[0], q[1], kind, q[2], context=context, block=block)
            elif intro is not None and (item.kind == "bullet" or len(run) > 1):
                if len(item.text) >= 3 and any(ch.isalpha() for ch in item.text):
                    scan.make(item.start, item.end, ctx_kind, context=context, block=block)
    for ctx in (c for c in scan.found if c.context):
        ctx.context_chunk_id = chunk_id


def _running_quotes(scan: _ChunkScan, spans: list[tuple[int, int]]) -> None:
    """Quotes standing in running text; the words leading into one are its context."""
    text = scan.chunk.text
    for qs, qe, complete in scan.quotes:
        if any(s <= qs < e for s, e in scan.taken):
            continue
        lead_start = next((s for s, e in spans if s <= qs < e), qs)
        lead = text[lead_start:qs].rstrip()
        if "\n\n" in lead:  # a paragraph break: keep the part next to the quote
            lead_start += lead.rindex("\n\n") + 2
            lead = text[lead_start:qs].rstrip()
        kind = "principle" if re.search(r"\bprinciples?\b", lead, re.I) else "quoted_criterion"
        cand = scan.make(qs, qe, kind, complete)
        if len(lead) >= 10:
            cand.context = lead
            cand.context_chunk_id = scan.chunk.chunk_id


def _statements(scan: _ChunkScan, spans: list[tuple[int, int]]) -> None:
    """Sentences that state what is expected or evaluated (a PDF line join across a blank
    line is undone, and a section heading written inline is left out)."""
    chunk = scan.chunk
    text = chunk.text
    heading = normalise(chunk.section)
    for s0, e0 in spans:
        for piece in re.finditer(r"(?:(?!\n[ \t]*\n).)+", text[s0:e0], re.DOTALL):
            s, e = s0 + piece.start(), s0 + piece.end()
            s = _skip_heading(text, s, e, chunk.section)
            while e > s and text[e - 1].isspace():
                e -= 1
            if e - s < MIN_STATEMENT_CHARS or any(s < te and ts < e for ts, te in scan.taken):
                continue
            sentence = text[s:e]
            if sentence.endswith(":") or not _STATEMENT.search(sentence):
                continue
            if normalise(sentence) in (heading, normalise(chunk.title)):
                continue
            scan.make(s, e, "statement")


def _skip_heading(text: str, s: int, e: int, section: str) -> int:
    """Start of a sentence after the section heading it begins with ("3.1 Title The …")."""
    words = section.split()
    if not words:
        return s
    pattern = r"\s*" + r"\s+".join(re.escape(w) for w in words) + r"\s+(?=\S)"
    m = re.match(pattern, text[s:e])
    return s + m.end() if m and m.end() < e - s else s


# ----------------------------------------------------------------------------- caches
_EMBED_CACHE: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_EMBED_LIMIT = 50_000
_CANDIDATES: dict[tuple[str, str], list[Candidate]] = {}
_lock = threading.Lock()


def _encode(embedder: Any, texts: list[str]) -> np.ndarray:
    """Unit vectors of `texts`, cached by embedder name (criteria texts repeat across topics)."""
    name = getattr(embedder, "name", type(embedder).__name__)
    with _lock:
        missing = [t for t in dict.fromkeys(texts) if (name, t) not in _EMBED_CACHE]
    if missing:
        vectors = np.asarray(embedder.encode(missing), dtype=np.float32)
        with _lock:
            for text, vec in zip(missing, vectors, strict=True):
                _EMBED_CACHE[(name, text)] = vec
            while len(_EMBED_CACHE) > _EMBED_LIMIT:
                _EMBED_CACHE.popitem(last=False)
    with _lock:
        rows = [_EMBED_CACHE[(name, t)] for t in texts]
    if not rows:
        return np.zeros((0, 1), dtype=np.float32)
    return np.vstack(rows)


def candidates_for(index: Index, embedder: Any) -> list[Candidate]:
    """The criterion candidates of an index generation (extracted once, then cached).

    Lists without an introduction are paired here with introductions left without a list in
    the same document (PDF column interleaving separates them), by embedding similarity.
    """
    key = (str(index.settings.indexes), f"{index.generation}:{getattr(embedder, 'name', '')}")
    with _lock:
        cached = _CANDIDATES.get(key)
    if cached is not None:
        return cached
    found, orphan_intros = _extract(index.chunks)
    _pair_orphans(found, orphan_intros, embedder, index.settings.criteria.pair_min_similarity)
    with _lock:
        for old in [k for k in _CANDIDATES if k[0] == key[0]]:
            del _CANDIDATES[old]  # one generation per index folder is enough
        _CANDIDATES[key] = found
    return found


def _pair_orphans(
    found: list[Candidate],
    orphan_intros: list[tuple[Chunk, int, int]],
    embedder: Any,
    min_similarity: float,
) -> None:
    blocks: dict[str, list[Candidate]] = {}
    for cand in found:
        if cand.block and not cand.context and cand.kind == "quoted_criterion":
            blocks.setdefault(cand.block, []).append(cand)
    if not blocks or not orphan_intros:
        return
    intro_texts = [chunk.text[s:e] for chunk, s, e in orphan_intros]
    block_ids = list(blocks)
    block_texts = [" ".join(c.text for c in blocks[b]) for b in block_ids]
    sims = _encode(embedder, block_texts) @ _encode(embedder, intro_texts).T
    pairs = sorted(
        ((float(sims[b, i]), b, i) for b in range(len(block_ids)) for i in range(len(intro_texts))),
        reverse=True,
    )
    used_blocks: set[int] = set()
    used_intros: set[int] = set()
    for sim, b, i in pairs:
        if sim < min_similarity:
            break
        chunk = orphan_intros[i][0]
        members = blocks[block_ids[b]]
        if b in used_blocks or i in used_intros or chunk.doc_id != members[0].doc_id:
            continue
        if not re.search(r"\bexpect|criteri", intro_texts[i], re.IGNORECASE):
            continue  # only "we expect the following:"-style introductions introduce quotes
        used_blocks.add(b)
        used_intros.add(i)
        for cand in members:
            cand.context = intro_texts[i]
            cand.context_chunk_id = chunk.chunk_id
            cand.context_inferred = True
            cand.context_terms = frozenset(content_terms(cand.context))
            cand.area = _area(cand.context, cand.section, cand.title)


# ----------------------------------------------------------------------------- ranking
def _topic_phrases(topic: str, glossary: tuple[tuple[str, ...], ...]) -> list[list[str]]:
    """Content-term sets that each count as the topic: the topic itself and its synonyms."""
    from assistant.retrieve import expand_query

    _, added = expand_query(topic, glossary)
    phrases = [content_terms(topic, drop_generic=True) or content_terms(topic)]
    phrases += [content_terms(a) for a in added]
    return [p for p in phrases if p]


def lexical_score(phrases: list[list[str]], terms: frozenset[str] | set[str]) -> float:
    """Best coverage of any topic phrasing by a text's content words (0..1).

    The topic's own words count fully; a glossary synonym's words count 0.9, so a statement
    using the topic's words ranks above one that only uses a synonym.
    """
    best = 0.0
    for i, phrase in enumerate(phrases):
        wanted = set(phrase)
        cover = len(wanted & terms) / len(wanted)
        best = max(best, cover if i == 0 else 0.9 * cover)
    return best


def _lexical(phrases: list[list[str]], cand: Candidate) -> float:
    own = lexical_score(phrases, cand.terms)
    return max(own, 0.8 * lexical_score(phrases, cand.context_terms)) if cand.context else own


def find_criteria(
    settings: Settings,
    topic: str,
    k: int = 12,
    retriever: Retriever | None = None,
) -> CriteriaResult:
    """The criteria, expectations and principles of the indexed documents that apply to `topic`.

    Raises ValueError on an empty topic and `IndexProblem` when there is no index.
    """
    from assistant.retrieve import Retriever, expand_query

    cleaned = " ".join(str(topic or "").split())
    if not any(ch.isalnum() for ch in cleaned):
        raise ValueError("the topic is empty; give a topic such as 'workforce' or 'leadership'")
    started = time.perf_counter()
    timings: dict[str, float] = {}
    retriever = retriever or Retriever(settings)
    index = retriever.index
    embedder = retriever.embedder
    t0 = time.perf_counter()
    candidates = candidates_for(index, embedder)
    timings["extract"] = _ms(t0)

    t0 = time.perf_counter()
    n_hits = max(settings.candidates, 3 * k)
    search = retriever.search(cleaned, k=min(n_hits, max(1, len(index.chunks))))
    timings["retrieve"] = _ms(t0)
    hit_rank = {h.chunk.chunk_id: h.rank for h in search.hits}
    phrases = _topic_phrases(cleaned, retriever.glossary)
    lexical = [_lexical(phrases, c) for c in candidates]
    config = settings.criteria
    pool = _pool(candidates, hit_rank, lexical, config.max_lexical_pool)
    t0 = time.perf_counter()
    scores, reasons = _score(cleaned, candidates, pool, lexical, embedder)
    timings["score"] = _ms(t0)

    chosen = _choose(candidates, scores, k, config)
    groups = _group(candidates, chosen, scores, reasons, config.score_threshold)
    timings["total"] = _ms(started)
    expanded, _ = expand_query(cleaned, retriever.glossary)
    return CriteriaResult(
        topic=cleaned,
        expanded=expanded,
        groups=groups,
        generation=index.generation,
        n_candidates=len(candidates),
        timings_ms={key: round(value, 1) for key, value in timings.items()},
    )


def _pool(
    candidates: list[Candidate], hit_rank: dict[str, int], lexical: list[float], limit: int
) -> list[int]:
    """Candidates worth scoring: those in retrieved passages, the best lexical matches
    anywhere, and their list-mates (so a list is judged as a whole)."""
    wanted = {i for i, c in enumerate(candidates) if c.chunk_id in hit_rank}
    by_lexical = sorted((i for i, v in enumerate(lexical) if v > 0), key=lambda i: -lexical[i])
    wanted.update(by_lexical[:limit])
    blocks = {candidates[i].block for i in wanted if candidates[i].block}
    wanted.update(i for i, c in enumerate(candidates) if c.block and c.block in blocks)
    return sorted(wanted)


def _score(
    topic: str,
    candidates: list[Candidate],
    pool: list[int],
    lexical: list[float],
    embedder: Any,
) -> tuple[dict[int, float], dict[int, list[str]]]:
    """Score = dense similarity of statement (or its context) + lexical coverage of the topic."""
    scores: dict[int, float] = {}
    reasons: dict[int, list[str]] = {}
    if not pool:
        return scores, reasons
    topic_vec = np.asarray(embedder.embed_query(topic), dtype=np.float32)
    texts = [candidates[i].text.strip("'‘’\"“”") for i in pool]
    dense = _encode(embedder, texts) @ topic_vec
    contexts = [candidates[i].context for i in pool]
    with_ctx = [j for j, c in enumerate(contexts) if c]
    ctx_sim = np.zeros(len(pool), dtype=np.float32)
    if with_ctx:
        ctx_sim[with_ctx] = _encode(embedder, [contexts[j] for j in with_ctx]) @ topic_vec
    for j, i in enumerate(pool):
        semantic = max(W_DENSE * float(dense[j]), W_CONTEXT * float(ctx_sim[j]))
        scores[i] = round(semantic + W_LEXICAL * lexical[i], 4)
        why = [f"similarity {float(dense[j]):.2f}"]
        if contexts[j]:
            why.append(f"context similarity {float(ctx_sim[j]):.2f}")
        if lexical[i]:
            why.append(f"topic words {lexical[i]:.0%}")
        reasons[i] = why
    return scores, reasons


def _choose(
    candidates: list[Candidate], scores: dict[int, float], k: int, config: CriteriaConfig
) -> list[int]:
    """Items above the threshold, best first, with the list-mates of clearly relevant items."""
    threshold = config.score_threshold
    ranked = sorted((i for i, s in scores.items() if s >= threshold), key=lambda i: -scores[i])
    chosen: list[int] = []
    blocks: dict[str, list[int]] = {}
    for i, cand in enumerate(candidates):
        if cand.block:
            blocks.setdefault(cand.block, []).append(i)
    for i in ranked:
        if len(chosen) >= k:
            break
        if i in chosen:
            continue
        chosen.append(i)
        cand = candidates[i]
        if cand.block and scores[i] >= threshold + config.sibling_margin:
            for mate in blocks[cand.block]:
                if mate not in chosen and len(chosen) < k:
                    chosen.append(mate)
    return chosen


def _group(
    candidates: list[Candidate],
    chosen: list[int],
    scores: dict[int, float],
    reasons: dict[int, list[str]],
    threshold: float,
) -> list[CriteriaGroup]:
    """Group by (document, area); groups ordered by their best item, items in document order."""
    buckets: dict[tuple[str, str], list[int]] = {}
    for i in chosen:
        cand = candidates[i]
        buckets.setdefault((cand.doc_id, cand.area), []).append(i)
    ordered = sorted(buckets.items(), key=lambda kv: -max(scores.get(i, 0.0) for i in kv[1]))
    groups: list[CriteriaGroup] = []
    n = 0
    for (doc_id, area), members in ordered:
        members.sort(key=lambda i: candidates[i].order)
        items: list[CriteriaItem] = []
        for i in members:
            c = candidates[i]
            n += 1
            why = list(reasons.get(i, []))
            if scores.get(i, 0.0) < threshold:
                why.append("listed under the same introduction as a relevant criterion")
            items.append(
                CriteriaItem(
                    n=n,
                    text=c.text,
                    kind=c.kind,
                    **cited_fields(c),
                    quote=" ".join(c.text.split()),
                    complete=c.complete,
                    context=c.context,
                    context_chunk_id=c.context_chunk_id,
                    context_inferred=c.context_inferred,
                    area=c.area,
                    score=scores.get(i, 0.0),
                    reasons=why,
                )
            )
        first = candidates[members[0]]
        contexts = list(
            dict.fromkeys(candidates[i].context for i in members if candidates[i].context)
        )
        sections = list(dict.fromkeys(candidates[i].section for i in members))
        groups.append(
            CriteriaGroup(
                label=area,
                doc_id=doc_id,
                title=first.title,
                section="; ".join(sections),
                context=contexts[0] if len(contexts) == 1 else "",
                items=items,
            )
        )
    return groups
