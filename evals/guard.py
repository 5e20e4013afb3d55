"""Measure the off-topic refusal guard (`Settings.refusal.min_coverage`) on the seed sets and the
suite's dev split: for each threshold, the share of answerable questions it refuses (false
refusals) and of out-of-scope ones it refuses.

    python -m evals.guard [--root test-artifacts/suite] [--formats md,txt]

Coverage is the share of the question's key words (glossary synonyms as one, words no passage
contains included) found in the top three passages, with the question's names their documents
mention (`refusal.hit_terms`), as `Assistant.weak_evidence` computes it.
The seed index is the project's (``assistant index``); the suite's are built by ``make suite``
and `evals.fit`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from assistant.chat import parse_history, rewrite_without_llm
from assistant.eval_questions import Question, load_question_set
from assistant.refusal import hit_terms
from assistant.text import concept_coverage
from evals import fit

THRESHOLDS = (0.25, 0.34, 0.4, 0.5)


def coverages(assistant: Any, questions: list[Question]) -> list[tuple[bool, float]]:
    """(answerable, key-word coverage of the top three passages) per answer-mode question."""
    out = []
    for q in questions:
        if q.mode != "answer":
            continue
        turns = parse_history(q.history or None)
        query = rewrite_without_llm(q.question, turns) if turns else q.question
        analysis = assistant.analyse(query, q.question if query != q.question else "")
        names = assistant.document_names(analysis.question)
        top: set[str] = set()
        for hit in assistant.retriever.search(query, k=5).hits[:3]:
            top |= hit_terms(hit, names)
        concepts = [c for c, _ in analysis.concepts] + [c for c, _ in analysis.absent]
        out.append((q.answerable, concept_coverage(concepts, top) if concepts else 1.0))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=fit.DEFAULT_ROOT)
    parser.add_argument("--formats", default="md,txt")
    args = parser.parse_args(argv)
    from assistant.answer import Assistant
    from assistant.settings import load_settings

    seed_questions = [
        q
        for p in sorted(Path("evals/questions").glob("*.yaml"))
        for q in load_question_set(p).questions
    ]
    rows = {"seed": coverages(Assistant(load_settings()), seed_questions)}
    for fmt in args.formats.split(","):
        rows[f"suite dev {fmt}"] = coverages(
            fit.open_format(args.root, fmt), fit.dev_questions(fit.SETS)
        )
    print("| data | threshold | false refusals | out-of-scope refused |")
    print("|---|---|---|---|")
    for name, got in rows.items():
        answerable = [c for a, c in got if a]
        oos = [c for a, c in got if not a]
        for t in THRESHOLDS:
            fr = sum(c < t for c in answerable) / max(len(answerable), 1)
            rr = sum(c < t for c in oos) / max(len(oos), 1)
            print(f"| {name} | {t} | {fr:.3f} | {rr:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
