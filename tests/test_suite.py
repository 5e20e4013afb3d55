"""The authored evaluation suite is what it claims to be: broad, split, and checkable.

These guard the instrument itself: a question whose fact is not in its source, a missing split
or a suite that shrank would make every later measurement mean less without any test failing.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from assistant.documents import DOC_TYPES
from assistant.eval_questions import load_question_set
from evals.check_suite import CATEGORIES, check_file

ANSWER_TYPES = {
    "duration",
    "date",
    "number",
    "money",
    "person",
    "list",
    "criteria",
    "definition",
    "yesno",
    "process",
    "comparison",
    "followup",
}


@pytest.fixture(scope="module")
def suite(repo_root: Path) -> dict:
    docs = sorted((repo_root / "evals" / "documents").glob("*/source.md"))
    sets = sorted((repo_root / "evals" / "suite" / "questions").glob("*.yaml"))
    questions = [q for s in sets for q in load_question_set(s).questions]
    return {"docs": docs, "sets": sets, "questions": questions, "root": repo_root}


def _front(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"\A---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, f"{path}: no front matter"
    return yaml.safe_load(match.group(1))


def test_documents_are_many_and_described(suite: dict) -> None:
    assert len(suite["docs"]) >= 10
    words = {}
    for path in suite["docs"]:
        meta = _front(path)
        assert meta.get("title") and meta.get("publisher"), path
        assert meta.get("type") in DOC_TYPES, path
        words[path.parent.name] = len(path.read_text(encoding="utf-8").split())
    assert max(words.values()) >= 7000, "the suite needs one long document (15+ PDF pages)"
    assert any(_front(p).get("chrome") for p in suite["docs"]), "a news item with web chrome"


def test_questions_are_verbatim_against_their_sources(suite: dict) -> None:
    seen: dict = {}
    src = suite["root"] / "evals" / "documents"
    problems = [p for s in suite["sets"] for p in check_file(s, src, seen)]
    assert problems == []


def test_suite_size_split_and_coverage(suite: dict) -> None:
    qs = suite["questions"]
    assert len(qs) >= 300
    oos = [q for q in qs if not q.answerable]
    assert len(oos) >= 60
    assert all(q.split in ("dev", "test") for q in qs), "every question carries its split"
    test_share = sum(q.split == "test" for q in qs) / len(qs)
    assert test_share >= 0.40
    for kind in (True, False):
        group = [q for q in qs if q.answerable is kind]
        assert {q.split for q in group} == {"dev", "test"}
    categories = Counter(q.category for q in qs)
    assert set(categories) <= CATEGORIES
    assert ANSWER_TYPES <= set(categories), ANSWER_TYPES - set(categories)
    assert all(q.history for q in qs if q.category == "followup")
    assert all(len(set(q.sources)) >= 2 for q in qs if q.category == "comparison")


def test_every_document_is_asked_about_in_both_splits(suite: dict) -> None:
    for path in suite["docs"]:
        doc = path.parent.name
        splits = {q.split for q in suite["questions"] if doc in q.sources}
        assert splits == {"dev", "test"}, doc


def test_no_sentence_is_copied_from_the_seed_corpus(suite: dict) -> None:
    """Our own writing: no run of 18 words shared with the real (seed) documents.

    18, not fewer: the statute's own phrasing of a PSED aim ("advance equality of opportunity
    between people who share a protected characteristic and people who do not", 15 words) is a
    fact about law both may state; a copied sentence with its context is longer than that.
    """

    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z0-9']+", text.lower())
        return {tuple(words[i : i + 18]) for i in range(len(words) - 17)}

    seeds: set = set()
    for seed in (suite["root"] / "corpus").glob("*.txt"):
        seeds |= shingles(seed.read_text(encoding="utf-8"))
    for path in suite["docs"]:
        shared = shingles(path.read_text(encoding="utf-8")) & seeds
        assert not shared, f"{path}: {' '.join(next(iter(shared)))}"
