"""Bad files, end to end: each one is reported by name with a clear reason, and everything
else in the corpus still indexes (through `build_index` and through the upload path,
`library.add_documents` / the UI service). Loader-level details are in test_loaders.py.

All builds use the deterministic hash embedder; every fixture file is generated here.
"""

from __future__ import annotations

import codecs
import os
import random
import time
import zipfile
from pathlib import Path

import docx
import pytest
from conftest import EDI_ID, NEWS_ID, copy_seeds, make_settings
from fpdf import FPDF

from assistant.index import BuildReport, Index, build_index, check_index, read_manifest
from assistant.library import LibraryError, add_documents, rejected, safe_filename, save_upload
from assistant.settings import Settings

SEEDS = sorted([EDI_ID, NEWS_ID])
GOOD_TEXT = (
    "The quokka audit of regional offices found that every office kept its visitor log up "
    "to date. Inspectors checked the logs during each visit and recorded any gaps.\n"
)


@pytest.fixture
def settings(tmp_path: Path, repo_root: Path) -> Settings:
    corpus = copy_seeds(tmp_path / "corpus")
    # uploads must land in the private corpus, never in the repository's own corpus/uploads
    return make_settings(repo_root, corpus, tmp_path / "idx", upload_dir=corpus / "uploads")


def make_pdf(path: Path, pages: list[str], password: bool = False) -> Path:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    if password:
        pdf.set_encryption(owner_password="owner", user_password="user")
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))
    return path


def scanned_pdf(path: Path) -> Path:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 120, 80, style="F")  # an "image" of a page: no text layer at all
    pdf.output(str(path))
    return path


def zip_bomb_docx(path: Path, size: int = 30 * 1024 * 1024) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"<w:document>" + b" " * size + b"</w:document>")
    return path


def one_error(errors: list[str], name: str) -> str:
    """The single error line naming `name` (errors read '<file name>: <reason>')."""
    found = [e for e in errors if e.startswith(f"{name}:")]
    assert len(found) == 1, (name, errors)
    return found[0]


def assert_seeds_indexed(
    settings: Settings, report: BuildReport, extra: tuple[str, ...] = ()
) -> None:
    assert sorted(report.chunks_per_doc) == sorted([*SEEDS, *extra]), report
    assert all(n > 0 for n in report.chunks_per_doc.values())
    assert check_index(settings) == []
    index = Index.open(settings)
    assert {c.doc_id for c in index.chunks} == set(SEEDS) | set(extra)


# ----------------------------------------------------------------------------- build_index
def test_every_bad_file_is_named_with_its_reason_and_the_rest_indexes(settings: Settings) -> None:
    corpus = settings.corpus
    rng = random.Random(11)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "junk.pdf").write_bytes(bytes(rng.randrange(256) for _ in range(8192)))
    good_pdf = make_pdf(corpus / "whole.pdf", ["Quarterly report text " * 40] * 3).read_bytes()
    (corpus / "truncated.pdf").write_bytes(good_pdf[: len(good_pdf) // 2])
    (corpus / "whole.pdf").unlink()
    make_pdf(corpus / "locked.pdf", ["Secret inspection notes"], password=True)
    scanned_pdf(corpus / "scanned.pdf")
    (corpus / "broken.docx").write_bytes(b"PK\x03\x04" + os.urandom(4000))
    (corpus / "scripts.html").write_text(
        "<html><head><script>var a = 1;</script></head><body><script>alert('x')</script>"
        "<style>p{}</style><noscript>enable js</noscript></body></html>",
        encoding="utf-8",
    )
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 20)
    zip_bomb_docx(corpus / "bomb.docx")
    (corpus / "program.exe").write_bytes(b"MZ" + os.urandom(100))

    started = time.perf_counter()
    report = build_index(settings)
    elapsed = time.perf_counter() - started
    errors = report.errors
    expectations = {
        "empty.txt": "empty file",
        "junk.pdf": "not a valid PDF",
        "truncated.pdf": "not a valid PDF",
        "locked.pdf": "encrypted PDF",
        "scanned.pdf": "OCR",
        "broken.docx": "not a valid DOCX",
        "scripts.html": "no readable text",
        "binary.txt": "not a text file",
        "bomb.docx": "zip bomb",
        "program.exe": "unsupported file type",
    }
    for name, reason in expectations.items():
        line = one_error(errors, name)
        assert reason in line, (name, line)
        print(f"{line}")
    assert len(errors) == len(expectations), errors
    assert not report.duplicates, report.duplicates  # failed files are nobody's duplicates
    assert_seeds_indexed(settings, report)
    # the errors are kept with the generation, and a rebuild reports them again
    assert sorted(read_manifest(settings)["errors"]) == sorted(errors)
    again = build_index(settings)
    assert not again.changed and sorted(again.errors) == sorted(errors)
    assert elapsed < 120, elapsed


def test_identical_empty_files_are_each_reported_as_empty(settings: Settings) -> None:
    # equal content hashes must not turn the second failure into a "duplicate" of the first
    (settings.corpus / "blank-a.txt").write_bytes(b"")
    (settings.corpus / "blank-b.md").write_bytes(b"")
    report = build_index(settings)
    assert "empty file" in one_error(report.errors, "blank-a.txt")
    assert "empty file" in one_error(report.errors, "blank-b.md")
    assert report.duplicates == {}
    assert_seeds_indexed(settings, report)


def test_non_utf8_text_is_decoded_not_garbled(settings: Settings) -> None:
    text = "The café’s naïve visitors paid £5 – a “fee” for the Zoë Böhm exhibition.\n"
    (settings.corpus / "windows.txt").write_bytes(text.encode("cp1252"))
    (settings.corpus / "wide.txt").write_bytes(
        codecs.BOM_UTF16_LE + text.replace("exhibition", "gallery").encode("utf-16-le")
    )
    report = build_index(settings)
    assert not report.errors, report.errors
    assert_seeds_indexed(settings, report, ("windows", "wide"))
    by_doc = {c.doc_id: c.text for c in Index.open(settings).chunks}
    assert "café’s naïve visitors paid £5 – a “fee”" in by_doc["windows"]
    assert "Zoë Böhm gallery" in by_doc["wide"]
    assert "\ufffd" not in by_doc["windows"] + by_doc["wide"]


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path, repo_root: Path) -> None:
    corpus = copy_seeds(tmp_path / "corpus")
    settings = make_settings(repo_root, corpus, tmp_path / "idx", max_file_mb=1)
    (corpus / "huge.txt").write_text(GOOD_TEXT * (1_200_000 // len(GOOD_TEXT)), encoding="utf-8")
    report = build_index(settings)
    assert "larger than the 1 MB limit" in one_error(report.errors, "huge.txt")
    assert_seeds_indexed(settings, report)


def test_enormous_single_line_indexes_in_bounded_time_and_chunk_size(settings: Settings) -> None:
    rng = random.Random(5)
    words = [f"term{i}" for i in range(4000)] + "equality duty children families".split()
    parts: list[str] = []
    size = 0
    while size < 2_000_000:
        piece = " ".join(rng.choice(words) for _ in range(rng.randint(5, 30)))
        piece += rng.choice([", ", " ", "; "])
        parts.append(piece)
        size += len(piece)
    line = "".join(parts)[:2_000_000]
    assert "\n" not in line
    (settings.corpus / "one-line.txt").write_text(line, encoding="utf-8")
    started = time.perf_counter()
    report = build_index(settings)
    elapsed = time.perf_counter() - started
    print(f"2 MB single line: {report.chunks_per_doc['one-line']} chunks in {elapsed:.1f}s")
    assert not report.errors, report.errors
    assert elapsed < 150, elapsed
    assert_seeds_indexed(settings, report, ("one-line",))
    chunks = [c for c in Index.open(settings).chunks if c.doc_id == "one-line"]
    assert all(0 < len(c.text) <= settings.chunk_max_chars for c in chunks)
    # nothing is lost: the chunks tile the line (only the spaces between them are dropped)
    assert sum(len(c.text) for c in chunks) >= len(line) - len(chunks) * 2
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_duplicate_under_a_new_name_is_indexed_once_and_reported(settings: Settings) -> None:
    first = build_index(settings)
    copy = settings.corpus / "renamed-copy.txt"
    copy.write_bytes((settings.corpus / f"{NEWS_ID}.txt").read_bytes())
    report = build_index(settings)
    assert report.duplicates == {"renamed-copy": NEWS_ID}
    assert report.chunks_total == first.chunks_total
    assert_seeds_indexed(settings, report)
    assert read_manifest(settings)["documents"][NEWS_ID]["aliases"] == ["renamed-copy"]
    assert not build_index(settings).changed
    copy.unlink()  # the alias goes with the file
    gone = build_index(settings)
    assert gone.changed and gone.duplicates == {} and gone.chunks_embedded == 0
    assert "aliases" not in read_manifest(settings)["documents"][NEWS_ID]


# ----------------------------------------------------------------------------- upload path
def test_upload_names_cannot_escape_the_upload_folder(settings: Settings) -> None:
    uploads = settings.path(settings.upload_dir).resolve()
    outside_targets = [Path("/etc/x.txt"), Path("/etc/passwd.txt"), Path("/x.txt")]
    assert not any(p.exists() for p in outside_targets)
    hostile = [
        "../../etc/x.txt",
        "..\\..\\windows\\system32\\x.txt",
        "/etc/passwd.txt",
        "a\x00b\nc\rd\x1b[31m.txt",
        "\u202egnp.txt",
        "....txt",
        "..",
        "/",
        " .txt",
        "%2e%2e%2fescape.txt",
    ]
    saved = 0
    for name in hostile:
        data = (GOOD_TEXT + repr(name)).encode()
        try:
            target = save_upload(settings, name, data)
        except LibraryError as exc:
            assert "file type" in str(exc), exc  # no usable suffix left: refused, not guessed
            continue
        saved += 1
        assert target.resolve().parent == uploads, (name, target)
        assert target.read_bytes() == data
        assert not any(ord(ch) < 32 or ch in "/\\" for ch in target.name), target.name
        assert target.name == safe_filename(target.name)
    assert saved >= 6
    assert not any(p.exists() for p in outside_targets)
    # nothing was written anywhere in the private tree except the upload folder
    for path in settings.corpus.parent.rglob("*"):
        if path.is_file() and path.parent != settings.corpus:
            assert path.resolve().parent == uploads, path


def test_add_documents_reports_each_refusal_and_indexes_the_rest(
    tmp_path: Path, repo_root: Path
) -> None:
    corpus = copy_seeds(tmp_path / "corpus")
    settings = make_settings(
        repo_root, corpus, tmp_path / "idx", upload_dir=corpus / "uploads", max_file_mb=1
    )
    build_index(settings)
    rng = random.Random(2)
    files = [
        ("../../etc/quokka-audit.txt", GOOD_TEXT.encode()),
        ("setup.exe", b"MZ" + os.urandom(64)),
        ("big.txt", b"x" * (1024 * 1024 + 1)),
        ("nothing.md", b""),
        ("junk.pdf", bytes(rng.randrange(256) for _ in range(4096))),
        ("bomb.docx", zip_bomb_docx(tmp_path / "b.docx").read_bytes()),
        ("scan.pdf", scanned_pdf(tmp_path / "s.pdf").read_bytes()),
        ("copy of the news.txt", (corpus / f"{NEWS_ID}.txt").read_bytes()),
    ]
    report, refused = add_documents(settings, files)
    assert any(r.startswith("setup.exe:") and "not accepted" in r for r in refused), refused
    assert any(r.startswith("big.txt:") and "1 MB upload limit" in r for r in refused), refused
    assert any(r.startswith("nothing.md:") and "empty" in r for r in refused), refused
    assert len(refused) == 3, refused
    assert "not a valid PDF" in one_error(report.errors, "junk.pdf")
    assert "zip bomb" in one_error(report.errors, "bomb.docx")
    assert "OCR" in one_error(report.errors, "scan.pdf")
    assert report.duplicates == {"copy-of-the-news": NEWS_ID}
    assert report.added == ["quokka-audit"]
    assert_seeds_indexed(settings, report, ("quokka-audit",))
    saved = sorted(p.name for p in (corpus / "uploads").iterdir())
    assert saved == sorted(["quokka-audit.txt", "copy-of-the-news.txt"])
    # the unreadable ones are quarantined with their reasons, never parsed again (issue 17)
    quarantined = {r.name: r.reason for r in rejected(settings)}
    assert sorted(quarantined) == ["bomb.docx", "junk.pdf", "scan.pdf"]
    assert "zip bomb" in quarantined["bomb.docx"]


def test_ui_upload_of_hostile_temp_file_names(tmp_path: Path, repo_root: Path) -> None:
    """The UI's upload callback gets temp-file paths; their names are still untrusted."""
    from ui.service import UIService

    corpus = copy_seeds(tmp_path / "corpus")
    settings = make_settings(
        repo_root, corpus, tmp_path / "idx", upload_dir=corpus / "uploads", max_file_mb=1
    )
    build_index(settings)
    incoming = tmp_path / "gradio-tmp"
    incoming.mkdir()
    odd = incoming / "..\x07evil\x1b name\n.txt"
    odd.write_text(GOOD_TEXT, encoding="utf-8")
    big = incoming / "big.txt"
    big.write_bytes(b"y" * (1024 * 1024 + 10))
    service = UIService(settings, assistant=object())  # type: ignore[arg-type]
    report, refused = service.upload([str(odd), str(big), str(incoming / "missing.txt")])
    assert report is not None
    assert any("big.txt" in r and "1 MB" in r for r in refused), refused
    assert any("missing.txt" in r and "could not be read" in r for r in refused), refused
    uploads = (corpus / "uploads").resolve()
    (saved,) = list(uploads.iterdir())
    assert saved.name == "evil-name.txt"
    assert report.added == ["evil-name"]
    assert check_index(settings) == []


def test_docx_with_real_text_next_to_bad_ones_still_indexes(settings: Settings) -> None:
    d = docx.Document()
    d.add_heading("Visitor arrangements", level=1)
    d.add_paragraph(GOOD_TEXT.strip())
    d.save(str(settings.corpus / "visitors.docx"))
    (settings.corpus / "visitors-broken.docx").write_bytes(b"not a zip at all")
    report = build_index(settings)
    assert "not a valid DOCX" in one_error(report.errors, "visitors-broken.docx")
    assert_seeds_indexed(settings, report, ("visitors",))
