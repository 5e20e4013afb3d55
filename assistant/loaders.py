"""Turn corpus files (txt, markdown, HTML, PDF, DOCX) into `LoadedDocument`s.

Every failure on a bad file becomes a `LoadError` so ingestion can report it and carry on
with the rest of the corpus instead of crashing on one odd upload. Parsers are imported
lazily so importing this module stays cheap for callers that never load a file.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import logging
import os
import re
import zipfile
from pathlib import Path
from typing import Any

from assistant.documents import DOC_TYPES, LoadedDocument

_FORMATS = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMATS)
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")
# Zip-bomb guard for DOCX; module-level so tests (and deployments) can tune them.
DOCX_MAX_EXPANDED_BYTES = 200 * 1024 * 1024
DOCX_MAX_RATIO = 100.0

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MD_HEADING = re.compile(r"^#\s+(.+?)(?:\s+#+)?\s*$", re.MULTILINE)
_HTML_DROP = frozenset("script style noscript template svg nav footer header aside form".split())
_HTML_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo"})
_HTML_KEEP = frozenset({"html", "body", "main", "article"})
_BANNER = re.compile(r"cookie|consent|gdpr", re.IGNORECASE)
_HTML_BLOCKS = frozenset(
    "address article blockquote body caption dd details dialog div dl dt fieldset figcaption "
    "figure hr html main ol p pre section summary ul".split()
)


class LoadError(Exception):
    """A file could not be turned into text; `reason` is meant for the person fixing it."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(self.path).name}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:  # keep picklable across worker processes
        return (type(self), (self.path, self.reason))


def load_file(path: Path, *, max_bytes: int = 50 * 1024 * 1024) -> LoadedDocument:
    """Load one document; raises only `LoadError` for anything wrong with the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(path, f"unsupported file type '{suffix}'")
    data = _read_bytes(path, max_bytes)
    fmt = _FORMATS[suffix]
    pages: list[tuple[int, int]] = []
    meta: dict[str, Any] = {}
    if fmt in ("txt", "md"):
        text, meta["encoding"] = _decode_text(path, data)
        if fmt == "md" and (m := _first_md_heading(text)):
            meta["title"] = m
    elif fmt == "html":
        text, meta["title"] = _load_html(path, data)
    elif fmt == "pdf":
        text, pages, meta["title"] = _load_pdf(path, data)
    else:
        text, meta["title"] = _load_docx(path, data)
    if fmt in ("html", "docx") and not meta.get("title"):
        meta["title"] = _first_md_heading(text)
    merged: dict[str, Any] = {"title": None, "publisher": None, "date": None, "type": "other"}
    merged.update({k: v for k, v in meta.items() if v})
    merged.update({k: v for k, v in read_sidecar(path).items() if v is not None})
    if not merged.get("title"):
        merged["title"] = _title_from_stem(path.stem)
    merged["type"] = merged.get("type") or "other"
    return LoadedDocument(
        doc_id=path.stem, path=str(path), text=text, format=fmt, pages=pages, metadata=merged
    )


def read_sidecar(path: Path) -> dict:
    """Metadata from `<stem>.meta.yaml|.meta.yml|.meta.json` beside `path`, or {} if none.

    Curators fix titles/types there without touching the source file, so a broken sidecar is
    an error (naming the sidecar) rather than silently ignored.
    """
    path = Path(path)
    for suffix in SIDECAR_SUFFIXES:
        side = path.with_name(path.stem + suffix)
        if side.is_file():
            break
    else:
        return {}
    try:
        raw = side.read_text(encoding="utf-8-sig")
        if suffix == ".meta.json":
            data = json.loads(raw)
        else:
            import yaml

            data = yaml.safe_load(raw)
    except Exception as exc:  # YAML/JSON syntax, decoding, or OS errors all mean "fix it"
        raise LoadError(side, f"malformed metadata sidecar ({_detail(exc)})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LoadError(side, "malformed metadata sidecar (expected a mapping of keys)")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dt.date):
            value = value.isoformat()
        out[str(key).strip().lower()] = value.strip() if isinstance(value, str) else value
    if out.get("type") is not None:
        out["type"] = str(out["type"]).lower()
        if out["type"] not in DOC_TYPES:
            raise LoadError(side, f"type must be one of {', '.join(DOC_TYPES)}")
    return out


def discover(corpus_dir: Path) -> tuple[list[Path], list[LoadError]]:
    """Find loadable documents under `corpus_dir`, reporting (not raising) files we skip.

    Files sharing a stem would share a doc_id, so only the first (in sorted order) is kept.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        return [], [LoadError(corpus_dir, "corpus directory not found")]
    found: list[Path] = []
    errors: list[LoadError] = []

    def on_error(exc: OSError) -> None:
        errors.append(LoadError(exc.filename or corpus_dir, exc.strerror or str(exc)))

    for root, dirs, files in os.walk(corpus_dir, onerror=on_error):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or name.lower().endswith(SIDECAR_SUFFIXES):
                continue
            found.append(Path(root, name))
    docs: list[Path] = []
    seen: dict[str, Path] = {}
    for p in sorted(found, key=lambda p: p.relative_to(corpus_dir).as_posix()):
        if p.suffix.lower() not in SUPPORTED_SUFFIXES:
            errors.append(LoadError(p, f"unsupported file type '{p.suffix.lower()}'"))
        elif p.stem in seen:
            errors.append(LoadError(p, f"duplicate document id '{p.stem}' (also {seen[p.stem]})"))
        else:
            seen[p.stem] = p
            docs.append(p)
    return docs, errors


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """Size checks first, so an oversized upload is never read into memory."""
    try:
        if not path.is_file():
            raise LoadError(path, "file not found" if not path.exists() else "not a regular file")
        size = path.stat().st_size
        if size == 0:
            raise LoadError(path, "empty file")
        if size > max_bytes:
            raise LoadError(path, f"file is larger than the {max_bytes // 1048576} MB limit")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise LoadError(path, exc.strerror or str(exc)) from exc
    if len(data) > max_bytes:
        raise LoadError(path, f"file is larger than the {max_bytes // 1048576} MB limit")
    return data


def _decode_text(path: Path, data: bytes) -> tuple[str, str]:
    """UTF-8 first; Windows exports are usually cp1252 or BOM-marked UTF-16."""
    try:
        text, enc = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                text, enc = data.decode("utf-16"), "utf-16"
            else:
                text, enc = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            raise LoadError(path, "not a text file (binary content)") from None
    controls = sum(1 for _ in _CONTROL.finditer(text))
    if "\x00" in text or controls > 0.1 * len(text):
        raise LoadError(path, "not a text file (binary content)")
    if not text.strip():
        raise LoadError(path, "no text (file contains only whitespace)")
    return text, enc


def _detail(exc: BaseException) -> str:
    """One short line from a parser exception, for an error message a person will read."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _first_md_heading(text: str) -> str | None:
    m = _MD_HEADING.search(text)
    return m.group(1).strip() if m else None


def _title_from_stem(stem: str) -> str:
    words = " ".join(re.split(r"[-_\s]+", stem)).strip()
    return (words[:1].upper() + words[1:]) or stem


def _join_lines(lines: list[str]) -> str:
    """Lines with "" as paragraph breaks -> text with single blank lines between blocks."""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _load_html(path: Path, data: bytes) -> tuple[str, str | None]:
    """Keep the page's content, not its chrome (menus, banners, footers, scripts)."""
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(data, "html.parser")
        title = soup.title.get_text(" ", strip=True) if soup.title else None
        doomed = []
        for el in soup.find_all(True):
            if el.name in _HTML_KEEP:
                continue
            label = " ".join([el.get("id") or "", *(el.get("class") or [])])
            if (
                (
                    el.name in _HTML_DROP
                    and not (el.name == "header" and el.find_parent(["main", "article"]))
                )
                or str(el.get("role", "")).lower() in _HTML_DROP_ROLES
                or el.has_attr("hidden")
                or _BANNER.search(label)
            ):
                doomed.append(el)
        for el in doomed:
            el.extract()
        roots = [soup.find("main") or soup.find(attrs={"role": "main"})]
        if roots[0] is None:
            roots = [a for a in soup.find_all("article") if not a.find_parent("article")]
        text = _join_lines([ln for r in roots if r for ln in _html_lines(r)])
        if not text:
            text = _join_lines(_html_lines(soup.body or soup))
    except RecursionError:
        raise LoadError(path, "HTML is nested too deeply to parse") from None
    if not text:
        raise LoadError(path, "no readable text (HTML contains only scripts/markup)")
    return text, title or None


def _html_lines(node: Any) -> list[str]:
    """Render an element as markdown-ish lines ("" marks a paragraph break)."""
    from bs4.element import NavigableString, PreformattedString, Tag

    lines: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        text = " ".join("".join(buf).split())
        buf.clear()
        if text:
            lines.append(text)

    def walk(parent: Any) -> None:
        for child in parent.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, doctype, ...
                    buf.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in ("br", "hr"):
                flush()
            elif re.fullmatch(r"h[1-6]", name):
                flush()
                if text := _inline(child):
                    lines.extend(["", "#" * int(name[1]) + " " + text, ""])
            elif name == "li":
                flush()
                start = len(lines)
                walk(child)
                flush()
                item = [ln for ln in lines[start:] if ln]  # keep list items tight
                if item and not item[0].startswith("- "):
                    item[0] = "- " + item[0]
                lines[start:] = item
            elif name == "table":
                flush()
                lines.extend(["", *_html_table(child), ""])
            elif name in _HTML_BLOCKS:
                flush()
                lines.append("")
                walk(child)
                flush()
                lines.append("")
            else:  # inline element: its text continues the current line
                walk(child)

    walk(node)
    flush()
    return lines


def _inline(tag: Any) -> str:
    return " ".join(ln for ln in _html_lines(tag) if ln)


def _html_table(table: Any) -> list[str]:
    rows = []
    if table.caption and (cap := _inline(table.caption)):
        rows.append(cap)
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue
        cells = [_inline(c) for c in tr.find_all(["td", "th"], recursive=False)]
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def _load_pdf(path: Path, data: bytes) -> tuple[str, list[tuple[int, int]], str | None]:
    """Page texts joined by blank lines; `pages` records where each page starts for citing."""
    from pypdf import PdfReader

    if b"%PDF" not in data[:1024]:
        raise LoadError(path, "not a valid PDF (no %PDF header)")
    log = logging.getLogger("pypdf")
    old_level = log.level
    log.setLevel(logging.ERROR)  # pypdf warns loudly about harmless quirks in real PDFs
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # unsupported cipher (e.g. AES without cryptography)
                ok = 0
            if not ok:
                raise LoadError(path, "encrypted PDF (password required)")
        texts = []
        for page in reader.pages:
            try:
                texts.append(page.extract_text() or "")
            except Exception:  # one broken page should not lose the rest
                texts.append("")
        try:
            title = reader.metadata.title if reader.metadata else None
        except Exception:
            title = None
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(path, f"not a valid PDF ({_detail(exc)})") from exc
    finally:
        log.setLevel(old_level)
    if not any(t.strip() for t in texts):
        raise LoadError(path, "no text layer (scanned PDF?) - run OCR first, e.g. ocrmypdf")
    pages, offset = [], 0
    for number, page_text in enumerate(texts, start=1):
        pages.append((offset, number))
        offset += len(page_text) + 2
    return "\n\n".join(texts), pages, (str(title).strip() or None) if title else None


def _load_docx(path: Path, data: bytes) -> tuple[str, str | None]:
    """Paragraph styles become markdown headings/lists; body order is preserved."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise LoadError(path, "not a valid DOCX (corrupt or not a zip file)") from None
    expanded = sum(i.file_size for i in infos)
    compressed = max(sum(i.compress_size for i in infos), 1)
    if expanded > DOCX_MAX_EXPANDED_BYTES or expanded / compressed > DOCX_MAX_RATIO:
        mb = round(expanded / 1048576)
        raise LoadError(path, f"refused: DOCX expands to {mb} MB (possible zip bomb)")
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []

        def walk(parent: Any) -> None:
            for el in parent.iterchildren():
                if el.tag == qn("w:p"):
                    lines.extend(_docx_paragraph(Paragraph(el, document)))
                elif el.tag == qn("w:tbl"):
                    lines.extend(["", *_docx_table(Table(el, document)), ""])
                elif el.tag == qn("w:sdt") and (content := el.find(qn("w:sdtContent"))) is not None:
                    walk(content)  # content controls (cover pages, TOCs) wrap real text

        walk(document.element.body)
        title = document.core_properties.title
    except Exception as exc:
        raise LoadError(path, f"not a valid DOCX ({_detail(exc)})") from exc
    text = _join_lines(lines)
    if not text:
        raise LoadError(path, "no readable text (DOCX is empty)")
    return text, (title or "").strip() or None


def _docx_paragraph(par: Any) -> list[str]:
    text = " ".join(par.text.split())
    if not text:
        return [""]
    style = par.style
    name = (style.name or "") if style is not None else ""
    style_id = (style.style_id or "") if style is not None else ""
    if name == "Title" or style_id == "Title":
        return ["", "# " + text, ""]
    if m := (re.fullmatch(r"heading\s*(\d)", name, re.I) or re.fullmatch(r"Heading(\d)", style_id)):
        return ["", "#" * min(max(int(m.group(1)), 1), 6) + " " + text, ""]
    ppr = par._p.pPr
    if name.startswith("List") or (ppr is not None and ppr.numPr is not None):
        return ["- " + text]
    return ["", text, ""]


def _docx_table(table: Any) -> list[str]:
    rows = []
    for row in table.rows:
        unique: list[Any] = []
        for cell in row.cells:  # a merged cell is repeated once per grid column it spans
            if not unique or cell._tc is not unique[-1]._tc:
                unique.append(cell)
        cells = [" ".join(cell.text.split()) for cell in unique]
        if any(cells):
            rows.append(" | ".join(cells))
    return rows
