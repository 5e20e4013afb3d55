"""Evaluation runner: metric definitions, question-set validation, gates, reports, and real runs.

Fast tests use hand-made rows and reports; the slow ones run the real pipeline (MiniLM index
shared with the other slow tests) and the naive LangChain-tutorial baseline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from assistant.answer import Answer, Citation, Sentence
from assistant.cli_eval import eval_command
from assistant.evaluation import (
    Question,
    QuestionSetError,
    UnknownMetricError,
    check_fail_under,
    hit_at,
    is_faithful,
    is_relevant,
    load_question_set,
    match_facts,
    mrr_at,
    ndcg_at,
    parse_fail_under,
    percentile,
    quote_aligned,
    run_eval,
    score_answer,
    summarise,
    term_support,
    write_reports,
)
from assistant.report import METRICS, compare_reports

EDI = "cafcass-inspection-framework-edi-statement-2020"
NEWS = "news-ofsted-announces-full-inspection-of-cafcass"
SUMMARY_KEYS = {m.key for m in METRICS} | {"n_questions", "n_answerable", "n_unanswerable"}
EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*https?:|"""
    r"""<script|<link|@import""",
    re.IGNORECASE,
)

SMALL_SET = f"""
name: small
questions:
  - id: aims
    question: What are the three aims of the public sector equality duty?
    category: psed
    sources: [{EDI}]
    evidence: ["due regard to the need to", "foster good relations between persons who share"]
    facts:
      - eliminate discrimination
      - [advance equality of opportunity, advancing equality of opportunity]
  - id: section
    question: Which section of the Equality Act 2010 sets out the PSED?
    category: psed
    sources: [{EDI}]
    evidence: ["set out in section 149 of the Equality Act 2010"]
    facts: [section 149]
  - id: duration
    question: How long does the full inspection of Cafcass take?
    category: process
    sources: [{NEWS}]
    evidence: ["takes place for four weeks"]
    facts: [four weeks]
  - id: passport
    question: How do I renew my passport?
    category: unanswerable
    answerable: false
  - id: review
    history:
      - {{role: user, content: "When will Ofsted start using the new Cafcass arrangements?"}}
      - {{role: assistant, content: "Ofsted intends to implement them from February 2021."}}
    question: And when will they be reviewed?
    category: followup
    sources: [{EDI}]
    evidence: ["formally review the arrangements by December 2021"]
    facts: [December 2021]
"""


def write_set(folder: Path, body: str = SMALL_SET, name: str = "small.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- metrics
def test_ranking_metrics() -> None:
    assert hit_at([], 5) == 0.0 and mrr_at([], 5) == 0.0 and ndcg_at([], 5, 2) == 0.0
    assert hit_at([1], 1) == 1.0 and hit_at([2], 1) == 0.0 and hit_at([5], 5) == 1.0
    assert hit_at([6], 5) == 0.0
    assert mrr_at([3, 4], 5) == pytest.approx(1 / 3)
    assert mrr_at([6], 5) == 0.0
    assert ndcg_at([1], 5, 1) == pytest.approx(1.0)
    # relevant at rank 2 only, one relevant chunk in the corpus: 1/log2(3)
    assert ndcg_at([2], 5, 1) == pytest.approx(0.63093, abs=1e-4)
    # one of two relevant chunks found at rank 1: DCG 1, ideal 1 + 1/log2(3)
    assert ndcg_at([1], 5, 2) == pytest.approx(1 / (1 + 0.63093), abs=1e-4)
    # more relevant retrieved than the corpus count claims never exceeds 1
    assert ndcg_at([1, 2], 5, 1) == pytest.approx(1.0)


def test_relevance_needs_source_and_normalised_evidence() -> None:
    text = "The PSED requires Ofsted to have   DUE regard\nto the need to eliminate discrimination."
    assert is_relevant(EDI, text, [EDI], ["due regard to the need to"])
    assert not is_relevant(NEWS, text, [EDI], ["due regard to the need to"])
    assert not is_relevant(EDI, text, [EDI], ["foster good relations"])
    assert is_relevant(EDI, text, [EDI], [])  # no evidence: any chunk of a source counts
    assert is_relevant(EDI, "Ofsted’s duty", [EDI], ["ofsted's duty"])  # quotes unified


def test_fact_matching_alternatives_normalisation_and_whole_words() -> None:
    facts: list[Any] = [
        "eliminate discrimination",
        ["advance equality of opportunity", "advancing equality of opportunity"],
        "section 149",
        "race",
    ]
    answer = (
        "Ofsted must ELIMINATE   discrimination [1] and keep\nadvancing equality of "
        "opportunity [2]; see section 149 [3]. It embraced diversity."
    )
    found, missed = match_facts(facts, answer)
    assert found == facts[:3]
    assert missed == ["race"]  # "embraced" must not count as "race"
    # a citation marker inside a fact's span does not hide it
    assert match_facts(["due regard to"], "due regard [1] to the need")[1] == []
    assert match_facts([], "anything") == ([], [])


def test_faithfulness_is_independent_of_the_answer_verifier() -> None:
    chunk = "Ofsted will formally review the arrangements by December 2021."
    assert is_faithful("Ofsted will review the arrangements by December 2021.", [chunk])
    assert not is_faithful("Inspectors will audit finances and interview judges.", [chunk])
    assert term_support("It is.", [chunk]) is None  # no content words: not counted
    assert term_support("review arrangements unicorns", [chunk]) == pytest.approx(2 / 3)
    assert quote_aligned("formally  review the\narrangements", chunk)
    assert not quote_aligned("review the plans", chunk)
    assert not quote_aligned("  ", chunk)


def test_score_answer_disagrees_with_verifier_on_invented_sentence() -> None:
    chunk = "Ofsted will formally review the arrangements by December 2021."
    q = Question(
        id="q",
        question="When?",
        set="s",
        sources=[EDI],
        evidence=["formally review"],
        facts=["December 2021", "annually"],
    )
    answer = Answer(
        question="When?",
        answer="Ofsted will review the arrangements by December 2021. [1] "
        "Judges audit spending quarterly. [1]",
        refused=False,
        sentences=[
            Sentence("Ofsted will review the arrangements by December 2021.", [1], True),
            # the answer-time verifier accepted this one; the evaluation must not
            Sentence("Judges audit spending quarterly.", [1], True),
            Sentence("Not shown.", [], False),
        ],
        citations=[
            Citation(
                1, EDI, "t", "s", None, "c1", "formally review the arrangements", 0.9, text=chunk
            )
        ],
        generator="extractive",
        timings_ms={"total": 5.0},
        retrieved=[
            {"chunk_id": "c0", "doc_id": NEWS, "rank": 1, "score": 1.0},
            {"chunk_id": "c1", "doc_id": EDI, "rank": 2, "score": 0.5},
        ],
    )
    texts = {"c0": "Four weeks.", "c1": chunk}
    row = score_answer(q, answer, texts.get, n_relevant=1, latency_ms=12.34)
    assert row["relevant_ranks"] == [2]
    assert (row["hit@1"], row["hit@5"], row["rr@5"]) == (0.0, 1.0, 0.5)
    assert row["n_sentences_checked"] == 2 and row["n_faithful"] == 1
    assert row["n_citations"] == 1 and row["n_relevant_citations"] == 1 and row["n_aligned"] == 1
    assert row["facts_missed"] == ["annually"] and row["fact_recall"] == 0.5
    assert row["latency_ms"] == 12.3


def row(**values: Any) -> dict[str, Any]:
    """A hand-made per-question row with neutral defaults."""
    base: dict[str, Any] = {
        "id": "q",
        "set": "s",
        "category": "general",
        "question": "?",
        "answerable": True,
        "refused": False,
        "hit@1": 1.0,
        "hit@5": 1.0,
        "rr@5": 1.0,
        "ndcg@5": 1.0,
        "n_citations": 1,
        "n_relevant_citations": 1,
        "n_quotes": 1,
        "n_aligned": 1,
        "n_sentences_checked": 1,
        "n_faithful": 1,
        "facts": ["a"],
        "facts_found": ["a"],
        "facts_missed": [],
        "fact_recall": 1.0,
        "latency_ms": 100.0,
        "error": None,
    }
    base.update(values)
    return base


def test_summarise_hand_made_rows() -> None:
    rows = [
        row(id="a", latency_ms=100.0),
        row(
            id="b",
            **{"hit@1": 0.0, "rr@5": 0.5, "ndcg@5": 0.6},
            n_citations=3,
            n_relevant_citations=1,
            facts=["x", "y"],
            facts_found=["x"],
            latency_ms=300.0,
        ),
        row(
            id="c",
            refused=True,
            **{"hit@1": 0.0, "hit@5": 0.0, "rr@5": 0.0, "ndcg@5": 0.0},
            n_citations=0,
            n_relevant_citations=0,
            n_quotes=0,
            n_aligned=0,
            n_sentences_checked=0,
            n_faithful=0,
            facts=["z"],
            facts_found=[],
            latency_ms=200.0,
        ),
        row(
            id="u1",
            answerable=False,
            refused=True,
            **{"hit@1": None, "hit@5": None},
            n_citations=0,
            n_relevant_citations=0,
            n_quotes=0,
            n_aligned=0,
            n_sentences_checked=0,
            n_faithful=0,
            facts=[],
            facts_found=[],
            latency_ms=50.0,
        ),
        row(
            id="u2",
            answerable=False,
            refused=False,
            n_sentences_checked=2,
            n_faithful=1,
            n_quotes=2,
            n_aligned=1,
            facts=[],
            facts_found=[],
            latency_ms=400.0,
        ),
    ]
    s = summarise(rows)
    assert SUMMARY_KEYS <= set(s)
    assert s["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["mrr@5"] == 0.5
    assert s["citation_precision"] == 0.5  # (1 + 1) / (1 + 3), refused answer excluded
    assert s["citation_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["fact_recall"] == 0.5  # micro: 2 of 4 fact items
    assert s["faithfulness"] == 0.75  # 3 of 4 shown sentences, unanswerable answers included
    assert s["quoted_span_alignment"] == 0.75
    assert s["refusal_accuracy"] == 0.5 and s["false_refusal_rate"] == pytest.approx(0.3333)
    assert s["latency_ms_p50"] == 200.0 and s["latency_ms_p95"] == 380.0
    assert (s["n_questions"], s["n_answerable"], s["n_unanswerable"]) == (5, 3, 2)
    assert summarise([row(answerable=False, refused=True)])["hit@1"] is None
    assert percentile([], 50) is None and percentile([7.0], 95) == 7.0


# ----------------------------------------------------------------------------- gates
def test_check_fail_under_names_every_failing_metric_and_latency_direction() -> None:
    summary = {
        "hit@1": 0.4,
        "hit@5": 0.9,
        "fact_recall": 0.5,
        "latency_ms_p95": 812.0,
        "latency_ms_p50": 90.0,
        "false_refusal_rate": 0.2,
        "refusal_accuracy": None,
    }
    bounds = parse_fail_under(
        [
            "hit@1=0.5",
            "hit@5=0.8",
            "fact_recall=0.6",
            "latency_ms_p95=500",
            "latency_ms_p50=100",
            "false_refusal_rate=0.1",
            "refusal_accuracy=0.9",
        ]
    )
    failures = check_fail_under(summary, bounds)
    text = "\n".join(failures)
    assert len(failures) == 5
    for name in (
        "hit@1",
        "fact_recall",
        "latency_ms_p95",
        "false_refusal_rate",
        "refusal_accuracy",
    ):
        assert name in text
    assert "hit@5" not in text and "latency_ms_p50" not in text
    assert "above the maximum 500" in text and "not measured" in text
    assert check_fail_under(summary, {"hit@5": 0.9}) == []  # equal to the bound passes


def test_fail_under_rejects_unknown_metric_and_bad_values() -> None:
    with pytest.raises(UnknownMetricError, match="hit@3.*known metrics: hit@1"):
        parse_fail_under(["hit@3=0.5"])
    with pytest.raises(UnknownMetricError):
        check_fail_under({}, {"accuracy": 0.5})
    with pytest.raises(ValueError, match="METRIC=VALUE"):
        parse_fail_under(["hit@1"])
    with pytest.raises(ValueError, match="not a number"):
        parse_fail_under(["hit@1=high"])


def test_eval_command_usage_errors_exit_2_before_loading_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_set(tmp_path)
    assert eval_command([good], out=tmp_path / "o", fail_under=["recall@9=1"]) == 2
    assert "recall@9" in capsys.readouterr().err
    bad = write_set(tmp_path, "questions:\n  - id: x\n", "bad.yaml")
    assert eval_command([good, bad], out=tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "'question'" in err
    assert eval_command([good], out=tmp_path / "o", compare=tmp_path / "none.json") == 2
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- sets
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("questions:\n  - id: q1\n    sources: [d]\n", ["q1", "'question'"]),
        (
            "questions:\n  - id: q1\n    question: Hi?\n    answerable: maybe\n    sources: [d]\n",
            ["q1", "'answerable'", "maybe"],
        ),
        (
            "questions:\n  - {id: q1, question: 'A?', sources: [d]}\n"
            "  - {id: q1, question: 'B?', sources: [d]}\n",
            ["q1", "'id'", "duplicate"],
        ),
        (
            "questions:\n  - id: q1\n    question: A?\n    sources: [d]\n    history:\n"
            "      - {role: system, content: hi}\n",
            ["q1", "'history'", "system"],
        ),
        ("questions:\n  - id: q1\n    question: A?\n", ["q1", "'sources'"]),
        (
            "questions:\n  - id: q1\n    question: A?\n    sources: [d]\n    facts: [[]]\n",
            ["q1", "'facts'"],
        ),
        ("questions:\n  - question: A?\n    sources: [d]\n", ["#1", "'id'"]),
        ("name: x\n", ["'questions'"]),
        ("questions: [\n", ["not valid YAML"]),
    ],
)
def test_malformed_set_errors_name_file_question_and_field(
    tmp_path: Path, body: str, expected: list[str]
) -> None:
    path = write_set(tmp_path, body, "broken-set.yaml")
    with pytest.raises(QuestionSetError) as info:
        load_question_set(path)
    message = str(info.value)
    assert "broken-set.yaml" in message
    for part in expected:
        assert part in message


def test_defaults_and_unanswerable_without_sources(tmp_path: Path) -> None:
    path = write_set(
        tmp_path, "questions:\n  - {id: 7, question: ' Hi? ', answerable: false}\n", "defaults.yaml"
    )
    qs = load_question_set(path)
    assert qs.name == "defaults"
    q = qs.questions[0]
    assert (q.id, q.question, q.category, q.answerable, q.sources, q.facts, q.history) == (
        "7",
        "Hi?",
        "general",
        False,
        [],
        [],
        [],
    )


def test_unknown_field_is_an_error_naming_it(tmp_path: Path) -> None:
    """A misspelt key would silently score against nothing; the model forbids extras."""
    path = write_set(
        tmp_path,
        "questions:\n  - {id: q7, question: 'Hi?', sources: [d], evidnce: [x]}\n",
        "typo.yaml",
    )
    with pytest.raises(QuestionSetError) as info:
        load_question_set(path)
    assert all(part in str(info.value) for part in ("typo.yaml", "q7", "'evidnce'", "unknown"))


def test_split_field_is_validated(tmp_path: Path) -> None:
    body = (
        "questions:\n  - {id: a, question: 'A?', sources: [d], split: dev}"
        "\n  - {id: b, question: 'B?', sources: [d], split: test}\n"
    )
    good = write_set(tmp_path, body, "s.yaml")
    assert [q.split for q in load_question_set(good).questions] == ["dev", "test"]
    bad = write_set(
        tmp_path,
        "questions:\n  - {id: c, question: 'C?', sources: [d], split: tune}\n",
        "bad-split.yaml",
    )
    with pytest.raises(QuestionSetError, match=r"bad-split\.yaml: question 'c': field 'split'"):
        load_question_set(bad)


def test_jsonl_set_loads_like_yaml(tmp_path: Path) -> None:
    yaml_set = load_question_set(write_set(tmp_path, SMALL_SET, "small.yaml"))
    lines = [
        json.dumps({k: v for k, v in vars(q).items() if k != "set"}) for q in yaml_set.questions
    ]
    jsonl = tmp_path / "jsonl" / "small.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n", "utf-8")
    loaded = load_question_set(jsonl)
    assert loaded.name == "small"  # the file stem
    assert loaded.questions == yaml_set.questions
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + "\n{not json\n", encoding="utf-8")
    with pytest.raises(QuestionSetError, match=r"bad\.jsonl: line 2"):
        load_question_set(bad)


def test_shipped_sets_are_valid(repo_root: Path) -> None:
    paths = sorted((repo_root / "evals" / "questions").glob("*.yaml"))
    assert paths
    total = sum(len(load_question_set(p).questions) for p in paths)
    assert total >= 100


# ----------------------------------------------------------------------------- reports
def fake_report(**summary: Any) -> dict[str, Any]:
    base = {m.key: 0.5 for m in METRICS} | {
        "latency_ms_p50": 100.0,
        "latency_ms_p95": 300.0,
        "n_questions": 2,
        "n_answerable": 1,
        "n_unanswerable": 1,
        "n_errors": 0,
    }
    base.update(summary)
    question = row(
        id="x<y",
        question="<script>alert('x')</script> & http://example.org/",
        answer="See <b>here</b> [1]",
        facts=["a", ["b", "c"]],
        facts_found=["a"],
        facts_missed=[["b", "c"]],
        fact_recall=0.5,
        relevant_ranks=[1],
        citations=[
            {
                "n": 1,
                "doc_id": EDI,
                "chunk_id": "c1",
                "quote": "<i>q</i>",
                "relevant": True,
                "aligned": True,
            }
        ],
        sentences=[
            {"text": "See here", "citations": [1], "faithful": True, "support": 1.0},
            {"text": "ok", "citations": [1], "faithful": None, "support": None},
        ],
        retrieved=[{"rank": 1, "doc_id": EDI, "chunk_id": "c1", "relevant": True}],
        history=[{"role": "user", "content": "<earlier>"}],
    )
    unanswerable = row(id="u", answerable=False, refused=True, category="unanswerable")
    return {
        "config": {
            "retriever": "hybrid",
            "generator": "extractive",
            "k": 5,
            "sets": [{"name": "s", "path": "s.yaml", "n": 2}],
            "timestamp": "now",
            "index": {"generation": "g1", "chunks": 3},
        },
        "summary": base,
        "by_category": {
            "general": dict(base),
            "unanswerable": {"refusal_accuracy": 1.0, "n_questions": 1},
        },
        "questions": [question, unanswerable],
        "warnings": ["s/x: fact <z> never occurs"],
    }


def test_write_reports_escapes_html_and_compares(tmp_path: Path) -> None:
    old = fake_report()
    new = fake_report(**{"hit@1": 0.75, "latency_ms_p95": 400.0})
    new["questions"][0].update(fact_recall=0.0, **{"hit@5": 0.0})
    new["questions"][1].update(refused=False)
    paths = write_reports(new, tmp_path / "out", compare=old)
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html", "chart.png"]
    assert all(p.is_file() for p in paths)
    assert paths[3].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = paths[2].read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>here</b>" not in page and "&lt;earlier&gt;" in page
    assert not EXTERNAL.search(page)
    assert page.count("<details>") == 2
    data = json.loads(paths[0].read_text(encoding="utf-8"))
    delta = data["comparison"]["summary"]
    assert delta["hit@1"] == {"old": 0.5, "new": 0.75, "delta": 0.25}
    assert delta["latency_ms_p95"]["delta"] == 100.0
    worse = {w["id"]: w["reasons"] for w in data["comparison"]["worse"]}
    assert any("fact recall dropped" in r for r in worse["x<y"])
    assert any("top 5" in r for r in worse["x<y"])
    assert any("should refuse" in r for r in worse["u"])
    md = paths[1].read_text(encoding="utf-8")
    assert "| Hit@1 | 0.500 | 0.750 | +0.250 ▲ |" in md
    assert "▼" in md  # latency rose: shown as worse
    assert "Questions that got worse" in md and "Questions that got worse" in page


def test_compare_marks_newly_refused() -> None:
    old, new = fake_report(), fake_report()
    new["questions"][0]["refused"] = True
    comparison = compare_reports(old, new)
    assert comparison["worse"] and "newly refused" in comparison["worse"][0]["reasons"]
    assert comparison["note"] == "" and comparison["matched_questions"] == 2
    new["questions"].append(row(id="extra"))
    assert "share 2 questions" in compare_reports(old, new)["note"]


# ----------------------------------------------------------------------------- real runs
@pytest.fixture
def hash_index(hash_settings: Any) -> Any:
    from assistant.index import build_index

    build_index(hash_settings)
    return hash_settings


def test_run_eval_end_to_end_with_hash_embedder(hash_index: Any, tmp_path: Path) -> None:
    """The whole runner on the fast deterministic embedder (no model load)."""
    small = write_set(tmp_path / "sets")
    traced = hash_index.with_overrides(trace=True, trace_dir=tmp_path / "logs")
    report = run_eval(traced, [small], retriever="hybrid")
    assert report["summary"]["n_questions"] == 5 and report["summary"]["n_errors"] == 0
    assert report["config"]["index"]["generation"]
    assert {r["id"] for r in report["questions"]} == {
        "aims",
        "section",
        "duration",
        "passport",
        "review",
    }
    followup = next(r for r in report["questions"] if r["id"] == "review")
    assert followup["rewritten_query"] != followup["question"]  # history was used
    assert not (tmp_path / "logs").exists()  # evaluation questions are not user traffic
    retrieval = run_eval(hash_index, [small], retriever="bm25", retrieval_only=True)
    assert retrieval["summary"]["fact_recall"] is None
    assert retrieval["summary"]["hit@5"] is not None


def test_run_by_format_runs_every_rendering_on_its_own_index(
    hash_settings: Any, tmp_path: Path
) -> None:
    """Two renderings of the seeds, one index each; the same questions on both, rows tagged."""
    import shutil

    from assistant.eval_runner import run_by_format

    root = tmp_path / "rendered"
    for fmt in ("a", "b"):
        shutil.copytree(hash_settings.corpus, root / fmt)
    seen: list[tuple[str, str]] = []
    small = write_set(tmp_path / "sets")
    report = run_by_format(
        hash_settings, [small], root, on_format=lambda f, stage: seen.append((f, stage))
    )
    assert seen == [("a", "indexing"), ("a", "asking"), ("b", "indexing"), ("b", "asking")]
    assert (root / ".indexes" / "a").is_dir() and (root / ".indexes" / "b").is_dir()
    assert sorted(report["by_format"]) == ["a", "b"]
    assert report["summary"]["n_questions"] == 10
    assert {r["format"] for r in report["questions"]} == {"a", "b"}
    assert set(report["config"]["by_format"]["formats"]) == {"a", "b"}
    same = {(r["id"], r["answer"]) for r in report["questions"] if r["format"] == "a"}
    assert same == {(r["id"], r["answer"]) for r in report["questions"] if r["format"] == "b"}


@pytest.mark.slow
def test_real_run_reports_and_naive_baseline(minilm_index: Any, tmp_path: Path) -> None:
    small = write_set(tmp_path / "sets")
    seen: list[tuple[int, int]] = []
    report = run_eval(
        minilm_index,
        [small],
        retriever="hybrid",
        progress=lambda done, total, _label: seen.append((done, total)),
    )
    assert seen[-1] == (5, 5)
    summary = report["summary"]
    assert SUMMARY_KEYS <= set(summary)
    assert summary["n_answerable"] == 4 and summary["n_unanswerable"] == 1
    assert summary["n_errors"] == 0
    assert summary["hit@5"] is not None and summary["hit@5"] >= 0.5
    assert summary["refusal_accuracy"] is not None and summary["fact_recall"] is not None

    paths = write_reports(report, tmp_path / "out")
    assert all(p.is_file() for p in paths)
    assert (tmp_path / "out" / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert not EXTERNAL.search(page)
    assert page.count("<details>") == 5
    saved = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert SUMMARY_KEYS <= set(saved["summary"])
    assert set(saved) >= {"config", "summary", "by_category", "questions"}

    naive = run_eval(minilm_index, [small], retriever="naive")
    assert naive["config"]["generator"] == "naive-top-chunk"
    assert naive["config"]["index"]["collection"].startswith("naive-baseline-")
    for key in ("hit@1", "hit@5", "mrr@5", "ndcg@5"):
        assert naive["summary"][key] is not None
    assert naive["summary"]["refusal_accuracy"] == 0.0  # the tutorial pipeline never refuses
    assert all(r["citations"] and r["citations"][0]["aligned"] for r in naive["questions"])


@pytest.mark.slow
def test_hybrid_beats_naive_on_shipped_sets(minilm_index: Any, repo_root: Path) -> None:
    sets = sorted((repo_root / "evals" / "questions").glob("*.yaml"))
    hybrid = run_eval(minilm_index, sets, retriever="hybrid", retrieval_only=True)["summary"]
    naive = run_eval(minilm_index, sets, retriever="naive", retrieval_only=True)["summary"]
    assert hybrid["hit@1"] > naive["hit@1"], (hybrid, naive)
    assert hybrid["mrr@5"] > naive["mrr@5"], (hybrid, naive)
