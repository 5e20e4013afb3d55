"""Evaluation reports: report.json, report.md, report.html and chart.png, plus comparisons.

Kept apart from the runner so the UI (or a notebook) can re-render an old report.json without
loading a model. Rendering is pure formatting of the report dict that `assistant.evaluation`
produces; matplotlib is imported only when a chart is drawn, and drawn with the Agg canvas
directly (never pyplot), so it neither needs a display nor disturbs a host app's backend.

Every piece of text that came from a question set, a document or an answer is HTML-escaped in
report.html, and the page links nothing external (no scripts, stylesheets or remote images): the
chart is embedded as a data URI, so the file can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from assistant.eval_metrics import COUNT_KEYS, FAILURE_CAUSES, METRIC_BY_KEY, METRICS, Metric

__all__ = ["COUNT_KEYS", "METRICS", "METRIC_BY_KEY", "Metric", "write_reports", "compare_reports"]

# The bars of the chart: the quality metrics a reader compares across categories.
CHART_METRICS = (
    "hit@1",
    "hit@5",
    "mrr@5",
    "citation_precision",
    "fact_recall",
    "faithfulness",
    "refusal_accuracy",
)
# Shown in the by-category tables (latency and alignment stay in the summary only).
CATEGORY_METRICS = (
    "hit@1",
    "hit@5",
    "mrr@5",
    "ndcg@5",
    "citation_precision",
    "citation_recall",
    "fact_recall",
    "lead_hit",
    "fragment_rate",
    "mixed_document_rate",
    "faithfulness",
    "refusal_accuracy",
    "false_refusal_rate",
)


def fmt(key: str, value: Any) -> str:
    """A metric value for display: rates with 3 decimals, milliseconds whole, missing as '–'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    metric = METRIC_BY_KEY.get(key)
    if metric is None:
        return str(value)
    if metric.unit == "ms":
        return f"{value:.0f}"
    return f"{value:.3f}"


def fmt_delta(key: str, delta: float | None) -> str:
    """A signed delta with an arrow telling whether it is an improvement."""
    if delta is None:
        return "–"
    metric = METRIC_BY_KEY[key]
    text = f"{delta:+.0f}" if metric.unit == "ms" else f"{delta:+.3f}"
    if abs(delta) < 1e-9:
        return text
    better = (delta < 0) if metric.lower_is_better else (delta > 0)
    return f"{text} {'▲' if better else '▼'}"


# ----------------------------------------------------------------------------- comparison
def compare_reports(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Per-metric deltas (new - old) and the questions that got worse, matched by (set, id).

    A question is worse when its fact recall dropped, it is answerable and newly refused, it
    lost its relevant passage from the top 5, or it should be refused and no longer is.
    """
    old_summary, new_summary = old.get("summary", {}), new.get("summary", {})
    deltas: dict[str, dict[str, Any]] = {}
    for metric in METRICS:
        a, b = old_summary.get(metric.key), new_summary.get(metric.key)
        delta = round(b - a, 4) if a is not None and b is not None else None
        deltas[metric.key] = {"old": a, "new": b, "delta": delta}
    old_rows = {_key(r): r for r in old.get("questions", [])}
    new_keys = {_key(r) for r in new.get("questions", [])}
    worse: list[dict[str, Any]] = []
    for row in new.get("questions", []):
        before = old_rows.get(_key(row))
        if before is None:
            continue
        reasons: list[str] = []
        fr_old, fr_new = before.get("fact_recall"), row.get("fact_recall")
        if fr_old is not None and fr_new is not None and fr_new < fr_old - 1e-9:
            reasons.append(f"fact recall dropped {fr_old:.2f} → {fr_new:.2f}")
        if row.get("answerable"):
            if before.get("refused") is False and row.get("refused") is True:
                reasons.append("newly refused")
            if before.get("hit@5") == 1 and row.get("hit@5") == 0:
                reasons.append("lost relevant passage from the top 5")
        elif before.get("refused") is True and row.get("refused") is False:
            reasons.append("newly answered a question it should refuse")
        if reasons:
            worse.append(
                {
                    "set": row.get("set"),
                    "id": row.get("id"),
                    "question": row.get("question"),
                    "reasons": reasons,
                }
            )
    old_cfg = old.get("config", {})
    matched = len(new_keys & set(old_rows))
    note = ""
    if matched != len(new_keys) or matched != len(old_rows):
        note = (
            f"the runs share {matched} questions (old {len(old_rows)}, new {len(new_keys)}); "
            "summary deltas compare different question sets"
        )
    return {
        "against": {k: old_cfg.get(k) for k in ("timestamp", "retriever", "generator", "k")},
        "summary": deltas,
        "counts": {k: {"old": old_summary.get(k), "new": new_summary.get(k)} for k in COUNT_KEYS},
        "matched_questions": matched,
        "note": note,
        "worse": worse,
    }


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    """A question's identity across runs: its set, its id and (by-format runs) its format."""
    return (row.get("format"), row.get("set"), row.get("id"))


def group_rows(report: dict[str, Any], groups: dict[str, Any]) -> list[list[Any]]:
    """Table rows (name, n, metrics...) for by-category or by-format summaries."""
    return [
        [name, s.get("n_questions", 0)] + [fmt(k, s.get(k)) for k in CATEGORY_METRICS]
        for name, s in groups.items()
    ]


def failure_rows(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the failure-cause table: all questions, then each format."""
    formats = report.get("by_format") or {}
    overall = report.get("summary", {}).get("failures", {})
    header = ["Cause", "all", *formats]
    rows = [
        [cause, overall.get(cause, 0)]
        + [formats[f].get("failures", {}).get(cause, 0) for f in formats]
        for cause in FAILURE_CAUSES
    ]
    return header, rows


# ----------------------------------------------------------------------------- writing
def write_reports(
    report: dict[str, Any], out: Path, compare: dict[str, Any] | None = None
) -> list[Path]:
    """Write report.json, report.md, report.html and chart.png into `out`; returns the paths.

    With `compare` (an older report dict), the comparison is added to all three text reports.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = dict(report)
    if compare is not None:
        data["comparison"] = compare_reports(compare, report)
    chart = out / "chart.png"
    paths = [out / "report.json", out / "report.md", out / "report.html", chart]
    # the JSON first: it is the record of a long run and everything else can be re-rendered
    paths[0].write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    png = render_chart(data)
    chart.write_bytes(png)
    paths[1].write_text(render_markdown(data, chart_name=chart.name), encoding="utf-8")
    paths[2].write_text(render_html(data, png), encoding="utf-8")
    return paths


def _config_lines(config: dict[str, Any]) -> list[tuple[str, str]]:
    sets = ", ".join(f"{s['name']} ({s['n']})" for s in config.get("sets", []))
    index = config.get("index", {}) or {}
    index_text = ", ".join(f"{k} {v}" for k, v in index.items() if not isinstance(v, dict | list))
    return [
        ("Retriever", str(config.get("retriever"))),
        ("Generator", str(config.get("generator"))),
        ("k", str(config.get("k"))),
        ("Mode", "retrieval only" if config.get("retrieval_only") else "full answers"),
        ("Question sets", sets),
        ("Index", index_text),
        ("Components", _components_text(config)),
        ("Run at", str(config.get("timestamp"))),
    ]


def _components_text(config: dict[str, Any]) -> str:
    """Each component section's numbers ("refusal min_coverage 0.34, ...") and the answer
    model's fit date, so a report says which numbers produced it."""
    settings = config.get("settings", {}) or {}
    parts = [
        f"{name}: " + ", ".join(f"{k} {v}" for k, v in values.items())
        for name, values in settings.items()
        if isinstance(values, dict)
    ]
    model = config.get("answer_model") or {}
    fitted = (model.get("provenance") or {}).get("fitted")
    if fitted:
        parts.append(f"answer model fitted {fitted} (weights in report.json)")
    return "; ".join(parts) or "-"


# ----------------------------------------------------------------------------- markdown
def _md_cell(value: Any) -> str:
    text = " ".join(str(value).split())
    return text.replace("|", "\\|")


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(report: dict[str, Any], chart_name: str = "chart.png") -> str:
    """The report as Markdown tables (config, summary, comparison, categories, questions)."""
    summary = report.get("summary", {})
    comparison = report.get("comparison")
    lines = ["# Evaluation report", ""]
    lines += [f"- **{k}:** {_md_cell(v)}" for k, v in _config_lines(report.get("config", {}))]
    lines += ["", "## Summary", ""]
    lines += [_counts(summary), ""]
    if comparison:
        rows = [
            [m.label, fmt(m.key, d["old"]), fmt(m.key, d["new"]), fmt_delta(m.key, d["delta"])]
            for m in METRICS
            for d in [comparison["summary"][m.key]]
        ]
        lines += _md_table(["Metric", "Old", "New", "Delta"], rows)
    else:
        lines += _md_table(
            ["Metric", "Value"], [[m.label, fmt(m.key, summary.get(m.key))] for m in METRICS]
        )
    lines += ["", "Latency and false-refusal rate: lower is better; everything else: higher.", ""]
    lines += [f"![main metrics]({chart_name})", ""]
    labels = [METRIC_BY_KEY[k].label for k in CATEGORY_METRICS]
    if report.get("by_format"):
        lines += ["## By format", ""]
        lines += _md_table(["Format", "n", *labels], group_rows(report, report["by_format"]))
        lines += [""]
    lines += ["## Failure causes", "", "Questions per cause (see eval_metrics.failure_cause).", ""]
    lines += _md_table(*failure_rows(report))
    lines += ["", "## By category", ""]
    lines += _md_table(
        ["Category", "n", *labels], group_rows(report, report.get("by_category", {}))
    )
    if comparison:
        lines += ["", "## Questions that got worse", ""]
        if comparison.get("note"):
            lines += [f"Note: {comparison['note']}.", ""]
        if comparison["worse"]:
            lines += [
                f"- `{w['set']}/{w['id']}`: {'; '.join(w['reasons'])}" for w in comparison["worse"]
            ]
        else:
            lines.append("None.")
    warnings = report.get("warnings", [])
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {_md_cell(w)}" for w in warnings]
    lines += ["", "## Questions", ""]
    rows = []
    for q in report.get("questions", []):
        rows.append(
            [
                f"{q['set']}/{q['id']}" + (f" ({q['format']})" if q.get("format") else ""),
                q.get("category"),
                "yes" if q.get("answerable") else "no",
                _yes_no(q.get("refused")),
                ",".join(map(str, q.get("relevant_ranks") or [])) or "–",
                fmt("fact_recall", q.get("fact_recall")),
                "; ".join(_fact_text(f) for f in q.get("facts_missed") or []) or "–",
                q.get("failure") or "–",
                fmt("latency_ms_p50", q.get("latency_ms")),
            ]
        )
    lines += _md_table(
        [
            "Question",
            "Category",
            "Answerable",
            "Refused",
            "Relevant ranks",
            "Fact recall",
            "Facts missed",
            "Failure",
            "ms",
        ],
        rows,
    )
    return "\n".join(lines) + "\n"


def _counts(summary: dict[str, Any]) -> str:
    return (
        f"{summary.get('n_questions', 0)} questions: {summary.get('n_answerable', 0)} "
        f"answerable, {summary.get('n_unanswerable', 0)} unanswerable, "
        f"{summary.get('n_errors', 0)} errors."
    )


def _yes_no(value: Any) -> str:
    return "–" if value is None else ("yes" if value else "no")


def _fact_text(fact: Any) -> str:
    return " / ".join(fact) if isinstance(fact, list) else str(fact)


# ----------------------------------------------------------------------------- html
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1d1d1f;line-height:1.45}
h1,h2{font-weight:600}table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.92rem}
th,td{border:1px solid #d0d0d5;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f2f2f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#16794c}.worse{color:#b42318}details{border:1px solid #d0d0d5;border-radius:6px;
margin:.35rem 0;padding:.3rem .6rem}summary{cursor:pointer}.ok{color:#16794c}.bad{color:#b42318}
.answer{white-space:pre-wrap;background:#f7f7f9;padding:.5rem;border-radius:4px}
.muted{color:#6e6e73;font-size:.88rem}img{max-width:100%;height:auto}code{font-size:.9em}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _html_table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):  # cells arrive escaped (they may carry markup)
            cls = ' class="num"' if i >= numeric_from else ""
            cells.append(f"<td{cls}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _delta_html(key: str, delta: float | None) -> str:
    text = _e(fmt_delta(key, delta))
    if delta is None or abs(delta) < 1e-9:
        return text
    better = (delta < 0) if METRIC_BY_KEY[key].lower_is_better else (delta > 0)
    return f'<span class="{"better" if better else "worse"}">{text}</span>'


def render_html(report: dict[str, Any], chart_png: bytes | None = None) -> str:
    """A single self-contained page: tables, the embedded chart, one <details> per question."""
    summary = report.get("summary", {})
    comparison = report.get("comparison")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Evaluation report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Evaluation report</h1>",
    ]
    parts.append(
        _html_table(
            ["Setting", "Value"],
            [[_e(k), _e(v)] for k, v in _config_lines(report.get("config", {}))],
            numeric_from=99,
        )
    )
    parts.append("<h2>Summary</h2>")
    parts.append(f"<p>{_e(_counts(summary))}</p>")
    if comparison:
        rows = [
            [
                _e(m.label),
                _e(fmt(m.key, d["old"])),
                _e(fmt(m.key, d["new"])),
                _delta_html(m.key, d["delta"]),
            ]
            for m in METRICS
            for d in [comparison["summary"][m.key]]
        ]
        parts.append(_html_table(["Metric", "Old", "New", "Delta"], rows))
    else:
        parts.append(
            _html_table(
                ["Metric", "Value"],
                [[_e(m.label), _e(fmt(m.key, summary.get(m.key)))] for m in METRICS],
            )
        )
    parts.append(
        '<p class="muted">Latency and false-refusal rate: lower is better; every other '
        "metric: higher is better. – means not measurable on this run.</p>"
    )
    if chart_png:
        encoded = base64.b64encode(chart_png).decode("ascii")
        parts.append(f'<img alt="Main metrics by category" src="data:image/png;base64,{encoded}">')
    labels = [METRIC_BY_KEY[k].label for k in CATEGORY_METRICS]
    if report.get("by_format"):
        parts.append("<h2>By format</h2>")
        rows = [[_e(c) for c in r] for r in group_rows(report, report["by_format"])]
        parts.append(_html_table(["Format", "n", *labels], rows))
    header, rows = failure_rows(report)
    parts.append("<h2>Failure causes</h2>")
    parts.append(_html_table(header, [[_e(c) for c in r] for r in rows]))
    parts.append("<h2>By category</h2>")
    rows = [[_e(c) for c in r] for r in group_rows(report, report.get("by_category", {}))]
    parts.append(_html_table(["Category", "n", *labels], rows))
    if comparison:
        parts.append("<h2>Questions that got worse</h2>")
        if comparison.get("note"):
            parts.append(f'<p class="muted">Note: {_e(comparison["note"])}.</p>')
        if comparison["worse"]:
            items = "".join(
                f"<li><code>{_e(w['set'])}/{_e(w['id'])}</code>: {_e('; '.join(w['reasons']))}</li>"
                for w in comparison["worse"]
            )
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append("<p>None.</p>")
    if report.get("warnings"):
        items = "".join(f"<li>{_e(w)}</li>" for w in report["warnings"])
        parts.append(f"<h2>Warnings</h2><ul>{items}</ul>")
    parts.append("<h2>Questions</h2>")
    parts += [_question_html(q) for q in report.get("questions", [])]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _question_ok(q: dict[str, Any]) -> bool | None:
    if q.get("error"):
        return False
    if not q.get("answerable"):
        return q.get("refused")
    if q.get("refused") is None:  # retrieval-only run
        return q.get("hit@5") == 1
    return (not q["refused"]) and (q.get("fact_recall") in (None, 1.0)) and q.get("hit@5") == 1


def _question_html(q: dict[str, Any]) -> str:
    """One question as a collapsed <details>: the summary line says pass or fail at a glance,
    the body holds what explains it (answer, facts, citations, sentences, retrieval)."""
    body = _question_notes(q) + _question_facts(q) + _question_tables(q)
    return f"<details>{_question_summary(q)}{''.join(body)}</details>"


def _question_summary(q: dict[str, Any]) -> str:
    """The <summary> line: ✓/✗, set/id, format, the question and its flags."""
    mark = '<span class="ok">✓</span>' if _question_ok(q) else '<span class="bad">✗</span>'
    flags = []
    if q.get("refused"):
        flags.append("refused")
    if not q.get("answerable"):
        flags.append("unanswerable")
    flag_text = f' <span class="muted">({_e(", ".join(flags))})</span>' if flags else ""
    return (
        f"<summary>{mark} <code>{_e(q.get('set'))}/{_e(q.get('id'))}</code> "
        + (f"[{_e(q['format'])}] " if q.get("format") else "")
        + f"{_e(q.get('question'))}{flag_text}</summary>"
    )


def _question_notes(q: dict[str, Any]) -> list[str]:
    """What the run said about the question: figures, history, failure cause, the query used,
    an error, and the answer as shown."""
    body = [
        f'<p class="muted">Category {_e(q.get("category"))} · latency '
        f"{_e(fmt('latency_ms_p50', q.get('latency_ms')))} ms · relevant ranks "
        f"{_e(','.join(map(str, q.get('relevant_ranks') or [])) or 'none')} · "
        f"relevant chunks in corpus {_e(q.get('n_relevant_in_corpus'))}</p>"
    ]
    if q.get("history"):
        turns = "".join(
            f"<li><b>{_e(t.get('role'))}:</b> {_e(t.get('content'))}</li>" for t in q["history"]
        )
        body.append(f"<p>History:</p><ol>{turns}</ol>")
    if q.get("failure"):
        body.append(f'<p class="bad">Failure: {_e(q["failure"])}</p>')
    if q.get("fragments"):
        items = "".join(f"<li>{_e(f['reason'])}: {_e(f['text'])}</li>" for f in q["fragments"])
        body.append(f"<p>Broken units shown:</p><ul>{items}</ul>")
    if q.get("rewritten_query") and q.get("rewritten_query") != q.get("question"):
        body.append(f'<p class="muted">Query used: {_e(q["rewritten_query"])}</p>')
    if q.get("error"):
        body.append(f'<p class="bad">Error: {_e(q["error"])}</p>')
    if q.get("answer") is not None:
        body.append(f'<div class="answer">{_e(q.get("answer"))}</div>')
        if q.get("refusal_reason"):
            body.append(f'<p class="muted">Refusal reason: {_e(q["refusal_reason"])}</p>')
    return body


def _question_facts(q: dict[str, Any]) -> list[str]:
    """The expected facts, each marked found (✓) or missed (✗) in the answer."""
    if not q.get("facts"):
        return []
    missed = {json.dumps(f) for f in q.get("facts_missed") or []}
    bad, good = '<span class="bad">✗</span>', '<span class="ok">✓</span>'
    items = "".join(
        f"<li>{bad if json.dumps(f) in missed else good} {_e(_fact_text(f))}</li>"
        for f in q["facts"]
    )
    return [
        f"<p>Facts (recall {_e(fmt('fact_recall', q.get('fact_recall')))}):</p><ul>{items}</ul>"
    ]


def _question_tables(q: dict[str, Any]) -> list[str]:
    """The citations, the answer's sentences and the retrieved passages, as tables."""
    body: list[str] = []
    if q.get("citations"):
        rows = [
            [
                _e(c.get("n")),
                _e(c.get("doc_id")),
                _e(_yes_no(c.get("relevant"))),
                _e(_yes_no(c.get("aligned"))),
                _e(c.get("quote")),
            ]
            for c in q["citations"]
        ]
        body.append(
            _html_table(
                ["#", "Document", "Relevant", "Quote verbatim", "Quote"], rows, numeric_from=99
            )
        )
    if q.get("sentences"):
        rows = [
            [
                _e(s.get("text")),
                _e(",".join(map(str, s.get("citations") or []))),
                _e(_yes_no(s.get("faithful"))),
                _e("–" if s.get("support") is None else f"{s['support']:.2f}"),
            ]
            for s in q["sentences"]
        ]
        body.append(
            _html_table(["Sentence", "Cites", "Faithful", "Term support"], rows, numeric_from=99)
        )
    if q.get("retrieved"):
        rows = [
            [
                _e(r.get("rank")),
                _e(r.get("doc_id")),
                _e(r.get("chunk_id")),
                _e(_yes_no(r.get("relevant"))),
            ]
            for r in q["retrieved"]
        ]
        body.append(
            "<p>Retrieved:</p>"
            + _html_table(["Rank", "Document", "Chunk", "Relevant"], rows, numeric_from=99)
        )
    return body


# ----------------------------------------------------------------------------- chart
def render_chart(report: dict[str, Any]) -> bytes:
    """PNG bytes of a grouped bar chart: the main metrics per category plus 'all'."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    by = report.get("by_format") or report.get("by_category", {})
    groups = {"all": report.get("summary", {}), **by}
    names = list(groups)
    metrics = [
        m for m in CHART_METRICS if any(groups[g].get(m) is not None for g in names)
    ] or list(CHART_METRICS[:1])
    fig = Figure(figsize=(max(8.0, 1.3 * len(names) + 3), 4.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(metrics)
    for i, key in enumerate(metrics):
        values = [groups[g].get(key) for g in names]
        xs = [j + (i - (len(metrics) - 1) / 2) * width for j in range(len(names))]
        ax.bar(
            xs,
            [math.nan if v is None else v for v in values],
            width,
            label=METRIC_BY_KEY[key].label,
        )
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (higher is better)")
    cfg = report.get("config", {})
    by_what = "format" if report.get("by_format") else "category"
    ax.set_title(
        f"Metrics by {by_what} — retriever {cfg.get('retriever')}, generator {cfg.get('generator')}"
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        fontsize=8,
        ncol=min(4, len(metrics)),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        frameon=False,
    )
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
