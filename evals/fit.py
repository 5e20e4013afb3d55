"""Fit the extractive answer model on the suite's dev split and write `assistant/answer_model.json`.

    python -m evals.fit [--root test-artifacts/suite] [--formats md,txt,...] [--out FILE]

Data: every rendering of the suite (`make suite`), each with its index under ``root/.indexes``
(built here when missing or stale, as the eval runner does), and the **dev** questions only -
the test split is never read, so the figures reported on it stay held out.

1. **Unit weights**: for each answerable dev question, the candidate units of its top passages
   (`assistant.extractive.candidate_units`, the runtime's own code) are labelled by whether
   they state one of the question's facts. A logistic regression over `assistant.units.
   FEATURES` is fitted with its L2 strength chosen by grouped cross-validation (folds by
   source document, so a weight must carry over to a document it was not fitted on); the
   criterion is how often the best-scored unit states a fact (the answer's lead).
2. **Refusal**: a logistic model over `assistant.refusal.FEATURES` (answerable against
   out-of-scope dev questions), its threshold the highest refusal recall at which it refuses at
   most `MAX_FALSE_REFUSAL` of answerable ones.
3. **Selection operating points** (`keep_margin`, `char_budget`, `rerank`) are then chosen by
   running the real pipeline over the dev split of every rendered format (`evaluate_dev`),
   grid-searched (``--select-formats`` narrows it).

Everything it chose, the grid, the data (question-set hash, formats, counts) and the dev
figures go into the file's ``provenance``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.eval_metrics import fact_present
from assistant.eval_questions import Question, load_question_set
from assistant.text import normalise
from assistant.units import FEATURES, feature_vector

DEFAULT_ROOT = Path("test-artifacts/suite")
SETS = sorted(Path("evals/suite/questions").glob("*.yaml"))
CANDIDATE_K = 5  # the passages an answer is composed from (Settings.k)


@dataclass
class Sample:
    """One dev question's candidate units: features, labels, and what to group folds by."""

    qid: str
    fmt: str
    doc: str
    answer_type: str
    x: np.ndarray
    y: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


def dev_questions(sets: list[Path]) -> list[Question]:
    return [
        q
        for path in sets
        for q in load_question_set(path).questions
        if q.split == "dev" and q.mode == "answer"
    ]


def questions_hash(sets: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sets:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def open_format(root: Path, fmt: str) -> Any:
    """An `Assistant` over one rendering's index (built or brought up to date first)."""
    from assistant.answer import Assistant
    from assistant.index import build_index
    from assistant.settings import load_settings

    settings = load_settings(
        corpus_dir=(root / fmt).resolve(),
        index_dir=(root / ".indexes" / fmt).resolve(),
        trace=False,
    )
    build_index(settings)
    return Assistant(settings)


def unit_samples(assistant: Any, fmt: str, questions: list[Question]) -> list[Sample]:
    """Candidate units with features and fact labels for each answerable question."""
    from assistant.chat import parse_history, rewrite_without_llm
    from assistant.extractive import candidate_units

    samples: list[Sample] = []
    for q in questions:
        if not q.answerable or not q.facts:
            continue
        turns = parse_history(q.history or None)
        query = rewrite_without_llm(q.question, turns) if turns else q.question
        analysis = assistant.analyse(query, q.question if query != q.question else "")
        hits = assistant.retriever.search(query, k=CANDIDATE_K).hits
        units = candidate_units(
            analysis, hits, assistant.retriever.index, assistant.retriever.embedder
        )
        if not units:
            continue
        labels = [
            any(fact_present(f, normalise(u.text)) for f in q.facts) and u.doc_id in q.sources
            for u in units
        ]
        samples.append(
            Sample(
                q.id,
                fmt,
                q.sources[0],
                analysis.answer_type,
                np.stack([feature_vector(u) for u in units]),
                np.array(labels, dtype=np.float64),
            )
        )
    return samples


def _loss(w: np.ndarray, samples: list[Sample], l2: float) -> tuple[float, np.ndarray]:
    """Listwise (softmax) log-loss: each question's fact-stating units against all its units."""
    loss = 0.5 * l2 * float(w @ w)
    grad = l2 * w
    for s in samples:
        z = s.x @ w
        z = z - z.max()
        e = np.exp(z)
        p_all = e / e.sum()
        pos = s.y > 0
        p_pos = e[pos] / e[pos].sum()
        loss -= float(np.log(e[pos].sum() / e.sum()))
        grad = grad - (p_pos @ s.x[pos]) + (p_all @ s.x)
    return loss, grad


def fit_listwise(samples: list[Sample], l2: float) -> np.ndarray:
    """Weights maximising the softmax likelihood of the fact-stating units (L-BFGS)."""
    from scipy.optimize import minimize

    scored = [s for s in samples if s.y.any()]
    w0 = np.zeros(len(FEATURES))
    result = minimize(_loss, w0, args=(scored, l2), jac=True, method="L-BFGS-B")
    return result.x


def lead_rate(samples: list[Sample], w: np.ndarray) -> float:
    """Share of questions (with a fact-bearing candidate) whose best-scored unit states a fact."""
    scored = [s for s in samples if s.y.any()]
    if not scored:
        return 0.0
    return sum(bool(s.y[int(np.argmax(s.x @ w))]) for s in scored) / len(scored)


def grouped_cv(samples: list[Sample], l2_grid: list[float]) -> dict[float, float]:
    """Lead rate on held-out documents for each L2 strength (one fold per source document)."""
    docs = sorted({s.doc for s in samples})
    out: dict[float, float] = {}
    for l2 in l2_grid:
        good = total = 0.0
        for doc in docs:
            held = [s for s in samples if s.doc == doc and s.y.any()]
            w = fit_listwise([s for s in samples if s.doc != doc], l2)
            good += lead_rate(held, w) * len(held)
            total += len(held)
        out[l2] = good / max(total, 1)
    return out


def refusal_samples(assistant: Any, questions: list[Question]) -> list[tuple[np.ndarray, int]]:
    """Question-level refusal features with the label answerable (1) or out of scope (0)."""
    from assistant.chat import parse_history, rewrite_without_llm
    from assistant.refusal import FEATURES as REFUSAL_FEATURES
    from assistant.refusal import refusal_features

    out = []
    for q in questions:
        turns = parse_history(q.history or None)
        query = rewrite_without_llm(q.question, turns) if turns else q.question
        analysis = assistant.analyse(query, q.question if query != q.question else "")
        result = assistant.retriever.search(query, k=CANDIDATE_K)
        units = assistant._units(analysis, result.hits)
        names = assistant.document_names(analysis.question)
        feats = refusal_features(analysis, result.hits, result.max_dense, units, names)
        out.append((np.array([feats[k] for k in REFUSAL_FEATURES]), int(q.answerable)))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (weights, then the bias last)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -50, 50)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return w


def refusal_curve(p: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
    """Refusal precision and recall (out-of-scope questions refused) and the false-refusal
    rate (answerable ones refused) when declining below each threshold."""
    rows = []
    for t in np.round(np.arange(0.05, 0.96, 0.05), 2):
        refused = p < t
        oos = y == 0
        n_ref = int(refused.sum())
        rows.append(
            {
                "threshold": float(t),
                "precision": round(float((refused & oos).sum() / n_ref), 4) if n_ref else 1.0,
                "recall": round(float((refused & oos).sum() / max(oos.sum(), 1)), 4),
                "false_refusal": round(float((refused & ~oos).sum() / max((~oos).sum(), 1)), 4),
            }
        )
    return rows


# The refusal operating point: the most out-of-scope questions refused while the model alone
# refuses at most this share of answerable dev questions (verification can refuse a few more;
# the suite gate allows 0.04 in all).
MAX_FALSE_REFUSAL = 0.02


def evaluate_dev(runners: list[Any], questions: list[Question], model: Any) -> dict[str, Any]:
    """The real pipeline's dev summary with `model` in place (fact recall, lead, fragments)."""
    from assistant.eval_metrics import summarise
    from assistant.refusal import RefusalModel

    rows = []
    for runner in runners:
        runner.assistant.model = model
        runner.assistant.refusal = RefusalModel.from_dict(model.refusal)
        rows += [runner.answer(q) for q in questions]
    return summarise(rows)


def _objective(summary: dict[str, Any]) -> float:
    """What the selection grid maximises: fact recall plus leading with a fact, with
    fragments and mixed-document answers as penalties."""
    get = lambda k: summary.get(k) or 0.0  # noqa: E731
    return (
        get("fact_recall")
        + get("lead_hit")
        - get("fragment_rate")
        - 0.25 * get("mixed_document_rate")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--formats", default="", help="comma-separated (default: all rendered)")
    parser.add_argument(
        "--select-formats",
        default="",
        help="formats the selection grid runs on (default: all; about 40 s a grid point for six)",
    )
    parser.add_argument("--out", type=Path, default=Path("assistant/answer_model.json"))
    parser.add_argument(
        "--refusal-only",
        action="store_true",
        help="refit only the refusal model, keeping the unit weights and selection points of "
        "--out (about 1 min instead of 10): for a change to the refusal signals alone",
    )
    args = parser.parse_args(argv)
    if args.refusal_only:
        return refit_refusal(args, argv)
    from dataclasses import replace

    from assistant.eval_runner import _Runner, format_corpora
    from assistant.extractive import load_answer_model

    formats = [f for f in args.formats.split(",") if f] or format_corpora(args.root)
    questions = dev_questions(SETS)
    t0 = time.perf_counter()
    samples: list[Sample] = []
    refusals: list[tuple[np.ndarray, int]] = []
    assistants = {}
    for fmt in formats:
        assistant = open_format(args.root, fmt)
        assistants[fmt] = assistant
        got = unit_samples(assistant, fmt, questions)
        log(f"{fmt}: {len(got)} questions, {sum(len(s.y) for s in got)} units")
        samples += got
    # 1. unit weights
    l2_grid = [0.01, 0.1, 1.0, 10.0]
    cv = grouped_cv(samples, l2_grid)
    l2 = max(l2_grid, key=lambda v: (round(cv[v], 3), v))
    w = fit_listwise(samples, l2)
    weights = {k: round(float(v), 4) for k, v in zip(FEATURES, w, strict=True)}
    log(f"unit weights: l2 {l2}, held-out-document lead rate {cv[l2]:.3f}; {weights}")
    base = load_answer_model(
        args.out if args.out.is_file() else Path("assistant/answer_model.json")
    )
    base = replace(base, weights=weights)
    for assistant in assistants.values():
        assistant.model = base  # refusal's unit_score reads the fitted unit weights
        refusals += refusal_samples(assistant, questions)
    # 2. refusal
    refusal, curve, point = fit_refusal(refusals)
    # 3. selection operating points, on the real pipeline
    base = replace(base, refusal=refusal)
    select = [f for f in args.select_formats.split(",") if f in assistants] or list(assistants)
    runners = []
    for fmt in select:
        runner = _Runner(assistants[fmt].settings, "hybrid", "extractive", CANDIDATE_K)
        runners.append(runner)
    grid = []
    for margin in (1.0, 2.0, 3.0, 4.0, 6.0):
        for budget in (600, 900, 1200):
            model = replace(base, keep_margin=margin, char_budget=budget, rerank=True)
            summary = evaluate_dev(runners, questions, model)
            grid.append(
                {"keep_margin": margin, "char_budget": budget, "rerank": True, **_brief(summary)}
            )
            log(f"  {grid[-1]}")
    best = max(grid, key=lambda g: g["objective"])
    model = replace(
        base, keep_margin=best["keep_margin"], char_budget=best["char_budget"], rerank=False
    )
    summary = evaluate_dev(runners, questions, model)
    grid.append(
        {
            "keep_margin": best["keep_margin"],
            "char_budget": best["char_budget"],
            "rerank": False,
            **_brief(summary),
        }
    )
    log(f"  {grid[-1]}")
    # rerank is kept unless it costs answer quality: it only reorders the passages, so the
    # answer metrics should tie while hit@1 rises
    with_rerank, without = best, grid[-1]
    chosen = with_rerank if with_rerank["objective"] >= without["objective"] - 0.005 else without
    model = replace(
        base,
        keep_margin=chosen["keep_margin"],
        char_budget=chosen["char_budget"],
        rerank=chosen["rerank"],
    )
    provenance = {
        "command": "python -m evals.fit " + " ".join(argv if argv is not None else sys.argv[1:]),
        "fitted": time.strftime("%Y-%m-%d", time.gmtime()),
        "data": {
            "split": "dev",
            "question_sets_sha256": questions_hash(SETS),
            "formats": formats,
            "unit_questions": len(samples),
            "units": int(sum(len(s.y) for s in samples)),
            "refusal_questions": len(refusals),
            "selection_formats": select,
        },
        "unit_fit": {
            "method": "listwise softmax, L-BFGS",
            "l2_grid": l2_grid,
            "held_out_document_lead_rate": {str(k): round(v, 4) for k, v in cv.items()},
            "l2": l2,
        },
        "refusal_fit": {
            "method": "logistic, Newton, l2 1.0",
            "max_false_refusal": MAX_FALSE_REFUSAL,
            "curve": curve,
            "operating_point": point,
        },
        "selection_grid": grid,
        "max_items": "not fitted: a list shows at most this many items and the answer's notice "
        "says how many the list has",
    }
    # the operating points chosen by their own dev grids stay, with their provenance
    for key in (
        "signpost_grid",
        "complete_grid",
        "head_label_grid",
        "whole_table_grid",
        "antecedent_grid",
    ):
        if key in base.provenance:
            provenance[key] = base.provenance[key]
    model = replace(model, provenance=provenance)
    args.out.write_text(json.dumps(model.as_dict(), indent=1) + "\n", encoding="utf-8")
    log(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s; chosen {chosen}")
    return 0


def fit_refusal(
    refusals: list[tuple[np.ndarray, int]],
) -> tuple[dict[str, Any], list[dict[str, float]], dict[str, float]]:
    """The refusal model (weights, bias, threshold), its dev curve and operating point."""
    from assistant.refusal import FEATURES as REFUSAL_FEATURES

    rx = np.stack([x for x, _ in refusals])
    ry = np.array([y for _, y in refusals], dtype=np.float64)
    rw = fit_logistic(rx, ry, 1.0)
    rp = 1.0 / (1.0 + np.exp(-(rx @ rw[:-1] + rw[-1])))
    curve = refusal_curve(rp, ry)
    ok = [row for row in curve if row["false_refusal"] <= MAX_FALSE_REFUSAL]
    point = max(ok, key=lambda row: (row["recall"], -row["threshold"])) if ok else curve[0]
    refusal = {
        "weights": {k: round(float(v), 4) for k, v in zip(REFUSAL_FEATURES, rw, strict=False)},
        "bias": round(float(rw[-1]), 4),
        "threshold": point["threshold"],
    }
    log(f"refusal: {refusal}; operating point {point}")
    return refusal, curve, point


def refit_refusal(args: argparse.Namespace, argv: list[str] | None) -> int:
    """`--refusal-only`: the refusal model refitted over the committed unit weights; the
    file's other provenance stays, with this refit recorded beside it."""
    from dataclasses import replace

    from assistant.eval_runner import format_corpora
    from assistant.extractive import load_answer_model

    t0 = time.perf_counter()
    formats = [f for f in args.formats.split(",") if f] or format_corpora(args.root)
    questions = dev_questions(SETS)
    base = load_answer_model(args.out)
    refusals: list[tuple[np.ndarray, int]] = []
    for fmt in formats:
        assistant = open_format(args.root, fmt)
        assistant.model = base
        refusals += refusal_samples(assistant, questions)
    refusal, curve, point = fit_refusal(refusals)
    provenance = dict(base.provenance)
    provenance["refusal_fit"] = {
        "method": "logistic, Newton, l2 1.0",
        "command": "python -m evals.fit " + " ".join(argv if argv is not None else sys.argv[1:]),
        "fitted": time.strftime("%Y-%m-%d", time.gmtime()),
        "over_unit_weights_of": provenance.get("fitted", ""),
        "question_sets_sha256": questions_hash(SETS),
        "formats": formats,
        "refusal_questions": len(refusals),
        "max_false_refusal": MAX_FALSE_REFUSAL,
        "curve": curve,
        "operating_point": point,
    }
    model = replace(base, refusal=refusal, provenance=provenance)
    args.out.write_text(json.dumps(model.as_dict(), indent=1) + "\n", encoding="utf-8")
    log(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


def _brief(summary: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "fact_recall",
        "lead_hit",
        "fragment_rate",
        "mixed_document_rate",
        "hit@1",
        "refusal_accuracy",
        "false_refusal_rate",
    )
    out = {k: round(summary[k], 4) if summary.get(k) is not None else None for k in keys}
    return out | {"objective": round(_objective(summary), 4)}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
