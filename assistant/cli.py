"""The `assistant` command line. Each command builds the settings once and calls the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.table import Table

from assistant import generators, retrievers
from assistant.settings import Settings, SettingsError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]


def _one_of(names: tuple[str, ...]) -> str:
    """``a, b or c``: the registered names, for an option's help."""
    return " or ".join(filter(None, (", ".join(names[:-1]), names[-1])))


# the choices are the registries' names (assistant.generators, assistant.retrievers)
RetrieverOpt = Annotated[str | None, typer.Option(help=f"{_one_of(retrievers.names())}.")]
GeneratorOpt = Annotated[str | None, typer.Option(help=f"{_one_of(generators.names())}.")]


def _settings(config: Path | None = None, **overrides: Any) -> Settings:
    try:
        return load_settings(config_file=config, **overrides)
    except SettingsError as exc:
        console.print(f"[red]Settings error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc


def _table(title: str, **options: Any) -> Table:
    """A rich table (imported here: `ask` and `search` print none unless explaining)."""
    from rich.table import Table

    return Table(title=title, **options)


def _fail(message: str, code: int = 1) -> None:
    # one line whatever the terminal width: scripts and logs read it whole
    console.print(f"[red]Error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def run_index(settings: Settings, rebuild: bool = False, quiet: bool = False) -> Any:
    """Build or update the index with a progress bar; returns the BuildReport."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from assistant.index import IndexProblem, build_index

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    with Progress(*columns, console=console, transient=True, disable=quiet) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int, detail: str) -> None:
            if stage not in tasks:
                label = {
                    "documents": "Documents",
                    "pages": "PDF pages",
                    "embedding": "Embedding chunks",
                    "bm25": "BM25 index",
                }.get(stage, stage)
                tasks[stage] = bar.add_task(label, total=total or 1, detail="")
            bar.update(tasks[stage], completed=done, total=total or 1, detail=detail[:40])

        if not quiet:
            console.print("Loading the embedding model and the index…")
        try:
            return build_index(settings, rebuild=rebuild, progress=progress)
        except IndexProblem as exc:
            _fail(str(exc))


def _print_report(report: Any) -> None:
    for note in getattr(report, "notes", []):
        console.print(f"Note: {escape(note)}")
    for err in report.errors:
        console.print(f"[yellow]Skipped[/] {escape(str(err))}")
    for dup, original in report.duplicates.items():
        console.print(
            f"[yellow]Duplicate[/] {escape(dup)}: same content as {escape(original)}, indexed once"
        )
    for doc in report.kept_on_error:
        console.print(f"[yellow]Kept[/] the previously indexed version of {escape(doc)}")
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
    repair: Annotated[
        bool, typer.Option("--repair", help="Remove what a failed or killed build left.")
    ] = False,
    if_stale: Annotated[bool, typer.Option("--if-stale", hidden=True)] = False,
    config: ConfigOpt = None,
) -> None:
    """Build or update the index (incremental by content hash)."""
    settings = _settings(config, corpus_dir=corpus)
    if repair:
        _repair(settings)
        return
    if check:
        _check(settings)
        return
    _print_report(run_index(settings, rebuild=rebuild))


def _check(settings: Settings) -> None:
    """`index --check`: problems fail (exit 1); leftovers of failed builds are explained."""
    from assistant.index import IndexProblem, check_index, leftovers

    try:
        problems = check_index(settings)
    except IndexProblem as exc:
        problems = [f"{exc} (or `assistant index --repair`)"]
    for problem in problems:
        console.print(f"[red]Problem:[/] {escape(str(problem))}")
    for item in leftovers(settings):
        console.print(f"[yellow]Leftover:[/] {escape(item)}; `assistant index --repair` removes it")
    if problems:
        raise typer.Exit(1)
    console.print("Index is consistent: Chroma, BM25, chunk store and manifest agree.")


def _repair(settings: Settings) -> None:
    """`index --repair`: fix what a fault left, then check (exit 1 when problems remain)."""
    from assistant.index import IndexProblem, repair_index

    try:
        actions = repair_index(settings)
    except IndexProblem as exc:
        _fail(str(exc))
    for action in actions:
        console.print(f"Repaired: {escape(action)}")
    if not actions:
        console.print("Nothing to repair.")
    _check(settings)


def _filters(doc: list[str] | None, doc_type: list[str] | None) -> dict[str, Any]:
    return {"doc_ids": doc or None, "doc_types": doc_type or None}


@app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option("--k", help="Number of passages.")] = 5,
    retriever: RetrieverOpt = None,
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
        # JSON goes straight to stdout: rich would read "[x]" in document text as markup
        print(json.dumps([h.to_dict() for h in result.hits], indent=1, ensure_ascii=False))
        return
    if not result.hits:
        out.print("No passages found.")
    for hit in result.hits:
        c = hit.chunk
        page = f", page {c.page}" if c.page else ""
        out.print(
            f"[bold]{hit.rank}.[/] score {hit.score:.4f}  [cyan]{escape(c.doc_id)}[/]  "
            f"§ {escape(c.section)}{page}"
        )
        out.print("   " + escape(c.text).replace("\n", "\n   ") + "\n")


def _print_answer(answer: Any) -> None:
    """The answer as a person reads it; document text is escaped so "[/bold]" stays text."""
    if answer.notice:
        console.print(f"[yellow]{escape(answer.notice)}[/]")
    if answer.refused:
        out.print(f"[bold yellow]{escape(answer.answer)}[/]")
        if answer.closest:
            out.print("\nClosest passages:")
        for i, passage in enumerate(answer.closest, 1):
            snippet = escape(" ".join(passage["text"].split())[:240])
            place = escape(f"{passage['title']} § {passage['section']}")
            out.print(f"  {i}. {place}\n     {snippet}…")
        return
    out.print(escape(answer.answer))
    dropped = [s for s in answer.sentences if not s.supported]
    for sent in dropped:
        out.print(f"[dim]✗ removed (unsupported: {escape(sent.reason)}): {escape(sent.text)}[/]")
    out.print("\nSources:")
    for cit in answer.citations:
        page = f", page {cit.page}" if cit.page else ""
        place = escape(f"{cit.title} § {cit.section}{page}")
        out.print(f"  [{cit.n}] {place}\n      “{escape(cit.quote)}”")
    t = answer.timings_ms
    console.print(f"[dim]{answer.generator} · {t.get('total', 0):.0f} ms[/]")


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _clip(text: Any, limit: int = 110) -> str:
    text = " ".join(str(text).split())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _print_query(query: dict[str, Any]) -> None:
    out.print("\n[bold]Why this answer[/]\n\n[bold]Query[/]")
    out.print(f"  asked:      {escape(query.get('question', ''))}")
    if query.get("followup"):
        rewritten = escape(query.get("rewritten_query", ""))
        out.print(f"  follow-up, rewritten ({query.get('rewrite')}): {rewritten}")
    scoped = query.get("scoped_to")
    if scoped:
        docs = ", ".join(scoped["documents"])
        out.print(
            f"  searched again within the documents naming {escape(scoped['name'])}: "
            f"{escape(docs)} (the first passages' documents never name it)"
        )
    terms = ", ".join(query.get("expansion_terms") or []) or "none"
    out.print(f"  glossary expansion (BM25): {escape(terms)}")
    out.print(f"  retriever {query.get('retriever')}, k={query.get('k')}")


def _print_passages(passages: list[dict[str, Any]]) -> None:
    table = _table(title="Retrieved passages (rank order)", title_justify="left")
    for name in ("#", "doc id", "section", "chunk id", "dense (rank)", "BM25 (rank)", "RRF"):
        table.add_column(name, overflow="fold")
    for p in passages:
        table.add_row(
            str(p["rank"]),
            escape(p["doc_id"]),
            _clip(p["section"], 40),
            escape(p["chunk_id"]),
            f"{_num(p['dense_score'])} ({p['dense_rank'] or '–'})",
            f"{_num(p['bm25_score'], 2)} ({p['bm25_rank'] or '–'})",
            _num(p["fused_score"], 5),
        )
    out.print("")
    out.print(table)


def _print_refusal(refusal: dict[str, Any]) -> None:
    signals = refusal.get("signals") or {}
    out.print("\n[bold]Refusal check[/]")
    words = [
        ("✓ " if w["found"] else "✗ ") + " / ".join(w["alternatives"])
        for w in refusal.get("key_words") or []
    ]
    out.print(f"  key words (stemmed): {escape('; '.join(words)) or 'none'}")
    if "coverage" in signals:
        out.print(
            f"  expected answer: {escape(str(signals.get('answer_type')))}; key words found "
            f"{signals['key_word_coverage']:.0%}, IDF-weighted coverage {signals['coverage']:.0%} "
            f"in the top {len(signals['passages_checked'])} passages; best dense similarity "
            f"{signals['dense']:.3f}; p(answerable) {signals['p_answerable']:.3f}"
        )
    for rule in refusal.get("rules") or []:
        mark = "[red]fired[/]" if rule["fired"] else ("holds, not first" if rule["holds"] else "no")
        out.print(f"  rule {rule['rule']}: {escape(rule['test'])} → {mark}")
    if refusal.get("refused"):
        stage = refusal.get("stage")
        out.print(f"  [yellow]refused[/] at {stage}: {escape(refusal.get('reason', ''))}")
    else:
        out.print("  not refused: no rule fired and verified sentences remain")


def _print_units(units: list[dict[str, Any]] | None, generation: dict[str, Any]) -> None:
    fallback = generation.get("fallback")
    if fallback:
        failed = len(fallback.get("sentences") or [])
        out.print(
            f"\n[bold]Fallback[/]: {escape(str(fallback.get('from')))} wrote {failed} "
            f"sentence(s), none supported by its cited passage; the extractive answer below "
            "is shown instead"
        )
    if units is None:
        given = generation.get("passages_given") or []
        note = f"{generation.get('generator')} wrote the draft from passages {given}"
        if not generation.get("ran"):
            note = "none: refused before generating"
        out.print(f"\n[bold]Candidate units[/]: {escape(note)}")
        return
    shown = [u for u in units if u["n"] <= 10 or u["selected"]]
    table = _table(title="Candidate units (score rank)", title_justify="left")
    for name in ("#", "psg", "kind", "sim", "overlap", "prior", "form", "score", "", "reason"):
        table.add_column(name, overflow="fold")
    table.add_column("text", overflow="fold", ratio=1)
    for u in shown:
        form = _num(u["form"], 2) + (f" ({'; '.join(u['form_notes'])})" if u["form_notes"] else "")
        table.add_row(
            str(u["n"]),
            str(u["passage"]),
            u["kind"],
            _num(u["similarity"]),
            _num(u["overlap"], 2),
            _num(u["rank_prior"], 2),
            escape(form),
            _num(u["score"]),
            "[green]kept[/]" if u["selected"] else "dropped",
            escape(u["reason"]),
            _clip(u["text"]),
        )
    out.print("")
    out.print(table)
    rest: dict[str, int] = {}
    for u in units:
        if u not in shown:
            rest[u["reason"]] = rest.get(u["reason"], 0) + 1
    if rest:
        summary = "; ".join(f"{reason} ({n})" for reason, n in rest.items())
        out.print(f"  {len(units) - len(shown)} more dropped: {escape(summary)}")


def _print_verification(verification: dict[str, Any]) -> None:
    sentences = verification.get("sentences") or []
    if not sentences:
        out.print("\n[bold]Verification[/]: no draft sentences to verify")
        return
    title = (
        f"Verification (supported: overlap ≥ {verification.get('min_overlap')}, or similarity "
        f"≥ {verification.get('min_similarity')} for a near miss)"
    )
    table = _table(title=title, title_justify="left")
    for name in ("", "sentence", "cited passage → chunk", "overlap", "similarity", "reason"):
        table.add_column(name, overflow="fold")
    for row in sentences:
        cited = row["cited"] or [{}]
        table.add_row(
            "[green]✓[/]" if row["supported"] else "[red]✗[/]",
            _clip(row["text"], 90),
            "; ".join(f"{c['passage']} → {c['chunk_id']}" for c in row["cited"]) or "none",
            " ".join(_num(c.get("overlap"), 2) for c in cited),
            " ".join(_num(c.get("similarity"), 2) for c in cited),
            escape(row["reason"]),
        )
    out.print("")
    out.print(table)


def _print_explanation(data: dict[str, Any]) -> None:
    """The explanation's sections in pipeline order (query, passages, refusal, units, checks)."""
    _print_query(data["query"])
    _print_passages(data["passages"])
    _print_refusal(data["refusal"])
    _print_units(data.get("units"), data.get("generation") or {})
    _print_verification(data.get("verification") or {})


@app.command()
def ask(
    question: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the answer object as JSON.")
    ] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Also show why: scores, choices, checks.")
    ] = False,
    generator: GeneratorOpt = None,
    history: Annotated[Path | None, typer.Option(help="JSON file of earlier turns.")] = None,
    k: Annotated[int | None, typer.Option("--k", help="Passages to retrieve.")] = None,
    retriever: RetrieverOpt = None,
    doc: Annotated[list[str] | None, typer.Option(help="Only this document id.")] = None,
    doc_type: Annotated[list[str] | None, typer.Option(help="Only this document type.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Answer a question with verified citations (or decline when the documents are silent)."""
    from assistant.answer import Assistant, QuestionError
    from assistant.chat import HistoryError, load_history
    from assistant.explain import Explanation
    from assistant.index import IndexProblem
    from assistant.llm import GeneratorUnavailable

    settings = _settings(config, generator=generator, retriever=retriever, k=k)
    recorder = Explanation() if explain else None
    try:
        turns = load_history(history) if history else None
        answer = Assistant(settings).ask(
            question, history=turns, explain=recorder, **_filters(doc, doc_type)
        )
    except (QuestionError, HistoryError) as exc:
        _fail(str(exc), 2)
    except (IndexProblem, GeneratorUnavailable) as exc:
        _fail(str(exc))
    if as_json:
        data = answer.to_dict()
        if recorder is not None:
            data["explain"] = recorder.to_dict()
        # plain print, never rich: document text such as "[/bold]" must reach stdout unchanged
        print(json.dumps(data, indent=1, ensure_ascii=False))
        return
    _print_answer(answer)
    if recorder is not None:
        _print_explanation(recorder.to_dict())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 7860).")] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-local bind without auth.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Serve the chat page at once; stale files are indexed in the background meanwhile."""
    settings = _settings(config, host=host, port=port)
    from ui.app import launch

    try:
        launch(settings, insecure=insecure)
    except ValueError as exc:
        _fail(str(exc), 2)


@app.command("eval")
def eval_(
    sets: Annotated[list[Path], typer.Argument(help="Question sets (YAML or JSONL).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("eval-out"),
    retriever: Annotated[
        str, typer.Option(help=f"{_one_of(retrievers.names())}; naive is the tutorial baseline.")
    ] = "hybrid",
    generator: Annotated[
        str | None, typer.Option(help=f"Generator to evaluate: {_one_of(generators.names())}.")
    ] = None,
    k: Annotated[int, typer.Option("--k")] = 5,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-under", help="METRIC=VALUE; exit non-zero when below (latency: above)."
        ),
    ] = None,
    compare: Annotated[Path | None, typer.Option(help="Earlier report.json to compare.")] = None,
    split: Annotated[
        str | None, typer.Option(help="Only the questions of this split: dev or test.")
    ] = None,
    by_format: Annotated[
        Path | None,
        typer.Option(
            "--by-format",
            help="A rendered suite (DIR/<format>/ corpora): run on each format, compare them.",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Run question sets and write report.json/.md/.html and a chart."""
    from assistant.cli_eval import eval_command

    settings = _settings(config)
    code = eval_command(
        sets,
        out=out_dir,
        retriever=retriever,
        generator=generator,
        k=k,
        fail_under=fail_under or [],
        compare=compare,
        settings=settings,
        split=split,
        by_format=by_format,
    )
    raise typer.Exit(code)


@app.command()
def criteria(
    topic: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """List the criteria, expectations and principles in the corpus that apply to a topic."""
    from assistant.cli_criteria import criteria_command

    raise typer.Exit(criteria_command(topic, as_json, _settings(config)))


@app.command()
def psed(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write CSV here.")] = None,
    md_out: Annotated[Path | None, typer.Option("--md", help="Also write Markdown here.")] = None,
    config: ConfigOpt = None,
) -> None:
    """PSED coverage matrix: each aim and protected characteristic with its passages."""
    from assistant.cli_psed import psed_command

    raise typer.Exit(psed_command(as_json, csv_out, md_out, _settings(config)))


@app.command()
def bench(
    sizes: Annotated[str, typer.Option(help="Comma-separated chunk counts.")] = "1000,10000,100000",
    as_json: Annotated[bool, typer.Option("--json", help="Also print bench.json.")] = False,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for bench.json and the plot.")
    ] = Path("bench"),
    queries: Annotated[int, typer.Option(help="Queries per size (at least 200).")] = 200,
    real_max: Annotated[int, typer.Option(help="Largest size encoded by the real model.")] = 10000,
    pdf: Annotated[
        list[Path] | None,
        typer.Option("--pdf", help="PDF files to time layout parsing on (pages/s)."),
    ] = None,
    peer: Annotated[
        str,
        typer.Option(
            help="Command of another assistant to time a cold ask against (question appended)."
        ),
    ] = "",
    cold_question: Annotated[
        str, typer.Option(help="Question of the cold-ask comparison.")
    ] = "What are the three aims of the public sector equality duty?",
    config: ConfigOpt = None,
) -> None:
    """Benchmark ingestion and query latency on synthetic corpora of the given sizes."""
    from assistant.bench import cold_ask, pdf_pages_per_second, plot, run_bench, table_rows

    settings = _settings(config)
    try:
        size_list = [int(x) for x in sizes.split(",") if x.strip()]
    except ValueError:
        _fail(f"--sizes must be comma-separated whole numbers, not {sizes!r}", 2)
    if not size_list or min(size_list) < 10:
        _fail("--sizes needs chunk counts of at least 10", 2)
    report = run_bench(
        settings,
        size_list,
        n_queries=max(queries, 1),
        real_max=real_max,
        log=lambda msg: console.print(f"[dim]{msg}[/]"),
    )
    report["pdf"] = pdf_pages_per_second(list(pdf or []))
    try:
        report["cold"] = cold_ask(settings, cold_question, peer)
    except RuntimeError as exc:
        _fail(f"cold-ask timing failed: {exc}")
    cold = report["cold"]
    console.print(
        f"Cold ask on the configured index: {cold['cold_ask_s']} s (median of {cold['runs']})"
        + (
            f"; peer {escape(cold['peer'])}: {cold['peer_cold_ask_s']} s "
            f"({cold['cold_ask_vs_peer']}x)"
            if "peer" in cold
            else ""
        )
    )
    for row in report["pdf"]:
        console.print(
            f"PDF layout parsing: {escape(row['file'])}, {row['pages']} pages in "
            f"{row['seconds']} s = {row['pages_per_s']} pages/s"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(report, indent=1))
    plot(report, out_dir / "latency.png")
    table = _table(title="assistant bench")
    table.add_column("metric")
    for row in report["sizes"]:
        table.add_column(f"{row['size_target']:,}", justify="right")
    for key, values in table_rows(report):
        table.add_row(key, *values)
    out.print(table)
    out.print(f"Wrote {out_dir / 'bench.json'} and {out_dir / 'latency.png'}")
    if as_json:
        print(json.dumps(report, indent=1))


def main() -> None:
    """Console-script entry point: the offline switches first, then the command."""
    from assistant.offline import go_offline

    go_offline()
    try:
        app()
    except KeyboardInterrupt:
        console.print("Interrupted; the previous index is still in place.")
        sys.exit(130)


if __name__ == "__main__":
    main()
