"""Prompt templates, loaded by name from the prompts folder.

Templates are files so they can be reviewed and changed without touching code. Document text is
inserted as delimited, escaped data: a passage can never close its own <source> element or pose
as a new instruction block.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from assistant.documents import Chunk


class PromptError(FileNotFoundError):
    """A prompt template is missing; the message names the file."""


@lru_cache(maxsize=32)
def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PromptError(f"prompt template {path} is missing") from exc


def load_prompt(prompts_dir: Path, name: str) -> str:
    """The template `name` (``system``, ``answer``, ``rewrite``) from `prompts_dir`."""
    return _read(prompts_dir / f"{name}.md")


def _escape(text: str) -> str:
    return text.replace("<", "‹").replace(">", "›")


def format_sources(sources: dict[int, Chunk], max_chars: int = 900) -> str:
    """Numbered, delimited passages for the model."""
    blocks = []
    for n, chunk in sources.items():
        body = " ".join(chunk.text.split())[:max_chars]
        section = _escape(chunk.section or "")
        blocks.append(
            f'<source id="{n}" title="{_escape(chunk.title)}" section="{section}">\n'
            f"{_escape(body)}\n</source>"
        )
    return "\n".join(blocks)


def render(template: str, **values: str) -> str:
    """Fill ``{name}`` placeholders without interpreting braces inside the values."""
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out
