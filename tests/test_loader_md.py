"""Markdown loader: round trip over the authored suite and the Markdown people actually write
(raw HTML, nested and wrapped lists, front matter, inline markup)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.blocks import Block, render_block
from assistant.loader_md import load_md
from assistant.loaders import LoadError
from evals.render import DEFAULT_SRC, discover_sources, parse_source, render_suite
from evals.roundtrip import fidelity

DOC_IDS = [p.parent.name for p in discover_sources(DEFAULT_SRC)]


@pytest.fixture(scope="module")
def suite_md(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("suite-md")
    render_suite(DEFAULT_SRC, out, formats=["md"])
    return out / "md"


def load_text(tmp_path: Path, text: str, name: str = "doc.md") -> list[Block]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_md(path, path.read_bytes()).blocks


def texts(blocks: list[Block]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if b.kind == "list":
            out.extend(it.text for it in b.items)
        elif b.kind == "table":
            out.extend(c for row in b.rows for c in row)
        else:
            out.append(b.text)
    return out


def test_suite_has_twelve_documents() -> None:
    assert len(DOC_IDS) == 12


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_round_trip(suite_md: Path, doc_id: str) -> None:
    source = parse_source(DEFAULT_SRC / doc_id / "source.md")
    path = suite_md / f"{doc_id}.md"
    doc = load_md(path, path.read_bytes())
    fid = fidelity(source, doc.blocks)
    assert fid.shortfalls() == []  # evals.roundtrip.TARGETS and zero furniture
    assert doc.metadata["title"] == source.title
    assert doc.doc_id == doc_id and doc.format == "md"
    assert not any("#" in render_block(b) for b in doc.blocks if b.kind == "heading")


def test_no_heading_markers_in_any_text(tmp_path: Path) -> None:
    blocks = load_text(
        tmp_path,
        "# Title #\n\n## Section two ##\n\nSetext heading\n---\n\n### Third\n\nBody text.\n",
    )
    assert [(b.kind, b.level, b.text) for b in blocks] == [
        ("heading", 1, "Title"),
        ("heading", 2, "Section two"),
        ("heading", 2, "Setext heading"),
        ("heading", 3, "Third"),
        ("paragraph", 0, "Body text."),
    ]
    assert not any("#" in t for t in texts(blocks))


def test_wrapped_list_item_keeps_its_continuation(tmp_path: Path) -> None:
    blocks = load_text(
        tmp_path,
        "Complaints:\n\n- Send the complaint to the complaints team within\n"
        "  ten working days.\n- Keep a copy.\n",
    )
    items = [it.text for b in blocks if b.kind == "list" for it in b.items]
    assert items == [
        "Send the complaint to the complaints team within ten working days.",
        "Keep a copy.",
    ]


def test_nested_and_ordered_lists(tmp_path: Path) -> None:
    blocks = load_text(
        tmp_path,
        "3. first step\n   - a detail that is\n     wrapped\n   - another detail\n"
        "4. second step\n\n   still the second step\n",
    )
    (lst,) = blocks
    assert [(it.level, it.marker, it.label, it.text) for it in lst.items] == [
        (0, "number", "3.", "first step"),
        (1, "bullet", "", "a detail that is wrapped"),
        (1, "bullet", "", "another detail"),
        (0, "number", "4.", "second step still the second step"),
    ]


def test_raw_html_is_reduced_to_text(tmp_path: Path) -> None:
    blocks = load_text(
        tmp_path,
        "Intro with <b>bold</b> and <br> a break.\n\n"
        '<div class="note">\nA note in <em>HTML</em>.\n</div>\n\n'
        "<!-- a comment only -->\n\n<div>\n\n</div>\n\n"
        "<script>alert(1)</script>\n\nAfter.\n",
    )
    assert texts(blocks) == ["Intro with bold and a break.", "A note in HTML.", "After."]
    assert not any("<" in t for t in texts(blocks))


def test_inline_markup_tables_quotes(tmp_path: Path) -> None:
    blocks = load_text(
        tmp_path,
        "A *soft* **strong** `code` [link text](https://example.org) ![alt](x.png).\n\n"
        "> Quoted criterion\n> wrapped.\n\n"
        "| Grade | Meaning |\n|---|---|\n| **1** | Outstanding |\n",
    )
    assert blocks[0].text == "A soft strong code link text alt."
    assert (blocks[1].kind, blocks[1].text) == ("quote", "Quoted criterion wrapped.")
    assert blocks[2].rows == (("Grade", "Meaning"), ("1", "Outstanding"))


def test_front_matter_is_metadata_not_content(tmp_path: Path) -> None:
    path = tmp_path / "fm.md"
    path.write_text(
        "---\ntitle: From front matter\npublisher: Someone\n---\n# Heading title\n\nBody.\n",
        encoding="utf-8",
    )
    doc = load_md(path, path.read_bytes())
    assert doc.metadata["title"] == "From front matter"
    assert texts(doc.blocks) == ["Heading title", "Body."]
    bare = tmp_path / "bare.md"
    bare.write_text("Intro line.\n\n# First h1\n\n# Second h1\n", encoding="utf-8")
    assert load_md(bare, bare.read_bytes()).metadata["title"] == "First h1"


def test_opening_rule_is_not_front_matter(tmp_path: Path) -> None:
    blocks = load_text(tmp_path, "---\n- a list item\n---\n\nText.\n")
    assert "Text." in texts(blocks) and "a list item" in " ".join(texts(blocks))


def test_decoding_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "win.md"
    path.write_bytes("# Caf\u00e9 \u2013 report\n\nIt\u2019s fine.\n".encode("cp1252"))
    doc = load_md(path, path.read_bytes())
    assert doc.metadata["title"] == "Caf\u00e9 \u2013 report"
    assert doc.metadata["encoding"] == "cp1252"
    wide = tmp_path / "wide.md"
    wide.write_bytes("# Wide\n\nUTF-16 text.\n".encode("utf-16"))
    assert texts(load_md(wide, wide.read_bytes()).blocks) == ["Wide", "UTF-16 text."]
    for name, data, reason in [
        ("binary.md", bytes(range(256)) * 8, "not a text file"),
        ("blank.md", b"  \n\n ", "no text"),
        ("markup.md", b"<!-- nothing -->\n\n---\n", "no readable text"),
    ]:
        bad = tmp_path / name
        bad.write_bytes(data)
        with pytest.raises(LoadError, match=reason):
            load_md(bad, data)
