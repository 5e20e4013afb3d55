"""'Why this answer' explanations: what each stage records, that recording never changes the
answer, the CLI's `--explain` output (human and JSON) and the UI's folded panel.

Fast: a hash-embedder index over the seeds plus one small document whose text carries rich
markup ("[/bold]"), built once for the module. One slow test repeats the no-change check with
the real model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env, seed_index
from typer.testing import CliRunner

from assistant.answer import Assistant
from assistant.cli import app
from assistant.explain import Explanation
from assistant.extractive import AnswerModel, Decisions, Unit, select_units
from assistant.generators import Request
from assistant.llm import LLMGenerator
from assistant.question import Analysis
from assistant.settings import Settings
from ui import format as fmt
from ui.service import UIService

PSED_AIMS = "What are the three aims of the public sector equality duty?"
REFUSED = "How do I renew my passport?"
FOLLOWUP = "What about the workforce?"
HISTORY = [
    {"role": "user", "content": "What do inspectors expect of a learning culture?"},
    {"role": "assistant", "content": "A culture that is challenging as well as supportive."},
]
ZEPHYR = "Where must visitors to the zephyr unit sign in?"
ZEPHYR_DOC = (
    "Zephyr protocol for visitors\n\n"
    "Visitors to the zephyr unit must sign in at the reception desk [/bold] before entering, "
    "and must wear a visitor badge [bold red]at all times[/] while on site.\n\n"
    "The zephyr protocol is reviewed every nine days by the duty manager of the unit.\n"
)
# (question, history): answerable, refused before generating, follow-up, markup in the answer
CASES: list[tuple[str, list[dict[str, str]]]] = [
    (PSED_AIMS, []),
    (REFUSED, []),
    (FOLLOWUP, HISTORY),
    (ZEPHYR, []),
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return seed_index(tmp_path_factory.mktemp("explain"), {"zephyr-visitors.txt": ZEPHYR_DOC})


@pytest.fixture(scope="module")
def assistant(settings: Settings) -> Assistant:
    return Assistant(settings)


def explained(assistant: Assistant, question: str, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    recorder = Explanation()
    answer = assistant.ask(question, explain=recorder, **kwargs)
    data = recorder.to_dict()
    assert json.loads(json.dumps(data)) == data  # plain JSON all the way down
    return answer, data


def without_timings(data: dict[str, Any]) -> dict[str, Any]:
    """The answer without what varies run to run or is added by the UI service (time stamps,
    the index generation, the explanation)."""
    skip = ("timings_ms", "explain", "answered_at", "index_generation")
    return {k: v for k, v in data.items() if k not in skip}


# ----------------------------------------------------------------------------- structure
def test_answerable_question_explains_every_stage(assistant: Assistant, settings: Settings):
    answer, why = explained(assistant, PSED_AIMS)
    assert not answer.refused
    query = why["query"]
    assert query["question"] == PSED_AIMS and query["followup"] is False
    assert "PSED" in query["expansion_terms"] and "PSED" in query["expanded_query"]

    passages = why["passages"]
    assert [p["rank"] for p in passages] == list(range(1, settings.k + 1))
    by_answer_rank = sorted(passages, key=lambda p: p["answer_rank"])
    assert [p["chunk_id"] for p in by_answer_rank] == [r["chunk_id"] for r in answer.retrieved]
    assert sorted(p["answer_rank"] for p in passages) == list(range(1, settings.k + 1))
    for p in passages:
        assert {"doc_id", "section", "chunk_id", "dense_score", "bm25_score"} <= set(p)
        assert (p["dense_score"] is None) == (p["dense_rank"] is None)
        assert (p["bm25_score"] is None) == (p["bm25_rank"] is None)
        rrf = sum(1 / (settings.rrf_k + r) for r in (p["dense_rank"], p["bm25_rank"]) if r)
        assert p["fused_score"] == pytest.approx(rrf, abs=1e-6)
    fused = [p["fused_score"] for p in passages]
    assert fused == sorted(fused, reverse=True)

    units = why["units"]
    assert [u["n"] for u in units] == list(range(1, len(units) + 1))
    assert [u["score"] for u in units] == sorted((u["score"] for u in units), reverse=True)
    kept = [u for u in units if u["selected"]]
    dropped = [u for u in units if not u["selected"]]
    assert kept and dropped
    assert all(u["reason"].startswith("selected") for u in kept)
    assert all(u["reason"] and not u["reason"].startswith("selected") for u in dropped)
    weights = assistant.model.weights
    for u in units:
        parts = sum(weights.get(name, 0.0) * value for name, value in u["features"].items())
        assert u["score"] == pytest.approx(parts, abs=1e-2)
        assert (u["form"] < 1.0) == bool(u["form_notes"])

    refusal = why["refusal"]
    assert refusal["refused"] is False and refusal["fired"] is None and refusal["stage"] is None
    assert refusal["signals"]["coverage"] >= 0.5 and refusal["key_words"]
    assert [r["rule"] for r in refusal["rules"]] == [
        "min_coverage",
        "few_terms",
        "identity",
        "next",
        "model",
    ]
    assert refusal["signals"]["p_answerable"] >= assistant.refusal.threshold

    checks = why["verification"]["sentences"]
    assert len(checks) == len(answer.sentences)
    by_rank = {p["answer_rank"]: p["chunk_id"] for p in passages}
    for row, sentence in zip(checks, answer.sentences, strict=True):
        assert row["text"] == sentence.text and row["supported"] == sentence.supported
        assert row["shown_citations"] == sentence.citations
        for cited in row["cited"]:
            assert cited["chunk_id"] == by_rank[cited["passage"]]
            assert 0.0 <= cited["overlap"] <= 1.0
    shown = {c.chunk_id for c in answer.citations}
    assert shown <= {c["chunk_id"] for row in checks for c in row["cited"]}


def test_refused_question_names_the_rule_that_fired(assistant: Assistant):
    answer, why = explained(assistant, REFUSED)
    assert answer.refused
    refusal = why["refusal"]
    assert refusal["refused"] is True and refusal["stage"] == "evidence"
    assert refusal["fired"] == "min_coverage"  # nothing about passports in the documents
    assert refusal["reason"] == answer.refusal_reason
    assert [r["rule"] for r in refusal["rules"] if r["fired"]] == ["min_coverage"]
    assert refusal["signals"]["key_word_coverage"] < assistant.settings.refusal.min_coverage
    assert refusal["key_words"] and not all(w["found"] for w in refusal["key_words"])
    assert 0.0 <= refusal["signals"]["dense"] < 1.0
    assert len(refusal["signals"]["passages_checked"]) == 3
    assert "units" not in why and why["generation"]["ran"] is False
    assert why["verification"]["sentences"] == [] and why["passages"]


def test_followup_explanation_shows_the_rewrite(assistant: Assistant):
    answer, why = explained(assistant, FOLLOWUP, history=HISTORY)
    query = why["query"]
    assert query["followup"] is True
    # the rule's rewrite, widened with the previous answer's words when that also answers
    assert query["rewrite"] in ("rule", "rule, with the previous answer")
    assert query["rewritten_query"] == answer.rewritten_query != FOLLOWUP
    assert "learning" in query["rewritten_query"]


def test_llm_generator_has_no_units_but_verification(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
):
    """An LLM's draft (faked here) is verified like any other; a made-up one is set aside for
    the extractive answer, and the explanation keeps both."""

    def fake_llm(self: LLMGenerator, request: Request, sources: dict) -> Any:
        yield "The moon is made of green cheese and inspectors eat it daily [1]."

    monkeypatch.setattr(LLMGenerator, "stream", fake_llm)
    answer, why = explained(assistant, PSED_AIMS, generator="local")
    assert not answer.refused and answer.fallback == "local" and why["passages"]
    assert why["generation"]["generator"] == "local" and why["generation"]["ran"] is True
    given = why["generation"]["passages_given"]
    assert given == list(range(1, assistant.settings.llm_sources + 1))
    (row,) = why["generation"]["fallback"]["sentences"]
    assert row["supported"] is False and row["reason"] == "not supported by the cited passage"
    assert row["cited"][0]["passage"] == 1 and row["cited"][0]["supports"] is False
    assert why["units"]  # the extractive selection that replaced it is explained too
    assert all(r["supported"] for r in why["verification"]["sentences"])
    assert why["refusal"]["refused"] is False


# ----------------------------------------------------------------------------- selector reasons
def unit(
    source: int, start: int, text: str, score: float, kind: str = "sentence", **kw: Any
) -> Unit:
    return Unit(
        source,
        start,
        start + len(text),
        text,
        kind == "item",
        kind == "intro",
        kw.pop("doc_id", f"doc{source}"),
        kind,
        kw.pop("block", 0),
        score=score,
        **kw,
    )


MODEL = AnswerModel(weights={}, keep_margin=1.0, max_items=2, char_budget=300)


def test_selector_reasons_come_from_its_decision_points():
    long = "x" * 240
    units = [
        unit(1, 0, "Inspectors evaluate leadership and management quality.", 5.0),
        unit(1, 60, "Inspectors evaluate leadership and management quality!", 4.9),
        unit(2, 0, "Cafcass publishes its inspection report on its website.", 4.8, doc_id="doc1"),
        unit(3, 0, "Reports give the government a national picture of quality.", 4.7),
        unit(2, 70, "ok then.", 4.6, doc_id="doc1"),
        unit(2, 90, "Published 3 May 2024", 4.5, kind="label", doc_id="doc1"),
        unit(1, 120, long + " covers the statutory functions of the service.", 4.4),
        # last in its passage: a lead-in with nothing after it (not even a sentence) is dropped
        unit(1, 1100, "Inspectors look at three things:", 4.3, kind="intro"),
        unit(1, 990, "The framework applies to public and private law work.", 3.0),
    ]
    analysis = Analysis("How is quality inspected?", "other", ())
    decisions = Decisions()
    chosen = select_units(analysis, units, MODEL, 4, decisions)
    assert chosen == select_units(analysis, units, MODEL, 4)  # same either way
    reasons = {u.start + 1000 * u.source: decisions.reasons[(u.source, u.start)] for u in units}
    assert reasons[1000] == "selected" and reasons[2000] == "selected"
    assert reasons[1060] == "near-duplicate of #1"
    assert reasons[3000] == "from another document (the question does not compare documents)"
    assert reasons[2070] == "too short"
    assert reasons[2090].startswith("a heading, title, date or contents line")
    assert reasons[1120] == "over character budget (300)"
    assert reasons[2100] == "a lead-in whose items are not in the passage"
    assert reasons[1990].startswith("below cutoff")
    assert decisions.settings["max_units"] == 4 and decisions.settings["keep_margin"] == 1.0
    assert [u.start + 1000 * u.source for u in chosen] == [1000, 2000]


def test_a_list_is_shown_with_its_lead_in_and_a_capped_number_of_items():
    units = [
        unit(1, 0, "Inspectors look at three things:", 2.0, kind="intro", block=0),
        unit(1, 40, "the quality of practice", 5.0, kind="item", block=1),
        unit(1, 70, "the impact of leaders", 1.0, kind="item", block=1),
        unit(1, 95, "the experiences of children", 0.5, kind="item", block=1),
    ]
    analysis = Analysis("What do inspectors look at?", "list", ())
    chosen = select_units(analysis, units, MODEL, 4)
    assert [u.start for u in chosen] == [0, 40, 70]  # lead-in first, then max_items items


# ----------------------------------------------------------------------------- no change
@pytest.mark.parametrize("question,history", CASES)
def test_explaining_never_changes_the_answer(assistant: Assistant, question: str, history: list):
    plain = assistant.ask(question, history=history).to_dict(include_text=True)
    answer, _why = explained(assistant, question, history=history)
    assert without_timings(answer.to_dict(include_text=True)) == without_timings(plain)


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def cli(runner: CliRunner, settings: Settings, *args: str) -> Any:
    result = runner.invoke(app, ["ask", *args], env=cli_env(settings, COLUMNS="160"))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def history_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("history") / "turns.json"
    path.write_text(json.dumps(HISTORY), encoding="utf-8")
    yield path


@pytest.mark.parametrize("question,history", CASES)
def test_cli_json_is_identical_apart_from_explain(
    runner: CliRunner, settings: Settings, history_file: Path, question: str, history: list
):
    args = [question, "--json"] + (["--history", str(history_file)] if history else [])
    plain = json.loads(cli(runner, settings, *args).stdout)
    with_why = json.loads(cli(runner, settings, *args, "--explain").stdout)
    assert "explain" not in plain
    assert set(with_why["explain"]) >= {"query", "passages", "refusal", "verification"}
    assert without_timings(with_why) == without_timings(plain)


def test_cli_json_keeps_document_markup_verbatim(runner: CliRunner, settings: Settings):
    data = json.loads(cli(runner, settings, ZEPHYR, "--json", "--explain").stdout)
    assert "[/bold]" in data["answer"] and "[bold red]at all times[/]" in data["answer"]
    assert any("[/bold]" in u["text"] for u in data["explain"]["units"])


def test_cli_human_explanation_has_every_section(runner: CliRunner, settings: Settings):
    out = cli(runner, settings, ZEPHYR, "--explain").stdout
    for heading in (
        "Why this answer",
        "Query",
        "Retrieved passages",
        "Refusal check",
        "Candidate units",
        "Verification",
    ):
        assert heading in out, heading
    assert "[/bold]" in out and "[bold red]at all times[/]" in out  # shown, not interpreted
    assert "kept" in out and "dropped" in out and "zephyr-visitors" in out
    refused = cli(runner, settings, REFUSED, "--explain").stdout
    assert "fired" in refused and "refused at evidence" in refused


# ----------------------------------------------------------------------------- UI
HOSTILE = '<script>alert(1)</script> ![x](http://evil/p) [/bold] "quoted"'


def test_ui_panel_is_folded_escaped_and_inside_the_answer(assistant: Assistant):
    answer, why = explained(assistant, ZEPHYR)
    why["units"][0]["text"] = HOSTILE
    why["passages"][0]["section"] = HOSTILE
    why["verification"]["sentences"][0]["text"] = HOSTILE
    why["query"]["question"] = HOSTILE
    html = fmt.explain_html(why)
    assert html.startswith('<details class="why"><summary>Why this answer</summary>')
    assert html.endswith("</details>") and "\n" not in html
    assert "<script" not in html and "](http" not in html and "[/bold]" not in html
    assert "&lt;script&gt;" in html and "&#91;/bold&#93;" in html
    for section in ("Query", "Passages retrieved", "Refusal check", "Verification"):
        assert section in html
    assert "kept" in html and "dropped" in html and "selected" in html

    data = answer.to_dict(include_text=True) | {"explain": why}
    message = fmt.answer_markdown(data, "a1")
    assert message.startswith('<div class="answer"') and "<details" in message
    assert message.index("<details") < message.rindex("</div>")
    assert "<details" not in fmt.answer_markdown(answer.to_dict(include_text=True), "a1")


def test_ui_panel_for_a_refusal_shows_the_rule(assistant: Assistant):
    answer, why = explained(assistant, REFUSED)
    message = fmt.answer_markdown(answer.to_dict(include_text=True) | {"explain": why}, "a2")
    assert 'class="answer refusal"' in message and "<details" in message
    assert "min&#95;coverage" in message and "refused first" in message


def test_ui_service_attaches_the_explanation(settings: Settings, assistant: Assistant):
    service = UIService(settings, assistant)
    final = [e for e in service.stream(PSED_AIMS) if e.answer is not None][-1].answer
    assert final is not None and final["explain"]["units"]
    plain = assistant.ask(PSED_AIMS).to_dict(include_text=True)
    assert without_timings(final) == without_timings(plain)
    bare = [e for e in service.stream(PSED_AIMS, explain=False) if e.answer][-1].answer
    assert bare is not None and "explain" not in bare


# ----------------------------------------------------------------------------- real model
@pytest.mark.slow
def test_explaining_never_changes_real_model_answers(minilm_index: Settings):
    assistant = Assistant(minilm_index)
    for question, history in CASES[:3]:
        plain = assistant.ask(question, history=history).to_dict(include_text=True)
        answer, why = explained(assistant, question, history=history)
        assert without_timings(answer.to_dict(include_text=True)) == without_timings(plain)
        assert why["passages"] and why["refusal"]["refused"] == answer.refused


def test_cli_search_shows_document_markup_as_text(runner: CliRunner, settings: Settings):
    """`search` prints document text escaped, and its JSON straight to stdout (issue 17 #4)."""
    env = cli_env(settings, COLUMNS="160")
    human = runner.invoke(app, ["search", ZEPHYR], env=env)
    assert human.exit_code == 0, (human.output, human.exception)
    assert "[/bold]" in human.stdout and "[bold red]at all times[/]" in human.stdout
    raw = runner.invoke(app, ["search", ZEPHYR, "--json"], env=env)
    assert raw.exit_code == 0, (raw.output, raw.exception)
    hits = json.loads(raw.stdout)
    assert any("[/bold]" in h["text"] and "[bold red]at all times[/]" in h["text"] for h in hits)
