"""Parse files in one worker process with a time and memory limit per file.

A hostile or pathological file (a 50 MB HTML page of nested ``<div>``s took 4 minutes and
3.35 GB) must not stall a build or take the machine's memory. The parser therefore runs in a
child process whose address space is capped with ``RLIMIT_AS`` and whose answer is awaited
with a timeout; a file that hits either limit becomes an ordinary `LoadError` and the child is
replaced. One child is reused across files (starting one costs a fraction of a second of
imports). It is a fresh interpreter (``python -c``) talking over a socket pair, not a
``multiprocessing`` child: ``fork`` would copy the parent's threads (Chroma, Gradio) in a broken
state, and ``spawn`` re-runs the parent's main script, which a test driver or a user script
does not guard.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from assistant.documents import Chunk
from assistant.loaders import LoadError
from assistant.settings import Settings

MB = 1024 * 1024
# The child imports the loaders in about 0.1 s here; a minute means it cannot start at all.
STARTUP_TIMEOUT_S = 60.0


_CHILD = "import sys; from assistant.parse_pool import serve; serve(int(sys.argv[1]))"


def serve(fd: int) -> None:
    """Entry point of the child process: receive the settings, then parse until told to stop."""
    conn = Connection(fd)
    try:
        settings = conn.recv()
    except (EOFError, OSError):
        return
    _worker(conn, settings)


def _worker(conn: Connection, settings: Settings) -> None:
    """The child: cap the address space, then parse the paths it is sent until told to stop."""
    from assistant.ingest import process_file

    limit = settings.parse_memory_mb * MB
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send(("ready",))  # imports done: the parent's clock starts with each file
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):  # the parent is gone (even killed with SIGKILL)
            return
        if path is None:
            return
        try:
            chunks, entry = process_file(
                Path(path), settings, progress=lambda done, total: conn.send(("pages", done, total))
            )
            conn.send(("ok", chunks, entry))
        except LoadError as exc:
            if not isinstance(exc.__cause__, MemoryError):
                conn.send(("error", exc.path, exc.reason))
                continue
            conn.send(("memory", path, ""))
            return
        except MemoryError:
            conn.send(("memory", path, ""))
            return  # the heap may be in any state; let the parent start a new child


class ParsePool:
    """One reusable parser process; `parse` behaves like `assistant.ingest.process_file`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._proc: Any = None
        self._conn: Connection | None = None
        self.started = 0  # children started (1 for a build without a bad file)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> Connection:
        if self._conn is not None and self._proc is not None and self._proc.poll() is None:
            return self._conn
        self._stop(kill=True)
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send(self.settings)
        self.started += 1
        try:
            ready = self._conn.poll(STARTUP_TIMEOUT_S) and self._conn.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._stop(kill=True)
            raise RuntimeError("the parse child process did not start (see its stderr)")
        return self._conn

    def parse(
        self, path: Path, progress: Callable[[int, int], None] | None = None
    ) -> tuple[list[Chunk], dict[str, Any]]:
        """Chunks and manifest entry of `path`; raises `LoadError` (also on timeout/memory)."""
        conn = self._start()
        timeout = self.settings.parse_timeout_s
        deadline = time.monotonic() + timeout
        conn.send(str(path))
        while True:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                self._stop(kill=True)
                raise LoadError(
                    path, f"took longer than {timeout:g} s to read (parse_timeout_s); not indexed"
                )
            try:
                message = conn.recv()
            except (EOFError, OSError):
                code = self._exit_code()
                raise LoadError(path, self._death_reason(code)) from None
            kind = message[0]
            if kind == "pages":
                if progress is not None:
                    progress(message[1], message[2])
                continue
            if kind == "ok":
                return message[1], message[2]
            if kind == "memory":
                self._stop(kill=True)
                raise LoadError(path, self._memory_reason())
            raise LoadError(message[1], message[2])

    def _memory_reason(self) -> str:
        return (
            f"needs more than the {self.settings.parse_memory_mb} MB memory limit to read "
            "(parse_memory_mb); not indexed"
        )

    def _death_reason(self, code: int | None) -> str:
        self._stop(kill=True)
        if code is not None and code < 0:
            return f"the reader was killed by signal {-code} (memory limit?); not indexed"
        return f"the reader stopped unexpectedly (exit code {code}); " + self._memory_reason()

    def _exit_code(self) -> int | None:
        if self._proc is None:
            return None
        try:
            return self._proc.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def _stop(self, kill: bool) -> None:
        if self._proc is not None:
            if kill and self._proc.poll() is None:
                self._proc.kill()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None

    def close(self) -> None:
        """Ask the child to exit (it also exits by itself when the parent dies)."""
        if self._conn is not None and self._proc is not None and self._proc.poll() is None:
            try:
                self._conn.send(None)
                self._proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._stop(kill=True)


class InProcessParser:
    """`ParsePool`'s interface without a child (``parse_in_subprocess = false``): no limits."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = 0

    def __enter__(self) -> InProcessParser:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def parse(
        self, path: Path, progress: Callable[[int, int], None] | None = None
    ) -> tuple[list[Chunk], dict[str, Any]]:
        from assistant.ingest import process_file

        return process_file(path, self.settings, progress=progress)

    def close(self) -> None:
        return None


def make_parser(settings: Settings) -> ParsePool | InProcessParser:
    """The parser a build uses; the child process starts only when a file needs parsing."""
    return ParsePool(settings) if settings.parse_in_subprocess else InProcessParser(settings)
