"""The third-party switches that keep every command on this machine.

No model-hub calls or progress bars from transformers/huggingface_hub, no Chroma or Gradio
telemetry, no tokenizers thread pool fighting our own. Only entry points write them - the
console script's `main` before any command runs, and `ui.app.launch` for a page served from
code - and they are forced, not defaulted: a stray shell variable must not switch telemetry
back on. Library code reads settings, never the environment it would have to change.
"""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def go_offline() -> None:
    """Set the switches (idempotent); call from an entry point, before the imports they steer."""
    os.environ.update(OFFLINE_ENV)
