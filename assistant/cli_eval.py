"""`assistant eval` on the console: progress bar, summary / category / format / failure-cause
tables and the gate line. Rendering for the terminal lives here, not in the library, so the
runner and the metrics return data that the UI and tests can use as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.eval_metrics import FAILURE_CAUSES, METRICS, MODE_METRICS
from assistant.evaluation import (
    QuestionSetError,
    check_fail_under,
    load_question_set,
    parse_fail_under,
    run_by_format,
    run_eval,
)
from assistant.report import COUNT_KEYS, write_reports

# The columns of the by-category and by-format tables: the answer-level metrics a reader
# compares first.
TABLE_KEYS = (
    "hit@1",
    "hit@5",
    "fact_recall",
    "lead_hit",
    "fragment_rate",
    "mixed_document_rate",
    "citation_precision",
    "refusal_accuracy",
    "false_refusal_rate",
)


def summary_table(report: dict[str, Any], comparison: dict[str, Any] | None = None) -> Any:
    """A rich table of the summary (old/new/delta columns when comparing)."""
    from rich.table import Table

    from assistant.report import fmt, fmt_delta

    cfg = report.get("config", {})
    table = Table(
        title=f"Evaluation: retriever {cfg.get('retriever')}, "
        f"generator {cfg.get('generator')}, k {cfg.get('k')}"
    )
    table.add_column("Metric")
    if comparison:
        for name in ("Old", "New", "Delta"):
            table.add_column(name, justify="right")
    else:
        table.add_column("Value", justify="right")
    summary = report.get("summary", {})
    for metric in METRICS:
        if comparison:
            d = comparison["summary"][metric.key]
            table.add_row(
                metric.key,
                fmt(metric.key, d["old"]),
                fmt(metric.key, d["new"]),
                fmt_delta(metric.key, d["delta"]),
            )
        else:
            table.add_row(metric.key, fmt(metric.key, summary.get(metric.key)))
    for metric in MODE_METRICS:
        if metric.key in summary:
            value = f"{summary[metric.key]:.3f}" if summary[metric.key] is not None else "–"
            table.add_row(metric.key, *(["–", value, ""] if comparison else [value]))
    table.add_section()
    for key in COUNT_KEYS:
        if comparison:
            counts = comparison.get("counts", {}).get(key, {})
            table.add_row(key, str(counts.get("old", "–")), str(summary.get(key, 0)), "")
        else:
            table.add_row(key, str(summary.get(key, 0)))
    return table


def group_table(title: str, label: str, groups: dict[str, dict[str, Any]]) -> Any:
    """A compact rich table of the main metrics per group (category or format)."""
    from rich.table import Table

    from assistant.report import fmt

    table = Table(title=title)
    table.add_column(label)
    table.add_column("n", justify="right")
    for key in TABLE_KEYS:
        table.add_column(key, justify="right")
    for name, s in groups.items():
        table.add_row(name, str(s.get("n_questions", 0)), *[fmt(k, s.get(k)) for k in TABLE_KEYS])
    return table


def category_table(report: dict[str, Any]) -> Any:
    """The main metrics per category."""
    return group_table("By category", "Category", report.get("by_category", {}))


def failure_table(report: dict[str, Any]) -> Any:
    """How many questions failed for each cause, overall and per format when there are formats."""
    from rich.table import Table

    formats = report.get("by_format") or {}
    table = Table(title="Failure causes (questions)")
    table.add_column("Cause")
    table.add_column("all", justify="right")
    for name in formats:
        table.add_column(name, justify="right")
    overall = report.get("summary", {}).get("failures", {})
    for cause in FAILURE_CAUSES:
        per = [str(formats[f].get("failures", {}).get(cause, 0)) for f in formats]
        table.add_row(cause, str(overall.get(cause, 0)), *per)
    return table


def read_report(path: Path) -> Any:
    """A report.json, or a committed baseline's gzipped report.json.gz."""
    if path.suffix == ".gz":
        import gzip

        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return json.load(fh)
    return json.loads(path.read_text(encoding="utf-8"))


def gate_line(failures: list[str], bounds: dict[str, float]) -> str:
    """The one line `make test` prints: PASS with the number of bounds, or what failed."""
    if not failures:
        return f"eval gate: PASS ({len(bounds)} bounds)"
    return f"eval gate: FAIL ({len(failures)} of {len(bounds)} bounds): " + "; ".join(failures)


def eval_command(
    sets: list[Path],
    out: Path = Path("eval-out"),
    retriever: str = "hybrid",
    generator: str | None = None,
    k: int = 5,
    fail_under: list[str] | None = None,
    compare: Path | None = None,
    settings: Any = None,
    split: str | None = None,
    by_format: Path | None = None,
) -> int:
    """`assistant eval`: run, write reports, print the summary; returns the exit code.

    0: done and within bounds; 1: a --fail-under bound failed, or the index is missing;
    2: a usage problem (bad set, unknown metric/retriever/generator, unreadable --compare).
    """
    from rich.console import Console

    err = Console(stderr=True)
    stdout = Console(highlight=False)
    if not stdout.is_terminal:  # piped or captured: do not squeeze the tables to 80 columns
        stdout.width = max(stdout.width, 140)
    try:
        bounds, old_report, settings = _check_inputs(sets, fail_under, compare, settings)
    except _UsageError as exc:
        _error(err, str(exc))
        return 2
    from assistant.index import IndexProblem

    common = {"retriever": retriever, "generator": generator, "k": k, "split": split}
    try:
        report = _run_with_progress(err, settings, sets, by_format, common)
    except _UsageError as exc:
        _error(err, str(exc))
        return 2
    except IndexProblem as exc:
        _error(err, str(exc))
        return 1
    paths = write_reports(report, Path(out), compare=old_report)
    return _print_results(stdout, err, report, old_report, paths, bounds)


class _UsageError(Exception):
    """A problem with what was asked (exit code 2), found before or while running."""


def _error(err: Any, message: str) -> None:
    """An error line; soft-wrapped, since a long path split mid-name cannot be copied."""
    from rich.markup import escape

    err.print(f"[red]Error:[/] {escape(message)}", soft_wrap=True)


def _check_inputs(
    sets: list[Path], fail_under: list[str] | None, compare: Path | None, settings: Any
) -> tuple[dict[str, float], dict[str, Any] | None, Any]:
    """(bounds, the --compare report, settings), or `_UsageError`: every usage problem is
    reported before any model or index is loaded, which takes seconds."""
    from assistant.settings import SettingsError, load_settings

    try:
        bounds = parse_fail_under(list(fail_under or []))
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    old_report: dict[str, Any] | None = None
    if compare is not None:
        try:
            old_report = read_report(Path(compare))
            if not isinstance(old_report, dict) or "summary" not in old_report:
                raise ValueError("not an evaluation report (no 'summary')")
        except (OSError, ValueError) as exc:
            raise _UsageError(f"cannot use --compare {compare}: {exc}") from exc
    try:
        settings = settings or load_settings()
        for path in sets:  # fail on a malformed set before loading any model
            load_question_set(Path(path))
    except (SettingsError, QuestionSetError) as exc:
        raise _UsageError(str(exc)) from exc
    return bounds, old_report, settings


def _run_with_progress(
    err: Any, settings: Any, sets: list[Path], by_format: Path | None, common: dict[str, Any]
) -> dict[str, Any]:
    """Run the sets (on each format of a rendered suite with `by_format`) under a progress
    bar on stderr, which goes away when done so that stdout holds only the tables."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("Evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("eval", total=None, detail="loading models and index…")

            def progress(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, detail=label[:50])

            def on_format(name: str, stage: str) -> None:
                bar.update(task, completed=0, total=None, detail=f"{name}: {stage}…")

            paths = [Path(p) for p in sets]
            if by_format is not None:
                return run_by_format(
                    settings,
                    paths,
                    Path(by_format),
                    progress=progress,
                    on_format=on_format,
                    **common,
                )
            return run_eval(settings, paths, progress=progress, **common)
    except (ValueError, QuestionSetError) as exc:
        raise _UsageError(str(exc)) from exc


def _print_results(
    stdout: Any,
    err: Any,
    report: dict[str, Any],
    old_report: dict[str, Any] | None,
    paths: list[Path],
    bounds: dict[str, float],
) -> int:
    """The tables, what got worse since --compare, and the gate; returns the exit code.

    Warnings and failures go to stderr, the tables and the gate line to stdout (`make test`
    reads the gate line)."""
    from rich.markup import escape

    from assistant.report import compare_reports

    for warning in report["warnings"]:
        err.print(f"[yellow]Question-set warning:[/] {escape(warning)}")
    if report["summary"]["n_errors"]:
        err.print(
            f"[yellow]{report['summary']['n_errors']} question(s) raised errors; see report.html[/]"
        )
    comparison = compare_reports(old_report, report) if old_report else None
    stdout.print(summary_table(report, comparison))
    stdout.print(category_table(report))
    if report.get("by_format"):
        stdout.print(group_table("By format", "Format", report["by_format"]))
    stdout.print(failure_table(report))
    if comparison:
        if comparison.get("note"):
            err.print(f"[yellow]Note:[/] {comparison['note']}")
        worse = comparison["worse"]
        stdout.print(f"{len(worse)} question(s) got worse" + (":" if worse else "."))
        for w in worse:
            stdout.print(f"  {w['set']}/{w['id']}: {'; '.join(w['reasons'])}", markup=False)
    stdout.print("Reports: " + ", ".join(str(p) for p in paths))
    failures = check_fail_under(report["summary"], bounds)
    for failure in failures:
        err.print(f"[red]FAIL[/] {escape(failure)}")
    if bounds:
        stdout.print(gate_line(failures, bounds), markup=False)
    return 1 if failures else 0
