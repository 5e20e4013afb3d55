"""Question sets: a typed model of one evaluation question and the loader for YAML / JSONL files.

The model forbids unknown keys (a misspelt ``evidnce`` would otherwise silently make a question
score against nothing) and every error names the file, the question id and the field, so whoever
wrote the set can fix it without reading this code. Question sets are YAML (``name`` +
``questions``) or JSONL (one question object per line, the set named after the file stem); the
keys are documented in design.md. ``split`` (``dev`` or ``test``) marks the suite's tuning and
reporting halves (see evals/README.md); ``assistant eval --split`` selects one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

MODES = ("answer", "criteria", "psed")
SPLITS = ("dev", "test")


class QuestionSetError(ValueError):
    """A question set cannot be used; the message names the file, question and field."""


def _as_text(value: Any) -> Any:
    """YAML numbers are text here ("- 2021" as a fact); strings are stripped."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _non_empty(value: Any) -> Any:
    if isinstance(value, str) and not value:
        raise ValueError("must be non-empty text")
    return value


def _require_items(value: Any) -> Any:
    if isinstance(value, list) and not value:
        raise ValueError("a list of alternatives must hold non-empty text")
    return value


Text = Annotated[str, BeforeValidator(_non_empty), BeforeValidator(_as_text)]
# A fact or expected item: one text, or a non-empty list of alternative texts.
Alternatives = Text | Annotated[list[Text], BeforeValidator(_require_items)]


class Turn(BaseModel):
    """One earlier message of a follow-up question's conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str


class Question(BaseModel):
    """One evaluation question, validated (see design.md for the meaning of each field)."""

    model_config = ConfigDict(extra="forbid")

    id: Text
    question: Text
    set: str = ""
    category: str = "general"
    answerable: bool = True
    sources: list[Text] = []
    evidence: list[Text] = []
    facts: list[Alternatives] = []
    history: list[dict[str, str]] = []
    mode: Literal["answer", "criteria", "psed"] = "answer"
    topic: str = ""
    expected_items: list[Alternatives] = []
    expected_rows: dict[str, bool] = {}
    split: Literal["dev", "test"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            category = data.get("category")
            if category is None or (isinstance(category, str) and not category.strip()):
                data["category"] = "general"  # a missing or blank label groups as "general"
            elif isinstance(category, str):
                data["category"] = category.strip()
            if data.get("history") is not None:
                data["history"] = _turns(data["history"])
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.answerable and not self.sources and self.mode == "answer":
            raise _FieldError("sources", "required for an answerable question: document ids")
        for name, owner in (
            ("topic", "criteria"),
            ("expected_items", "criteria"),
            ("expected_rows", "psed"),
        ):
            if getattr(self, name) and self.mode != owner:
                raise _FieldError(name, f"only used with mode: {owner}")
        if self.mode == "criteria":
            self.topic = self.topic.strip() or self.question
            if not self.expected_items:
                raise _FieldError("expected_items", "required with mode: criteria, a list")
        if self.mode == "psed":
            _check_psed_rows(self.expected_rows)
        return self


class _FieldError(ValueError):
    """A cross-field rule failed; carries the field it is about for the error message."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r}: {problem}")
        self.field = field


def _turns(value: Any) -> Any:
    """History messages validated as `Turn`s, kept as plain dicts for the answer pipeline."""
    if not isinstance(value, list):
        raise _FieldError("history", "must be a list of {role, content} messages")
    turns = []
    for i, turn in enumerate(value, 1):
        if not isinstance(turn, dict):
            raise _FieldError("history", f"item {i} must be a {{role, content}} mapping")
        try:
            turns.append(Turn.model_validate(turn).model_dump())
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise _FieldError(
                "history",
                f"item {i}: {'.'.join(map(str, problem['loc']))}: {problem['msg']} "
                f"(got {problem.get('input')!r})",
            ) from None
    return turns


def _check_psed_rows(rows: dict[str, bool]) -> None:
    from assistant.psed import load_rows

    if not rows:
        raise _FieldError("expected_rows", "required with mode: psed, a mapping {row: true|false}")
    known = {key.lower() for spec in load_rows() for key in (spec.id, spec.label)}
    for key in rows:
        if key.strip().lower() not in known:
            raise _FieldError(
                "expected_rows", f"unknown PSED row {key!r} (see assistant/psed.yaml)"
            )


class QuestionSet(BaseModel):
    """A named list of questions read from one file."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    name: str
    path: Path
    questions: list[Question]


def load_question_set(path: Path) -> QuestionSet:
    """Read and validate a YAML or JSONL question set; raises `QuestionSetError`."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"{path}: cannot read the question set ({exc})") from exc
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        name, items = path.stem, _jsonl_items(path, raw)
    else:
        name, items = _yaml_items(path, raw)
    seen: dict[str, int] = {}
    questions = []
    for pos, item in enumerate(items, 1):
        q = _parse(path, pos, item, name)
        if q.id in seen:
            raise QuestionSetError(
                f"{path}: question {q.id!r}: field 'id': duplicate id "
                f"(question #{seen[q.id]} has it too)"
            )
        seen[q.id] = pos
        questions.append(q)
    return QuestionSet(name=name, path=path, questions=questions)


def _jsonl_items(path: Path, raw: str) -> list[Any]:
    items: list[Any] = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise QuestionSetError(f"{path}: line {number}: not valid JSON ({exc.msg})") from exc
    if not items:
        raise QuestionSetError(f"{path}: no questions (expected one JSON object per line)")
    return items


def _yaml_items(path: Path, raw: str) -> tuple[str, list[Any]]:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise QuestionSetError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise QuestionSetError(f"{path}: expected a mapping with a 'questions' list")
    items = data.get("questions")
    if not isinstance(items, list) or not items:
        raise QuestionSetError(
            f"{path}: field 'questions': required, a non-empty list of questions"
        )
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise QuestionSetError(f"{path}: field 'name': must be non-empty text")
    return name.strip(), items


def _parse(path: Path, pos: int, item: Any, set_name: str) -> Question:
    """One question, or a `QuestionSetError` naming file, question and field."""
    if not isinstance(item, dict):
        raise QuestionSetError(
            f"{path}: question #{pos}: must be a mapping of fields, not {type(item).__name__}"
        )
    raw_id = _as_text(item.get("id"))
    who = f"question {raw_id!r}" if isinstance(raw_id, str) and raw_id else f"question #{pos}"
    if "set" in item:
        raise QuestionSetError(f"{path}: {who}: field 'set': not a question field")
    try:
        return Question.model_validate({**item, "set": set_name})
    except ValidationError as exc:
        raise QuestionSetError(f"{path}: {who}: {_describe(exc)}") from None
    except _FieldError as exc:
        raise QuestionSetError(f"{path}: {who}: {exc}") from None


def _describe(exc: ValidationError) -> str:
    """The first problem of a pydantic error, as "field 'x': what is wrong (got ...)"."""
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ())]
    field = loc[0] if loc else "?"
    msg = str(err.get("msg", "invalid"))
    if isinstance(err.get("ctx", {}).get("error"), _FieldError):
        return str(err["ctx"]["error"])
    if err.get("type") == "extra_forbidden":
        return f"field {field!r}: unknown field (allowed: {', '.join(Question.model_fields)})"
    if str(err.get("type", "")).startswith("bool"):
        msg = "must be true or false"
    where = f" (at {'.'.join(loc[1:])})" if len(loc) > 1 else ""
    got = err.get("input")
    shown = "" if isinstance(got, dict) else f", got {got!r}"
    return f"field {field!r}: {msg}{where}{shown}"
