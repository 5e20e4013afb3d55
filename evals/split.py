"""Assign the suite's questions to the dev (tuning) and test (reporting) splits, once.

Run once after questions are written; it only touches questions that have no ``split`` yet, so
the recorded assignment never moves (re-running is a no-op) and new questions get their own
random draw. Stratified per file and per answerable / out-of-scope, so both splits cover every
document and both kinds of question. The draw is seeded (`SEED`) and written into the question
files themselves as ``split: dev`` / ``split: test``:

    python evals/split.py evals/suite/questions/*.yaml
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import yaml

SEED = 20261201  # the day the split was drawn
TEST_SHARE = 0.45  # issue 11 asks for at least 40 % in test
_ID_LINE = re.compile(r"^(?P<indent>\s*)- id:\s*(?P<id>\S+)\s*$")


def assign(path: Path, rng: random.Random) -> int:
    """Write a split into every question of `path` that has none; returns how many."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    todo: dict[bool, list[str]] = {True: [], False: []}
    for q in data["questions"]:
        if "split" not in q:
            todo[bool(q.get("answerable", True))].append(str(q["id"]))
    chosen: dict[str, str] = {}
    for ids in todo.values():
        shuffled = sorted(ids)
        rng.shuffle(shuffled)
        n_test = round(len(shuffled) * TEST_SHARE)
        chosen |= {qid: ("test" if i < n_test else "dev") for i, qid in enumerate(shuffled)}
    if not chosen:
        return 0
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        out.append(line)
        m = _ID_LINE.match(line)
        if m and m["id"].strip("'\"") in chosen:
            out.append(f"{m['indent']}  split: {chosen[m['id'].strip(chr(39) + chr(34))]}")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    check = yaml.safe_load(path.read_text(encoding="utf-8"))
    missing = [q["id"] for q in check["questions"] if "split" not in q]
    if missing:
        raise SystemExit(f"{path}: could not place a split line for {missing} (use block style)")
    return len(chosen)


def main(argv: list[str]) -> int:
    rng = random.Random(SEED)
    for name in sorted(argv):
        n = assign(Path(name), rng)
        print(f"{name}: {n} question(s) assigned")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
