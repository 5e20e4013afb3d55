"""`serve`'s index build, run in the background so the page listens at once.

Indexing a large PDF takes minutes (15 for 2,000 pages); before this, `serve` built first and
listened afterwards, and did not start at all while a configured Chroma server was down. Now
the page opens on the current index generation straight away (the retriever switches to the
new generation when the build writes CURRENT.json) and a status line says what is going on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from assistant.index import (
    IndexProblem,
    SearchUnavailable,
    build_index,
    chroma_client,
    pending_changes,
)
from assistant.index import read_current as _read_current
from assistant.settings import Settings

log = logging.getLogger(__name__)

RETRY_S = 5.0  # while the Chroma server is down, the build is tried again this often


class BackgroundIndex:
    """One background build of the index, and the line the page shows about it.

    States: "idle" (not started), "running", "waiting" (the Chroma server is down; retried
    every `RETRY_S` seconds until it answers), "done" and "failed" (the message says why).
    """

    def __init__(
        self,
        settings: Settings,
        build: Callable[..., Any] = build_index,
        retry_s: float = RETRY_S,
    ) -> None:
        self.settings = settings
        self._build = build
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.state = "idle"
        self.pending = 0
        self.error = ""
        self.thread: threading.Thread | None = None

    # ------------------------------------------------------------------ running
    def start(self) -> BackgroundIndex:
        """Count the stale files and, when there are any, build them in a daemon thread."""
        try:
            self.pending = pending_changes(self.settings)
        except (IndexProblem, OSError, ValueError) as exc:
            log.warning("cannot tell how stale the index is (%s); building anyway", exc)
            self.pending = -1  # unknown: the build decides
        if self.pending == 0 and self.has_index():
            self.state = "done"
            return self
        self.state = "running"
        self.thread = threading.Thread(target=self._run, name="serve-index", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop retrying (a build already writing finishes; the thread is a daemon anyway)."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.settings.chroma_url:  # down? then say so before parsing anything
                    chroma_client(self.settings)
                report = self._build(self.settings, wait=True)
            except SearchUnavailable as exc:
                self._set("waiting", str(exc))
                self._stop.wait(self._retry_s)
                continue
            except IndexProblem as exc:
                self._set("failed", str(exc))
                return
            except Exception as exc:  # logged with its traceback; the page stays up
                log.exception("the background index build failed")
                self._set("failed", f"{type(exc).__name__}: {exc}")
                return
            for err in getattr(report, "errors", []):
                log.warning("skipped while indexing: %s", err)
            self._set("done", "")
            log.info("background index build finished: generation %s", report.generation)
            return

    def _set(self, state: str, error: str) -> None:
        with self._lock:
            self.state, self.error = state, error

    # ------------------------------------------------------------------ reporting
    @property
    def busy(self) -> bool:
        """True while the build has not finished (running, or waiting for the server)."""
        return self.state in ("running", "waiting")

    def has_index(self) -> bool:
        """True when some generation is live (answers can use it while the build runs)."""
        try:
            return _read_current(self.settings) is not None
        except IndexProblem:
            return False

    def message(self) -> str:
        """The page's status line ("" when there is nothing to say: the index is current)."""
        with self._lock:
            state, error = self.state, self.error
        files = (
            "new or changed files"
            if self.pending < 0
            else f"{self.pending} new or changed file{'s' if self.pending != 1 else ''}"
        )
        if state == "running":
            if not self.has_index():
                return (
                    f"Building the index ({files}) in the background; questions can be "
                    "answered once it is ready."
                )
            return (
                f"Indexing {files} in the background; answers use the current index until "
                "it finishes."
            )
        if state == "waiting":
            return f"Indexing is waiting: {_sentence(error)}"
        if state == "failed":
            return (
                f"Indexing failed: {_sentence(error)} Answers use the current index; run "
                "`assistant index` to see the details."
            )
        return ""

    def not_ready(self) -> str:
        """Why a question cannot be answered yet ("" when it can): no index, build running."""
        if self.busy and not self.has_index():
            return (
                "The index is still being built in the background; questions can be answered "
                "once it is ready (the status line at the top says when)."
            )
        return ""


def _sentence(message: str) -> str:
    message = message.strip().rstrip(".")
    return (message[:1].upper() + message[1:] + ".") if message else "unknown error."
