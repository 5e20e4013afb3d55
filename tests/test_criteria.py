"""Criteria finder: extraction on synthetic text, ranking on the real seed index (MiniLM), an
extra framework document, the CLI entry point, and `mode: criteria` in the evaluation runner.

Everything the finder lists must be verbatim in the chunk it cites; every test checks that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import EDI_ID, copy_seeds, make_settings

from assistant.cli_criteria import criteria_command
from assistant.criteria import (
    CriteriaResult,
    extract_candidates,
    find_criteria,
    find_quotes,
)
from assistant.documents import Chunk
from assistant.evaluation import (
    Question,
    QuestionSetError,
    load_question_set,
    run_eval,
    score_criteria,
    summarise,
)
from assistant.index import Index, build_index
from assistant.verify import quote_in_chunk

LEARNING_CULTURE = (
    "Staff at all levels work in a culture that is challenging as well as supportive and that "
    "promotes improvement, safeguards the welfare of children and promotes diversity and inclusion."
)
EFFECTIVE_RESPONSE = "There is an effective response to equality issues such as race"
STRONG_LEADERSHIP = "There is strong leadership on issues of race, religion and belief, sex, age,"
FOSTERING_DOC = (
    "# Fostering agency inspection framework\n"
    "## Judgement: quality of care\n"
    "In evaluating the quality of care, we expect the following:\n"
    "- 'Carers receive supervision at least monthly from a qualified social worker.'\n"
    "- 'Every child has a placement plan reviewed within 20 working days.'\n"
)


def chunk(text: str, section: str = "2. Judgements", chunk_id: str = "doc:1") -> Chunk:
    return Chunk(chunk_id, "doc", text, "A framework", "framework", section, None, 0, len(text))


def assert_verbatim(result: CriteriaResult, settings: Any) -> None:
    """Every listed item (and its context) is a verbatim slice of the chunk it cites."""
    by_id = {c.chunk_id: c for c in Index.open(settings).chunks}
    for item in result.items:
        assert item.chunk_id in by_id, item
        assert quote_in_chunk(item.text, by_id[item.chunk_id].text), item.text
        assert quote_in_chunk(item.quote, by_id[item.chunk_id].text), item.quote
        if item.context:
            assert quote_in_chunk(item.context, by_id[item.context_chunk_id].text), item.context


def texts(result: CriteriaResult) -> str:
    return "\n".join(item.text for item in result.items)


# ----------------------------------------------------------------------------- extraction
def test_find_quotes_complete_cut_off_and_apostrophes() -> None:
    text = (
        "Ofsted's aim is 'a force for improvement through intelligent, responsible work' today.\n"
        "We expect: ‘Leaders know the children’s needs well and act on them promptly.’\n"
        "- 'There is strong leadership on issues of race, religion and belief, sex, age,\n"
        "the 'short' one and children's lives and inspectors' views are no quotes at all here."
    )
    spans = find_quotes(text)
    found = [(text[s:e], complete) for s, e, complete in spans]
    assert found == [
        ("'a force for improvement through intelligent, responsible work'", True),
        ("‘Leaders know the children’s needs well and act on them promptly.’", True),
        ("'There is strong leadership on issues of race, religion and belief, sex, age,", False),
    ]


def test_extracts_quoted_criteria_under_an_introduction() -> None:
    c = chunk(
        "## Judgement: quality of care\n"
        "In evaluating the quality of care, we expect the following:\n"
        "- 'Carers receive supervision at least monthly from a qualified social worker.'\n"
        "- 'Every child has a placement plan reviewed within 20 working days.'\n",
        section="Judgement: quality of care",
    )
    cands = extract_candidates([c])
    assert [x.kind for x in cands] == ["quoted_criterion", "quoted_criterion"]
    assert cands[0].text == (
        "'Carers receive supervision at least monthly from a qualified social worker.'"
    )
    assert all(x.complete for x in cands)
    assert cands[0].context == "In evaluating the quality of care, we expect the following:"
    assert cands[0].area == "Quality of care"
    assert cands[0].block == cands[1].block != ""
    for x in cands:
        assert c.text[x.start : x.end] == x.text


def test_extracts_expectations_principles_and_statements_not_headings() -> None:
    c = chunk(
        "1. Introduction\n\n"
        "In the criteria for evaluating a 'safe practice' under the overall effectiveness "
        "judgement, we expect the following:\n"
        "- leaders review supervision records every quarter\n"
        "- managers audit case files\n\n"
        "The inspection rests on 3 principles. Inspection should:\n\n"
        "1. focus on what matters most to children\n"
        "2. be consistent in its expectations\n\n"
        "4. Eliminating discrimination The proposals do not create unlawful discrimination.\n"
        "When making judgements, inspectors will evaluate the experiences of children.\n"
        "The weather was fine for most of the visit and everyone enjoyed the lunch break.\n"
    )
    cands = extract_candidates([c])
    kinds = {x.text: x.kind for x in cands}
    assert kinds["leaders review supervision records every quarter"] == "expectation"
    assert kinds["managers audit case files"] == "expectation"
    assert kinds["focus on what matters most to children"] == "principle"
    assert kinds["be consistent in its expectations"] == "principle"
    assert (
        kinds["When making judgements, inspectors will evaluate the experiences of children."]
        == "statement"
    )
    assert not any("weather" in t for t in kinds)  # no criterion wording: not a candidate
    assert not any(t.startswith(("Introduction", "Eliminating")) for t in kinds)
    review = next(x for x in cands if x.text.startswith("leaders review"))
    assert review.area == "Overall effectiveness judgement: safe practice"
    for x in cands:
        assert c.text[x.start : x.end] == x.text


def test_empty_topic_is_refused(hash_settings: Any) -> None:
    for topic in ("", "   ", "?!"):
        with pytest.raises(ValueError, match="topic is empty"):
            find_criteria(hash_settings, topic)


def test_hash_index_lists_only_verbatim_items_and_nothing_for_unrelated(
    hash_settings: Any,
) -> None:
    build_index(hash_settings)
    result = find_criteria(hash_settings, "workforce")
    assert result.items
    assert_verbatim(result, hash_settings)
    assert [i.n for i in result.items] == list(range(1, len(result.items) + 1))
    data = result.to_dict()
    assert data["n_items"] == len(result.items) == len(data["citations"])
    assert "## Criteria for “workforce”" in result.to_markdown()
    assert find_criteria(hash_settings, "passport renewal fees").items == []


def test_criteria_command_json_and_exit_codes(
    hash_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert criteria_command("workforce", True, hash_settings) == 1  # no index yet
    assert "assistant index" in capsys.readouterr().err
    build_index(hash_settings)
    assert criteria_command("workforce", True, hash_settings) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["topic"] == "workforce" and data["groups"]
    assert criteria_command("   ", False, hash_settings) == 2
    assert criteria_command("workforce", False, hash_settings) == 0
    assert "Sources:" in capsys.readouterr().out


# ----------------------------------------------------------------------------- real model
@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="the seed EDI statement's two quoted expectations sit in interleaved columns; the "
    "block-model txt loader puts another paragraph between the lead-in and the second quote, so "
    "the finder lists one (issue 13 moves the finder to blocks and fitted weights)",
)
def test_learning_culture_lists_both_quoted_expectations(minilm_index: Any) -> None:
    result = find_criteria(minilm_index, "learning culture")
    listed = texts(result)
    assert LEARNING_CULTURE in listed
    assert EFFECTIVE_RESPONSE in listed
    both = [i for i in result.items if LEARNING_CULTURE in i.text or EFFECTIVE_RESPONSE in i.text]
    assert {i.doc_id for i in both} == {EDI_ID}
    assert {i.kind for i in both} == {"quoted_criterion"}
    assert [i.complete for i in both] == [True, False]  # the second is cut off in the PDF
    assert_verbatim(result, minilm_index)


@pytest.mark.slow
def test_workforce_includes_strong_leadership_statement(minilm_index: Any) -> None:
    result = find_criteria(minilm_index, "workforce")
    item = next(i for i in result.items if STRONG_LEADERSHIP in i.text)
    assert item.doc_id == EDI_ID and not item.complete
    assert "'workforce'" in item.context and "we expect the following:" in item.context
    assert_verbatim(result, minilm_index)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("leadership", "in the strength of leadership and management"),
        ("equality issues in casework", "effective response to equality issues"),
        ("inspection principles", "be consistent in our expectations of providers"),
    ],
)
def test_other_topics(minilm_index: Any, topic: str, expected: str) -> None:
    result = find_criteria(minilm_index, topic)
    assert expected in texts(result)
    assert_verbatim(result, minilm_index)


@pytest.mark.slow
def test_unrelated_topic_lists_nothing(minilm_index: Any) -> None:
    result = find_criteria(minilm_index, "passport renewal fees")
    assert result.items == [] and result.groups == []
    assert "No criteria" in result.to_markdown()


@pytest.mark.slow
def test_extra_framework_document_criteria_are_listed(minilm_index: Any, tmp_path: Path) -> None:
    corpus = copy_seeds(tmp_path / "corpus")
    (corpus / "fostering-framework.md").write_text(FOSTERING_DOC, encoding="utf-8")
    (corpus / "fostering-framework.meta.yaml").write_text("type: framework\n", encoding="utf-8")
    settings = make_settings(minilm_index.root, corpus, tmp_path / "idx", embedder="minilm")
    report = build_index(settings)
    assert "fostering-framework" in report.added and not report.errors
    result = find_criteria(settings, "supervision of carers")
    item = next(i for i in result.items if "supervision at least monthly" in i.text)
    assert item.doc_id == "fostering-framework"
    assert item.kind == "quoted_criterion" and item.complete
    assert item.section == "Judgement: quality of care"
    assert item.context == "In evaluating the quality of care, we expect the following:"
    assert_verbatim(result, settings)
    # the seed criteria are still found in the larger corpus
    assert LEARNING_CULTURE in texts(find_criteria(settings, "learning culture"))


# ----------------------------------------------------------------------------- evaluation
MODE_SET = f"""
name: modes
questions:
  - id: lc
    question: Which criteria apply to the culture staff work in?
    mode: criteria
    topic: staff culture
    expected_items:
      - Staff at all levels work in a culture
      - [an effective response to equality issues, effective response]
  - id: plain
    question: Which section of the Equality Act 2010 sets out the PSED?
    sources: [{EDI_ID}]
    facts: [section 149]
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_mode_questions_validate(tmp_path: Path) -> None:
    qs = load_question_set(write(tmp_path, MODE_SET)).questions
    assert qs[0].mode == "criteria" and qs[0].topic == "staff culture"
    assert qs[0].sources == [] and qs[0].expected_items[1] == [
        "an effective response to equality issues",
        "effective response",
    ]
    assert qs[1].mode == "answer"
    bad = {
        "mode: summarise": "field 'mode'",
        "mode: criteria": "expected_items",
        "mode: criteria\n    expected_items: []": "expected_items",
        "mode: psed\n    expected_rows: {Astrology: true}": "unknown PSED row",
        "mode: psed\n    expected_rows: {Age: maybe}": "true or false",
        "expected_rows: {Age: true}": "only used with mode: psed",
    }
    for extra, message in bad.items():
        body = f"questions:\n  - id: x\n    question: q?\n    sources: [d]\n    {extra}\n"
        with pytest.raises(QuestionSetError, match=message):
            load_question_set(write(tmp_path, body))


class _Item:
    def __init__(self, n: int, text: str, chunk_id: str = "c1") -> None:
        self.n, self.text, self.quote, self.chunk_id = n, text, " ".join(text.split()), chunk_id
        self.doc_id, self.area = "doc", "Area"


class _Result:
    def __init__(self, items: list[_Item]) -> None:
        self.items = items
        self.timings_ms = {"total": 1.0}


def test_score_criteria_and_summary_keep_existing_metrics() -> None:
    q = Question(
        id="q",
        question="Which?",
        set="s",
        mode="criteria",
        topic="t",
        expected_items=["alpha beta", ["gamma", "delta"], "missing item"],
    )
    chunk_text = {"c1": "Intro: alpha beta gamma.", "c2": "Other text."}.get
    result = _Result([_Item(1, "alpha beta gamma."), _Item(2, "invented words", "c2")])
    row = score_criteria(q, result, chunk_text, 12.0)
    assert row["criteria_item_recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert row["criteria_precision"] == 0.5  # the second item is not in its chunk
    assert row["facts_missed"] == ["missing item"] and row["hit@1"] == 1.0
    plain = {
        "answerable": True,
        "refused": False,
        "hit@1": 1.0,
        "hit@5": 1.0,
        "rr@5": 1.0,
        "ndcg@5": 1.0,
        "n_relevant_citations": 1,
        "n_citations": 1,
        "facts": ["x"],
        "facts_found": ["x"],
        "n_faithful": 1,
        "n_sentences_checked": 1,
        "n_aligned": 1,
        "n_quotes": 1,
        "latency_ms": 100.0,
    }
    before = summarise([plain])
    after = summarise([plain, row])
    assert {k: v for k, v in after.items() if k in before and k != "n_questions"} == {
        k: v for k, v in before.items() if k != "n_questions"
    }
    assert after["n_questions"] == 2 and after["n_mode_questions"] == 1
    assert after["criteria_item_recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert "criteria_item_recall" not in before


def test_run_eval_scores_criteria_questions_with_hash_index(
    hash_settings: Any, tmp_path: Path
) -> None:
    build_index(hash_settings)
    report = run_eval(hash_settings, [write(tmp_path, MODE_SET)], retrieval_only=True)
    summary = report["summary"]
    assert summary["n_questions"] == 2 and summary["n_answerable"] == 1
    assert summary["criteria_precision"] == 1.0
    assert summary["criteria_item_recall"] is not None
    assert summary["hit@5"] is not None  # the plain question is still scored as before
    naive = run_eval(
        hash_settings, [write(tmp_path, MODE_SET)], retriever="naive", retrieval_only=True
    )
    row = next(r for r in naive["questions"] if r["id"] == "lc")
    assert row["skipped"] and naive["summary"]["criteria_item_recall"] is None


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="the seed EDI statement's two quoted expectations sit in interleaved columns; the "
    "block-model txt loader puts another paragraph between the lead-in and the second quote, so "
    "the finder lists one (issue 13 moves the finder to blocks and fitted weights)",
)
def test_shipped_modes_set_scores_fully(minilm_index: Any, repo_root: Path) -> None:
    report = run_eval(
        minilm_index, [repo_root / "evals" / "questions" / "modes.yaml"], retrieval_only=True
    )
    summary = report["summary"]
    assert report["warnings"] == []
    assert summary["n_errors"] == 0
    assert summary["criteria_item_recall"] == 1.0, report["questions"]
    assert summary["criteria_precision"] == 1.0
    assert summary["psed_row_accuracy"] == 1.0
