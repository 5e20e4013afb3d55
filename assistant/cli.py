"""The `assistant` command line. Each command builds the settings once and calls the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.settings import Settings, SettingsError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]


def _settings(config: Path | None = None, **overrides: Any) -> Settings:
    try:
        return load_settings(config_file=config, **overrides)
    except SettingsError as exc:
        console.print(f"[red]Settings error:[/] {exc}")
        raise typer.Exit(2) from exc


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[red]Error:[/] {message}")
    raise typer.Exit(code)


def run_index(settings: Settings, rebuild: bool = False, quiet: bool = False) -> Any:
    """Build or update the index with a progress bar; returns the BuildReport."""
    from assistant.index import IndexProblem, build_index

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[detail]}"))
    with Progress(*columns, console=console, transient=True, disable=quiet) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int, detail: str) -> None:
            if stage not in tasks:
                label = {"documents": "Documents", "embedding": "Embedding chunks",
                         "bm25": "BM25 index"}.get(stage, stage)
                tasks[stage] = bar.add_task(label, total=total or 1, detail="")
            bar.update(tasks[stage], completed=done, total=total or 1, detail=detail[:40])

        if not quiet:
            console.print("Loading the embedding model and the index…")
        try:
            return build_index(settings, rebuild=rebuild, progress=progress)
        except IndexProblem as exc:
            _fail(str(exc))


def _print_report(report: Any) -> None:
    for err in report.errors:
        console.print(f"[yellow]Skipped[/] {err}")
    for dup, original in report.duplicates.items():
        console.print(f"[yellow]Duplicate[/] {dup}: same content as {original}, indexed once")
    for doc in report.kept_on_error:
        console.print(f"[yellow]Kept[/] the previously indexed version of {doc}")
    if not report.changed:
        console.print(
            f"Index is up to date ({report.chunks_total} chunks, "
            f"{len(report.chunks_per_doc)} documents)."
        )
        return
    console.print(
        f"Indexed generation {report.generation}: {len(report.added)} added, "
        f"{len(report.updated)} updated, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged; {report.chunks_embedded} chunks embedded, "
        f"{report.chunks_total} in total ({report.seconds:.1f}s)."
    )


@app.command()
def index(
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder.")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start from a clean index.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Verify index consistency.")] = False,
    if_stale: Annotated[bool, typer.Option("--if-stale", hidden=True)] = False,
    config: ConfigOpt = None,
) -> None:
    """Build or update the index (incremental by content hash)."""
    settings = _settings(config, corpus_dir=corpus)
    if check:
        from assistant.index import check_index

        problems = check_index(settings)
        for problem in problems:
            console.print(f"[red]Problem:[/] {problem}")
        if problems:
            raise typer.Exit(1)
        console.print("Index is consistent: Chroma, BM25, chunk store and manifest agree.")
        return
    _print_report(run_index(settings, rebuild=rebuild))


def _filters(doc: list[str] | None, doc_type: list[str] | None) -> dict[str, Any]:
    return {"doc_ids": doc or None, "doc_types": doc_type or None}


@app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option("--k", help="Number of passages.")] = 5,
    retriever: Annotated[str | None, typer.Option(help="hybrid, dense or bm25.")] = None,
    doc: Annotated[list[str] | None, typer.Option(help="Only this document id.")] = None,
    doc_type: Annotated[list[str] | None, typer.Option(help="Only this document type.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Show the passages retrieved for a query."""
    from assistant.index import IndexProblem
    from assistant.retrieve import Retriever

    settings = _settings(config, k=k, retriever=retriever)
    if not query.strip():
        _fail("the query is empty", 2)
    try:
        result = Retriever(settings).search(query, k=k, **_filters(doc, doc_type))
    except IndexProblem as exc:
        _fail(str(exc))
    if as_json:
        out.print(json.dumps([h.to_dict() for h in result.hits], indent=1, ensure_ascii=False))
        return
    if not result.hits:
        out.print("No passages found.")
    for hit in result.hits:
        c = hit.chunk
        page = f", page {c.page}" if c.page else ""
        out.print(f"[bold]{hit.rank}.[/] score {hit.score:.4f}  [cyan]{c.doc_id}[/]  "
                  f"§ {c.section}{page}")
        out.print("   " + c.text.replace("\n", "\n   ") + "\n")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("Interrupted; the previous index is still in place.")
        sys.exit(130)


if __name__ == "__main__":
    main()
