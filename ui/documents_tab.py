"""The "Documents" tab: the library table, uploading, deleting a document or a rejected file
(each asked first), and the section listing the files that could not be added.

`build_documents_tab` lays the tab out and returns its components; `wire_documents` attaches
the events once every tab exists. `library_refreshers` makes the two refresh callbacks that
`Shared` carries to the page (page load, end of the background build). The callbacks only call
`UIService` (and so the library), never the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui import format as fmt
from ui.page import Shared
from ui.security import toast_text

if TYPE_CHECKING:
    from ui.service import UIService

log = logging.getLogger(__name__)

# one library change (upload or deletion) at a time across all sessions: they all write the
# same corpus folder, and most of them the index
LIBRARY_QUEUE: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "library"}


@dataclass
class ConfirmedDelete:
    """A picker, its "Delete…" button and the question it opens: nothing is removed until
    "Yes" is pressed, and a new pick or Cancel withdraws the question."""

    pick: Any
    button: Any
    box: Any  # the question group, hidden until the button is pressed
    question: Any
    yes: Any
    cancel: Any


@dataclass
class DocumentsTab:
    """The Documents tab's components that events read or write."""

    table: Any
    files: Any
    add_btn: Any
    delete: ConfirmedDelete
    report: Any  # what the last upload or deletion did
    rejected_box: Any
    rejected: ConfirmedDelete

    @property
    def rejected_outputs(self) -> list[Any]:
        """What `Shared.refresh_rejected` updates, in its order."""
        return [self.rejected_box, self.rejected.pick]

    def library_outputs(self, doc_filter: Any) -> list[Any]:
        """What `Shared.refresh_library` updates, in its order; `doc_filter` is the Chat tab's
        document filter, which must not offer a document that is gone."""
        return [self.table, doc_filter, self.delete.pick, *self.rejected_outputs]


# ----------------------------------------------------------------------------- layout
def build_documents_tab(
    gr: Any, shared: Shared, docs: list[Any], doc_choices: list[tuple[str, str]]
) -> DocumentsTab:
    """The library table, the upload and delete columns, the report and the rejected files."""
    from assistant.loaders import SUPPORTED_SUFFIXES

    service = shared.service
    table = gr.Dataframe(
        value=fmt.document_rows(docs),
        headers=fmt.DOCUMENT_HEADERS,
        datatype=fmt.DOCUMENT_TYPES,
        interactive=False,
        wrap=True,
        column_widths=fmt.DOCUMENT_WIDTHS,
        elem_id="docs-table",
        label="Indexed documents",
    )
    with gr.Row(equal_height=False):
        with gr.Column():
            files = gr.File(
                label="Add documents (" + " ".join(sorted(SUPPORTED_SUFFIXES)) + ")",
                file_count="multiple",
                # no file_types: Gradio's own type check puts the file name into its toast
                # as HTML; `warn_unsupported` checks with the name escaped
                elem_id="upload",
            )
            add_btn = gr.Button("Add to library and index", variant="primary", elem_id="add-docs")
        with gr.Column():
            # deleting asks first; the question sits right after the button, so it is also
            # the next keyboard stop
            delete = _confirmed_delete(
                gr,
                doc_choices,
                prefix="delete",
                pick_label="Document to delete",
                button=("Delete document…", "delete-doc"),
                yes_label="Yes, delete it",
            )
            gr.Markdown(
                f"Uploads are limited to {shared.settings.max_file_mb} MB per file. "
                "Deleting removes the file from the corpus folder and the index."
            )
    report = gr.HTML("", elem_id="library-report")
    rejected_now = service.rejected()
    rejected_box = gr.HTML(
        fmt.rejected_html(rejected_now, service.unindexed()), elem_id="rejected-files"
    )
    with gr.Row(equal_height=False):
        with gr.Column():
            # same confirm-first pattern as deleting a document
            rejected = _confirmed_delete(
                gr,
                fmt.rejected_choices(rejected_now),
                prefix="rejected",
                pick_label="Rejected file to delete",
                button=("Delete rejected file…", "delete-rejected"),
                yes_label="Yes, delete the rejected file",
            )
        gr.Column()  # keeps the picker half-width, aligned with the one above
    return DocumentsTab(table, files, add_btn, delete, report, rejected_box, rejected)


def _confirmed_delete(
    gr: Any,
    choices: list[Any],
    prefix: str,
    pick_label: str,
    button: tuple[str, str],
    yes_label: str,
) -> ConfirmedDelete:
    """Picker, "Delete…" button (label, elem_id) and the hidden question; the other elem_ids
    are `prefix`-pick, -confirm-box, -question, -confirm and -cancel."""
    pick = gr.Dropdown(choices, value=None, label=pick_label, elem_id=f"{prefix}-pick")
    button_label, button_id = button
    delete_button = gr.Button(button_label, variant="stop", elem_id=button_id)
    with gr.Group(visible=False, elem_id=f"{prefix}-confirm-box") as box:
        question = gr.Markdown("", elem_id=f"{prefix}-question")
        with gr.Row():
            yes = gr.Button(yes_label, variant="stop", elem_id=f"{prefix}-confirm")
            cancel = gr.Button("Cancel", elem_id=f"{prefix}-cancel")
    return ConfirmedDelete(pick, delete_button, box, question, yes, cancel)


# ----------------------------------------------------------------------------- callbacks
def library_refreshers(
    gr: Any, service: UIService
) -> tuple[Callable[[], tuple[Any, ...]], Callable[[], tuple[Any, Any]]]:
    """`refresh_library` (the documents table, the Chat tab's document filter, the delete
    picker and the rejected-files section) and `refresh_rejected` (that section alone)."""

    def refresh_library() -> tuple[Any, ...]:
        """The documents table, both pickers and the rejected-files section, read afresh."""
        docs = service.documents()
        choices = fmt.document_choices(docs)
        # the filter is reset: a selection could name a document that no longer exists
        return (
            gr.update(value=fmt.document_rows(docs)),
            gr.update(choices=choices, value=[]),
            gr.update(choices=choices, value=None),
            *refresh_rejected(),
        )

    def refresh_rejected() -> tuple[Any, Any]:
        """The "Files that could not be added" section and its picker (reset: a kept pick
        could name a file that is gone)."""
        rejected = service.rejected()
        return (
            gr.update(value=fmt.rejected_html(rejected, service.unindexed())),
            gr.update(choices=fmt.rejected_choices(rejected), value=None),
        )

    return refresh_library, refresh_rejected


@contextmanager
def _library_errors(gr: Any, failed: str, log_message: str, *log_args: Any) -> Iterator[None]:
    """A library change's errors as toasts: the library's own messages as they are, anything
    unexpected logged with its traceback and shown as `failed (Type: message)`; every text is
    escaped by `toast_text` (it may name a file or a document)."""
    from assistant.index import IndexProblem
    from assistant.library import LibraryError

    try:
        yield
    except (IndexProblem, LibraryError) as exc:
        raise gr.Error(toast_text(exc), print_exception=False) from exc
    except Exception as exc:
        log.exception(log_message, *log_args)
        raise gr.Error(
            toast_text(f"{failed} ({type(exc).__name__}: {exc})"), print_exception=False
        ) from exc


def _upload_callbacks(gr: Any, shared: Shared) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """`warn_unsupported` (as soon as files are chosen) and `upload` (Add to library)."""
    from assistant.loaders import SUPPORTED_SUFFIXES

    service = shared.service
    # Gradio finds the progress tracker by its default value; one instance per callback
    upload_progress = gr.Progress()

    def warn_unsupported(files: list[str] | None) -> None:
        """Name the chosen files that cannot be added (escaped: a name may hold HTML)."""
        names = [
            Path(f).name for f in files or [] if Path(f).suffix.lower() not in SUPPORTED_SUFFIXES
        ]
        if names:
            gr.Warning(
                toast_text(
                    f"Not a supported file type: {', '.join(names)}. Only "
                    f"{' '.join(sorted(SUPPORTED_SUFFIXES))} can be added."
                )
            )

    def upload(files: list[str] | None, progress: gr.Progress = upload_progress) -> tuple[Any, ...]:
        if not files:
            raise gr.Error("Choose one or more files first.")
        progress(0, desc="Saving files")

        def report_progress(stage: str, done: int, total: int, detail: str) -> None:
            progress((done, total or 1), desc=f"{stage}: {detail}"[:80])

        with _library_errors(gr, "The upload failed", "upload failed"):
            report, refused = service.upload(files, progress=report_progress)
        html = fmt.build_report_html(asdict(report) if report else None, refused)
        return (html, *shared.refresh_library(), None)

    return warn_unsupported, upload


def _delete_callbacks(gr: Any, shared: Shared) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """`confirm_delete` (ask) and `delete` (the confirmed deletion) of an indexed document."""
    service = shared.service
    delete_progress = gr.Progress()

    def confirm_delete(doc_id: str | None) -> tuple[Any, Any]:
        """First step of a deletion: say what will go and ask; nothing is removed yet."""
        if not doc_id:
            raise gr.Error("Choose a document to delete first.", print_exception=False)
        docs = {d.doc_id: d for d in service.documents()}
        if doc_id not in docs:
            raise gr.Error(
                toast_text(f"No indexed document with id {doc_id!r}."), print_exception=False
            )
        doc = docs[doc_id]
        text = (
            f"**Delete “{fmt.esc(doc.title)}” ({fmt.esc(doc.doc_id)})?** Its file is removed "
            f"from the corpus folder and its {doc.chunks} passages from the index. "
            "This cannot be undone."
        )
        return gr.update(visible=True), gr.update(value=text)

    def delete(doc_id: str | None, progress: gr.Progress = delete_progress) -> tuple[Any, ...]:
        progress(0, desc="Updating the index")
        with _library_errors(gr, "Deleting failed", "deleting %r failed", doc_id):
            report = service.delete(doc_id or "")
        return (
            fmt.build_report_html(asdict(report)),
            *shared.refresh_library(),
            gr.update(visible=False),
        )

    return confirm_delete, delete


def _rejected_callbacks(gr: Any, shared: Shared) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """`confirm_delete_rejected` (ask) and `delete_rejected` (the confirmed deletion)."""
    from assistant.library import LibraryError

    service = shared.service

    def confirm_delete_rejected(name: str | None) -> tuple[Any, Any]:
        """First step of deleting a rejected file: name it and ask; nothing is removed yet."""
        if not name:
            raise gr.Error("Choose a rejected file to delete first.", print_exception=False)
        found = {r.name: r for r in service.rejected()}.get(name)
        if found is None:
            raise gr.Error(toast_text(f"No rejected file named {name!r}."), print_exception=False)
        text = (
            f"**Delete the rejected file “{fmt.esc(found.name)}”?** It and its reason are "
            "removed from the rejected folder. This cannot be undone."
        )
        return gr.update(visible=True), gr.update(value=text)

    def delete_rejected(name: str | None) -> tuple[Any, ...]:
        """Delete the confirmed rejected file; the message names it (escaped by the toast)."""
        try:
            deleted = service.delete_rejected(name or "")
        except (LibraryError, OSError) as exc:
            raise gr.Error(toast_text(fmt.sentence(str(exc))), print_exception=False) from exc
        gr.Info(toast_text(f"Deleted the rejected file {deleted}."))
        return (*shared.refresh_rejected(), gr.update(visible=False))

    return confirm_delete_rejected, delete_rejected


# ----------------------------------------------------------------------------- events
def wire_documents(gr: Any, shared: Shared, tab: DocumentsTab, library_outputs: list[Any]) -> None:
    """Upload, delete a document, delete a rejected file; `library_outputs` are
    `tab.library_outputs(...)`, the components `Shared.refresh_library` updates."""
    private = shared.private
    warn_unsupported, upload = _upload_callbacks(gr, shared)
    tab.files.upload(warn_unsupported, tab.files, None, **private)  # queued: toasts need it
    tab.add_btn.click(
        upload,
        tab.files,
        [tab.report, *library_outputs, tab.files],
        **LIBRARY_QUEUE,
        **private,
    )
    confirm_delete, delete = _delete_callbacks(gr, shared)
    _wire_confirmed_delete(
        gr, shared, tab.delete, confirm_delete, delete, [tab.report, *library_outputs]
    )
    confirm_rejected, delete_rejected = _rejected_callbacks(gr, shared)
    _wire_confirmed_delete(
        gr, shared, tab.rejected, confirm_rejected, delete_rejected, tab.rejected_outputs
    )


def _wire_confirmed_delete(
    gr: Any,
    shared: Shared,
    parts: ConfirmedDelete,
    confirm: Callable[..., Any],
    delete: Callable[..., Any],
    outputs: list[Any],
) -> None:
    """The button asks (`confirm`), "Yes" deletes (`delete`, which updates `outputs` and
    hides the question); Cancel, or a new pick, withdraws the question, so "Yes" always
    means the item named."""
    private = shared.private
    parts.button.click(confirm, parts.pick, [parts.box, parts.question], queue=False, **private)
    for trigger in (parts.cancel.click, parts.pick.change):
        trigger(lambda: gr.update(visible=False), None, parts.box, queue=False, **private)
    parts.yes.click(delete, parts.pick, [*outputs, parts.box], **LIBRARY_QUEUE, **private)
