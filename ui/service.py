"""What the UI's callbacks do, without Gradio: ask, stream, upload, delete, record feedback.

Keeping this layer free of Gradio lets the callbacks in `ui.app` stay thin (convert errors to
`gr.Error`, values to component updates) and lets this logic be exercised directly. One
`UIService` (and so one `Assistant`, one embedder, one index reader) is shared by every browser
session of the process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.answer import Answer, Assistant, QuestionError
from assistant.chat import HistoryError
from assistant.explain import Explanation
from assistant.export import (
    ExportError,
    conversation_docx,
    conversation_markdown,
    turns_from_answers,
)
from assistant.index import BuildReport, IndexProblem
from assistant.library import (
    DocumentInfo,
    LibraryError,
    add_documents,
    delete_document,
    delete_rejected,
    unindexed_uploads,
)
from assistant.library import list_documents as library_documents
from assistant.library import rejected as library_rejected
from assistant.quarantine import RejectedFile
from assistant.settings import Settings
from assistant.source_view import SourceError, SourceView, open_source
from ui.format import feedback_record, sentence
from ui.security import SlidingWindowLimiter, clean_text

if TYPE_CHECKING:
    from ui.startup import BackgroundIndex

log = logging.getLogger(__name__)

# Errors whose message is written for the user; anything else is logged with its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    QuestionError,
    HistoryError,
    IndexProblem,
    LibraryError,
    ExportError,
    SourceError,
)
ProgressFn = Callable[[str, int, int, str], None]
T = TypeVar("T")
# What reading the index's listings can raise: a missing or damaged index, unreadable files
_INDEX_READ_ERRORS: tuple[type[Exception], ...] = (IndexProblem, OSError, ValueError)


class AskError(ValueError):
    """A question could not be answered; the message is meant for the person who asked."""


class FeedbackLimited(ValueError):
    """One client sent more feedback than the rate limit allows; the message says when to retry."""


def _generator_unavailable() -> tuple[type[Exception], ...]:
    """GeneratorUnavailable, imported lazily (assistant.llm is only needed for LLM generators)."""
    try:
        from assistant.llm import GeneratorUnavailable
    except ImportError:  # pragma: no cover - the library always ships it
        return ()
    return (GeneratorUnavailable,)


@dataclass
class Export:
    """A conversation export: the Markdown text and the same content as a DOCX file."""

    markdown: str
    docx: bytes
    filename: str  # stem, without extension


@dataclass
class StreamEvent:
    """One step of a streamed answer: a growing preview, then the final answer (or an error)."""

    partial: str = ""
    answer: dict[str, Any] | None = None
    error: str = ""


class UIService:
    """The assistant plus the small amount of state the UI needs (a lock for the feedback log)."""

    def __init__(
        self,
        settings: Settings,
        assistant: Assistant | None = None,
        indexing: BackgroundIndex | None = None,
    ):
        self.settings = settings
        self.assistant = assistant or Assistant(settings)
        # `serve`'s background build: while it builds a first index, questions get a clear
        # "being built" message instead of "no index, run `assistant index`"
        self.indexing = indexing
        self._feedback_lock = threading.Lock()
        self._feedback_limiter = SlidingWindowLimiter(
            settings.feedback_limit, settings.feedback_window_s
        )

    # ------------------------------------------------------------------ asking
    @staticmethod
    def _filters(doc_types: Sequence[str] | None, doc_ids: Sequence[str] | None) -> dict:
        # an empty selection means "no filter", never "match nothing"
        return {
            "doc_types": list(doc_types) if doc_types else None,
            "doc_ids": list(doc_ids) if doc_ids else None,
        }

    def _generator(self, generator: str | None) -> str:
        # the Assistant checks the name against the registry (QuestionError, a user error)
        return (generator or self.settings.generator).strip()

    def stream(
        self,
        question: str,
        history: list[dict[str, str]] | None = None,
        generator: str | None = None,
        doc_types: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
        explain: bool = True,
    ) -> Iterator[StreamEvent]:
        """Preview events while the answer is produced, then one final event.

        Never raises for problems a user can cause or fix (empty question, generator down,
        index busy): those become a final event with `error` set, shown as a chat message.
        With `explain`, the final answer carries an "explain" key for the "Why this answer"
        panel (collected alongside the answer; the answer itself is the same either way).
        """
        partial = ""
        recorder = Explanation() if explain else None
        try:
            self._ready()
            name = self._generator(generator)
            events = self.assistant.stream(
                question,
                history=history or [],
                generator=name,
                explain=recorder,
                **self._filters(doc_types, doc_ids),
            )
            for event in events:
                if isinstance(event, Answer):
                    data = self._stamped(event.to_dict(include_text=True))
                    if recorder is not None:
                        data["explain"] = recorder.to_dict()
                    yield StreamEvent(partial=partial, answer=data)
                    return
                partial += str(event)
                yield StreamEvent(partial=partial)
        except (AskError, *USER_ERRORS) as exc:
            yield StreamEvent(partial=partial, error=sentence(str(exc)))
        except _generator_unavailable() as exc:
            yield StreamEvent(partial=partial, error=_unavailable(generator, exc))
        except Exception as exc:  # a crash must not take the chat down with it
            log.exception("answering %r failed", question)
            yield StreamEvent(
                partial=partial,
                error=f"Something went wrong while answering "
                f"({type(exc).__name__}: {exc}). Try again or another generator.",
            )

    def ask(
        self, question: str, history_json: str = "[]", generator: str = "extractive"
    ) -> dict[str, Any]:
        """The answer object (Answer.to_dict()) for the API; AskError carries a clear message."""
        try:
            history = json.loads(history_json or "[]")
        except json.JSONDecodeError as exc:
            raise AskError(f"history_json is not valid JSON: {exc}") from exc
        except RecursionError as exc:  # "[[[[…" nested beyond what the decoder handles
            raise AskError("history_json is nested too deeply to be a list of messages") from exc
        if isinstance(history, dict):
            history = history.get("history", history.get("messages"))
        try:
            self._ready()
            name = self._generator(generator)
            answer = self.assistant.ask(question, history=history, generator=name)
            return self._stamped(answer.to_dict())
        except USER_ERRORS as exc:
            raise AskError(sentence(str(exc))) from exc
        except _generator_unavailable() as exc:
            raise AskError(_unavailable(generator, exc)) from exc

    def _ready(self) -> None:
        """AskError while the first index is still being built in the background."""
        waiting = self.indexing.not_ready() if self.indexing is not None else ""
        if waiting:
            raise AskError(waiting)

    def _stamped(self, data: dict[str, Any]) -> dict[str, Any]:
        """The answer plus when it was given and from which index generation (for exports)."""
        data["answered_at"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        try:
            data["index_generation"] = self.assistant.retriever.index.generation
        except (AttributeError, IndexProblem, OSError):  # an index swapped mid-answer
            data["index_generation"] = ""
        return data

    # ------------------------------------------------------------------ export
    def export(self, answers: Any) -> Export:
        """Markdown and DOCX of a conversation (answer objects or the UI's answer records).

        Raises ExportError (a message for the user) for an empty or malformed conversation.
        """
        if isinstance(answers, str):
            try:
                answers = json.loads(answers or "[]")
            except json.JSONDecodeError as exc:
                raise ExportError(f"the conversation is not valid JSON: {exc}") from exc
            except RecursionError as exc:
                raise ExportError("the conversation is nested too deeply") from exc
        turns = turns_from_answers(answers)
        stem = "conversation-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return Export(conversation_markdown(turns), conversation_docx(turns), stem)

    # ------------------------------------------------------------------ source viewer
    def source(self, ref: str, records: Sequence[dict[str, Any]]) -> tuple[SourceView, str]:
        """The document behind a source card ("uid:n" of one of this session's answers).

        The card's ref is looked up in the session's own answers, so a page can only open
        passages it was shown; SourceError says why when it cannot be opened.
        """
        from ui.viewer import find_citation

        citation = find_citation(records, ref)
        if citation is None or not citation.get("chunk_id"):
            raise SourceError("that source is not part of this conversation any more")
        key = str(ref).partition(":")[2]
        label = f"[{key}]" if key.isdigit() else f"~{key[1:]}"
        try:
            index = self.assistant.retriever.index
        except (IndexProblem, OSError) as exc:
            raise SourceError(f"the index cannot be read: {exc}") from exc
        view = open_source(index, str(citation["chunk_id"]), str(citation.get("quote") or ""))
        return view, label

    # ------------------------------------------------------------------ feedback
    def record_feedback(
        self, answer: dict[str, Any], rating: str, comment: str = "", client: str = "local"
    ) -> dict[str, Any]:
        """Append one JSON line to the feedback log (folder created; writes serialised).

        Per `client` (the browser's address) at most `feedback_limit` records per
        `feedback_window_s` (FeedbackLimited otherwise, nothing written); any text is accepted
        (invalid code points become U+FFFD instead of a codec error); the log is rotated
        before it would pass `feedback_max_bytes`, keeping `feedback_backups` older files.
        """
        record = _clean(feedback_record(answer, rating, comment))
        wait = self._feedback_limiter.hit(client)
        if wait:
            raise FeedbackLimited(
                f"Too much feedback from this address: at most {self.settings.feedback_limit} "
                f"per {self.settings.feedback_window_s:g} seconds. Try again in "
                f"{int(wait + 0.999)} seconds."
            )
        path = self.settings.path(self.settings.feedback_path)
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._feedback_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._rotate_feedback(path, len(line))
            with open(path, "ab") as fh:
                fh.write(line)
        return record

    def _rotate_feedback(self, path: Path, incoming: int) -> None:
        """Shift feedback.jsonl -> .1 -> .2 ... when `incoming` bytes would pass the size cap."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.settings.feedback_max_bytes:
            return
        keep = self.settings.feedback_backups
        if keep == 0:
            path.unlink()
            return
        path.with_name(f"{path.name}.{keep}").unlink(missing_ok=True)
        for n in range(keep - 1, 0, -1):
            older = path.with_name(f"{path.name}.{n}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{n + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))

    # ------------------------------------------------------------------ library
    def documents(self) -> list[DocumentInfo]:
        """Indexed documents; an unreadable index shows as an empty list (and is logged)."""
        return _listing(library_documents, self.settings, "documents", _INDEX_READ_ERRORS)

    def upload(
        self, paths: Sequence[str | Path], progress: ProgressFn | None = None
    ) -> tuple[BuildReport | None, list[str]]:
        """Read uploaded temp files and add them; returns the build report and refusals."""
        files: list[tuple[str, bytes]] = []
        refused: list[str] = []
        limit = self.settings.max_file_mb * 1024 * 1024
        for raw in paths:
            path = Path(raw)
            try:
                if path.stat().st_size > limit:
                    refused.append(
                        f"{path.name}: larger than the {self.settings.max_file_mb} MB upload limit"
                    )
                    continue
                files.append((path.name, path.read_bytes()))
            except OSError as exc:
                refused.append(f"{path.name}: could not be read ({exc.strerror or exc})")
        if not files:
            return None, refused
        report, more = add_documents(self.settings, files, progress=progress)
        return report, refused + more

    def delete(self, doc_id: str, progress: ProgressFn | None = None) -> BuildReport:
        """Remove one document and update the index (LibraryError when it cannot be removed)."""
        if not doc_id:
            raise LibraryError("choose a document to delete first")
        return delete_document(self.settings, doc_id, progress=progress)

    def rejected(self) -> list[RejectedFile]:
        """Quarantined files with their reasons; an unreadable folder shows as none (logged)."""
        return _listing(library_rejected, self.settings, "rejected files", (OSError,))

    def unindexed(self) -> list[str]:
        """Uploads saved but never indexed (a killed upload); the next build picks them up."""
        return _listing(unindexed_uploads, self.settings, "unindexed uploads", _INDEX_READ_ERRORS)

    def delete_rejected(self, name: str) -> str:
        """Delete one quarantined file and its reason; returns the name deleted.

        Only names the quarantine lists are accepted (LibraryError otherwise, its message
        naming what was asked for, so callers must escape it before showing it as HTML).
        Nothing is indexed for such a file, so no build runs.
        """
        if not name:
            raise LibraryError("choose a rejected file to delete first")
        if name not in {r.name for r in self.rejected()}:
            raise LibraryError(f"no rejected file named {name!r}")
        delete_rejected(self.settings, name)
        return name


def _listing(
    read: Callable[[Settings], list[T]],
    settings: Settings,
    what: str,
    errors: tuple[type[Exception], ...],
) -> list[T]:
    """`read(settings)`, or an empty list (logged) when it fails with one of `errors`.

    The Documents tab shows these listings and refreshes them after every upload and
    deletion: a listing that cannot be read must show as empty, never break the tab.
    """
    try:
        return read(settings)
    except errors as exc:
        log.warning("cannot list %s: %s", what, exc)
        return []


def _unavailable(generator: str | None, exc: Exception) -> str:
    """Why an LLM generator failed, pointing at the page's menu rather than a CLI flag."""
    detail = str(exc).replace("with --generator", "in the Generator menu").rstrip(".")
    return (
        f"The {generator} generator is not available: {detail}. The “extractive” "
        "generator always works."
    )


def _clean(value: Any) -> Any:
    """`value` with every string's invalid code points replaced (see ui.security.clean_text)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
