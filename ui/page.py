"""What the tabs of the page share: the `Shared` state and the small helpers several tabs use.

`ui.app.create_app` builds one `Shared` at the top of the page and hands it to every tab
builder (ui/chat_tab.py, ui/documents_tab.py), so what crosses tabs is named in one place
instead of being captured from one long function: the browser session's conversation state,
the live regions the chat announces into, and the library refresh that the Documents tab, the
page load and the background build's status line all run. No Gradio import here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings
    from ui.service import UIService


@dataclass
class Shared:
    """Components and callbacks used by more than one tab (or by a tab and the page).

    The component fields hold Gradio components; they are typed `Any` because Gradio is only
    imported once the page is built.
    """

    settings: Settings
    service: UIService
    # options every event gets: no event is listed in the API page (only /ask and /export)
    private: dict[str, Any]
    messages: Any  # gr.State: the chatbot's messages (written with the chatbot, never read back)
    turns: Any  # gr.State: plain question/answer turns, the history sent with a question
    records: Any  # gr.State: this session's answers, for the cards, viewer, export and feedback
    answer_live: Any  # polite screen-reader region: work started, then the answer
    answer_alert: Any  # assertive region: empty question, failed answer
    # the documents table, both document pickers and the rejected-files section, read afresh
    refresh_library: Callable[[], tuple[Any, ...]]
    # the rejected-files section and its picker only
    refresh_rejected: Callable[[], tuple[Any, Any]]


def scratch_dir(prefix: str) -> Path:
    """A fresh temporary folder for one download (Gradio copies the file into its cache)."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
