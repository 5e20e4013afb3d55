"""Property tests (hypothesis) for the text pipeline's pure functions: cleaning, splitting and
citation verification must never raise on arbitrary input and must keep their invariants
(no zero-width characters; chunks are exact, non-empty, ordered slices of the cleaned text;
support spans and quotes lie inside the cited chunk; only provided citation numbers survive).

Each test runs 200 examples with no per-example deadline and stays well under 20 s.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.clean import clean_pages, clean_text, is_chrome_line
from assistant.documents import Chunk
from assistant.embeddings import HashEmbeddings
from assistant.split import split_text
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


# ----------------------------------------------------------------------------- cleaning
@FUZZ
@given(st.one_of(docs, spaced_docs, st.text()))
@example("**a**b**\n")
@example("a-\n-\nb")
@example("\u200b" * 10)
def test_clean_text_never_raises_and_is_stable(raw: str) -> None:
    first = clean_text(raw)
    assert isinstance(first.text, str)
    assert not any(ch in first.text for ch in ZERO_WIDTH)
    assert first.text.endswith("\n")
    assert first.removed_chars >= 0
    # no control or format characters survive except the newline
    assert all(ch == "\n" or unicodedata.category(ch)[0] != "C" for ch in first.text)
    second = clean_text(first.text)
    assert not any(ch in second.text for ch in ZERO_WIDTH)
    # Cleaning again loses no words. The only lines a second pass may drop are stubs with
    # fewer than three letters or digits that splitting inline bullets left behind (e.g. the
    # "0" of "0 • item • item"); the chrome filter treats such lines as noise.
    kept = "\n".join(line for line in first.text.split("\n") if not is_chrome_line(line))
    assert alnum(second.text) == alnum(kept), (raw, first.text, second.text)
    assert all(alnum(line) for line in set(first.text.split("\n")) - set(kept.split("\n")))
    # and after that it is a fixed point up to whitespace
    assert nonspace(clean_text(second.text).text) == nonspace(second.text)


@FUZZ
@given(st.lists(st.one_of(docs, st.text(max_size=80)), min_size=1, max_size=6))
def test_clean_pages_never_raises_and_pages_point_into_text(pages_text: list[str]) -> None:
    text, pages, offset = "", [], 0
    for number, page in enumerate(pages_text, start=1):
        pages.append((offset, number))
        text += page + "\n\n"
        offset += len(page) + 2
    result = clean_pages(text, pages)
    assert not any(ch in result.text for ch in ZERO_WIDTH)
    starts = [s for s, _ in result.pages]
    assert starts == sorted(starts)
    assert all(0 <= s <= len(result.text) for s in starts)


# ----------------------------------------------------------------------------- splitting
def check_chunks(text: str, min_chars: int, max_chars: int) -> None:
    chunks = split_text(
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
        assert len(chunk.text) <= max_chars
        assert chunk.chunk_id not in ids
        ids.add(chunk.chunk_id)
        previous_end = chunk.end


@FUZZ
@given(st.one_of(docs, spaced_docs, st.text()), st.sampled_from([(300, 800), (20, 60), (5, 12)]))
def test_split_text_chunks_are_exact_ordered_slices(raw: str, sizes: tuple[int, int]) -> None:
    check_chunks(raw, *sizes)  # raw text (the splitter must not assume it was cleaned)
    check_chunks(clean_text(raw).text, *sizes)


@FUZZ
@given(
    st.text(alphabet="ab .,;\n-", min_size=0, max_size=3000),
    st.sampled_from([(30, 80), (300, 800)]),
)
def test_split_text_long_runs_without_breaks(raw: str, sizes: tuple[int, int]) -> None:
    check_chunks(raw.replace("\n", "") * 3, *sizes)


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
