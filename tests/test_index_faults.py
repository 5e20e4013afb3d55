"""Index faults of issue 17: a full disk, a bad upload that taxes every build, and races.

Each test makes the fault happen for real (a 20 MB tmpfs, a file that exhausts the parse
child's memory or time, a file deleted in the middle of a build, vectors nobody lists) and then
checks the team's rule: the previous generation answers exactly as before, the message says what
happened, and `index --check` is clean (after `index --repair` where the fault leaves orphans).
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import EDI_ID, NEWS_ID, cli_env, copy_seeds, make_settings

from assistant.answer import Assistant
from assistant.bm25 import BM25Index
from assistant.index import (
    DiskFull,
    Index,
    IndexProblem,
    build_index,
    build_lock,
    check_index,
    chroma_client,
    leftovers,
    read_current,
    read_manifest,
    repair_index,
)
from assistant.library import (
    LibraryError,
    add_documents,
    delete_document,
    delete_rejected,
    rejected,
    unindexed_uploads,
)
from assistant.settings import Settings

QUESTIONS = [
    "What are the three aims of the public sector equality duty?",
    "How long does the full inspection of Cafcass take?",
]


# An upload killed with SIGKILL after its file is saved, when the index update starts.
KILLED_UPLOAD = """
import os, signal, sys
from pathlib import Path
from assistant.library import add_documents
from assistant.settings import load_settings


def die(stage, done, total, detail):
    os.kill(os.getpid(), signal.SIGKILL)


add_documents(load_settings(), [("late.txt", Path(sys.argv[1]).read_bytes())], progress=die)
"""


# ----------------------------------------------------------------------------- helpers
def forget_chroma_clients() -> None:
    """The next Chroma client reads from disk, as a new process would."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def answers(settings: Settings) -> list[tuple[bool, str, list[str]]]:
    """What a fresh reader answers to the two seed questions (text and citations)."""
    forget_chroma_clients()
    assistant = Assistant(settings)
    out = []
    for question in QUESTIONS:
        answer = assistant.ask(question)
        out.append((answer.refused, answer.answer, [c.chunk_id for c in answer.citations]))
    return out


def run_cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        env=cli_env(settings, ASSISTANT_UPLOAD_DIR=str(settings.path(settings.upload_dir)), **env),
        cwd=settings.root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def prose(path: Path, megabytes: float, seed: int = 5) -> Path:
    """A text file of random prose paragraphs (every chunk distinct, so every one embeds)."""
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghilmnoprstu") for _ in range(rng.randint(2, 9)))
        for _ in range(4000)
    ]
    with open(path, "w", encoding="utf-8") as fh:
        while fh.tell() < megabytes * 1_000_000:
            sentences = [
                " ".join(rng.choice(words) for _ in range(14)).capitalize() + "." for _ in range(5)
            ]
            fh.write(" ".join(sentences) + "\n\n")
    return path


def assert_clean(settings: Settings) -> None:
    assert check_index(settings) == []
    assert leftovers(settings) == []
    forget_chroma_clients()
    result = run_cli(settings, "index", "--check")
    assert result.returncode == 0, result.stderr
    assert "consistent" in result.stderr


def tmp_generations(settings: Settings) -> list[str]:
    root = settings.indexes / "generations"
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".tmp-"))


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 20 MB tmpfs for the index folder (skips where mounting is not allowed)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(
            "cannot mount a 20 MB tmpfs here (needs root or CAP_SYS_ADMIN): "
            + (done.stderr.strip() or f"mount exited {done.returncode}")
        )
    try:
        yield mount
    finally:
        forget_chroma_clients()
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def small_disk(tmpfs: Path, tmp_path: Path, repo_root: Path) -> Settings:
    return make_settings(
        repo_root,
        copy_seeds(tmp_path / "corpus"),
        tmpfs / "idx",
        upload_dir=tmp_path / "corpus" / "uploads",
    )


@pytest.fixture
def settings(tmp_path: Path, repo_root: Path) -> Settings:
    corpus = copy_seeds(tmp_path / "corpus")
    return make_settings(repo_root, corpus, tmp_path / "idx", upload_dir=corpus / "uploads")


# ----------------------------------------------------------------------------- 1. full disk
def test_full_disk_is_refused_before_writing(small_disk: Settings) -> None:
    build_index(small_disk)
    before, live = answers(small_disk), read_current(small_disk)
    prose(small_disk.corpus / "big.txt", 3)  # ~5000 chunks + sentences: far over 20 MB
    with pytest.raises(DiskFull, match=r"disk full at .*: [\d.]+ MB free, need ~[\d.]+ MB") as exc:
        build_index(small_disk)
    assert "checked before writing" in str(exc.value)
    assert read_current(small_disk) == live
    assert answers(small_disk) == before
    assert_clean(small_disk)
    result = run_cli(small_disk, "index")  # the CLI says the same, without a traceback
    assert result.returncode == 1
    assert "disk full at" in result.stderr and "Traceback" not in result.stderr


def test_write_failure_on_a_full_disk_leaves_the_previous_index(small_disk: Settings) -> None:
    """No free-space check: Chroma really fails ("Error in compaction"), and afterwards new
    processes can still read, check, repair and build (before the fix all of them failed)."""
    unchecked = replace(
        small_disk, disk_bytes_per_vector=0, disk_generation_factor=0.0, disk_reserve_mb=0
    )
    build_index(unchecked)
    before, live = answers(unchecked), read_current(unchecked)
    ballast = unchecked.indexes.parent / "ballast"  # what the user deletes to free space
    ballast.write_bytes(b"\0" * 6 * 1024 * 1024)
    big = prose(unchecked.corpus / "big.txt", 3)
    with pytest.raises(DiskFull, match=r"disk full at .*MB free, need ~[\d.]+ MB") as exc:
        build_index(unchecked)
    assert "while writing" in str(exc.value)
    assert read_current(unchecked) == live
    assert tmp_generations(unchecked) == []
    assert answers(unchecked) == before  # in this process ...
    forget_chroma_clients()
    asked = run_cli(unchecked, "ask", QUESTIONS[0])  # ... and in a new one
    assert asked.returncode == 0, asked.stderr
    checked = run_cli(unchecked, "index", "--check")
    assert "unreadable" not in checked.stderr, checked.stderr
    big.unlink()
    ballast.unlink()
    repaired = run_cli(unchecked, "index", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert answers(unchecked) == before
    assert_clean(unchecked)
    again = build_index(small_disk)  # the next plain build completes (it used to hang)
    assert sorted(again.chunks_per_doc) == [EDI_ID, NEWS_ID]
    assert_clean(small_disk)


def test_free_space_check_refuses_a_build_and_changes_nothing(settings: Settings) -> None:
    """The same refusal everywhere: a reserve larger than any disk (a Settings knob)."""
    build_index(settings)
    before, live = answers(settings), read_current(settings)
    prose(settings.corpus / "extra.txt", 0.05)
    greedy = replace(settings, disk_reserve_mb=10**9)
    with pytest.raises(DiskFull, match="checked before writing"):
        build_index(greedy)
    assert read_current(settings) == live and tmp_generations(settings) == []
    assert answers(settings) == before
    assert_clean(settings)
    result = run_cli(settings, "index", ASSISTANT_DISK_RESERVE_MB=str(10**9))
    assert result.returncode == 1 and "disk full at" in result.stderr, result.stderr
    assert "extra" in build_index(settings).added


def _fail_chroma(monkeypatch: pytest.MonkeyPatch) -> None:
    from chromadb.api.models.Collection import Collection
    from chromadb.errors import InternalError

    upsert = Collection.upsert

    def failing(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.name.endswith("-sent"):  # sentence vectors are stored, chunks fail
            raise InternalError("Error in compaction: Failed to apply logs to the metadata segment")
        return upsert(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "upsert", failing)


def _fail_bm25(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(self: Any, folder: Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "partial").write_bytes(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(BM25Index, "save", failing)


def _fail_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.index as ix

    write = ix._atomic_write

    def failing(path: Path, data: str) -> None:
        if path.name == "manifest.json":
            raise sqlite3.OperationalError("database or disk is full")
        write(path, data)

    monkeypatch.setattr(ix, "_atomic_write", failing)


@pytest.mark.parametrize(
    ("store", "inject", "disk_full"),
    [
        ("chroma", _fail_chroma, False),
        ("bm25", _fail_bm25, True),
        ("manifest", _fail_manifest, True),
    ],
)
def test_a_failed_write_keeps_the_previous_generation(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, store: str, inject: Any, disk_full: bool
) -> None:
    build_index(settings)
    before, live = answers(settings), read_current(settings)
    prose(settings.corpus / "extra.txt", 0.2)
    inject(monkeypatch)
    with pytest.raises(IndexProblem) as exc:
        build_index(settings)
    message = str(exc.value)
    assert isinstance(exc.value, DiskFull) == disk_full, message
    assert "previous index is unchanged" in message
    if disk_full:
        assert "disk full at" in message and "MB free, need ~" in message
    monkeypatch.undo()
    assert read_current(settings) == live and tmp_generations(settings) == []
    assert answers(settings) == before
    assert_clean(settings)  # stray sentence vectors of the failed batch are gone too
    assert "extra" in build_index(settings).added
    assert_clean(settings)


def test_leftovers_of_a_failed_build_are_explained_and_removed(settings: Settings) -> None:
    build_index(settings)
    before = answers(settings)
    junk = settings.indexes / "generations" / ".tmp-g000002-99999"
    junk.mkdir()
    (junk / "chunks.jsonl").write_text("{}\n", encoding="utf-8")
    checked = run_cli(settings, "index", "--check")
    assert checked.returncode == 0  # harmless for readers, but explained
    assert "Leftover" in checked.stderr and "unfinished generation" in checked.stderr
    repaired = run_cli(settings, "index", "--repair")
    assert repaired.returncode == 0 and "Repaired" in repaired.stderr, repaired.stderr
    assert not junk.exists()
    junk.mkdir()
    report = build_index(settings)
    assert not junk.exists()
    assert any("unfinished generation" in n for n in report.notes), report.notes
    assert answers(settings) == before
    assert_clean(settings)


def test_repair_switches_back_from_an_unreadable_pointer(settings: Settings) -> None:
    build_index(settings)
    before = answers(settings)
    (settings.indexes / "CURRENT.json").write_text('{"generation": "g0000', encoding="utf-8")
    assert run_cli(settings, "index", "--check").returncode == 1
    actions = repair_index(settings)
    assert any("newest readable generation g000001" in a for a in actions), actions
    assert answers(settings) == before
    assert_clean(settings)


# ----------------------------------------------------------------------------- 2. bad uploads
def test_a_file_that_fails_is_quarantined_listed_and_not_parsed_again(settings: Settings) -> None:
    build_index(settings)
    before = answers(settings)
    broken = settings.corpus / "uploads" / "broken.docx"
    broken.parent.mkdir()
    broken.write_bytes(b"PK\x03\x04" + os.urandom(4000))
    report = build_index(settings)
    assert report.rejected == ["broken.docx"]
    assert not broken.exists()
    quarantined = settings.corpus / "rejected" / "broken.docx"
    assert quarantined.is_file()
    assert "not a valid DOCX" in (settings.corpus / "rejected" / "broken.docx.reason").read_text()
    listed = rejected(settings)
    assert [(r.name, "not a valid DOCX" in r.reason) for r in listed] == [("broken.docx", True)]
    again = build_index(settings)  # reported again from the reason file, not parsed
    assert not again.changed and not again.rejected
    assert [e for e in again.errors if e.startswith("broken.docx:")] == [listed[0].reason]
    assert answers(settings) == before
    assert_clean(settings)
    # an upload of the same name replaces the quarantined copy and is tried again
    good = (settings.corpus / f"{NEWS_ID}.txt").read_text(encoding="utf-8")
    import docx

    document = docx.Document()
    document.add_paragraph("The broken report was replaced by a readable one. " + good[:800])
    path = settings.corpus / "fixed.docx"
    document.save(str(path))
    data = path.read_bytes()
    path.unlink()
    result, refused = add_documents(settings, [("broken.docx", data)])
    assert not refused and "broken" in result.added and rejected(settings) == []
    # and delete works on a quarantined file
    (settings.corpus / "uploads" / "junk.pdf").write_bytes(b"%PDF-1.4 nothing")
    build_index(settings)
    assert [r.name for r in rejected(settings)] == ["junk.pdf"]
    delete_rejected(settings, "junk.pdf")
    assert rejected(settings) == [] and not (settings.corpus / "rejected" / "junk.pdf").exists()
    with pytest.raises(LibraryError, match="no rejected file"):
        delete_rejected(settings, "../idx/CURRENT.json")
    assert_clean(settings)


def test_parse_limits_stop_one_file_and_the_build_goes_on(tmp_path: Path, repo_root: Path) -> None:
    """A file over the parse child's memory limit, then one over its time limit: each is
    quarantined with its reason, the child is replaced, and the seeds after them index."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    prose(corpus / "aaa-hungry.txt", 6)  # needs ~400 MB to parse; the limit is 250 MB
    settings = make_settings(repo_root, copy_seeds(corpus), tmp_path / "idx", parse_memory_mb=250)
    report = build_index(settings)
    assert report.rejected == ["aaa-hungry.txt"], report.errors
    assert "memory limit" in next(e for e in report.errors if e.startswith("aaa-hungry.txt:"))
    assert sorted(report.chunks_per_doc) == [EDI_ID, NEWS_ID]
    before = answers(settings)

    prose(corpus / "aaa-slow.txt", 6)  # takes seconds; the limit is a tenth of one
    slow = replace(settings, parse_timeout_s=0.1, parse_memory_mb=4096)
    report = build_index(slow)
    assert report.rejected == ["aaa-slow.txt"], report.errors
    assert "took longer than 0.1 s" in next(e for e in report.errors if e.startswith("aaa-slow"))
    assert answers(settings) == before
    assert {r.name for r in rejected(settings)} == {"aaa-hungry.txt", "aaa-slow.txt"}
    assert_clean(settings)


# ----------------------------------------------------------------------------- 6. races
def test_same_stem_with_another_extension_keeps_both_documents(settings: Settings) -> None:
    text = (settings.corpus / f"{NEWS_ID}.txt").read_text(encoding="utf-8")
    add_documents(settings, [("x.txt", ("Plain text version. " + text).encode())])
    first = {c.chunk_id for c in Index.open(settings).chunks if c.doc_id == "x"}
    report, refused = add_documents(settings, [("x.md", ("# Markdown\n\n" + text).encode())])
    assert not refused
    assert report.added == ["x-2"] and any("saved as x-2.md" in n for n in report.notes)
    chunks = Index.open(settings).chunks
    assert {c.chunk_id for c in chunks if c.doc_id == "x"} == first
    assert read_manifest(settings)["documents"]["x"]["path"].endswith("x.txt")
    # a file put beside it by hand does not take the indexed document's id either
    (settings.corpus / "uploads" / "x.html").write_text("<p>" + text + "</p>", encoding="utf-8")
    report = build_index(settings)
    assert any(e.startswith("x.html:") and "duplicate document id 'x'" in e for e in report.errors)
    assert read_manifest(settings)["documents"]["x"]["path"].endswith("x.txt")
    (settings.corpus / "uploads" / "x.html").unlink()
    assert_clean(settings)


def test_a_file_deleted_during_a_build_is_skipped_and_not_listed(settings: Settings) -> None:
    build_index(settings)
    before = answers(settings)
    extra = [prose(settings.corpus / f"extra-{i}.txt", 0.02, seed=i) for i in range(3)]

    def progress(stage: str, done: int, total: int, detail: str) -> None:
        if stage == "documents" and detail == "extra-0.txt":
            extra[1].unlink(missing_ok=True)  # gone before it is hashed
        if stage == "embedding" and done == 0:
            extra[2].unlink(missing_ok=True)  # parsed and embedded, then gone
            with pytest.raises(LibraryError, match="build that is running now leaves it out"):
                delete_document(settings, EDI_ID)  # the UI deletes during a CLI build

    report = build_index(settings, progress=progress)
    listed = set(read_manifest(settings)["documents"])
    assert listed == {NEWS_ID, "extra-0"}, (listed, report.notes)
    assert {c.doc_id for c in Index.open(settings).chunks} == {NEWS_ID, "extra-0"}
    assert any("extra-1.txt: removed during the build" in n for n in report.notes)
    assert_clean(settings)
    extra[0].unlink()
    copy_seeds(settings.corpus)  # the deleted seed comes back: the index answers as before
    build_index(settings)
    assert answers(settings) == before


def test_an_upload_saved_but_never_indexed_is_picked_up_and_reported(settings: Settings) -> None:
    build_index(settings)
    before = answers(settings)
    # an upload whose process is killed (SIGKILL) once the file is saved, as indexing starts
    text = (settings.corpus / f"{NEWS_ID}.txt").read_text(encoding="utf-8")
    payload = settings.indexes.parent / "late.bin"
    payload.write_bytes(("Saved before the crash. " + text[::-1]).encode())
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_UPLOAD, str(payload)],
        env=cli_env(settings, ASSISTANT_UPLOAD_DIR=str(settings.path(settings.upload_dir))),
        cwd=settings.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr
    assert (settings.corpus / "uploads" / "late.txt").is_file()
    assert "late" not in read_manifest(settings)["documents"]
    (settings.corpus / "uploads" / ".torn.txt.part").write_bytes(b"half")  # a torn save
    assert unindexed_uploads(settings) == ["late.txt"]
    checked = run_cli(settings, "index", "--check")
    assert "partial upload" in checked.stderr
    report = build_index(settings)
    assert report.added == ["late"]
    assert any("never indexed" in n and "late.txt" in n for n in report.notes), report.notes
    assert unindexed_uploads(settings) == []
    assert not any("never indexed" in n for n in build_index(settings).notes)
    repair_index(settings)  # removes the partial upload
    assert answers(settings) == before
    assert_clean(settings)


def test_an_upload_during_a_build_is_kept_and_said_to_wait(settings: Settings) -> None:
    """While another build holds the index, an upload is saved and the message says so
    truthfully (not searchable yet, indexed by the next build) - then the next build does."""
    build_index(settings)
    before = answers(settings)
    text = (settings.corpus / f"{NEWS_ID}.txt").read_text(encoding="utf-8")
    with build_lock(settings):  # what a running `assistant index` holds
        with pytest.raises(LibraryError) as caught:
            add_documents(settings, [("waiting.txt", ("Queued upload. " + text[::-1]).encode())])
    message = str(caught.value)
    assert "saved waiting.txt" in message and "next build" in message
    assert (settings.corpus / "uploads" / "waiting.txt").is_file()
    assert unindexed_uploads(settings) == ["waiting.txt"]
    assert answers(settings) == before  # nothing else changed
    assert build_index(settings).added == ["waiting"]
    assert unindexed_uploads(settings) == []
    assert_clean(settings)


def test_check_detects_orphans_and_repair_removes_them(settings: Settings) -> None:
    build_index(settings)
    before = answers(settings)
    current = read_current(settings)
    assert current is not None
    collection = chroma_client(settings).get_collection(current["collection"])
    rng = random.Random(2)
    ids = [f"orphan-{uuid.UUID(int=rng.getrandbits(128))}" for _ in range(512)]
    vectors = [[rng.random() for _ in range(384)] for _ in ids]
    collection.upsert(ids=ids, embeddings=vectors, documents=["orphan"] * len(ids))
    assert any("512 orphaned vectors" in p for p in check_index(settings))
    forget_chroma_clients()
    checked = run_cli(settings, "index", "--check")
    assert checked.returncode == 1 and "512 orphaned vectors" in checked.stderr
    repaired = run_cli(settings, "index", "--repair")
    assert repaired.returncode == 0, repaired.stderr
    assert "removed 512 orphaned vectors" in repaired.stderr
    assert answers(settings) == before
    assert_clean(settings)


def test_repair_on_a_missing_index_says_what_to_run(settings: Settings) -> None:
    with contextlib.suppress(FileNotFoundError):
        (settings.indexes / "CURRENT.json").unlink()
    assert any("assistant index" in a for a in repair_index(settings))
