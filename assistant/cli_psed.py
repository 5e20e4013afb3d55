"""`assistant psed` on the console: the PSED matrix (`assistant.psed`) as a rich table, or as
JSON, and its CSV/Markdown exports. The library builds `PsedMatrix` data; only this module
knows about terminals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assistant.psed import PsedMatrix, psed_matrix, shorten

if TYPE_CHECKING:
    from assistant.settings import Settings


def psed_command(
    as_json: bool, csv_out: Path | None, md_out: Path | None, settings: Settings
) -> int:
    """`assistant psed [--json] [--csv FILE] [--md FILE]`; returns the exit code.

    0: built (rows may be "no passage found"); 1: no index, or an export could not be written.
    """
    from assistant.index import IndexProblem

    err = Console(stderr=True)
    out = Console(highlight=False, soft_wrap=True)
    try:
        matrix = psed_matrix(settings)
    except IndexProblem as exc:
        err.print(f"[red]Error:[/] {escape(str(exc))}")
        return 1
    for path, body in ((csv_out, matrix.to_csv), (md_out, matrix.to_markdown)):
        if path is None:
            continue
        try:
            Path(path).write_text(body(), encoding="utf-8")
        except OSError as exc:
            err.print(f"[red]Error:[/] cannot write {escape(str(path))}: {escape(str(exc))}")
            return 1
        err.print(f"Wrote {escape(str(path))}")
    if as_json:
        print(json.dumps(matrix.to_dict(), indent=1, ensure_ascii=False))  # never via rich
        return 0
    out.print(psed_table(matrix))
    err.print(f"[dim]{matrix.timings_ms.get('total', 0):.0f} ms · index {matrix.generation}[/]")
    return 0


def psed_table(matrix: PsedMatrix) -> Table:
    """One line per obligation: ✓ with its count and first passage, or ✗ no passage found."""
    table = Table(title="PSED obligations in the indexed documents")
    for name, justify in (
        ("Obligation", "left"),
        ("Kind", "left"),
        ("Addressed", "left"),
        ("Passages", "right"),
        ("Relevance", "left"),
        ("First passage", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in matrix.rows:
        if r.addressed:
            first = r.passages[0]
            where = f"{first.title} § {first.section}"
            cell = f"“{escape(shorten(first.quote, 140))}” [dim][{first.n}] {escape(where)}[/]"
            mark = "[green]✓[/]"
        else:
            cell, mark = "–", "[red]✗ no passage found[/]"
        table.add_row(escape(r.label), r.kind, mark, str(r.count), r.relevance, cell)
    return table
