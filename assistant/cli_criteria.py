"""`assistant criteria TOPIC` on the console. The finder (`assistant.criteria`) returns a
`CriteriaResult`; how it looks in a terminal is decided here, so the library stays free of
rich and the UI and tests use the same data."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from assistant.criteria import CriteriaResult, find_criteria

if TYPE_CHECKING:
    from assistant.settings import Settings


def criteria_command(topic: str, as_json: bool, settings: Settings) -> int:
    """`assistant criteria TOPIC [--json]`: print the listing; returns the exit code.

    0: listed (possibly nothing found); 1: no index; 2: empty topic.
    """
    from assistant.index import IndexProblem

    err = Console(stderr=True)
    out = Console(highlight=False, soft_wrap=True)
    try:
        result = find_criteria(settings, topic)
    except ValueError as exc:
        err.print(f"[red]Error:[/] {escape(str(exc))}")
        return 2
    except IndexProblem as exc:
        err.print(f"[red]Error:[/] {escape(str(exc))}")
        return 1
    if as_json:
        print(json.dumps(result.to_dict(), indent=1, ensure_ascii=False))  # never via rich
        return 0
    if not result.groups:
        out.print(
            f"No criteria, expectations or principles in the documents match “{escape(topic)}”."
        )
        return 0
    print_criteria(out, result)
    err.print(f"[dim]{result.timings_ms.get('total', 0):.0f} ms[/]")
    return 0


def print_criteria(out: Console, result: CriteriaResult) -> None:
    """The groups with their numbered quotes, then the sources the numbers cite."""
    out.print(f"[bold]Criteria for “{escape(result.topic)}”[/] ({len(result.items)} items)\n")
    for group in result.groups:
        out.print(
            f"[bold cyan]{escape(group.label)}[/]  [dim]{escape(group.title)} § "
            f"{escape(group.section)}[/]"
        )
        if group.context:
            out.print(f"  [italic]{escape(' '.join(group.context.split()))}[/]")
        for item in group.items:
            cut = " [dim](quotation cut off in the source)[/]" if not item.complete else ""
            out.print(f"  [{item.n}] {escape(item.quote)}{cut}")
        out.print("")
    out.print("Sources:")
    for item in result.items:
        page = f", page {item.page}" if item.page else ""
        out.print(
            f"  [{item.n}] {escape(item.title)} § {escape(item.section)}{page} "
            f"[dim]{item.kind.replace('_', ' ')} · {item.chunk_id}[/]"
        )
