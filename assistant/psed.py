"""PSED obligations view: each aim of the public sector equality duty and each protected
characteristic next to the passages of the indexed documents that address it.

Equality staff need to see at a glance where a framework covers each obligation and where it
is silent, and to export that as a table. The rows are data (`assistant/psed.yaml`: labels,
synonyms such as "religion and belief" for "religion or belief", exclusions such as "gender"
inside "gender reassignment"), and the matrix is built from the live index at request time, so
it works for whatever framework the user has loaded.

For each row, hybrid retrieval ranks passages for the obligation, and a scan of every chunk
makes the count exact (retrieval alone would cap it at k). A passage *addresses* the row when
one of the row's phrases occurs in its text as whole words (normalised, so quotes, case and
line breaks do not matter); for an aim, a passage in a section named after the aim counts too
("6. Developing good relations"), flagged ``via: section``. Each passage carries a verbatim
quote - the sentence holding the phrase, or for a section match the sentence that best covers
the aim's words - checked with `assistant.verify.quote_in_chunk`, and whether the document says
the characteristic is *directly* or *indirectly* relevant when it says so. A row with no passage
is reported as "no passage found", never filled in.
"""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from assistant.documents import CitedPassage, cited_fields
from assistant.text import normalise, sentence_spans
from assistant.timing import ms_since as _ms
from assistant.verify import Verifier, quote_in_chunk, windows

if TYPE_CHECKING:
    from assistant.documents import Chunk
    from assistant.retrieve import Retriever
    from assistant.settings import Settings

ROWS_PATH = Path(__file__).with_name("psed.yaml")
ADDRESSED = "addressed"
NOT_FOUND = "no passage found"
RETRIEVE_K = 8
MAX_PASSAGES = 8  # passages listed per row (the count covers all of them)
MAX_QUOTE_CHARS = 400


# ----------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class RowSpec:
    """One row definition from psed.yaml."""

    id: str
    label: str
    kind: str  # "aim" or "characteristic"
    terms: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    query: str = ""

    @property
    def search_query(self) -> str:
        return self.query or f"{self.label} ({'; '.join(self.terms[:3])})"


@lru_cache(maxsize=8)
def load_rows(path: Path = ROWS_PATH) -> tuple[RowSpec, ...]:
    """The rows of the matrix: aims first, then characteristics, in file order."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    rows: list[RowSpec] = []
    for section, kind in (("aims", "aim"), ("characteristics", "characteristic")):
        for entry in data.get(section) or []:
            terms = tuple(str(t).strip() for t in entry.get("terms") or [] if str(t).strip())
            label = str(entry.get("label") or "").strip()
            if not label or not terms:
                raise ValueError(f"{path}: every {kind} row needs a label and at least one term")
            rows.append(
                RowSpec(
                    id=str(entry.get("id") or re.sub(r"\W+", "-", label.lower()).strip("-")),
                    label=label,
                    kind=kind,
                    terms=terms,
                    exclude=tuple(str(t) for t in entry.get("exclude") or []),
                    query=str(entry.get("query") or ""),
                )
            )
    return tuple(rows)


def _pattern(phrase: str) -> re.Pattern[str]:
    words = normalise(phrase).split()
    return re.compile(r"(?<!\w)" + r"[\s-]+".join(re.escape(w) for w in words) + r"(?!\w)")


@lru_cache(maxsize=512)
def _patterns(phrases: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(_pattern(p) for p in phrases)


def find_terms(spec: RowSpec, text: str) -> list[tuple[int, int, str]]:
    """Matches (start, end, phrase) of the row's phrases in normalised `text`.

    A match inside an excluded phrase ("gender" in "gender reassignment") does not count.
    """
    body = normalise(text)
    blocked = [m.span() for p in _patterns(spec.exclude) for m in p.finditer(body)]
    found: list[tuple[int, int, str]] = []
    for phrase, pattern in zip(spec.terms, _patterns(spec.terms), strict=True):
        for m in pattern.finditer(body):
            if not any(bs <= m.start() and m.end() <= be for bs, be in blocked):
                found.append((m.start(), m.end(), phrase))
    return found


def _section_matches(spec: RowSpec, section: str) -> bool:
    return spec.kind == "aim" and bool(find_terms(spec, section))


_RELEVANCE_LIST = re.compile(r"\b(directly|indirectly)\b[^()]{0,40}?\(([^)]*)\)")


def relevance(spec: RowSpec, text: str) -> str:
    """ "direct" / "indirect" when the passage says the characteristic is (in)directly relevant.

    Recognises "directly (age, disability, …) or indirectly (marriage …)" lists and "X is
    indirectly relevant"; "" when the passage says neither.
    """
    if spec.kind != "characteristic":
        return ""
    body = normalise(text)
    for m in _RELEVANCE_LIST.finditer(body):
        if find_terms(spec, m.group(2)):
            return "direct" if m.group(1) == "directly" else "indirect"
    for phrase in spec.terms:
        pattern = _pattern(phrase).pattern
        m = re.search(
            pattern + r"[^.]{0,40}?\b(directly|indirectly)\b\s+(?:relevant|affected)", body
        )
        if m:
            return "direct" if m.group(1) == "directly" else "indirect"
    return ""


# ----------------------------------------------------------------------------- results
@dataclass
class PsedPassage(CitedPassage):
    """A passage that addresses a row, with its verbatim quote and numbered citation."""

    matched: str  # the phrase found ("" for a section match)
    via: str  # "text" or "section"
    relevance: str  # "direct", "indirect" or ""
    retrieved_rank: int | None = None


@dataclass
class PsedRow:
    """One obligation: whether the documents address it, where, and how often."""

    id: str
    label: str
    kind: str
    status: str
    count: int
    relevance: str
    doc_ids: list[str]
    sections: list[str]
    passages: list[PsedPassage]

    @property
    def addressed(self) -> bool:
        return self.status == ADDRESSED

    @property
    def first_quote(self) -> str:
        return self.passages[0].quote if self.passages else ""


@dataclass
class PsedMatrix:
    """The coverage matrix; `to_dict` is the JSON contract of the CLI and the UI."""

    rows: list[PsedRow]
    generation: str
    documents: list[str]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def row(self, key: str) -> PsedRow:
        """A row by id or label (case-insensitive)."""
        wanted = key.strip().lower()
        for row in self.rows:
            if wanted in (row.id.lower(), row.label.lower()):
                return row
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "documents": self.documents,
            "rows": [asdict(r) | {"first_quote": r.first_quote} for r in self.rows],
            "summary": {
                "addressed": sum(1 for r in self.rows if r.addressed),
                "not_found": [r.label for r in self.rows if not r.addressed],
            },
            "timings_ms": self.timings_ms,
        }

    def to_csv(self) -> str:
        """One line per row: label, kind, status, count, relevance, doc ids, sections, quote."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            ["label", "kind", "status", "count", "relevance", "doc_ids", "sections", "first_quote"]
        )
        for r in self.rows:
            writer.writerow(
                [
                    r.label,
                    r.kind,
                    r.status,
                    r.count,
                    r.relevance,
                    "; ".join(r.doc_ids),
                    "; ".join(r.sections),
                    r.first_quote,
                ]
            )
        return buffer.getvalue()

    def to_markdown(self, quote_chars: int = 110) -> str:
        """A table readable at a glance (✓ / ✗), then the numbered sources it cites."""
        lines = [
            "| PSED obligation | Kind | Addressed | Passages | Relevance | Where | First passage |",
            "|---|---|---|---:|---|---|---|",
        ]
        for r in self.rows:
            if r.addressed:
                first = r.passages[0]
                quote = shorten(first.quote, quote_chars)
                cells = [
                    "✓",
                    str(r.count),
                    r.relevance or "",
                    "; ".join(r.sections),
                    f"“{quote}” [{first.n}]",
                ]
            else:
                cells = ["✗ no passage found", "0", "", "–", "–"]
            lines.append("| " + " | ".join(_cell(c) for c in [r.label, r.kind, *cells]) + " |")
        cited = {p.n: p for r in self.rows for p in r.passages[:1]}
        if cited:
            lines += ["", "Sources:", ""]
            for n in sorted(cited):
                p = cited[n]
                page = f", page {p.page}" if p.page else ""
                lines.append(
                    f"- [{n}] {_cell(p.title)} § {_cell(p.section)}{page} (`{p.chunk_id}`)"
                )
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut at a word to at most `limit` characters (a table cell)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


# ----------------------------------------------------------------------------- building
def _quote(spec: RowSpec, chunk: Chunk) -> tuple[str, str]:
    """(verbatim quote, matched phrase): the shortest sentence (or pair of sentences, for a
    phrase broken across lines) holding the row's most specific phrase; a bare heading is used
    only when nothing else holds it."""
    text = chunk.text
    best: tuple[tuple[int, int, int, int], int, int, str] | None = None
    singles = set(sentence_spans(text))
    for s, e in windows(text):
        hits = find_terms(spec, text[s:e])
        if not hits:
            continue
        priority = min(spec.terms.index(h[2]) for h in hits)
        heading = _is_heading(text[s:e], chunk.section)
        key = (int((s, e) not in singles), int(heading), priority, e - s)
        if best is None or key < best[0]:
            best = (key, s, e, spec.terms[priority])
    if best is None:
        return "", ""
    _, s, e, phrase = best
    return _window(text, s, e, phrase), phrase


def _is_heading(sentence: str, section: str) -> bool:
    """A heading line ("5. Advancing equality of opportunity") says little as a quote."""
    bare = re.sub(r"^[\d.\s]+", "", normalise(sentence)).strip()
    return bare == re.sub(r"^[\d.\s]+", "", normalise(section)).strip() or (
        len(bare) < 40 and bare[-1:] not in ".!?;:"
    )


def _window(text: str, s: int, e: int, phrase: str) -> str:
    """The span's text, cut to a window of whole words round the phrase when it is long."""
    quote = " ".join(text[s:e].split())
    if len(quote) <= MAX_QUOTE_CHARS:
        return quote
    m = _pattern(phrase).search(quote.lower()) if phrase else None
    centre = m.start() if m else 0
    lo = max(0, centre - MAX_QUOTE_CHARS // 3)
    hi = min(len(quote), lo + MAX_QUOTE_CHARS)
    if lo > 0:
        lo = quote.find(" ", lo) + 1  # 0 when there is no space: keep the whole start
    if hi < len(quote):
        cut = quote.rfind(" ", lo, hi)
        hi = cut if cut > lo else hi
    return quote[lo:hi].strip()


def psed_matrix(
    settings: Settings,
    retriever: Retriever | None = None,
    rows: tuple[RowSpec, ...] | None = None,
) -> PsedMatrix:
    """Build the coverage matrix from the live index (raises `IndexProblem` without one)."""
    from assistant.retrieve import Retriever

    started = time.perf_counter()
    retriever = retriever or Retriever(settings)
    index = retriever.index
    specs = rows or load_rows()
    numbers: dict[str, int] = {}
    out: list[PsedRow] = []
    verifier = Verifier(
        settings.verify.min_overlap,
        settings.verify.min_similarity,
        encode=retriever.embedder.encode,
    )
    timings = {"retrieve": 0.0, "scan": 0.0}
    for spec in specs:
        t0 = time.perf_counter()
        hits = retriever.search(spec.search_query, k=min(RETRIEVE_K, max(1, len(index.chunks))))
        timings["retrieve"] += _ms(t0)
        rank = {h.chunk.chunk_id: h.rank for h in hits.hits}
        t0 = time.perf_counter()
        found = _scan(spec, index.chunks, rank, verifier)
        passages = _passages(spec, found, rank, numbers)
        timings["scan"] += _ms(t0)
        out.append(_row(spec, passages))
    timings["total"] = _ms(started)
    return PsedMatrix(
        rows=out,
        generation=index.generation,
        documents=sorted(index.documents),
        timings_ms={k: round(v, 1) for k, v in timings.items()},
    )


_Found = tuple["Chunk", str, str, str]  # chunk, via, quote, phrase


def _scan(
    spec: RowSpec, chunks: list[Chunk], rank: dict[str, int], verifier: Verifier
) -> list[_Found]:
    """Every chunk that addresses the row, sorted for listing.

    Every chunk is scanned, not only the retrieved ones, so the row's count is exact.
    """
    found: list[_Found] = []
    for chunk in chunks:
        if find_terms(spec, chunk.text):
            quote, phrase = _quote(spec, chunk)
            if quote:
                found.append((chunk, "text", quote, phrase))
        elif chunk.chunk_id in rank and _section_matches(spec, chunk.section):
            # in the section named after the aim and retrieved for it: listed only when
            # the citation verifier finds the aim's words in one of its sentences
            sup = verifier.supports(spec.label, chunk)
            if verifier.is_supported(sup):
                found.append((chunk, "section", _window(chunk.text, sup.start, sup.end, ""), ""))
    # passages using the row's words first, those stating (in)direct relevance before
    # the others, then in retrieval order (unretrieved ones last, in document order)
    found.sort(
        key=lambda f: (
            f[1] != "text",
            relevance(spec, f[0].text) == "",
            rank.get(f[0].chunk_id, 10**6),
        )
    )
    return found


def _passages(
    spec: RowSpec, found: list[_Found], rank: dict[str, int], numbers: dict[str, int]
) -> list[PsedPassage]:
    """The found passages with verbatim quotes, numbered: `numbers` is shared by all rows, so
    a passage cited by two rows has one number in the matrix."""
    passages: list[PsedPassage] = []
    for chunk, via, quote, phrase in found:
        if not quote_in_chunk(quote, chunk.text):
            continue  # never show a quote that is not verbatim in its passage
        n = numbers.setdefault(chunk.chunk_id, len(numbers) + 1)
        passages.append(
            PsedPassage(
                n=n,
                **cited_fields(chunk),
                quote=quote,
                matched=phrase,
                via=via,
                relevance=relevance(spec, chunk.text),
                retrieved_rank=rank.get(chunk.chunk_id),
            )
        )
    return passages


def _row(spec: RowSpec, passages: list[PsedPassage]) -> PsedRow:
    """The row's summary: counted over all its passages, listing the first `MAX_PASSAGES`."""
    kinds = {p.relevance for p in passages if p.relevance}
    return PsedRow(
        id=spec.id,
        label=spec.label,
        kind=spec.kind,
        status=ADDRESSED if passages else NOT_FOUND,
        count=len(passages),
        relevance="direct" if "direct" in kinds else ("indirect" if kinds else ""),
        doc_ids=list(dict.fromkeys(p.doc_id for p in passages)),
        sections=list(dict.fromkeys(p.section for p in passages if p.section)),
        passages=passages[:MAX_PASSAGES],
    )
