"""Conversation history and follow-up rewriting.

A short follow-up ("And when will they be reviewed?") cannot be retrieved on its own. With an
LLM configured it is rewritten by the model (prompt `rewrite`); without one, the salient terms of
the earlier user turns are carried into the query. Either way the rewritten question is what
retrieval sees, and it is reported in the answer's trace.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.text import STOPWORDS

_FOLLOWUP = re.compile(
    r"^(and|but|also|so|what about|how about|and what|what else|which of (them|these|those)|"
    r"why|how so|when|where|what if|if so|if not|otherwise)\b|"
    r"\b(they|them|their|it|its|this|that|these|those|he|she|there|then|such|same|ones?)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")


@dataclass
class Turn:
    """One message of a conversation."""

    role: str  # "user" or "assistant"
    content: str


class HistoryError(ValueError):
    """History is not a list of {role, content} messages."""


def parse_history(data: Any) -> list[Turn]:
    """Validate history given as a list of ``{"role", "content"}`` mappings."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise HistoryError("history must be a list of {role, content} messages")
    turns = []
    for i, item in enumerate(data):
        if isinstance(item, Turn):
            turns.append(item)
            continue
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
            raise HistoryError(f"history item {i} needs role 'user' or 'assistant'")
        content = item.get("content")
        if not isinstance(content, str):
            raise HistoryError(f"history item {i} needs text content")
        turns.append(Turn(item["role"], content))
    return turns


def load_history(path: Path) -> list[Turn]:
    """History from a JSON file (a list of messages, or ``{"history": [...]}``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HistoryError(f"cannot read history file {path}: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("history", data.get("messages"))
    return parse_history(data)


def looks_like_followup(question: str) -> bool:
    """Short questions with pronouns or connective openers depend on earlier turns."""
    words = question.split()
    return len(words) <= 12 and bool(_FOLLOWUP.search(question))


def salient_terms(text: str, limit: int = 8) -> list[str]:
    """Content words of an earlier turn, in order, without stop words or duplicates."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text):
        lowered = word.lower().strip("'’")
        if lowered in STOPWORDS or len(lowered) < 3 or lowered in seen:
            continue
        seen[lowered] = None
    return list(seen)[:limit]


# How many of the previous answer's salient terms a widened follow-up query carries: suite dev
# split, all formats (`assistant eval evals/suite/questions/*.yaml --split dev --by-format
# test-artifacts/suite`), fact recall + lead hit for 2/3/4/5/6/10 terms = 1.336 / 1.349 /
# 1.346 / 1.341 / 1.347 / 1.332 (none: 1.338), so 3.
ANSWER_TERMS = 3


def rewrite_without_llm(question: str, history: list[Turn], answer_terms: int = 0) -> str:
    """Carry the previous user question's salient terms into a follow-up, and the first
    `answer_terms` of the previous answer's (what the conversation is now about: "And what
    was it a year earlier?" after an answer naming the mean gender pay gap)."""
    if not history or not looks_like_followup(question):
        return question
    previous = [t.content for t in history if t.role == "user"][-1:]
    if not previous:
        return question
    own = {w.lower() for w in _WORD.findall(question)}
    said = [t.content for t in history if t.role == "assistant"][-1:]
    extra = salient_terms(said[0], limit=answer_terms) if said and answer_terms > 0 else []
    carried = [t for t in dict.fromkeys(salient_terms(previous[0]) + extra) if t not in own]
    return f"{question} ({' '.join(carried)})" if carried else question
