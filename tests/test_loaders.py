"""Loader tests against real parsers, with every fixture file generated in tmp_path."""

from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from collections import Counter
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from assistant import loaders
from assistant.loaders import LoadError, discover, load_blocks, load_file, read_sidecar

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SEED_FILES = [
    "cafcass-inspection-framework-edi-statement-2020.txt",
    "news-ofsted-announces-full-inspection-of-cafcass.txt",
]


def make_pdf(
    path: Path, pages: list[str], title: str | None = None, password: bool = False
) -> Path:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    if title:
        pdf.set_title(title)
    if password:
        pdf.set_encryption(owner_password="o", user_password="u")
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))
    return path


# ---------------------------------------------------------------- PDF


def test_pdf_pages_offsets_and_title(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "report.pdf",
        ["Alpha page one text", "Bravo page two text"],
        title="Inspection Report 2024",
    )
    doc = load_file(path)
    assert doc.format == "pdf" and doc.doc_id == "report"
    assert "Alpha page one text" in doc.text and "Bravo page two text" in doc.text
    assert [n for _, n in doc.pages] == [1, 2]
    offset = doc.text.index("Bravo")
    page_of = max(p for start, p in doc.pages if start <= offset)
    assert page_of == 2
    assert doc.text[doc.pages[1][0] :].startswith("Bravo")
    assert max(p for start, p in doc.pages if start <= doc.text.index("Alpha")) == 1
    assert doc.metadata["title"] == "Inspection Report 2024"
    assert doc.metadata["type"] == "other"


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "secret.pdf", ["Hidden text"], password=True)
    with pytest.raises(LoadError, match="encrypted") as info:
        load_file(path)
    assert info.value.path == str(path)
    assert str(info.value) == f"secret.pdf: {info.value.reason}"


def test_pdf_without_text_layer_suggests_ocr(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(LoadError, match="OCR"):
        load_file(path)


def test_truncated_and_junk_pdfs(tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf", ["Some text " * 50, "More text " * 50]).read_bytes()
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(good[: len(good) // 2])
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(os.urandom(4096))
    for path in (truncated, junk):
        with pytest.raises(LoadError, match="not a valid PDF"):
            load_file(path)


# ---------------------------------------------------------------- DOCX


def test_docx_structure_in_document_order(tmp_path: Path) -> None:
    d = docx.Document()
    d.core_properties.title = "Guidance Handbook"
    d.add_paragraph("The Handbook", style="Title")
    d.add_heading("Part one", level=1)
    d.add_paragraph("Intro paragraph.")
    table = d.add_table(rows=2, cols=2)
    for r, row in enumerate([["Grade", "Meaning"], ["1", "Outstanding"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    merged = table.add_row().cells
    merged[0].merge(merged[1]).text = "Merged note"
    d.add_heading("Part two", level=2)
    d.add_paragraph("First point", style="List Bullet")
    d.add_paragraph("Closing paragraph.")
    path = tmp_path / "handbook.docx"
    d.save(str(path))

    blocks = load_blocks(path).blocks
    doc = load_file(path)
    lines = doc.text.splitlines()
    assert doc.format == "docx"
    headings = [(b.text, b.level) for b in blocks if b.kind == "heading"]
    assert headings == [("The Handbook", 1), ("Part one", 2), ("Part two", 3)]
    for expected in ["- First point", "Grade | Meaning", "1 | Outstanding", "Merged note"]:
        assert expected in lines
    order = [
        lines.index(x)
        for x in [
            "The Handbook",
            "Part one",
            "Intro paragraph.",
            "Grade | Meaning",
            "Part two",
            "- First point",
            "Closing paragraph.",
        ]
    ]
    assert order == sorted(order)
    assert not any(line.startswith("#") for line in lines)  # structure is in blocks, not "#"
    assert doc.metadata["title"] == "Guidance Handbook"


def test_corrupt_docx(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(LoadError, match="not a valid DOCX"):
        load_file(path)


def test_zip_that_is_not_a_docx(tmp_path: Path) -> None:
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "not word")
    with pytest.raises(LoadError, match="not a valid DOCX"):
        load_file(path)


def _write_bomb(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"\0" * size)
    return path


def test_docx_zip_bomb_ratio(tmp_path: Path) -> None:
    path = _write_bomb(tmp_path / "bomb.docx", 30 * 1024 * 1024)
    with pytest.raises(LoadError, match="zip bomb") as info:
        load_file(path)
    assert "30 MB" in info.value.reason


def test_docx_zip_bomb_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "DOCX_MAX_RATIO", 1e9)
    monkeypatch.setattr(loaders, "DOCX_MAX_EXPANDED_BYTES", 10 * 1024 * 1024)
    path = _write_bomb(tmp_path / "bomb.docx", 30 * 1024 * 1024)
    with pytest.raises(LoadError, match="possible zip bomb"):
        load_file(path)


# ---------------------------------------------------------------- HTML

PAGE = """<!doctype html>
<html><head><title>Ofsted news page</title><style>body{color:red}</style>
<script>var tracking = "SCRIPT-TEXT";</script></head>
<body>
<div id="global-cookie-message"><p>We use cookies COOKIE-TEXT</p><button>Accept</button></div>
<header><a href="/">GOV.UK HEADER-TEXT</a></header>
<nav><ul><li>NAV-TEXT</li></ul></nav>
<div role="navigation">Breadcrumb ROLE-NAV-TEXT</div>
<main>
  <article>
    <h1>Ofsted announces inspection</h1>
    <p>The inspection <b>starts</b> today.<br>It lasts four weeks.</p>
    <h2>What happens next</h2>
    <ul><li>Inspectors visit</li><li>Report is <a href="#">published</a></li></ul>
    <table><tr><th>Stage</th><th>Date</th></tr><tr><td>Visit</td><td>May</td></tr></table>
  </article>
  <aside>ASIDE-TEXT</aside>
</main>
<footer>FOOTER-TEXT</footer>
<script>document.write("MORE-SCRIPT")</script>
</body></html>"""


def test_html_keeps_only_article_content(tmp_path: Path) -> None:
    path = tmp_path / "news.html"
    path.write_text(PAGE, encoding="utf-8")
    doc = load_file(path)
    lines = doc.text.splitlines()
    assert doc.format == "html"
    for noise in [
        "SCRIPT",
        "COOKIE",
        "HEADER",
        "NAV-TEXT",
        "ROLE-NAV",
        "ASIDE",
        "FOOTER",
        "color:red",
    ]:
        assert noise not in doc.text
    headings = [(b.text, b.level) for b in load_blocks(path).blocks if b.kind == "heading"]
    assert headings == [("Ofsted announces inspection", 1), ("What happens next", 2)]
    assert "- Inspectors visit" in lines
    assert "- Report is published" in lines
    # one <br> is a line break inside the paragraph, not a new block
    assert "The inspection starts today. It lasts four weeks." in lines
    assert "Stage | Date" in lines and "Visit | May" in lines
    assert doc.metadata["title"] == "Ofsted news page"


def test_html_only_script_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.htm"
    path.write_text(
        "<html><head><script>alert(1)</script></head><body><script>x()</script>"
        "<noscript>Enable JS</noscript></body></html>",
        encoding="utf-8",
    )
    with pytest.raises(LoadError, match="no readable text"):
        load_file(path)


def test_html_without_main_uses_body_and_keeps_article_header(tmp_path: Path) -> None:
    path = tmp_path / "plain.html"
    path.write_text(
        "<body><nav>Menu</nav><div>Body text<p>Para</p></div>"
        "<article><header><h1>Kept title</h1></header><p>Art</p></article></body>",
        encoding="utf-8",
    )
    doc = load_file(path)
    assert doc.text.splitlines() == ["Kept title", "", "Art"]
    assert [b.kind for b in load_blocks(path).blocks] == ["heading", "paragraph"]
    assert doc.metadata["title"] == "Kept title"
    (tmp_path / "bare.html").write_text("<p>Just <i>a</i> paragraph</p>", encoding="utf-8")
    assert load_file(tmp_path / "bare.html").text == "Just a paragraph"


# ---------------------------------------------------------------- text


def test_txt_utf8_bom_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfHello \xe2\x80\x93 world\r\n")
    doc = load_file(path)
    assert doc.text == "Hello \u2013 world"  # BOM gone, line end is not content
    assert doc.format == "txt" and doc.pages == []


def test_txt_cp1252_fallback(tmp_path: Path) -> None:
    original = "caf\u00e9 \u2013 \u2018quotes\u2019\n"
    path = tmp_path / "windows.txt"
    path.write_bytes(original.encode("cp1252"))
    doc = load_file(path)
    assert doc.text == original.strip()
    assert doc.metadata["encoding"] == "cp1252"


def test_txt_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Inspection \u2013 notes\n".encode("utf-16"))
    doc = load_file(path)
    assert doc.text == "Inspection \u2013 notes"
    assert doc.metadata["encoding"] == "utf-16"


def test_binary_junk_txt_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.txt"
    path.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(LoadError, match="binary"):
        load_file(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(LoadError, match="empty file"):
        load_file(path)


def test_file_over_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("x" * (2 * 1024 * 1024), encoding="utf-8")
    with pytest.raises(LoadError, match="larger than the 1 MB limit"):
        load_file(path, max_bytes=1024 * 1024)


def test_unsupported_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="unsupported file type '.xyz'"):
        load_file(tmp_path / "thing.xyz")
    with pytest.raises(LoadError):
        load_file(tmp_path / "missing.txt")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated, because chmod 000 does not stop root (tests may run as root in CI).
    path = tmp_path / "locked.txt"
    path.write_text("secret", encoding="utf-8")

    def deny(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(LoadError, match="Permission denied"):
        load_file(path)


def test_load_error_is_picklable() -> None:
    err = pickle.loads(pickle.dumps(LoadError("/x/a.pdf", "broken")))
    assert (err.path, err.reason, str(err)) == ("/x/a.pdf", "broken", "a.pdf: broken")


# ---------------------------------------------------------------- metadata


def test_markdown_title_from_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    body = "Intro line\n\n# Inspection Notes\n\n## Details\n"
    path.write_text(body, encoding="utf-8")
    doc = load_file(path)
    assert doc.metadata["title"] == "Inspection Notes"
    assert doc.text == "Intro line\n\nInspection Notes\n\nDetails" and doc.format == "md"


def test_title_derived_from_stem(tmp_path: Path) -> None:
    path = tmp_path / "news-ofsted-announces.txt"
    path.write_text("Body text for the inspection notes.\n", encoding="utf-8")
    meta = load_file(path).metadata
    assert meta["title"] == "News ofsted announces"
    assert meta["type"] == "other"


def test_yaml_sidecar_overrides(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text("# Heading Title\n\nText\n", encoding="utf-8")
    (tmp_path / "guide.meta.yaml").write_text(
        "title: Official Guide\ntype: guidance\npublisher: Ofsted\ndate: 2020-10-14\n",
        encoding="utf-8",
    )
    meta = load_file(path).metadata
    assert meta["title"] == "Official Guide"
    assert meta["type"] == "guidance"
    assert meta["publisher"] == "Ofsted"
    assert meta["date"] == "2020-10-14"


def test_json_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "item.txt"
    path.write_text("Text\n", encoding="utf-8")
    (tmp_path / "item.meta.json").write_text(json.dumps({"type": "news"}), encoding="utf-8")
    assert read_sidecar(path) == {"type": "news"}
    assert load_file(path).metadata["type"] == "news"
    assert read_sidecar(tmp_path / "nothing.txt") == {}


@pytest.mark.parametrize("content", ["title: [unclosed\n", "- just\n- a list\n", "type: podcast\n"])
def test_malformed_sidecar_names_the_sidecar(tmp_path: Path, content: str) -> None:
    path = tmp_path / "doc.txt"
    path.write_text("Text\n", encoding="utf-8")
    (tmp_path / "doc.meta.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(LoadError) as info:
        load_file(path)
    assert "doc.meta.yaml" in str(info.value)


# ---------------------------------------------------------------- discover


def test_discover_mixed_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in [
        "b.txt",
        "a.md",
        "sub/c.html",
        "a.meta.yaml",
        "b.meta.json",
        "odd.xyz",
        ".DS_Store",
        ".hidden/secret.txt",
    ]:
        (tmp_path / name).write_text("x", encoding="utf-8")
    docs, errors = discover(tmp_path)
    assert docs == [tmp_path / "a.md", tmp_path / "b.txt", tmp_path / "sub" / "c.html"]
    assert len(errors) == 1 and isinstance(errors[0], LoadError)
    assert errors[0].path == str(tmp_path / "odd.xyz")
    assert "unsupported file type '.xyz'" in str(errors[0])


def test_discover_reports_duplicate_ids_and_missing_dir(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "report.txt").write_text("a", encoding="utf-8")
    (tmp_path / "x" / "report.pdf").write_bytes(b"%PDF-1.4")
    docs, errors = discover(tmp_path)
    assert docs == [tmp_path / "report.txt"]
    assert "duplicate document id 'report'" in errors[0].reason
    assert discover(tmp_path / "nope")[0] == []


# ---------------------------------------------------------------- seed corpus


@pytest.mark.parametrize("name", SEED_FILES)
def test_seed_corpus_files_keep_every_word(name: str) -> None:
    """Loading rearranges the seed's broken lines into blocks but loses no word of content
    (only the web chrome and navigation lines the loader reports as removed)."""
    path = CORPUS / name
    raw = path.read_bytes().decode("utf-8")
    doc = load_blocks(path)
    text = load_file(path).text
    assert doc.doc_id == path.stem and doc.format == "txt" and doc.metadata["title"]
    words = Counter(re.findall(r"[A-Za-z]{3,}", raw))
    dropped = Counter(re.findall(r"[A-Za-z]{3,}", " ".join(doc.removed)))
    kept = Counter(re.findall(r"[A-Za-z]{3,}", text))
    missing = {w: n for w, n in (words - dropped - kept).items()}
    assert sum(missing.values()) <= 0.01 * sum(words.values()), missing


def test_loaders_return_only_load_error_for_garbage(tmp_path: Path) -> None:
    blob = os.urandom(8192)
    for suffix in sorted(loaders.SUPPORTED_SUFFIXES):
        path = tmp_path / f"garbage{suffix}"
        path.write_bytes(blob)
        try:
            load_file(path)
        except LoadError:
            pass


STATUTE_MD = (
    "# Powers\n\n(1) The Chief Inspector must arrange inspections.\n\n"
    "(2) For the purposes of an inspection, an authorised inspector may:\n\n"
    "(a) enter and inspect any premises;\n\n(b) inspect and copy any records;\n\n"
    "(c) interview in private any child placed by the agency.\n\n"
    "(3) A person who obstructs an inspector commits an offence.\n"
)
STATUTE_TXT = (
    "POWERS\n\n(1) The Chief Inspector must arrange inspections.\n"
    "(2) For the purposes of an inspection, an authorised inspector may:\n"
    "(a) enter and inspect any premises;\n(b) inspect and copy any records;\n"
    "(c) interview in private any child placed by the agency.\n"
    "(3) A person who obstructs an inspector commits an offence.\n"
)


@pytest.mark.parametrize(("name", "text"), [("s.md", STATUTE_MD), ("s.txt", STATUTE_TXT)])
def test_lettered_clauses_are_one_list_after_their_lead_in(
    tmp_path: Path, name: str, text: str
) -> None:
    """Statute-style clauses read the same from every format: "(a)" to "(c)" one list, its
    labels kept, right after the subsection that leads into it; "(1)"-style subsections stay
    paragraphs (the text loader had read them all as one flat list)."""
    from assistant.blocks import layout
    from assistant.ingest import clean_blocks

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    blocks, _removed = clean_blocks(load_blocks(path).blocks)
    body = [b for b in blocks if b.kind != "heading"]
    assert [b.kind for b in body] == ["paragraph", "paragraph", "list", "paragraph"]
    assert body[1].text.endswith("may:")
    assert [it.text.split()[0] for it in body[2].items] == ["(a)", "(b)", "(c)"]
    laid, _placed = layout(blocks)
    assert "- (a) enter and inspect any premises;" in laid
    assert "\n\n(3) A person who obstructs" in laid


def test_a_lone_lettered_paragraph_or_a_broken_sequence_is_not_a_list(tmp_path: Path) -> None:
    from assistant.ingest import clean_blocks

    path = tmp_path / "x.md"
    path.write_text("(a) only one clause here.\n\nText.\n\n(b) not a start.\n\n(c) nor this.\n")
    blocks, _removed = clean_blocks(load_blocks(path).blocks)
    assert [b.kind for b in blocks] == ["paragraph"] * 4
