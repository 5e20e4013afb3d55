"""`evals.fact_integrity`: a fact a loader cuts is reported, a whole one is not."""

from __future__ import annotations

from pathlib import Path

from evals.fact_integrity import broken_facts

QUESTIONS = """name: doc
questions:
  - id: q-orientation
    split: dev
    question: Which needs are met?
    sources: [doc]
    facts:
      - sexual orientation
  - id: q-date
    split: test
    question: By when?
    sources: [doc]
    facts:
      - [30 September 2025, 30 Sept 2025]
"""


def test_a_fact_cut_by_the_loader_is_reported(tmp_path: Path) -> None:
    (tmp_path / "md").mkdir()
    (tmp_path / "txt").mkdir()
    (tmp_path / "questions").mkdir()
    (tmp_path / "questions" / "doc.yaml").write_text(QUESTIONS, encoding="utf-8")
    text = "Needs linked to their religion and sexual orientation are met by 30 September 2025."
    (tmp_path / "md" / "doc.md").write_text(f"# Notes\n\n{text}\n", encoding="utf-8")
    (tmp_path / "txt" / "doc.txt").write_text(f"Notes\n\n{text}\n", encoding="utf-8")
    assert broken_facts(tmp_path, "txt", None, tmp_path / "questions") == (2, [])
    (tmp_path / "txt" / "doc.txt").write_text(
        # a word split in two and a date over two blocks: the txt blocks lose both facts
        "Notes\n\nNeeds linked to their religion and sexual orien tation are met by 30\n\n"
        "September 2025.\n",
        encoding="utf-8",
    )
    checked, broken = broken_facts(tmp_path, "txt", None, tmp_path / "questions")
    assert checked == 2 and broken == [
        "q-orientation: sexual orientation",
        "q-date: 30 september 2025",
    ]
    assert broken_facts(tmp_path, "txt", "test", tmp_path / "questions") == (
        1,
        ["q-date: 30 september 2025"],
    )
