"""Chunks from whole blocks: no cut sentence, item or row; headings label, never stand alone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.blocks import Block, Item, layout, render_block, split_marker
from assistant.chunking import chunk_blocks
from assistant.ingest import clean_blocks


def _chunks(blocks: list[Block], min_chars: int = 300, max_chars: int = 800):  # noqa: ANN202
    text, placed = layout(blocks)
    chunks = chunk_blocks(
        placed,
        text,
        doc_id="d",
        title="Doc",
        doc_type="guidance",
        min_chars=min_chars,
        max_chars=max_chars,
    )
    return text, placed, chunks


def test_layout_offsets_point_at_each_block() -> None:
    blocks = [
        Block("heading", "1. Purpose of this framework", level=2),
        Block("paragraph", "Inspections  last\nfive days."),
        Block("list", items=(Item("first item"), Item("nested", level=1))),
        Block("table", rows=(("Grade", "Meaning"), ("Good", "Meets the standard"))),
        Block("paragraph", "   "),
    ]
    text, placed = layout(blocks)
    assert len(placed) == 4  # the empty paragraph is dropped
    for block in placed:
        assert text[block.start : block.end] == render_block(block)
    assert "Inspections last five days." in text
    assert "- first item\n  - nested" in text and "Good | Meets the standard" in text


def test_headings_label_chunks_and_never_stand_alone() -> None:
    blocks = [
        Block("heading", "Framework for inspecting agencies", level=1),
        Block("heading", "2. Judgements and the grades that inspectors give to agencies", level=2),
        Block("heading", "2.1 Overall effectiveness", level=3),
        Block("paragraph", "Overall effectiveness is judged last."),
        Block("heading", "3. An empty section", level=2),
        Block("heading", "4. Notice", level=2),
        Block("paragraph", "We give five working days' notice."),
    ]
    _text, _placed, chunks = _chunks(blocks)
    assert [(c.section, c.text) for c in chunks] == [
        ("2.1 Overall effectiveness", "Overall effectiveness is judged last."),
        ("4. Notice", "We give five working days' notice."),
    ]


def test_lead_in_stays_with_its_list_and_long_lists_split_at_items() -> None:
    items = tuple(
        Item(f"item number {i} says something about inspection practice") for i in range(30)
    )
    blocks = [
        Block("paragraph", "Some earlier paragraph that is long enough to matter here. " * 5),
        Block("paragraph", "Inspectors will check the following:"),
        Block("list", items=items),
    ]
    text, _placed, chunks = _chunks(blocks, max_chars=600)
    lead = next(c for c in chunks if "check the following:" in c.text)
    assert "- item number 0 says" in lead.text  # never a lead-in without its items
    rest = [c for c in chunks if c is not lead and "item number" in c.text]
    assert rest and all(c.context == "Inspectors will check the following:" for c in rest)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        for line in chunk.text.split("\n"):
            if line.startswith("- "):
                assert line.endswith("about inspection practice")  # whole items only


def test_long_paragraph_splits_between_sentences_only() -> None:
    sentences = [f"Inspectors talk to {i} children and carers about their care." for i in range(30)]
    blocks = [Block("paragraph", " ".join(sentences))]
    _text, _placed, chunks = _chunks(blocks, max_chars=400)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.startswith("Inspectors") and chunk.text.endswith("care.")
        assert len(chunk.text) <= 400


def test_table_continuations_carry_the_header_row() -> None:
    rows = (("Stage", "Time limit"),) + tuple(
        (f"Stage {i}", f"{i} working days") for i in range(60)
    )
    _text, _placed, chunks = _chunks([Block("table", rows=rows)], max_chars=300)
    assert len(chunks) > 2
    assert chunks[0].text.startswith("Stage | Time limit") and chunks[0].context == ""
    assert all(c.context == "Stage | Time limit" for c in chunks[1:])


def test_chrome_blocks_and_items_are_removed_whole() -> None:
    blocks = [
        Block("paragraph", "Leave a comment"),
        Block("list", items=(Item("Share this page"), Item("keep this real item"))),
        Block("paragraph", "Fieldwork lasts four days."),
    ]
    kept, removed = clean_blocks(blocks)
    assert [render_block(b) for b in kept] == [
        "- keep this real item",
        "Fieldwork lasts four days.",
    ]
    assert removed == ["Leave a comment", "Share this page"]


def test_split_marker_kinds() -> None:
    assert split_marker("• eliminate discrimination") == ("bullet", "", "eliminate discrimination")
    assert split_marker("3. Notice of inspection") == ("number", "3.", "Notice of inspection")
    assert split_marker("(b) advance equality") == ("letter", "(b)", "advance equality")
    assert split_marker("(iv) foster good relations") == ("roman", "(iv)", "foster good relations")
    assert split_marker("(2) A public authority") == ("number", "(2)", "A public authority")
    assert split_marker("Inspection should:") is None


_words = st.lists(
    st.sampled_from("the inspector visits carers. children say: safe".split()),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            _words.map(lambda w: Block("paragraph", " ".join(w))),
            _words.map(lambda w: Block("heading", " ".join(w[:8]), level=2)),
            st.lists(_words, min_size=1, max_size=12).map(
                lambda items: Block("list", items=tuple(Item(" ".join(w)) for w in items))
            ),
        ),
        max_size=25,
    ),
    st.integers(min_value=80, max_value=900),
)
def test_chunks_are_exact_ordered_slices_of_whole_blocks(
    blocks: list[Block], max_chars: int
) -> None:
    text, placed, chunks = _chunks(blocks, min_chars=max_chars // 3, max_chars=max_chars)
    bounds = {b.start for b in placed if b.kind != "heading"}
    ends = {b.end for b in placed if b.kind != "heading"}
    last = -1
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.start > last
        last = chunk.start
        # a chunk starts where a block (or one of its lines or sentences) starts
        assert chunk.start in bounds or text[chunk.start - 1] in "\n " or chunk.start == 0
        assert chunk.end in ends or text[chunk.end : chunk.end + 1] in ("\n", " ", "")
        assert not any(
            h.start >= chunk.start and h.end <= chunk.end for h in placed if h.kind == "heading"
        )
