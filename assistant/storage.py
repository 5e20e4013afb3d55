"""Storage faults of the index folder: free space, "disk full" errors and Chroma's write log.

A build writes to four stores (Chroma's SQLite file and HNSW files, the BM25 folder, the chunk
store, the manifest). When the disk fills up half-way, each says so differently - ``OSError``
ENOSPC, SQLite "database or disk is full", or Chroma's "Error in compaction: Failed to apply
logs to the metadata segment", which never mentions the disk. This module turns all of them
into one `DiskFull` message that names the folder, the free space and what was needed.

Chroma (1.x, embedded) first appends every write to a log table (``embeddings_queue``) and then
"compacts" it into the collection's segments. A write that fails in compaction stays in the log,
and every later process that opens the collection tries again and fails the same way - the
index looked broken for good. `rollback_unapplied_writes` deletes the log entries that no
segment has applied yet (the failed write, whose vectors no generation lists anyway), which
makes the collection readable again without needing any free space.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

MB = 1024 * 1024


class IndexProblem(RuntimeError):
    """The index is missing, busy or inconsistent; the message says what to run."""


class SearchUnavailable(IndexProblem):
    """The configured Chroma server does not answer (down, or not started yet).

    An `IndexProblem`, so every caller that already turns index problems into one clear line
    (the CLI, the page's answers, the API) says this instead of printing a traceback; the
    index itself is fine and answers work again as soon as the server is back.
    """

    def __init__(self, url: str, detail: str = "") -> None:
        self.url = url
        port = urlparse(url).port or 8000
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"search service unavailable: the Chroma server at {url} is not answering{extra}; "
            f"start it with `chroma run --path <its data folder> --port {port}` "
            "or unset chroma_url (ASSISTANT_CHROMA_URL) to use the embedded index"
        )


_UNREACHABLE_PHRASES = ("could not connect to a chroma server", "connection refused")


def is_unreachable(exc: BaseException) -> bool:
    """True when `exc` says the Chroma server could not be reached (not a bad request)."""
    for err in _chain(exc):
        if isinstance(err, ConnectionError):
            return True
        module = type(err).__module__ or ""
        if module.startswith(("httpx", "httpcore")) and "Timeout" not in type(err).__name__:
            if any(k in type(err).__name__ for k in ("Connect", "Network", "Protocol")):
                return True
        if any(phrase in str(err).lower() for phrase in _UNREACHABLE_PHRASES):
            return True
    return False


class DiskFull(IndexProblem):
    """Not enough free space in the index folder for a build (before or during writing)."""

    def __init__(self, path: Path, free: int, needed: int, detail: str = "") -> None:
        self.path, self.free, self.needed = path, free, needed
        what = f"disk full at {path}: {free / MB:.1f} MB free, need ~{needed / MB:.1f} MB"
        hint = "free some space (or move the index folder) and run `assistant index` again"
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{what}{extra}; the previous index is unchanged; {hint}")


def free_bytes(path: Path) -> int:
    """Free bytes for an unprivileged writer on the file system holding `path`."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


_FULL_PHRASES = ("disk is full", "no space left", "database or disk is full", "sqlite_full")


def is_disk_full(exc: BaseException) -> bool:
    """True for the ways a full disk shows up from the OS, SQLite and Chroma."""
    for err in _chain(exc):
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(err).lower()
        if any(phrase in text for phrase in _FULL_PHRASES):
            return True
    return False


def is_store_failure(exc: BaseException) -> bool:
    """A write failure of a store (disk, SQLite, Chroma), as opposed to a bug in our code.

    Chroma's compaction error hides the cause (``ENOSPC`` is logged by its Rust side only), so
    any Chroma/SQLite/OS error while writing counts; the caller then looks at the free space.
    """
    for err in _chain(exc):
        if isinstance(err, (OSError, sqlite3.Error)):
            return True
        module = type(err).__module__ or ""
        if module.startswith("chromadb"):
            return True
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def chroma_sqlite(index_dir: Path) -> Path:
    return index_dir / "chroma" / "chroma.sqlite3"


def unapplied_writes(index_dir: Path) -> int:
    """Log entries of Chroma that no segment of their collection has applied (0 when none)."""
    path = chroma_sqlite(index_dir)
    if not path.is_file():
        return 0
    try:
        with contextlib.closing(_connect(path, readonly=True)) as db:
            return sum(count for _, _, count in _unapplied(db))
    except sqlite3.Error:
        return 0


def rollback_unapplied_writes(index_dir: Path) -> int:
    """Delete Chroma log entries that no segment has applied; returns how many.

    Those entries are the tail of a write that failed in compaction (a full disk): their
    vectors belong to no generation, and while they stay every open of the collection fails.
    Entries applied by one segment but not yet by the other (the vector segment lags the
    metadata segment) are kept, so the lagging segment still catches up. A delete frees pages,
    so this works on a full disk (SQLite's rollback journal for a delete is small).
    """
    path = chroma_sqlite(index_dir)
    if not path.is_file():
        return 0
    removed = 0
    with contextlib.closing(_connect(path, readonly=False)) as db:
        for topic, applied, _count in _unapplied(db):
            removed += _delete_tail(db, topic, applied)
    return removed


# Rows deleted per transaction: SQLite's rollback journal holds the pages a transaction
# changes, and on a full disk there may be room for only a few; the newest rows go first, so
# an interrupted rollback still shortened the tail that cannot be applied.
ROLLBACK_BATCH = 20


def _delete_tail(db: sqlite3.Connection, topic: str, applied: int) -> int:
    removed = 0
    while True:
        seqs = [
            row[0]
            for row in db.execute(
                "SELECT seq_id FROM embeddings_queue WHERE topic = ? AND seq_id > ? "
                "ORDER BY seq_id DESC LIMIT ?",
                (topic, applied, ROLLBACK_BATCH),
            )
        ]
        if not seqs:
            return removed
        marks = ",".join("?" * len(seqs))
        db.execute(f"DELETE FROM embeddings_queue WHERE seq_id IN ({marks})", seqs)
        db.commit()
        removed += len(seqs)


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    mode = "ro" if readonly else "rw"
    db = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=30)
    return db


def _unapplied(db: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """(log topic, highest seq id any segment applied, entries above it) per collection."""
    rows: list[Any] = db.execute(
        "SELECT c.id, MAX(COALESCE(m.seq_id, 0)) FROM collections c "
        "JOIN segments s ON s.collection = c.id "
        "LEFT JOIN max_seq_id m ON m.segment_id = s.id GROUP BY c.id"
    ).fetchall()
    applied_by = {str(cid): int(seq) for cid, seq in rows}
    out: list[tuple[str, int, int]] = []
    for (topic,) in db.execute("SELECT DISTINCT topic FROM embeddings_queue").fetchall():
        applied = applied_by.get(str(topic).rsplit("/", 1)[-1], 0)
        (count,) = db.execute(
            "SELECT COUNT(*) FROM embeddings_queue WHERE topic = ? AND seq_id > ?",
            (topic, applied),
        ).fetchone()
        if count:
            out.append((str(topic), applied, int(count)))
    return out


def tree_bytes(path: Path) -> int:
    """Bytes of the files under `path` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total
