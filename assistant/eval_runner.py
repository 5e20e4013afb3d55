"""The evaluation runner: ask every question of one or more question sets through the real
pipeline (or the naive baseline) and collect scored rows into a report dict.

`run_eval` runs over the project's index; `run_by_format` runs the same questions over several
renderings of the same documents (one corpus folder per format, each with its own index) so a
report can compare formats side by side. Evaluation questions are not user traffic, so runs do
not write to the answer trace log. Scoring lives in `assistant.eval_metrics`, reports in
`assistant.report`, the console in `assistant.cli_eval`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from assistant import generators, retrievers
from assistant.eval_metrics import (
    FAITHFUL_MIN_TERMS,
    Row,
    by_category,
    error_row,
    fact_present,
    group_by,
    retrieval_row,
    score_answer,
    summarise,
)
from assistant.eval_modes import mode_row, score_criteria, score_psed
from assistant.eval_questions import SPLITS, Question, load_question_set
from assistant.text import normalise
from assistant.timing import ms_since

Progress = Callable[[int, int, str], None]  # (done, total, current question id)


class _Runner:
    """Asks questions through the real pipeline over the project index, and knows its chunks.

    `_BaselineRunner` is the same surface over the naive baseline; `_runner` picks one by the
    retriever's `baseline` capability.
    """

    def __init__(self, settings: Any, retriever: str, generator: str | None, k: int):
        self.settings = settings
        self.mode = retriever
        self.generator = generator
        self.k = k
        self._open()

    def _open(self) -> None:
        """The pipeline over the project index, its description and its chunks."""
        from assistant.answer import Assistant
        from assistant.retrieve import Retriever

        self.retriever = Retriever(self.settings)
        index = self.retriever.index  # raises IndexProblem when there is no index
        self.assistant = Assistant(self.settings, self.retriever)
        self.generator_name = self.generator or self.settings.generator
        docs = index.documents
        corpus_hash = hashlib.sha256(
            "".join(f"{d}:{docs[d].get('hash')}" for d in sorted(docs)).encode()
        ).hexdigest()[:16]
        self.description = {
            "kind": "project index",
            "generation": index.generation,
            "created": index.manifest.get("created"),
            "embedder": index.manifest.get("embedder"),
            "chunks": len(index.chunks),
            "documents": len(docs),
            "corpus_hash": corpus_hash,
        }
        self._know(list(index.chunks))

    def _know(self, chunks: list[Any]) -> None:
        """The chunks answers are scored against, by id and normalised once."""
        self.chunks = chunks
        self.by_id = {c.chunk_id: c for c in chunks}
        self._psed: Any = None
        self.normalised = {c.chunk_id: normalise(c.text) for c in chunks}

    def chunk_text(self, chunk_id: str) -> str | None:
        chunk = self.by_id.get(chunk_id) or self._replaced(chunk_id)
        return None if chunk is None else chunk.text

    def _replaced(self, chunk_id: str) -> Any:
        """A chunk of a newer index generation (the index was replaced during the run)."""
        index = self.retriever.index
        pos = index.position.get(chunk_id)
        return index.chunks[pos] if pos is not None else None

    def count_relevant(self, q: Question) -> int:
        """Relevant chunks in the whole index (the ideal ranking for nDCG)."""
        evidence = [normalise(e) for e in q.evidence]
        sources = set(q.sources)
        return sum(
            1
            for c in self.chunks
            if c.doc_id in sources
            and (not evidence or any(e in self.normalised[c.chunk_id] for e in evidence))
        )

    def warm_up(self) -> None:
        """Load models and the vector store so the first question's latency is not a load."""
        try:
            self._warm()
        except Exception:  # noqa: BLE001 - a real problem shows again on the first question
            pass

    def _warm(self) -> None:
        self.assistant.ask(
            "What does the framework say about inspections?",
            generator=self.generator,
            k=self.k,
            retriever=self.mode,
        )

    def answer(self, q: Question) -> Row:
        t0 = time.perf_counter()
        try:
            result = self._ask(q)
        except Exception as exc:  # noqa: BLE001 - one broken question must not end the run
            return error_row(q, f"{type(exc).__name__}: {exc}", ms_since(t0))
        latency = ms_since(t0)
        return score_answer(q, result, self.chunk_text, self.count_relevant(q), latency)

    def _ask(self, q: Question) -> Any:
        return self.assistant.ask(
            q.question,
            history=q.history or None,
            generator=self.generator,
            k=self.k,
            retriever=self.mode,
        )

    def mode_question(self, q: Question) -> dict[str, Any]:
        """Run a criteria or psed question through its feature (not the answer pipeline)."""
        t0 = time.perf_counter()
        try:
            if q.mode == "criteria":
                from assistant.criteria import find_criteria

                result = find_criteria(self.settings, q.topic, retriever=self.retriever)
                return score_criteria(q, result, self.chunk_text, ms_since(t0))
            from assistant.psed import psed_matrix

            if self._psed is None or self._psed.generation != self.retriever.index.generation:
                self._psed = psed_matrix(self.settings, retriever=self.retriever)
            return score_psed(q, self._psed, ms_since(t0))
        except Exception as exc:  # noqa: BLE001 - one broken question must not end the run
            row = mode_row(q, q.topic or "PSED obligations")
            expected = list(q.expected_items) or [
                f"{k}: {'addressed' if v else 'no passage found'}"
                for k, v in q.expected_rows.items()
            ]
            row.update(
                {
                    "error": f"{type(exc).__name__}: {exc}",
                    "facts": expected,
                    "facts_missed": expected,
                    "fact_recall": 0.0,
                    "hit@1": 0.0,
                    "hit@5": 0.0,
                    "latency_ms": round(ms_since(t0), 1),
                }
            )
            return row

    def retrieve(self, q: Question) -> Row:
        t0 = time.perf_counter()
        query = self._query(q)
        hits = self._search(query)
        latency = ms_since(t0)
        retrieved = [h.to_dict(full=False) for h in hits]
        return retrieval_row(q, query, retrieved, self.chunk_text, self.count_relevant(q), latency)

    def _query(self, q: Question) -> str:
        """What is searched for: a follow-up rewritten by the rule-based rewrite."""
        from assistant.chat import parse_history, rewrite_without_llm

        turns = parse_history(q.history or None)
        return rewrite_without_llm(q.question, turns) if turns else q.question

    def _search(self, query: str) -> list[Any]:
        return self.retriever.search(query, k=self.k, retriever=self.mode).hits


class _BaselineRunner(_Runner):
    """The naive LangChain-tutorial pipeline run whole: its own chunks, ranking and answers;
    it has no criteria finder or PSED view and keeps no conversation memory."""

    def _open(self) -> None:
        from assistant.naive import GENERATOR_NAME, NaiveRAG

        self.naive = NaiveRAG(self.settings)
        self.generator_name = GENERATOR_NAME
        self.description = {"kind": "naive baseline", **self.naive.describe()}
        self._know(self.naive.chunks)

    def _replaced(self, chunk_id: str) -> Any:
        return None  # its chunks are split once per run

    def _warm(self) -> None:
        self.naive.search("warm up", 1)

    def _ask(self, q: Question) -> Any:
        return self.naive.ask(q.question, history=q.history, k=self.k)

    def mode_question(self, q: Question) -> dict[str, Any]:
        row = mode_row(q, q.topic or "PSED obligations")
        row.update(
            {
                "skipped": "the naive baseline has no criteria finder or PSED view",
                "refused": None,
                "answer": None,
                "facts": list(q.expected_items) or list(q.expected_rows),
            }
        )
        return row

    def _query(self, q: Question) -> str:
        return q.question

    def _search(self, query: str) -> list[Any]:
        return self.naive.search(query, self.k).hits


def _runner(settings: Any, retriever: str, generator: str | None, k: int) -> _Runner:
    """The runner for `retriever`: the baseline's own pipeline, or the real one."""
    kind = _BaselineRunner if retrievers.get(retriever).baseline else _Runner
    return kind(settings, retriever, generator, k)


def check_question_sets(questions: list[Question], chunks: list[Any]) -> list[str]:
    """Problems with the sets themselves: unknown sources, evidence or facts the corpus lacks.

    A fact that never occurs in its source documents cannot be found by an extractive answer,
    and evidence no chunk contains makes every retrieval look like a miss; both are worth
    fixing in the set rather than chasing in the pipeline.
    """
    docs: dict[str, list[str]] = {}
    for chunk in chunks:
        docs.setdefault(chunk.doc_id, []).append(normalise(chunk.text))
    warnings: list[str] = []
    for q in questions:
        where = f"{q.set}/{q.id}"
        unknown = [s for s in q.sources if s not in docs]
        if unknown:
            warnings.append(f"{where}: source not in the index: {', '.join(unknown)}")
        if q.mode == "criteria":
            everything = " \n ".join(t for texts in docs.values() for t in texts)
            for item in q.expected_items:
                shown = " / ".join(item) if isinstance(item, list) else item
                if not fact_present(item, everything):
                    warnings.append(f"{where}: expected item {shown!r} occurs in no chunk")
            continue
        if not q.answerable or q.mode != "answer":
            continue
        texts = [t for s in q.sources for t in docs.get(s, [])]
        evidence = [normalise(e) for e in q.evidence]
        for e, raw in zip(evidence, q.evidence, strict=True):
            if not any(e in t for t in texts):
                warnings.append(f"{where}: evidence {raw!r} is in no chunk of its sources")
        relevant = [t for t in texts if not evidence or any(e in t for e in evidence)]
        joined, joined_relevant = " \n ".join(texts), " \n ".join(relevant)
        for fact in q.facts:
            shown = " / ".join(fact) if isinstance(fact, list) else fact
            if not fact_present(fact, joined):
                warnings.append(f"{where}: fact {shown!r} never occurs in its sources' chunks")
            elif relevant and not fact_present(fact, joined_relevant):
                warnings.append(
                    f"{where}: fact {shown!r} is in no relevant chunk (its evidence "
                    "is in other chunks), so citing relevant chunks cannot give it"
                )
    return warnings


def settings_snapshot(settings: Any) -> dict[str, Any]:
    """The scalar knobs of a run (thresholds, k, models), without secrets or paths.

    Read generically from the dataclass so a renamed or added threshold is recorded too.
    """
    snapshot: dict[str, Any] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if any(word in f.name for word in ("key", "auth", "password", "token")):
            continue
        if isinstance(value, bool | int | float | str):
            snapshot[f.name] = value
    # each component's typed section (refusal, verify, extractive, criteria), whole
    snapshot.update(settings.components())
    return snapshot


def _select(sets: list[Path], split: str | None) -> tuple[list[Any], list[Question]]:
    """The question sets and the questions to run (only `split`'s when given)."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose {', '.join(SPLITS)}")
    if not sets:
        raise ValueError("give at least one question set")
    loaded = [load_question_set(Path(p)) for p in sets]
    questions = [q for qs in loaded for q in qs.questions if split is None or q.split == split]
    if not questions:
        raise ValueError(f"no questions in the {split} split of the given sets")
    return loaded, questions


def _check_args(retriever: str, generator: str | None, k: int) -> None:
    retrievers.get(retriever)  # UnknownName (a ValueError) names the registered ones
    if generator is not None:
        generators.get(generator)
    if not 1 <= k <= 100:
        raise ValueError(f"k must be between 1 and 100, not {k}")


def _run_rows(
    runner: _Runner, questions: list[Question], retrieval_only: bool, progress: Progress | None
) -> list[Row]:
    rows: list[Row] = []
    for i, q in enumerate(questions):
        if progress:
            progress(i, len(questions), f"{q.set}/{q.id}")
        if q.mode != "answer":
            rows.append(runner.mode_question(q))
        else:
            rows.append(runner.retrieve(q) if retrieval_only else runner.answer(q))
    if progress:
        progress(len(questions), len(questions), "")
    return rows


def _config(
    settings: Any, runner: _Runner, loaded: list[Any], retriever: str, **extra: Any
) -> dict[str, Any]:
    return {
        "retriever": retriever,
        "generator": runner.generator_name,
        **extra,
        "sets": [{"name": s.name, "path": str(s.path), "n": len(s.questions)} for s in loaded],
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "corpus_dir": str(settings.corpus),
        "index": runner.description,
        "faithfulness_min_terms": FAITHFUL_MIN_TERMS,
        "settings": settings_snapshot(settings),
        # the fitted unit weights, selection and refusal operating points that produced it
        "answer_model": _answer_model(runner),
    }


def _answer_model(runner: _Runner) -> dict[str, Any] | None:
    assistant = getattr(runner, "assistant", None)
    if assistant is None:
        return None
    data = assistant.model.as_dict()
    data["provenance"] = {
        k: v for k, v in data["provenance"].items() if k in ("command", "fitted", "data")
    }
    return data


def _report(config: dict[str, Any], rows: list[Row], warnings: list[str]) -> dict[str, Any]:
    """The report dict every run returns (a by-format run adds ``by_format``)."""
    return {
        "config": config,
        "summary": summarise(rows),
        "by_category": by_category(rows),
        "questions": rows,
        "warnings": warnings,
    }


def run_eval(
    settings: Any,
    sets: list[Path],
    retriever: str = "hybrid",
    generator: str | None = None,
    k: int = 5,
    progress: Progress | None = None,
    retrieval_only: bool = False,
    split: str | None = None,
) -> dict[str, Any]:
    """Run every question of `sets` (of one `split`, if given) and return the report dict.

    `retrieval_only` skips answering (rewriting follow-ups with the rule-based rewrite only)
    and reports just the retrieval metrics; it is much faster and is what CI can afford.
    """
    _check_args(retriever, generator, k)
    loaded, questions = _select(sets, split)
    settings = settings.with_overrides(trace=False)
    runner = _runner(settings, retriever, generator, k)
    warnings = check_question_sets(questions, runner.chunks)
    if not retrieval_only:
        runner.warm_up()
    rows = _run_rows(runner, questions, retrieval_only, progress)
    config = _config(
        settings, runner, loaded, retriever, k=k, retrieval_only=retrieval_only, split=split
    )
    return _report(config, rows, warnings)


def format_corpora(root: Path) -> list[str]:
    """The format folders of a rendered suite (``root/<format>/``), in a stable order."""
    if not root.is_dir():
        raise ValueError(f"--by-format: {root} is not a folder of rendered formats")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise ValueError(f"--by-format: {root} has no format folders (render the suite first)")
    return names


def run_by_format(
    settings: Any,
    sets: list[Path],
    root: Path,
    index_root: Path | None = None,
    retriever: str = "hybrid",
    generator: str | None = None,
    k: int = 5,
    progress: Progress | None = None,
    split: str | None = None,
    on_format: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Run the same questions over every rendering in `root` (one corpus folder per format).

    Each format gets its own index under `index_root` (default ``root/.indexes``), brought up to
    date incrementally, so a second run only re-embeds what changed. The report's ``summary``
    pools every format's rows; ``by_format`` has each format's own summary, and every row
    carries its ``format``.
    """
    from assistant.embeddings import SharedTexts, get_embedder
    from assistant.index import build_index

    _check_args(retriever, generator, k)
    loaded, questions = _select(sets, split)
    index_root = index_root or root / ".indexes"
    shared = SharedTexts(get_embedder(settings))  # the renderings share most chunk texts
    rows: list[Row] = []
    warnings: list[str] = []
    per_format: dict[str, dict[str, Any]] = {}
    for fmt in format_corpora(root):
        fmt_settings = settings.with_overrides(
            corpus_dir=(root / fmt).resolve(), index_dir=(index_root / fmt).resolve(), trace=False
        )
        if on_format:
            on_format(fmt, "indexing")
        build = build_index(fmt_settings, embedder=shared)
        warnings += [f"{fmt}: {e}" for e in build.errors]
        if on_format:
            on_format(fmt, "asking")
        runner = _runner(fmt_settings, retriever, generator, k)
        warnings += [f"{fmt}: {w}" for w in check_question_sets(questions, runner.chunks)]
        runner.warm_up()
        fmt_rows = [dict(r, format=fmt) for r in _run_rows(runner, questions, False, progress)]
        per_format[fmt] = {"index": runner.description, "corpus": str(root / fmt)}
        rows += fmt_rows
    config = _config(settings, runner, loaded, retriever, k=k, retrieval_only=False, split=split)
    config["by_format"] = {"root": str(root), "formats": per_format}
    return _report(config, rows, warnings) | {"by_format": group_by(rows, "format")}
