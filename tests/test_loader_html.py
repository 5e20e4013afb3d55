"""HTML loader: round trip over the suite's GOV.UK-style pages, seed-like pages from other
sites (WordPress news, a GOV.UK HTML publication, a table-layout council page), and the
hostile or odd files people upload as .html."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup
from bs4.element import Comment, NavigableString
from conftest import assert_same_structure

from assistant.blocks import Block, layout, squash
from assistant.loader_html import load_html
from assistant.loaders import LoadError
from evals.render import (
    DEFAULT_SRC,
    block_texts,
    discover_sources,
    parse_source,
    render_suite,
)
from evals.roundtrip import fidelity, loaded_units, norm

DOC_IDS = [p.parent.name for p in discover_sources(DEFAULT_SRC)]
PAGES = Path(__file__).parent / "data" / "html_pages"
PAGE_NAMES = sorted(p.stem for p in PAGES.glob("*.html"))


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("suite-html")
    render_suite(DEFAULT_SRC, out, formats=["html"])
    return out / "html"


def load(path: Path) -> list[Block]:
    return load_html(path, path.read_bytes()).blocks


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# ------------------------------------------------------------------------- suite round trip


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_round_trip_meets_targets(suite: Path, doc_id: str) -> None:
    source = parse_source(DEFAULT_SRC / doc_id / "source.md")
    doc = load_html(suite / f"{doc_id}.html", (suite / f"{doc_id}.html").read_bytes())
    fid = fidelity(source, doc.blocks)
    assert fid.shortfalls() == []  # evals.roundtrip.TARGETS and zero furniture
    assert doc.format == "html" and doc.doc_id == doc_id
    assert doc.metadata["title"] == source.title
    assert doc.warnings == []


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_structure_is_the_sources(suite: Path, doc_id: str) -> None:
    """Heading levels, list nesting and numbers, quotes and table rows as the author wrote."""
    source = parse_source(DEFAULT_SRC / doc_id / "source.md")
    assert_same_structure(source, load(suite / f"{doc_id}.html"))


def chrome_texts(page: Path) -> set[str]:
    """Every text of the rendered page outside the document itself: what the renderer added
    around it (cookie banner, navigation, breadcrumbs, type label, metadata lines, contents,
    print link, share links, comment form, newsletter, feedback, related links, footer)."""
    soup = BeautifulSoup(page.read_bytes(), "html.parser")
    keep = [soup.select_one(".govuk-govspeak"), soup.h1, soup.select_one(".gem-c-lead-paragraph")]
    out = set()
    for node in soup.find_all(string=True):
        if isinstance(node, Comment) or not isinstance(node, NavigableString):
            continue
        if node.parent.name in ("script", "style", "title", "[document]"):
            continue
        if any(k is not None and (node.parent is k or k in node.parents) for k in keep):
            continue
        if text := squash(str(node)):
            out.add(text)
    return out


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_page_chrome_produces_no_block(suite: Path, doc_id: str) -> None:
    source = parse_source(DEFAULT_SRC / doc_id / "source.md")
    page = suite / f"{doc_id}.html"
    blocks = load(page)
    truth = {norm(u.text) for u in block_texts(source.blocks)} | {norm(source.front.summary)}
    strays = [texts[0] for _k, texts in loaded_units(blocks) if not set(texts) & truth]
    assert strays == []  # every block is the document's own text (or its lead paragraph)
    chrome = chrome_texts(page)
    assert "Cookies on GOV.UK" in chrome and "Is this page useful?" in chrome  # the probe works
    if source.front.chrome:
        assert {"Leave a comment", "Share this page", "Newsletter"} <= chrome
    loaded = [texts[0] for _k, texts in loaded_units(blocks)]
    own = " ".join(truth)  # chrome repeating the document (contents list, related link) aside
    for text in (t for t in chrome if norm(t) not in own):
        assert norm(text) not in loaded, text
        if len(text.split()) >= 3:
            assert not any(norm(text) in t for t in loaded), text


# ------------------------------------------------------------------------ seed-like pages


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_seed_like_pages(name: str) -> None:
    """Pages laid out as real sites do, with the expected content and chrome in a YAML file:
    every content unit in order with its kind (and level/label where given), nothing else."""
    expected = yaml.safe_load((PAGES / f"{name}.yaml").read_text(encoding="utf-8"))
    doc = load_html(PAGES / f"{name}.html", (PAGES / f"{name}.html").read_bytes())
    units = []
    for b in doc.blocks:
        if b.kind == "list":
            units += [["item", norm(i.text), i.level, i.label] for i in b.items]
        elif b.kind == "table":
            units += [["cell", norm(c)] for row in b.rows for c in row if c]
        else:
            units.append([b.kind, norm(b.text), b.level])
    want = [[kind, norm(text), *rest] for kind, text, *rest in expected["content"]]
    assert [u[: len(w)] for u, w in zip(units, want, strict=False)] == want
    assert len(units) == len(want), units[len(want) :]
    text = layout(doc.blocks)[0].lower()
    assert [c for c in expected["chrome"] if c.lower() in text] == []
    assert doc.metadata["title"] == expected["title"]


def test_page_without_main_or_article_says_how_content_was_found() -> None:
    doc = load_html(
        PAGES / "family-law-news-cafcass.html",
        (PAGES / "family-law-news-cafcass.html").read_bytes(),
    )
    assert any("no <main>" in w for w in doc.warnings)


def test_a_page_states_its_publisher(suite: Path, tmp_path: Path) -> None:
    """The publisher a page states is its metadata, so a page needs no sidecar to say whose
    it is: the suite's "From:" line, a GOV.UK publication's organisation logo, a publisher
    meta tag or a <dt>From:</dt>; a news byline and the site's own name are not publishers."""
    rendered = suite / "kestrel-inspector-code-of-conduct.html"
    assert load_html(rendered, rendered.read_bytes()).metadata["publisher"] == (
        "Kestrel Justice Inspectorate"
    )
    for name, publisher in [
        ("govuk-cafcass-edi-statement", "Ofsted"),
        ("family-law-news-cafcass", None),
        ("council-legacy-visits", None),
    ]:
        page = PAGES / f"{name}.html"
        assert load_html(page, page.read_bytes()).metadata.get("publisher") == publisher, name
    body = "<main><h1>Title</h1><p>Text of the page.</p></main>"
    for head, publisher in [
        (
            '<meta name="DC.publisher" content="Northmoor Care Inspectorate">',
            "Northmoor Care Inspectorate",
        ),
        ('<meta property="og:site_name" content="GOV.UK">', None),
    ]:
        path = write(tmp_path, "meta.html", f"<html><head>{head}</head><body>{body}</body></html>")
        assert load_html(path, path.read_bytes()).metadata.get("publisher") == publisher
    path = write(
        tmp_path,
        "dl.html",
        f"<body><dl><dt>From:</dt><dd><a href='/org'>Fernvale Inspectorate</a></dd></dl>{body}",
    )
    assert load_html(path, path.read_bytes()).metadata["publisher"] == "Fernvale Inspectorate"


# ------------------------------------------------------------------------ odd and hostile


def test_html_without_main_uses_article_and_keeps_its_header(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "plain.html",
        "<body><nav>Menu</nav><div>Body text<p>Para</p></div>"
        "<article><header><h1>Kept title</h1></header><p>Art</p></article></body>",
    )
    doc = load_html(path, path.read_bytes())
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Kept title"),
        ("paragraph", "Art"),
    ]
    assert doc.metadata["title"] == "Kept title"


def test_html_without_any_landmark_keeps_the_body(tmp_path: Path) -> None:
    bare = write(tmp_path, "bare.html", "<p>Just <i>a</i> paragraph</p>")
    assert [(b.kind, b.text) for b in load(bare)] == [("paragraph", "Just a paragraph")]
    page = write(
        tmp_path,
        "nolandmarks.html",
        "<html><body><div class='top'><a href='/'>Home</a> <a href='/a'>About</a></div>"
        "<div class='content'><h2>Visits</h2><p>Inspectors visit <b>every</b> home.</p>"
        "<ul><li>One<ul><li>One point one</li></ul></li><li>Two</li></ul></div></body></html>",
    )
    blocks = load(page)
    assert [b.kind for b in blocks] == ["heading", "paragraph", "list"]
    assert [(i.text, i.level) for i in blocks[2].items] == [
        ("One", 0),
        ("One point one", 1),
        ("Two", 0),
    ]


def test_hero_title_accordion_and_tabs(tmp_path: Path) -> None:
    """An h1 in a hero header before <main> still leads; accordion sections (a button in the
    heading, content hidden "until-found") and hidden tab panels are content, their toggles
    and tab links are not."""
    path = write(
        tmp_path,
        "hero.html",
        "<title>Fostering inspections | Northmoor</title><body><header class='hero'><nav>"
        "<a href='/'>Home</a></nav><h1>Fostering inspections</h1></header><main>"
        "<div class='govuk-accordion'><h2 class='govuk-accordion__section-heading'>"
        "<button type='button'><span>Before the visit</span>"
        "<span class='govuk-accordion__section-toggle'>Show<span class='govuk-visually-hidden'>"
        " this section</span></span></button></h2><div class='govuk-accordion__section-content'"
        " hidden='until-found'><p>We call the manager two days before.</p></div></div>"
        "<div class='govuk-tabs'><ul><li><a href='#t1'>Tab one</a></li><li><a href='#t2'>"
        "Tab two</a></li></ul><div id='t1'><p>Panel one.</p></div>"
        "<div id='t2' class='govuk-tabs__panel--hidden'><p>Panel two.</p></div></div></main>",
    )
    doc = load_html(path, path.read_bytes())
    assert [(b.kind, b.level, b.text) for b in doc.blocks] == [
        ("heading", 1, "Fostering inspections"),
        ("heading", 2, "Before the visit"),
        ("paragraph", 0, "We call the manager two days before."),
        ("paragraph", 0, "Panel one."),
        ("paragraph", 0, "Panel two."),
    ]
    assert doc.metadata["title"] == "Fostering inspections"


def test_encodings_without_guessing(tmp_path: Path) -> None:
    latin = write(tmp_path, "latin.html", b"<p>Na\xefve caf\xe9</p>")
    assert load(latin)[0].text == "Naïve café"
    utf16 = write(tmp_path, "u16.html", "<main><p>Café visits</p></main>".encode("utf-16"))
    assert load(utf16)[0].text == "Café visits"
    declared = write(tmp_path, "decl.html", b'<meta charset="iso-8859-1"><p>\x93quoted\x94</p>')
    assert load(declared)[0].text == "“quoted”"  # Latin-1 is read as Windows-1252, as browsers do


def test_markdown_ish_fragment_is_read_as_markdown(tmp_path: Path) -> None:
    """A .html file that is really Markdown with HTML bits: no "#", "-" or tags survive."""
    path = write(
        tmp_path,
        "notes.html",
        "# Visiting arrangements\n\nInspectors <b>must</b> sign in &amp; wear a badge.\n"
        "They are met by the manager.\n\n<p>Visits last <em>two</em> days.</p>\n\n"
        "## What to bring\n\n- photo ID\n- the letter\n  - printed\n\n1. Arrive by 9am\n"
        "2. Meet the manager\n\n> Children come first.\n\n"
        "<table><tr><th>Day</th><th>Activity</th></tr><tr><td>1</td><td>Meetings</td></tr></table>\n",
    )
    doc = load_html(path, path.read_bytes())
    got = [(b.kind, b.level, b.text) for b in doc.blocks if b.kind != "list"]
    assert got == [
        ("heading", 1, "Visiting arrangements"),
        ("paragraph", 0, "Inspectors must sign in & wear a badge. They are met by the manager."),
        ("paragraph", 0, "Visits last two days."),
        ("heading", 2, "What to bring"),
        ("quote", 0, "Children come first."),
        ("table", 0, ""),
    ]
    lists = [
        [(i.text, i.level, i.marker, i.label) for i in b.items]
        for b in doc.blocks
        if b.kind == "list"
    ]
    assert lists == [
        [
            ("photo ID", 0, "bullet", ""),
            ("the letter", 0, "bullet", ""),
            ("printed", 1, "bullet", ""),
        ],
        [("Arrive by 9am", 0, "number", "1."), ("Meet the manager", 0, "number", "2.")],
    ]
    assert doc.blocks[-1].rows == (("Day", "Activity"), ("1", "Meetings"))
    assert doc.metadata["title"] == "Visiting arrangements"
    assert "Markdown" in doc.warnings[0]


def test_entities_are_decoded_and_nothing_is_escaped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ents.html",
        "<main><p>Fish &amp; chips &lt;b&gt; &eacute;t&eacute;&nbsp;now &#8217;quoted&#8217;"
        " zero&#8203;width</p></main>",
    )
    assert load(path)[0].text == "Fish & chips <b> été now ’quoted’ zerowidth"


def test_metadata_lines_go_but_prose_that_starts_alike_stays(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "meta.html",
        "<main><h1>T</h1><p>From: Ofsted</p><p>Published 3 May 2025</p>"
        "<p>Last updated: 4 June 2025</p><p>Applies to England</p>"
        "<p>Updated 12 June 2025<br>Published 1 May 2025<br>Real text after a break</p>"
        "<p>From April 2025, inspectors will visit.</p>"
        "<p>Published reports are kept for five years.</p>"
        "<p>Updated guidance follows in 2026.</p>"
        "<p>Applies to all providers registered after April 2025 in the region.</p></main>",
    )
    assert [b.text for b in load(path)] == [
        "T",
        "Real text after a break",
        "From April 2025, inspectors will visit.",
        "Published reports are kept for five years.",
        "Updated guidance follows in 2026.",
        "Applies to all providers registered after April 2025 in the region.",
    ]


def test_furniture_headings_take_only_their_own_section(tmp_path: Path) -> None:
    """A "Contents" heading and its anchor list go; the sections after it, in the same
    wrapper, stay. A "Share this page" block goes whole; prose mentioning sharing stays."""
    long = "Inspectors read case files and speak with staff before they grade anything. " * 8
    path = write(
        tmp_path,
        "toc.html",
        "<main><h1>Handbook</h1><div class='body'><h2>Contents</h2><ol><li><a href='#a'>Part A"
        f"</a></li><li><a href='#b'>Part B</a></li></ol><h3 id='a'>Part A</h3><p>{long}</p>"
        f"<h3 id='b'>Part B</h3><p>{long}</p><p>Agencies share this page with carers.</p></div>"
        "<div><h2>Share this page</h2><ul><li><a href='https://x'>Facebook</a></li></ul></div>"
        "</main>",
    )
    assert [(b.kind, b.text[:20]) for b in load(path)] == [
        ("heading", "Handbook"),
        ("heading", "Part A"),
        ("paragraph", long[:20]),
        ("heading", "Part B"),
        ("paragraph", long[:20]),
        ("paragraph", "Agencies share this "),
    ]


def test_lists_tables_quotes_and_captions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kinds.html",
        "<main><h3>Sub</h3><ol type='a' start='3'><li>c item</li><li value='7'>g item</li></ol>"
        "<ol type='i'><li>first</li><li>second</li></ol>"
        "<table><caption>Grades</caption><thead><tr><th>Grade</th><th colspan='2'>Meaning</th></tr>"
        "</thead><tbody><tr><td>1</td><td>Outstanding</td><td></td></tr></tbody></table>"
        "<blockquote><p>First para.</p><p>Second para.</p></blockquote>"
        "<figure><img src='x.png' alt='chart'><figcaption>Figure 1: visits</figcaption>"
        "</figure></main>",
    )
    blocks = load(path)
    assert [b.kind for b in blocks] == [
        "heading",
        "list",
        "list",
        "caption",
        "table",
        "quote",
        "quote",
        "caption",
    ]
    assert blocks[0].level == 3
    assert [(i.marker, i.label) for i in blocks[1].items] == [("letter", "c."), ("letter", "g.")]
    assert [(i.marker, i.label) for i in blocks[2].items] == [("roman", "i."), ("roman", "ii.")]
    assert blocks[4].rows == (("Grade", "Meaning"), ("1", "Outstanding", ""))
    assert [b.text for b in blocks[5:]] == ["First para.", "Second para.", "Figure 1: visits"]


def test_title_prefers_h1_over_site_decorated_title(tmp_path: Path) -> None:
    both = write(
        tmp_path, "a.html", "<title>Council - Visits</title><main><h1>Visits</h1><p>x</p></main>"
    )
    assert load_html(both, both.read_bytes()).metadata["title"] == "Visits"
    only = write(
        tmp_path, "b.html", "<title>Inspection visits - GOV.UK</title><main><p>x</p></main>"
    )
    assert load_html(only, only.read_bytes()).metadata["title"] == "Inspection visits"


def test_only_scripts_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app.htm",
        "<html><head><script>alert(1)</script></head><body><script>x()</script>"
        "<noscript>Enable JS</noscript></body></html>",
    )
    with pytest.raises(LoadError, match="no readable text"):
        load(path)
    for junk in ("   \n ", "<!-- only a comment -->"):
        with pytest.raises(LoadError, match="no readable text"):
            load(write(tmp_path, "empty.html", junk))


def test_binary_and_deeply_nested_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="binary"):
        load(write(tmp_path, "bin.html", bytes(range(256)) * 20))
    deep = "<html><body>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "<p>after</p></body></html>"
    with pytest.raises(LoadError, match="nested too deeply"):
        load(write(tmp_path, "deep.html", deep))


def test_speed(suite: Path) -> None:
    """All twelve suite pages in well under a second (about 4 ms a page on the dev machine)."""
    paths = sorted(suite.glob("*.html"))
    load(paths[0])  # imports
    started = time.perf_counter()
    for path in paths:
        load(path)
    assert time.perf_counter() - started < 1.5
