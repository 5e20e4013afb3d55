"""evals.render on the fixture sources in tests/data/suite_sample: the block model, byte-identical
re-renders, and that every format gives back the document's words in order (fast: no model)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

pytest.importorskip("fpdf")  # fpdf2 is in the dev extra
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # evals/ is not an installed package
    sys.path.insert(0, str(REPO))

from evals import render as R  # noqa: E402

SAMPLE = Path(__file__).parent / "data" / "suite_sample"
FRAMEWORK, NEWS = "sample-framework", "sample-news"
WORD = re.compile(r"[^\W_]+")
FOOTER = re.compile(r"^Page (\d+) of (\d+)$")
HYPHEN_BREAK = re.compile(r"([A-Za-z])-\n([a-z])")


@pytest.fixture(scope="module")
def sources() -> dict[str, R.Source]:
    return {p.parent.name: R.parse_source(p) for p in R.discover_sources(SAMPLE)}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    paths = R.render_suite(SAMPLE, out)
    assert len(paths) == 2 * len(R.FORMATS)
    return out


def units(source: R.Source, kinds: tuple[str, ...] = ("heading", "paragraph", "item", "quote")):
    return [u.text for u in R.block_texts(source.blocks) if u.kind in kinds]


def assert_in_order(texts: list[str], haystack: str, label: str) -> None:
    """Each text's words appear contiguously in `haystack`'s words, texts in the given order."""
    hay = " " + " ".join(WORD.findall(haystack)) + " "
    pos = 0
    for text in texts:
        needle = " " + " ".join(WORD.findall(text)) + " "
        found = hay.find(needle, pos)
        assert found >= 0, f"{label}: not found (in order): {text!r}"
        pos = found + len(needle) - 1


# --- the source model --------------------------------------------------------------------------


def test_fixture_parses_into_every_construct(sources: dict[str, R.Source]) -> None:
    fw = sources[FRAMEWORK]
    assert fw.front.date.isoformat() == "2025-03-14" and fw.front.type == "framework"
    assert fw.front.header.startswith("Ashdown Social Care Inspectorate - ")
    assert not fw.front.chrome and sources[NEWS].front.chrome
    assert sources[NEWS].front.header == sources[NEWS].title  # defaults to the title
    blocks = fw.blocks
    assert blocks[0] == R.Heading(1, fw.title)
    assert {b.level for b in blocks if isinstance(b, R.Heading)} == {1, 2, 3}
    assert any(isinstance(b, R.Heading) and len(b.text) > 70 for b in blocks)
    lists = [b for b in blocks if isinstance(b, R.ListBlock)]
    bullets = next(b for b in lists if not b.ordered)
    assert [it.level for it in bullets.items] == [0, 1, 1, 0, 0, 0]
    numbered = next(b for b in lists if b.ordered)
    assert [(it.level, it.number) for it in numbered.items] == [
        (0, 1), (0, 2), (1, 1), (1, 2), (0, 3), (0, 4)
    ]  # fmt: skip
    assert [it.marker for it in bullets.items[:2]] == ["•", "–"]
    table = next(b for b in blocks if isinstance(b, R.Table))
    assert table.header == ("Grade", "What it means") and len(table.body) == 4
    assert any(isinstance(b, R.Quote) for b in blocks)
    clauses = [b.clause for b in blocks if isinstance(b, R.Paragraph) and b.clause]
    assert clauses == ["1", "a", "b"]
    longest = max((b for b in blocks if isinstance(b, R.Paragraph)), key=lambda b: len(b.text))
    assert len(longest.text.split()) > 200
    assert "’" in " ".join(units(fw, ("paragraph", "cell")))


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("# T\n\nSome *emphasis* here.\n", "inline markup"),
        ("# T\n\nA [link](http://example.org).\n", "inline markup"),
        ("# T\n\n#### Too deep\n", "only #, ## and ###"),
        ("# T\n\n- a\n  - b\n    - c\n", "at most two levels"),
        ("# T\n\n- a\n\n  second paragraph\n", "one paragraph"),
        ("# T\n\n---\n\ntext\n", "'hr' is not allowed"),
        ("# T\n\n    code\n", "not allowed"),
        ("Intro first\n\n# T\n", "exactly one '#' title"),
        ("# T\n\n# Another\n", "exactly one '#' title"),
    ],
)
def test_parse_source_rejects_what_the_format_forbids(
    tmp_path: Path, body: str, problem: str
) -> None:
    path = tmp_path / "doc" / "source.md"
    path.parent.mkdir()
    front = "---\ntitle: T\npublisher: P\ndate: 2025-01-02\ntype: guidance\n---\n"
    path.write_text(front + body, encoding="utf-8")
    with pytest.raises(R.SourceError, match=re.escape(problem)):
        R.parse_source(path)


def test_parse_source_checks_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "doc" / "source.md"
    path.parent.mkdir()
    path.write_text("---\ntitle: T\npublisher: P\ndate: 2025-01-02\ntype: blog\n---\n# T\n")
    with pytest.raises(R.SourceError, match="type must be one of"):
        R.parse_source(path)
    path.write_text("# T\n\ntext\n")
    with pytest.raises(R.SourceError, match="front matter"):
        R.parse_source(path)


# --- determinism and the CLI -------------------------------------------------------------------


def test_rerender_in_a_new_process_is_byte_identical(rendered: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    cmd = [sys.executable, "-m", "evals.render", "--src", str(SAMPLE), "--out", str(out)]
    result = subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONHASHSEED": "7"},
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2 * len(R.FORMATS) + 1  # one per file + summary
    first = sorted(p.relative_to(rendered) for p in rendered.rglob("*") if p.is_file())
    second = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert first == second and len(first) == 4 * len(R.FORMATS)  # files + sidecars
    for rel in first:
        assert (rendered / rel).read_bytes() == (out / rel).read_bytes(), rel


def test_cli_only_and_formats(tmp_path: Path) -> None:
    assert R.main(["--src", str(SAMPLE), "--out", str(tmp_path), "--formats", "md,txt",
                   "--only", NEWS]) == 0  # fmt: skip
    assert sorted(p.name for p in tmp_path.rglob("*.*")) == [
        f"{NEWS}.md", f"{NEWS}.meta.yaml", f"{NEWS}.meta.yaml", f"{NEWS}.txt"
    ]  # fmt: skip
    assert R.main(["--src", str(SAMPLE), "--out", str(tmp_path), "--only", "nope"]) == 1
    assert R.main(["--src", str(SAMPLE), "--out", str(tmp_path), "--formats", "rtf"]) == 1


def test_sidecars_carry_the_front_matter(rendered: Path, sources: dict[str, R.Source]) -> None:
    from assistant.loaders import read_sidecar

    for fmt, ext in R.FORMATS.items():
        for doc_id, source in sources.items():
            side = rendered / fmt / f"{doc_id}.meta.yaml"
            assert yaml.safe_load(side.read_text(encoding="utf-8")) == source.front.sidecar()
            assert read_sidecar(rendered / fmt / f"{doc_id}.{ext}")["date"] == str(
                source.front.date
            )


# --- md ----------------------------------------------------------------------------------------


def test_md_reparses_to_the_same_blocks(rendered: Path, sources: dict[str, R.Source]) -> None:
    for doc_id, source in sources.items():
        text = (rendered / "md" / f"{doc_id}.md").read_text(encoding="utf-8")
        assert R.parse_markdown(text) == source.blocks
        lines = text.splitlines()
        assert all(len(line) <= R.MD_WIDTH for line in lines if not line.startswith(("#", "|")))
    fw = (rendered / "md" / f"{FRAMEWORK}.md").read_text(encoding="utf-8")
    assert "\n  - including young people" in fw and "\n   1. a meeting" in fw
    assert re.search(r"\n- speak with .*\n  \S", fw)  # a wrapped item's continuation line
    assert re.search(r"\n> .*\n> ", fw)  # a wrapped quote keeps its marker


def test_md_never_starts_a_line_with_markdown_syntax() -> None:
    hazards = ["-", "+", "#", "##", "1.", "2)", ">", "=", "---", ">note", "~~~x", "|a"]
    texts = [" ".join(["x" * k, *["word"] * 14, h, "tail"]) for k in range(1, 20) for h in hazards]
    naive = [R.wrap_words(t.split(), R.MD_WIDTH, len)[0] for t in texts]
    assert sum(any(R._MD_HAZARD.match(ln.split()[0]) for ln in lines[1:]) for lines in naive) > 10
    blocks: list[R.Block] = [R.Heading(1, "T")]
    for text in texts:
        blocks += [
            R.Paragraph(text),
            R.Quote(text),
            R.ListBlock(False, (R.ListItem(text, 0, False), R.ListItem(text, 1, True, 1))),
        ]
    blocks += [R.Paragraph(h + " at the start") for h in hazards]
    front = R.FrontMatter("T", "P", R.dt.date(2025, 1, 2), "other")
    md = R.render_md(R.Source("hazards", Path("x"), front, tuple(blocks))).decode()
    assert R.parse_markdown(md) == tuple(blocks)


def test_special_characters_survive_md_and_html(tmp_path: Path) -> None:
    plain = (
        "Costs rose by 5 - 10 per cent * in 2024 # see 1. above, fees & charges &amp; "
        "<b>not bold</b> a_b_c [x] `y` > z"
    )
    escaped = (
        "Costs rose by 5 - 10 per cent \\* in 2024 # see 1. above, fees & charges \\&amp; "
        "\\<b>not bold\\</b> a\\_b\\_c \\[x\\] \\`y\\` > z"
    )
    tricky, tricky_md = " ".join([plain] * 6), " ".join([escaped] * 6)
    body = (
        f"# Tricky & \\<title>\n\n{tricky_md}\n\n- {tricky_md}\n  - {tricky_md}\n\n"
        f"\\- not a list\n\n1\\. not a list either\n\n> {tricky_md}\n\n"
        "| A \\| B | C |\n|---|---|\n| x & y | \\<z> |\n"
    )
    path = tmp_path / "tricky" / "source.md"
    path.parent.mkdir()
    path.write_text(
        "---\ntitle: Tricky & <title>\npublisher: P & Q\ndate: 2025-01-02\ntype: other\n---\n"
        + body,
        encoding="utf-8",
    )
    source = R.parse_source(path)
    assert source.blocks[1] == R.Paragraph(tricky)
    assert R.Paragraph("- not a list") in source.blocks
    assert R.Table((("A | B", "C"), ("x & y", "<z>"))) in source.blocks
    assert R.parse_markdown(R.render_md(source).decode()) == source.blocks
    from bs4 import BeautifulSoup

    page = R.render_html(source).decode()
    assert "<b>not bold</b>" not in page and "&lt;b&gt;not bold&lt;/b&gt;" in page
    main = BeautifulSoup(page, "html.parser").main
    assert main is not None and main.h1 is not None and main.h1.get_text() == "Tricky & <title>"
    assert_in_order(
        units(source, ("paragraph", "item", "quote", "cell")), main.get_text(" "), "html"
    )


# --- PDF ---------------------------------------------------------------------------------------


def pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(path).pages]


def pdf_body(pages: list[str], header: str) -> str:
    """Page texts without the running header / footer lines, de-hyphenated, joined."""
    kept = []
    for number, text in enumerate(pages, start=1):
        lines = text.splitlines()
        assert FOOTER.match(lines[-1]).groups() == (str(number), str(len(pages)))
        lines = lines[:-1]
        if number > 1:
            assert lines[0] == header, f"page {number} lacks the running header"
            lines = lines[1:]
        else:
            assert header not in lines[0]
        kept.append("\n".join(lines))
    return HYPHEN_BREAK.sub(r"\1\2", "\n".join(kept))


@pytest.mark.parametrize("fmt", ["pdf-1col", "pdf-2col"])
def test_pdf_gives_back_the_words_in_order(
    rendered: Path, sources: dict[str, R.Source], fmt: str
) -> None:
    from pypdf import PdfReader

    for doc_id, source in sources.items():
        path = rendered / fmt / f"{doc_id}.pdf"
        pages = pdf_pages(path)
        body = pdf_body(pages, source.front.header)
        assert_in_order(units(source), body, f"{fmt}/{doc_id}")
        meta = PdfReader(path).metadata
        assert meta.title == source.title and meta.author == source.front.publisher
        assert meta["/CreationDate"].startswith("D:" + source.front.date.strftime("%Y%m%d"))
    fw = sources[FRAMEWORK]
    pages = pdf_pages(rendered / fmt / f"{FRAMEWORK}.pdf")
    assert len(pages) >= 2
    raw_lines = [line for page in pages for line in page.splitlines()]
    long_heading = next(b.text for b in fw.blocks if isinstance(b, R.Heading) and len(b.text) > 70)
    assert long_heading not in raw_lines and long_heading.split()[0] in {
        line.split()[0] for line in raw_lines if line
    }  # it wrapped onto more lines
    vocabulary = {w.lower() for u in units(fw, ("paragraph", "item", "quote")) for w in u.split()}
    joined = "\n".join(pages)
    hyphenated = [
        m for m in re.finditer(r"(\S+)-\n(\S+)", joined) if (m[1] + m[2]).lower() in vocabulary
    ]
    assert len(hyphenated) >= 3, "expected hyphenated line ends"
    paragraphs = [u for u in units(fw, ("paragraph",))]
    page_bodies = [HYPHEN_BREAK.sub(r"\1\2", p) for p in pages]
    spanning = [
        p
        for p in paragraphs
        if not any(" ".join(WORD.findall(p)) in " ".join(WORD.findall(b)) for b in page_bodies)
    ]
    assert spanning, "expected a paragraph that continues on the next page"


def test_pdf_2col_really_has_two_columns(rendered: Path) -> None:
    from pypdf import PdfReader

    def starts(fmt: str, page: int) -> list[tuple[float, float]]:
        points: list[tuple[float, float]] = []

        def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
            if text.strip():
                points.append((tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]))

        PdfReader(rendered / fmt / f"{FRAMEWORK}.pdf").pages[page].extract_text(visitor_text=visit)
        return [(x * 25.4 / 72, y * 25.4 / 72) for x, y in points]  # mm

    middle = R.PAGE_W / 2
    for page in (0, 1):
        two = starts("pdf-2col", page)
        left = [y for x, y in two if x < middle]
        right = [y for x, y in two if x > middle]
        assert len(left) > 20 and len(right) > 20
        overlap = min(max(left), max(right)) - max(min(left), min(right))
        assert overlap > 150, "the columns should stand side by side"
        # reading order: the whole left column is drawn (and extracted) before the right one
        xs = [x > middle for x, y in two if 30 < y < 270]
        assert xs == sorted(xs)
    one = starts("pdf-1col", 1)
    assert all(x < middle for x, _ in one)


# --- DOCX --------------------------------------------------------------------------------------


def test_docx_styles_text_header_and_footer(rendered: Path, sources: dict[str, R.Source]) -> None:
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for doc_id, source in sources.items():
        path = rendered / "docx" / f"{doc_id}.docx"
        document = docx.Document(str(path))
        texts, styles = [], []
        for el in document.element.body.iterchildren():
            if el.tag == qn("w:p"):
                par = Paragraph(el, document)
                texts.append(par.text)
                styles.append((par.style.name, par.text))
            elif el.tag == qn("w:tbl"):
                table = Table(el, document)
                assert table.style.name == "Table Grid"
                assert table.rows[0].cells[0].paragraphs[0].runs[0].bold
                texts.extend(cell.text for row in table.rows for cell in row.cells)
        body = "\n".join(texts)
        assert_in_order(
            units(source, ("heading", "paragraph", "item", "quote", "cell")), body, doc_id
        )
        section = document.sections[0]
        assert section.header.paragraphs[0].text == source.front.header
        assert section.footer.paragraphs[0].text == f"Inspection suite - {source.front.publisher}"
        assert R.docx_footer(source.front) not in body
        if source.front.header != source.title:
            assert source.front.header not in body
        expected = [("Title", source.title)]
        for b in source.blocks[1:]:
            if isinstance(b, R.Heading):
                expected.append((f"Heading {b.level - 1}", b.text))
            elif isinstance(b, R.ListBlock):
                expected.extend(
                    (R.DOCX_LIST_STYLE[it.ordered, it.level], it.text) for it in b.items
                )
            elif isinstance(b, R.Quote):
                expected.append(("Quote", b.text))
            elif isinstance(b, R.Paragraph):
                expected.append(("Normal", b.text))
        assert [s for s in styles if s[1]] == expected
        props = document.core_properties
        assert props.title == source.title and props.author == source.front.publisher
        assert props.created.date() == source.front.date == props.modified.date()
        with zipfile.ZipFile(path) as zf:
            assert {i.date_time[:3] for i in zf.infolist()} == {source.front.date.timetuple()[:3]}


def test_docx_ordered_lists_restart_numbering(rendered: Path) -> None:
    import docx

    document = docx.Document(str(rendered / "docx" / f"{FRAMEWORK}.docx"))
    num_ids: dict[str, set[str]] = {}
    for par in document.paragraphs:
        if par.style.name.startswith("List Number"):
            num_ids.setdefault(par.style.name, set()).add(par._p.pPr.numPr.numId.val)
    assert set(num_ids) == {"List Number", "List Number 2"}
    assert all(len(ids) == 1 for ids in num_ids.values())
    numbering = document.part.numbering_part.element
    for ids in num_ids.values():
        num = numbering.num_having_numId(next(iter(ids)))
        assert num.lvlOverride_lst[0].startOverride.val == 1


# --- HTML --------------------------------------------------------------------------------------


def test_html_page_has_chrome_around_the_document(
    rendered: Path, sources: dict[str, R.Source]
) -> None:
    from bs4 import BeautifulSoup

    for doc_id, source in sources.items():
        soup = BeautifulSoup((rendered / "html" / f"{doc_id}.html").read_bytes(), "html.parser")
        main = soup.main
        assert main is not None
        text = main.get_text(" ")
        assert_in_order(
            units(source, ("heading", "paragraph", "item", "quote", "cell")), text, doc_id
        )
        assert main.h1.get_text() == source.blocks[0].text == source.title
        lines = [p.get_text(" ", strip=True) for p in main.select(".gem-c-metadata p")]
        assert lines == [
            f"From: {source.front.publisher}",
            f"Published {R.date_in_words(source.front.date)}",
            "Applies to: England",
        ]
        assert "We use some essential cookies" in soup.header.get_text()
        assert [b.get_text() for b in soup.header.find_all("button")] == [
            "Accept additional cookies",
            "Reject additional cookies",
        ]
        crumbs = [li.get_text() for li in soup.select(".govuk-breadcrumbs li")]
        assert crumbs == ["Home", "Children's social care", "Inspections"]
        assert "Is this page useful?" in text and "Print this page" in text
        assert "Open Government Licence" in soup.footer.get_text()
        assert soup.find("aside") is not None
        h2s = [b.text for b in source.blocks if isinstance(b, R.Heading) and b.level == 2]
        contents = [a.get_text() for a in main.select(".gem-c-contents-list a")]
        assert contents == h2s
        for a in main.select(".gem-c-contents-list a"):
            assert main.find(id=a["href"][1:]) is not None
        assert bool(soup.find("form", class_="comment-form")) == source.front.chrome
        assert ("Sign up for our weekly newsletter" in text) == source.front.chrome
        assert ("Share this page" in text) == source.front.chrome
    assert R.date_in_words(sources[FRAMEWORK].front.date) == "14 March 2025"


# --- txt ---------------------------------------------------------------------------------------


def txt_clean(text: str, source: R.Source) -> list[str]:
    """Lines without the page furniture and web chrome render_txt documents."""
    lines = text.splitlines()
    chrome = set(R.TXT_CHROME_HEAD + R.TXT_CHROME_TAIL) if source.front.chrome else set()
    kept: list[str] = []
    skip_header = False
    for line in lines:
        if skip_header:
            assert line == source.front.header
            skip_header = False
        elif FOOTER.match(line):
            skip_header = True
        elif line and line not in chrome:
            kept.append(line)
    return kept


def test_txt_keeps_every_word_once(rendered: Path, sources: dict[str, R.Source]) -> None:
    for doc_id, source in sources.items():
        text = (rendered / "txt" / f"{doc_id}.txt").read_text(encoding="utf-8")
        footers = [FOOTER.match(line) for line in text.splitlines() if FOOTER.match(line)]
        total = len(footers)
        assert [m.groups() for m in footers] == [(str(n), str(total)) for n in range(1, total + 1)]
        assert text.rstrip().endswith(f"Page {total} of {total}")
        for line in R.TXT_CHROME_HEAD + R.TXT_CHROME_TAIL:
            assert (line in text.splitlines()) == source.front.chrome
        lines = txt_clean(text, source)
        assert max(len(line) for line in lines) <= R.TXT_WIDTH[1]
        joined = HYPHEN_BREAK.sub(r"\1\2", "\n".join(lines))
        expected = Counter(w for u in R.block_texts(source.blocks) for w in WORD.findall(u.text))
        for b in source.blocks:
            if isinstance(b, R.ListBlock):
                expected.update(str(it.number) for it in b.items if it.ordered)
        assert Counter(WORD.findall(joined)) == expected, doc_id
        # lines of one block keep their order, even where two blocks were riffled
        for unit in units(source, ("paragraph", "item", "quote")):
            words = iter(WORD.findall(joined))
            assert all(w in words for w in WORD.findall(unit)), unit


def test_txt_damage_is_visible(rendered: Path, sources: dict[str, R.Source]) -> None:
    texts = {d: (rendered / "txt" / f"{d}.txt").read_text(encoding="utf-8") for d in sources}
    both = "\n".join(texts.values())
    assert re.search(r"\S \u2022 \S", both), "expected inline bullets"
    assert HYPHEN_BREAK.search(both), "expected hyphenated line ends"
    fw = texts[FRAMEWORK].splitlines()
    pages = [n for n, line in enumerate(fw) if FOOTER.match(line)]
    assert len(pages) >= 2
    # a page break falls inside running text: the lines around it are not block boundaries
    assert any(fw[n - 1] and fw[n + 2] for n in pages[:-1])
    assert any(len(line) < 55 for line in fw) and any(len(line) > 60 for line in fw)


def test_render_suite_raises_on_a_bad_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "bad").mkdir(parents=True)
    (src / "bad" / "source.md").write_text(
        "---\ntitle: T\npublisher: P\ndate: 2025-01-02\ntype: news\n---\n# T\n\n<div>x</div>\n"
    )
    with pytest.raises(R.SourceError, match="not allowed"):
        R.render_suite(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no sources"):
        R.render_suite(tmp_path / "empty", tmp_path / "out")
    assert zipfile.is_zipfile(
        io.BytesIO(R.render_docx(R.parse_source(SAMPLE / NEWS / "source.md")))
    )
