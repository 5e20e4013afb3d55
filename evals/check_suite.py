"""Check suite question files against the suite's sources before any run.

Catches authoring slips that would otherwise look like pipeline failures: an evidence string
that is not verbatim inside one block of its source, a fact that the source never states, a
duplicate id, an unknown category. Usage:

    python evals/check_suite.py evals/suite/questions/*.yaml [--src evals/documents]

Exit status 1 when any problem is found; each problem names the file, question id and field.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from assistant.eval_metrics import fact_present
from assistant.text import normalise

CATEGORIES = frozenset(
    "duration date number money person list criteria definition yesno process comparison "
    "followup out-of-scope".split()
)
_FRONT = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_MARKER = re.compile(r"^\s*(?:#+\s+|>\s*|[-*+]\s+|\d+[.)]\s+)")


def source_blocks(path: Path) -> list[str]:
    """One normalised string per paragraph, item, quote, heading or table cell of a source."""
    body = _FRONT.sub("", path.read_text(encoding="utf-8"))
    blocks: list[str] = []
    for line in body.splitlines():
        if not line.strip() or re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line):
            continue
        if line.lstrip().startswith("|"):
            # one block per cell: how a row's cells are joined differs per format and loader
            blocks.extend(normalise(c) for c in line.strip().strip("|").split("|") if c.strip())
            continue
        blocks.append(normalise(_MARKER.sub("", line)))
    return blocks


def check_file(path: Path, src: Path, seen: dict[str, Path]) -> list[str]:
    """Problems found in one question file (empty when it is clean)."""
    problems: list[str] = []
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for q in data.get("questions", []):
        qid = q.get("id", "?")

        def fail(field: str, msg: str, qid: str = qid) -> None:
            problems.append(f"{path}: {qid}: {field}: {msg}")

        if qid in seen:
            fail("id", f"duplicate (also in {seen[qid]})")
        seen[qid] = path
        if q.get("category") not in CATEGORIES:
            fail("category", f"unknown category {q.get('category')!r}")
        if not q.get("answerable", True):
            if q.get("facts") or q.get("evidence"):
                fail("facts", "an unanswerable question has no facts or evidence")
            continue
        docs: dict[str, list[str]] = {}
        for doc in q.get("sources") or []:
            source = src / doc / "source.md"
            if not source.exists():
                fail("sources", f"no source {source}")
            else:
                docs[doc] = source_blocks(source)
        if not docs:
            fail("sources", "an answerable question needs sources")
            continue
        blocks = [b for bs in docs.values() for b in bs]
        whole = " ".join(blocks)
        for ev in q.get("evidence") or []:
            if not any(normalise(ev) in b for b in blocks):
                fail("evidence", f"{ev!r} is not inside one block of {sorted(docs)}")
        if not q.get("facts"):
            fail("facts", "an answerable question needs facts")
        for fact in q.get("facts") or []:
            alternatives = [str(a) for a in fact] if isinstance(fact, list) else str(fact)
            if not fact_present(alternatives, whole):  # the runner's own matching rule
                fail("facts", f"{fact!r} is not stated in {sorted(docs)}")
        if q.get("category") == "followup" and not q.get("history"):
            fail("history", "a follow-up needs history")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--src", type=Path, default=Path(__file__).parent / "documents")
    args = parser.parse_args(argv)
    seen: dict[str, Path] = {}
    problems = [p for f in args.files for p in check_file(f, args.src, seen)]
    for p in problems:
        print(p)
    print(f"{len(seen)} questions, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
