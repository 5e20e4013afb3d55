"""DOCX loader: round trip over the suite's Word renderings, real Word numbering, headers and
footers kept out, styles, tables and the broken files people upload."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import docx
import pytest
from conftest import assert_same_structure
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from assistant import loaders
from assistant.blocks import Block, layout
from assistant.loader_docx import load_docx
from assistant.loaders import LoadError
from evals.render import (
    DEFAULT_SRC,
    block_texts,
    discover_sources,
    docx_footer,
    parse_source,
    render_suite,
)
from evals.roundtrip import fidelity, loaded_units, norm

DOC_IDS = [p.parent.name for p in discover_sources(DEFAULT_SRC)]


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("suite-docx")
    render_suite(DEFAULT_SRC, out, formats=["docx"])
    return out / "docx"


def load(path: Path) -> list[Block]:
    return load_docx(path, path.read_bytes()).blocks


def save(document: docx.document.Document, path: Path) -> Path:
    document.save(str(path))
    return path


# ------------------------------------------------------------------------- suite round trip


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_round_trip_meets_targets(suite: Path, doc_id: str) -> None:
    source = parse_source(DEFAULT_SRC / doc_id / "source.md")
    doc = load_docx(suite / f"{doc_id}.docx", (suite / f"{doc_id}.docx").read_bytes())
    fid = fidelity(source, doc.blocks)
    assert fid.shortfalls() == []  # evals.roundtrip.TARGETS and zero furniture
    assert doc.format == "docx" and doc.doc_id == doc_id and doc.pages is None
    assert doc.metadata["title"] == source.title
    truth = {norm(u.text) for u in block_texts(source.blocks)}
    assert [t[0] for _k, t in loaded_units(doc.blocks) if not set(t) & truth] == []
    text = layout(doc.blocks)[0]
    assert docx_footer(source.front) not in text
    if source.front.header != source.title:
        assert source.front.header not in text


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_structure_is_the_sources(suite: Path, doc_id: str) -> None:
    """Heading levels, list nesting and numbers, quotes and table rows as the author wrote."""
    source = parse_source(DEFAULT_SRC / doc_id / "source.md")
    assert_same_structure(source, load(suite / f"{doc_id}.docx"))


# ---------------------------------------------------------------------------- real numbering

_ABSTRACT = """<w:abstractNum {ns} w:abstractNumId="{aid}"><w:multiLevelType w:val="multilevel"/>
{levels}</w:abstractNum>"""
_LEVEL = """<w:lvl w:ilvl="{ilvl}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>
<w:lvlText w:val="{text}"/><w:pPr><w:ind w:left="{indent}" w:hanging="360"/></w:pPr></w:lvl>"""


def add_list(document: docx.document.Document, aid: int, levels: list[tuple[str, str]]) -> None:
    """An abstract list in numbering.xml with (numFmt, lvlText) per level."""
    numbering = document.part.numbering_part.element
    body = "".join(
        _LEVEL.format(ilvl=i, fmt=fmt, text=text, indent=720 * (i + 1))
        for i, (fmt, text) in enumerate(levels)
    )
    abstract = parse_xml(_ABSTRACT.format(ns=nsdecls("w"), aid=aid, levels=body))
    first_num = numbering.find(f"{{{numbering.nsmap['w']}}}num")
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)


def add_num(document: docx.document.Document, num_id: int, aid: int, restart: bool = False) -> None:
    override = '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride>'
    xml = f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{aid}"/>'
    document.part.numbering_part.element.append(
        parse_xml(xml + (override if restart else "") + "</w:num>")
    )


def numbered(
    document: docx.document.Document, text: str, num_id: int, ilvl: int, style: str
) -> None:
    par = document.add_paragraph(text, style=style)
    num_pr = par._p.get_or_add_pPr().get_or_add_numPr()
    num_pr.get_or_add_ilvl().val = ilvl
    num_pr.get_or_add_numId().val = num_id


def test_real_word_numbering_gives_levels_markers_and_labels(tmp_path: Path) -> None:
    d = docx.Document()
    add_list(d, 90, [("decimal", "%1."), ("lowerLetter", "(%2)"), ("lowerRoman", "%3.")])
    add_list(d, 91, [("bullet", "•"), ("bullet", "o")])
    add_list(d, 92, [("decimal", "%1."), ("decimal", "%1.%2")])
    for num_id, aid, restart in [
        (900, 90, False),
        (901, 90, True),
        (910, 91, False),
        (920, 92, False),
    ]:
        add_num(d, num_id, aid, restart)
    numbered(d, "Introduction", 920, 0, "Heading 1")
    numbered(d, "Scope", 920, 1, "Heading 2")
    for text, ilvl in [
        ("First", 0),
        ("Sub a", 1),
        ("Sub b", 1),
        ("Deep", 2),
        ("Second", 0),
        ("Sub again", 1),
    ]:
        numbered(d, text, 900, ilvl, "List Paragraph")
    d.add_paragraph("A paragraph between lists.")
    numbered(d, "Restarted", 901, 0, "List Paragraph")
    numbered(d, "Bullet", 910, 0, "List Paragraph")
    numbered(d, "Nested bullet", 910, 1, "List Paragraph")
    numbered(d, "Method", 920, 0, "Heading 1")
    numbered(d, "Not numbered after all", 0, 0, "List Bullet")  # numId 0 removes numbering
    blocks = load(save(d, tmp_path / "numbered.docx"))

    assert [(b.kind, b.level, b.text) for b in blocks if b.kind != "list"] == [
        ("heading", 2, "1. Introduction"),
        ("heading", 3, "1.1 Scope"),
        ("paragraph", 0, "A paragraph between lists."),
        ("heading", 2, "2. Method"),
        ("paragraph", 0, "Not numbered after all"),
    ]
    lists = [
        [(i.text, i.level, i.marker, i.label) for i in b.items] for b in blocks if b.kind == "list"
    ]
    assert lists == [
        [
            ("First", 0, "number", "1."),
            ("Sub a", 1, "letter", "(a)"),
            ("Sub b", 1, "letter", "(b)"),
            ("Deep", 2, "roman", "i."),
            ("Second", 0, "number", "2."),
            ("Sub again", 1, "letter", "(a)"),
        ],
        [("Restarted", 0, "number", "1.")],  # a new instance with a start override restarts
        [("Bullet", 0, "bullet", ""), ("Nested bullet", 1, "bullet", "")],
    ]


def test_heading_styles_linked_to_a_multilevel_list_are_numbered(tmp_path: Path) -> None:
    """Word's "numbered headings": the numbering sits in the Heading styles, and the list's
    levels name the style they belong to (w:pStyle) instead of the style naming its level."""
    d = docx.Document()
    levels = "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="decimal"/>'
        f'<w:pStyle w:val="Heading{i + 1}"/><w:lvlText w:val="{text}"/></w:lvl>'
        for i, text in enumerate(["%1", "%1.%2"])
    )
    numbering = d.part.numbering_part.element
    numbering.insert(0, parse_xml(_ABSTRACT.format(ns=nsdecls("w"), aid=95, levels=levels)))
    add_num(d, 950, 95)
    for name in ("Heading 1", "Heading 2"):
        ppr = d.styles[name].element.get_or_add_pPr()
        ppr.append(parse_xml(f'<w:numPr {nsdecls("w")}><w:numId w:val="950"/></w:numPr>'))
    for text, level in [("Introduction", 1), ("Scope", 2), ("Terms", 2), ("Method", 1)]:
        d.add_heading(text, level=level)
        d.add_paragraph(f"About {text.lower()}.")
    headings = [
        (b.level, b.text) for b in load(save(d, tmp_path / "h.docx")) if b.kind == "heading"
    ]
    assert headings == [(2, "1 Introduction"), (3, "1.1 Scope"), (3, "1.2 Terms"), (2, "2 Method")]


# ----------------------------------------------------------------------- headers and footers


def test_header_and_footer_text_never_reaches_a_block(tmp_path: Path) -> None:
    d = docx.Document()
    d.settings.odd_and_even_pages_header_footer = True
    first = d.sections[0]
    first.different_first_page_header_footer = True
    first.header.paragraphs[0].text = "RUNNING HEADER TEXT"
    first.header.add_table(1, 2, first.page_width).cell(0, 0).text = "HEADER TABLE CELL"
    first.footer.paragraphs[0].text = "FOOTER TEXT Page 1 of 3"
    first.first_page_header.paragraphs[0].text = "FIRST PAGE HEADER"
    first.first_page_footer.paragraphs[0].text = "FIRST PAGE FOOTER"
    first.even_page_header.paragraphs[0].text = "EVEN PAGE HEADER"
    d.add_paragraph("Opening body paragraph.")
    d.add_heading("Body heading", level=1)
    d.add_paragraph("Body text in section one.")
    second = d.add_section(WD_SECTION.NEW_PAGE)
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "SECTION TWO HEADER"
    second.footer.is_linked_to_previous = False
    second.footer.paragraphs[0].text = "SECTION TWO FOOTER"
    d.add_paragraph("Body text in section two.")
    doc = load_docx(tmp_path / "hf.docx", save(d, tmp_path / "hf.docx").read_bytes())

    text = layout(doc.blocks)[0]
    assert text == (
        "Opening body paragraph.\n\nBody heading\n\nBody text in section one.\n\n"
        "Body text in section two."
    )
    for furniture in ("HEADER", "FOOTER", "Page 1 of 3"):
        assert furniture not in text


# --------------------------------------------------------------------- styles and body order


def _run_xml(text: str, wrapper: str = "", hidden: bool = False) -> str:
    props = "<w:rPr><w:vanish/></w:rPr>" if hidden else ""
    tag = "w:delText" if wrapper == "w:del" else "w:t"
    run = f'<w:r>{props}<{tag} xml:space="preserve">{text}</{tag}></w:r>'
    if wrapper:
        return f'<{wrapper} w:id="{abs(hash(text)) % 1000}" w:author="A">{run}</{wrapper}>'
    return run


def test_styles_tables_and_body_order(tmp_path: Path) -> None:
    d = docx.Document()
    d.core_properties.title = ""
    d.add_paragraph("The Handbook", style="Title")
    d.add_paragraph("A subtitle is not a heading", style="Subtitle")
    d.styles.add_style("TOC 1", WD_STYLE_TYPE.PARAGRAPH)
    d.add_paragraph("Part one ........ 3", style="TOC 1")  # a table of contents repeats headings
    d.add_heading("Part one", level=1)
    d.add_paragraph("")  # empty paragraphs are dropped
    d.add_paragraph("Intro paragraph.")
    table = d.add_table(rows=4, cols=3)
    for r, row in enumerate(
        [["Grade", "Meaning", "Notes"], ["1", "Outstanding", "a"], ["2", "Good", "b"]]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(1, 2).merge(table.cell(2, 2)).text = "Shared note"  # vertical merge
    table.cell(3, 0).merge(table.cell(3, 2)).text = "Merged note"  # horizontal merge
    custom = d.styles.add_style("Annex Heading", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = d.styles["Heading 2"]
    d.add_paragraph("Annex A", style="Annex Heading")
    outline = d.add_paragraph("Outline-level heading")
    outline._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {nsdecls("w")} w:val="0"/>'))
    d.add_paragraph("A quoted criterion.", style="Quote")
    d.add_paragraph("An intense quote.", style="Intense Quote")
    d.add_paragraph("Figure 1: visits by month", style="Caption")
    d.add_paragraph("First point", style="List Bullet")
    d.add_paragraph("Nested point", style="List Bullet 2")
    d.add_paragraph("• Typed bullet")
    tracked = d.add_paragraph()
    for xml in (_run_xml("Kept "), _run_xml("inserted", "w:ins"), _run_xml(" deleted", "w:del")):
        tracked._p.append(parse_xml(f"<w:x {nsdecls('w')}>{xml}</w:x>")[0])
    tracked._p.append(parse_xml(f"<w:x {nsdecls('w')}>{_run_xml(' hidden', hidden=True)}</w:x>")[0])
    box = d.add_table(rows=1, cols=1)  # a one-cell callout box is read as body text
    box.cell(0, 0).text = "Callout paragraph one."
    box.cell(0, 0).add_paragraph("Callout paragraph two.")
    d.add_paragraph("Closing paragraph.")
    doc = load_docx(tmp_path / "handbook.docx", save(d, tmp_path / "handbook.docx").read_bytes())

    got = [(b.kind, b.level, b.text or b.rows or [i.text for i in b.items]) for b in doc.blocks]
    assert got == [
        ("heading", 1, "The Handbook"),
        ("paragraph", 0, "A subtitle is not a heading"),
        ("heading", 2, "Part one"),
        ("paragraph", 0, "Intro paragraph."),
        (
            "table",
            0,
            (
                ("Grade", "Meaning", "Notes"),
                ("1", "Outstanding", "Shared note"),
                ("2", "Good", ""),
                ("Merged note",),
            ),
        ),
        ("heading", 3, "Annex A"),
        ("heading", 2, "Outline-level heading"),
        ("quote", 0, "A quoted criterion."),
        ("quote", 0, "An intense quote."),
        ("caption", 0, "Figure 1: visits by month"),
        ("list", 0, ["First point", "Nested point", "Typed bullet"]),
        ("paragraph", 0, "Kept inserted"),
        ("paragraph", 0, "Callout paragraph one."),
        ("paragraph", 0, "Callout paragraph two."),
        ("paragraph", 0, "Closing paragraph."),
    ]
    assert [i.level for i in doc.blocks[10].items] == [0, 1, 0]
    assert doc.metadata["title"] == "The Handbook"  # no core title: the Title paragraph


def test_content_controls_are_read(tmp_path: Path) -> None:
    d = docx.Document()
    d.add_paragraph("Before.")
    sdt = parse_xml(
        f"<w:sdt {nsdecls('w')}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>Inside a control.</w:t>"
        "</w:r></w:p></w:sdtContent></w:sdt>"
    )
    d.element.body.insert(len(d.element.body) - 1, sdt)
    toc = parse_xml(
        f"<w:sdt {nsdecls('w')}><w:sdtPr><w:docPartObj>"
        "<w:docPartGallery w:val='Table of Contents'/></w:docPartObj></w:sdtPr>"
        "<w:sdtContent><w:p><w:r><w:t>Contents 1</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt>"
    )
    d.element.body.insert(len(d.element.body) - 1, toc)
    assert [b.text for b in load(save(d, tmp_path / "sdt.docx"))] == [
        "Before.",
        "Inside a control.",
    ]


_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_WPS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
_BOX = """<w:r {w} xmlns:mc="{mc}" xmlns:wps="{wps}" xmlns:v="urn:schemas-microsoft-com:vml">
<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:wsp><wps:txbx><w:txbxContent>
<w:p><w:r><w:t>Box text.</w:t></w:r></w:p></w:txbxContent></wps:txbx></wps:wsp></w:drawing>
</mc:Choice><mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r>
<w:t>Box text.</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback>
</mc:AlternateContent></w:r>"""


def test_text_box_is_read_once_after_its_anchor(tmp_path: Path) -> None:
    d = docx.Document()
    anchor = d.add_paragraph("Anchor text.")
    anchor._p.append(parse_xml(_BOX.format(w=nsdecls("w"), mc=_MC, wps=_WPS)))
    d.add_paragraph("After.")
    assert [b.text for b in load(save(d, tmp_path / "box.docx"))] == [
        "Anchor text.",
        "Box text.",
        "After.",
    ]


def test_footnotes_are_named_in_a_warning(tmp_path: Path) -> None:
    d = docx.Document()
    d.add_paragraph("Body.")
    data = save(d, tmp_path / "plain.docx").read_bytes()
    notes = (
        f"<w:footnotes {nsdecls('w')}><w:footnote w:type='separator' w:id='-1'/>"
        "<w:footnote w:type='continuationSeparator' w:id='0'/><w:footnote w:id='1'><w:p><w:r>"
        "<w:t>Note one</w:t></w:r></w:p></w:footnote><w:footnote w:id='2'/></w:footnotes>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
        zout.writestr("word/footnotes.xml", notes)
    doc = load_docx(tmp_path / "notes.docx", out.getvalue())
    assert [b.text for b in doc.blocks] == ["Body."]
    assert doc.warnings == ["2 footnotes are not loaded (only the body text is)"]


# ------------------------------------------------------------------------------ broken files


def test_corrupt_docx(tmp_path: Path) -> None:
    for name, data in [
        ("random.docx", os.urandom(2048)),
        ("truncated.docx", b"PK\x03\x04" + os.urandom(4000)),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(LoadError, match="not a valid DOCX") as info:
            load(path)
        assert info.value.path == str(path)
    good = save(docx.Document(), tmp_path / "good.docx").read_bytes()
    with pytest.raises(LoadError, match="not a valid DOCX"):
        load_docx(tmp_path / "half.docx", good[: len(good) // 2])


def test_zip_that_is_not_a_docx(tmp_path: Path) -> None:
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "not word")
    with pytest.raises(LoadError, match="not a valid DOCX"):
        load(path)


def _bomb(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"\0" * size)
    return buf.getvalue()


def test_zip_bomb_guard_is_loaders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LoadError, match="zip bomb") as info:
        load_docx(tmp_path / "bomb.docx", _bomb(30 * 1024 * 1024))
    assert "30 MB" in info.value.reason
    monkeypatch.setattr(loaders, "DOCX_MAX_RATIO", 1e9)
    monkeypatch.setattr(loaders, "DOCX_MAX_EXPANDED_BYTES", 10 * 1024 * 1024)
    with pytest.raises(LoadError, match="possible zip bomb"):
        load_docx(tmp_path / "bomb.docx", _bomb(30 * 1024 * 1024))


def test_empty_document_is_refused(tmp_path: Path) -> None:
    d = docx.Document()
    d.add_paragraph("   ")
    d.sections[0].header.paragraphs[0].text = "Only a header"
    with pytest.raises(LoadError, match="no readable text"):
        load(save(d, tmp_path / "empty.docx"))
