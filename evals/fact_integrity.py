"""Facts a format's loader breaks: in the Markdown rendering's blocks, not in another's.

For every question of a split, each fact (any of its alternatives) is looked for in the loaded
blocks of its source documents - paragraphs, list items and table rows, each as one text -
in the Markdown rendering and in the compared one. A fact whole in Markdown but in no block
of the other format was cut by that format's loader (a sentence split at a line end, a date
cut between table cells); the count is what this measures, not answer quality:

    python -m evals.fact_integrity test-artifacts/suite --format txt --split dev
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.blocks import Block
from assistant.eval_metrics import fact_present
from assistant.eval_questions import load_question_set
from assistant.loaders import load_blocks
from assistant.text import normalise

QUESTIONS = Path(__file__).resolve().parent / "suite" / "questions"


def _texts(blocks: list[Block]) -> str:
    """The blocks' units, normalised as the eval matches facts, one per line: a fact must
    sit inside one of them."""
    units: list[str] = []
    for b in blocks:
        if b.kind == "list":
            units += [it.text for it in b.items]
        elif b.kind == "table":
            units += [" ".join(row) for row in b.rows]
        else:
            units.append(b.text)
    return "\n".join(normalise(u) for u in units)


def _corpus(folder: Path) -> dict[str, str]:
    return {
        p.stem: _texts(load_blocks(p).blocks)
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith(".meta.yaml")
    }


def _whole(corpus: dict[str, str], fact: str | list[str], sources: list[str]) -> bool:
    """The fact (or an alternative) as whole words in a source's units (`fact_present`, the
    eval's own test for fact recall)."""
    return any(fact_present(fact, corpus.get(s, "")) for s in sources)


def broken_facts(
    rendered: Path, fmt: str, split: str | None, questions: Path = QUESTIONS
) -> tuple[int, list[str]]:
    """(facts checked, "question-id: fact" for each fact Markdown holds whole and `fmt` not)."""
    md, other = _corpus(rendered / "md"), _corpus(rendered / fmt)
    checked, broken = 0, []
    for path in sorted(questions.glob("*.yaml")):
        qset = load_question_set(path)
        for q in qset.questions:
            if split and q.split != split:
                continue
            sources = [str(s) for s in q.sources] or [qset.name]
            for fact in q.facts:
                checked += 1
                if _whole(md, fact, sources) and not _whole(other, fact, sources):
                    first = fact if isinstance(fact, str) else fact[0]
                    broken.append(f"{q.id}: {normalise(first)}")
    return checked, broken


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rendered", type=Path, help="the folder `evals.render` wrote")
    ap.add_argument("--format", default="txt", help="the rendering compared with md")
    ap.add_argument("--split", choices=["dev", "test"], default=None)
    args = ap.parse_args(argv)
    checked, broken = broken_facts(args.rendered, args.format, args.split)
    for line in broken:
        print(line)
    print(f"{checked} facts checked; {len(broken)} whole in md but in no {args.format} block")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
