"""Property tests (hypothesis) for the text pipeline's pure functions: the text loaders, the
chunker and citation verification must never raise on arbitrary input and must keep their
invariants (no zero-width characters; chunks are exact, non-empty, ordered slices of the text;
support spans and quotes lie inside the cited chunk; only provided citation numbers survive).

Each test runs 200 examples with no per-example deadline and stays well under 20 s.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.blocks import layout, render_block
from assistant.chunking import chunk_blocks
from assistant.documents import Chunk
from assistant.embeddings import HashEmbeddings
from assistant.ingest import clean_blocks
from assistant.loader_html import load_html
from assistant.loader_md import load_md
from assistant.loader_txt import load_txt
from assistant.loaders import LoadError
from assistant.text import split_answer_sentences
from assistant.verify import Verifier, claims, parse_markers, quote_in_chunk

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

# Text that looks like the corpus often enough to exercise the interesting paths (headings,
# bullets, numbered sections, chrome lines, PDF hyphenation, markup), mixed with anything at all.
FRAGMENTS = [
    "# Heading one",
    "## Sub heading",
    "1. Introduction",
    "2. Aims of the duty",
    "3.1 The proposed evaluation criteria",
    "- a list item about equality",
    "• inline bullet • another bullet",
    "The public sector equality duty has three aims.",
    "Inspectors evaluate the experiences of children.",
    "consid-\nered",
    "Cookies on GOV.UK",
    "Skip to main content",
    "Crown copyright",
    "**bold text**",
    "__under__",
    "<b>tag</b> <br>",
    "> quoted line",
    "Home > News",
    "Is this page useful?",
    "\u200bzero\u200dwidth\ufeff",
    "\r\n",
    "\n\n",
    "\t",
    "\x00\x07\x1b",
    "\u00a0",
    "\u202e",
    "Mr. Smith went to Washington. He said: 'yes'.",
    "e.g. this; that, and the other",
    "Équité, diversité et inclusion.",
    "平等、多样性和包容。",
    "[1] [2] [99]",
    "(see 4.2)",
]
text_pieces = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.from_regex(r"[A-Za-z ]{1,200}[.!?]", fullmatch=True),
)
docs = st.lists(text_pieces, max_size=30).map(lambda parts: "".join(parts))
spaced_docs = st.lists(text_pieces, max_size=30).flatmap(
    lambda parts: st.lists(
        st.sampled_from([" ", "\n", "\n\n", "", ". "]), min_size=len(parts), max_size=len(parts)
    ).map(lambda seps: "".join(p + s for p, s in zip(parts, seps, strict=True)))
)


def nonspace(text: str) -> str:
    return "".join(text.split())


def alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


# ----------------------------------------------------------------------------- loading + chunking
TEXT_LOADERS = {"txt": load_txt, "md": load_md, "html": load_html}


def check_chunks(raw: str, fmt: str, min_chars: int, max_chars: int) -> None:
    """A text loader either refuses with LoadError or gives blocks whose chunks are exact,
    ordered, non-overlapping slices of the laid-out text, within `max_chars`, ids unique."""
    try:
        doc = TEXT_LOADERS[fmt](Path(f"fuzz.{fmt}"), raw.encode("utf-8", "surrogatepass"))
    except LoadError:
        return
    kept, _removed = clean_blocks(doc.blocks)
    text, placed = layout(kept)
    assert not any(ch in text for ch in ZERO_WIDTH[:4])
    for block in placed:
        assert text[block.start : block.end] == render_block(block)
    chunks = chunk_blocks(
        placed,
        text,
        doc_id="doc",
        title="Title",
        doc_type="other",
        min_chars=min_chars,
        max_chars=max_chars,
    )
    previous_end = 0
    ids = set()
    for chunk in chunks:
        assert chunk.text.strip(), "empty chunk"
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.start >= previous_end, "chunks overlap or go backwards"
        assert len(chunk.text) <= max_chars or "\n" not in chunk.text.strip(), len(chunk.text)
        assert chunk.chunk_id not in ids
        ids.add(chunk.chunk_id)
        previous_end = chunk.end


@FUZZ
@given(
    st.one_of(docs, spaced_docs, st.text()),
    st.sampled_from(sorted(TEXT_LOADERS)),
    st.sampled_from([(300, 800), (20, 60), (5, 12)]),
)
@example("**a**b**\n", "md", (300, 800))
@example("a-\n-\nb", "txt", (300, 800))
@example("\u200b" * 10, "txt", (300, 800))
def test_loaders_and_chunker_never_raise_and_slice_exactly(
    raw: str, fmt: str, sizes: tuple[int, int]
) -> None:
    check_chunks(raw, fmt, *sizes)


@FUZZ
@given(
    st.text(alphabet="ab .,;\n-", min_size=0, max_size=3000),
    st.sampled_from([(30, 80), (300, 800)]),
)
def test_long_runs_without_breaks_are_cut_to_size(raw: str, sizes: tuple[int, int]) -> None:
    check_chunks(raw.replace("\n", "") * 3, "txt", *sizes)


# ----------------------------------------------------------------------------- verification
chunk_texts = st.one_of(
    st.just(""),
    docs,
    st.lists(st.sampled_from(FRAGMENTS[6:12] + FRAGMENTS[26:29]), min_size=1, max_size=8).map(
        " ".join
    ),
)
marker = st.integers(min_value=-3, max_value=15).map(lambda n: f"[{n}]")


@st.composite
def answers_and_sources(draw: st.DrawFn) -> tuple[str, dict[int, Chunk]]:
    numbers = draw(st.lists(st.integers(min_value=0, max_value=12), max_size=5, unique=True))
    sources = {}
    for n in numbers:
        text = draw(chunk_texts)
        sources[n] = Chunk(f"d:{n}", "d", text, "T", "other", "S", None, 0, len(text))
    pieces = draw(
        st.lists(
            st.one_of(
                text_pieces,
                marker,
                # fragments of the sources themselves, so some sentences are really supported
                st.sampled_from([c.text for c in sources.values()] or ["x"]).flatmap(
                    lambda t: st.integers(0, max(len(t), 0)).map(lambda i: t[i : i + 120])
                ),
                st.sampled_from(["\n- ", ". ", "; ", " ", "\n"]),
            ),
            max_size=25,
        )
    )
    return "".join(pieces), sources


_ENCODER = HashEmbeddings()


@FUZZ
@given(answers_and_sources(), st.booleans())
def test_verifier_never_raises_and_spans_stay_in_chunks(
    case: tuple[str, dict[int, Chunk]], with_encoder: bool
) -> None:
    answer, sources = case
    verifier = Verifier(0.5, 0.6, encode=_ENCODER.encode if with_encoder else None)
    checked = verifier.check(answer, sources)
    for cs in checked:
        assert set(cs.cited) <= set(sources), (cs.cited, sorted(sources))
        if not cs.supported:
            continue
        assert cs.cited, cs
        for n in cs.cited:
            sup = cs.support[n]
            text = sources[n].text
            assert 0 <= sup.start <= sup.end <= len(text), (sup, len(text))
            quote = " ".join(text[sup.start : sup.end].split())
            assert quote, "a supported sentence needs a non-empty quote"
            assert quote_in_chunk(quote, text)


@FUZZ
@given(st.one_of(docs, st.text(), answers_and_sources().map(lambda c: c[0])))
def test_marker_and_claim_parsing_never_raise(text: str) -> None:
    bare, numbers = parse_markers(text)
    assert isinstance(bare, str)
    assert all(isinstance(n, int) and n >= 0 for n in numbers)
    assert len(numbers) == len(set(numbers))
    parts = claims(text)
    assert isinstance(parts, list) and all(isinstance(p, str) and p for p in parts)
    for sentence, is_item in split_answer_sentences(text, with_items=True):
        assert isinstance(sentence, str) and isinstance(is_item, bool)
    assert not re.search(r"\[\d+\]", bare)
