"""Follow-up questions: detection, rewriting without an LLM, history parsing, and real
two-turn conversations over the MiniLM index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.chat import (
    HistoryError,
    Turn,
    load_history,
    looks_like_followup,
    parse_history,
    rewrite_without_llm,
    salient_terms,
)
from assistant.settings import Settings

# ----------------------------------------------------------------------------- fast


@pytest.mark.parametrize(
    "question",
    [
        "And when will they be reviewed?",
        "What about the workforce?",
        "How about Cafcass?",
        "Do they apply to Cafcass?",
        "And 'responsible'?",
        "Why?",
        "Which of them is only indirectly relevant?",
        "Is it published?",
        "When does that start?",
        "But what does this mean for staff?",
        # a condition on the earlier answer ("What if ...?", "If not, ...")
        "What if my complaint isn't about the report itself?",
        "If not, who decides?",
    ],
)
def test_looks_like_followup(question):
    assert looks_like_followup(question)


@pytest.mark.parametrize(
    "question",
    [
        "What are the three aims of the public sector equality duty?",
        "Which protected characteristics are directly relevant?",
        "What does 'intelligent' mean in Ofsted's strategy?",
        "How long does the full inspection of Cafcass take?",
        # a pronoun in a long, self-contained question does not make it a follow-up
        "What are the things that Ofsted inspectors say they will evaluate when they look at "
        "casework for individual children and their families?",
    ],
)
def test_standalone_questions_are_not_followups(question):
    assert not looks_like_followup(question)


def history(*pairs: tuple[str, str]) -> list[Turn]:
    return [Turn(role, content) for role, content in pairs]


def test_rewrite_carries_previous_user_terms():
    turns = history(
        ("user", "When will the new arrangements for inspecting Cafcass be implemented?"),
        ("assistant", "From February 2021. [1]"),
    )
    out = rewrite_without_llm("And when will they be reviewed?", turns)
    assert out.startswith("And when will they be reviewed?")
    for term in ("arrangements", "cafcass", "implemented"):
        assert term in out.lower()
    assert "february" not in out.lower()  # assistant turns are not carried
    assert "when" not in out.lower().split("?", 1)[1]  # stop words / own words not repeated


def test_rewrite_can_carry_the_previous_answers_first_terms():
    turns = history(
        ("user", "What is the mean gender pay gap on 31 March 2025?"),
        ("assistant", "Women earn 6.8% less per hour on average than men, the mean gap. [1]"),
    )
    plain = rewrite_without_llm("And what was it a year earlier?", turns)
    wider = rewrite_without_llm("And what was it a year earlier?", turns, answer_terms=3)
    assert plain == "And what was it a year earlier? (mean gender pay gap march)"
    # the answer's first three salient terms join the question's; "gap" is there already
    assert wider == "And what was it a year earlier? (mean gender pay gap march women earn less)"
    assert rewrite_without_llm("And what was it a year earlier?", turns, answer_terms=0) == plain


def test_rewrite_uses_only_the_last_user_turn():
    turns = history(
        ("user", "What does 'intelligent' mean in Ofsted's strategy?"),
        ("assistant", "Evidence-led. [1]"),
        ("user", "Which protected characteristics are directly relevant?"),
        ("assistant", "Age, disability ... [1]"),
    )
    out = rewrite_without_llm("What about the indirect ones?", turns).lower()
    assert "protected" in out and "characteristics" in out
    assert "intelligent" not in out


def test_rewrite_leaves_standalone_and_historyless_questions_alone():
    turns = history(("user", "What do inspectors expect of a learning culture?"))
    standalone = "What are the three aims of the public sector equality duty?"
    assert rewrite_without_llm(standalone, turns) == standalone
    assert rewrite_without_llm("What about the workforce?", []) == "What about the workforce?"
    only_assistant = history(("assistant", "Hello, ask me about Cafcass inspection."))
    assert rewrite_without_llm("What about it?", only_assistant) == "What about it?"


def test_rewrite_does_not_repeat_words_already_asked():
    turns = history(("user", "What is expected of the workforce in the learning culture?"))
    out = rewrite_without_llm("What about the workforce?", turns)
    assert out.lower().count("workforce") == 1


def test_salient_terms_drop_stop_words_and_duplicates():
    terms = salient_terms("What are the aims of the duty and the aims of the framework?")
    assert terms == ["aims", "duty", "framework"]
    assert len(salient_terms(" ".join(f"word{c}" * 3 for c in "abcdefghijkl"))) <= 8


def test_parse_history_accepts_dicts_and_turns():
    turns = parse_history(
        [
            {"role": "user", "content": "Q?"},
            Turn("assistant", "A."),
        ]
    )
    assert turns == [Turn("user", "Q?"), Turn("assistant", "A.")]
    assert parse_history(None) == []


@pytest.mark.parametrize(
    "bad",
    [
        "not a list",
        {"role": "user", "content": "x"},
        [{"role": "system", "content": "x"}],
        [{"role": "user"}],
        [{"role": "user", "content": 3}],
        ["just text"],
    ],
)
def test_parse_history_rejects_bad_input(bad):
    with pytest.raises(HistoryError):
        parse_history(bad)


def test_load_history_file_formats(tmp_path: Path):
    messages = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(messages), encoding="utf-8")
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"history": messages}), encoding="utf-8")
    expected = [Turn("user", "Q?"), Turn("assistant", "A.")]
    assert load_history(plain) == expected
    assert load_history(wrapped) == expected
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(HistoryError, match="broken.json"):
        load_history(broken)
    with pytest.raises(HistoryError):
        load_history(tmp_path / "missing.json")


# ----------------------------------------------------------------------------- slow
CONVERSATIONS = [
    pytest.param(
        "When will the new arrangements be implemented?",
        "We intend to implement the new arrangements for inspecting Cafcass from February 2021.",
        "And when will they be reviewed?",
        ("December 2021",),
        id="review-date",
    ),
    pytest.param(
        "What do inspectors expect of a learning culture?",
        "Staff at all levels work in a culture that is challenging as well as supportive.",
        "What about the workforce?",
        ("strong leadership", "workforce"),
        id="workforce",
    ),
    pytest.param(
        "Which protected characteristics are directly relevant?",
        "Age, disability, gender reassignment, race, religion and belief, sex, pregnancy and "
        "sexual orientation.",
        "Which are only indirectly relevant?",
        ("marriage and civil partnership",),
        id="indirect",
    ),
    pytest.param(
        "What are Ofsted's three inspection principles for social care?",
        "Focus on the things that matter most to children's lives; be consistent; prioritise.",
        "Do they apply to Cafcass?",
        ("Cafcass",),
        id="principles-cafcass",
    ),
    pytest.param(
        "What does 'intelligent' mean in Ofsted's strategy?",
        "All of our work will be evidence-led.",
        "And 'responsible'?",
        ("fair", "burdens"),
        id="responsible",
    ),
    pytest.param(
        "How long does the full inspection of Cafcass take?",
        "The inspection takes place for four weeks.",
        "Who will publish a report after it?",
        ("Ofsted will publish a report",),
        id="report",
    ),
]


@pytest.fixture(scope="module")
def assistant(minilm_index: Settings):
    from assistant.answer import Assistant

    return Assistant(minilm_index)


@pytest.mark.slow
@pytest.mark.parametrize("first,reply,followup,expected", CONVERSATIONS)
def test_two_turn_conversation(assistant, first, reply, followup, expected):
    turns = [{"role": "user", "content": first}, {"role": "assistant", "content": reply}]
    answer = assistant.ask(followup, history=turns)
    print(f"\n{followup} -> {answer.rewritten_query}\n{answer.answer}")
    assert not answer.refused, answer.refusal_reason
    assert any(e.lower() in " ".join(answer.answer.split()).lower() for e in expected), (
        expected,
        answer.answer,
    )
    assert all(s.citations for s in answer.sentences if s.supported)
    if looks_like_followup(followup):
        assert answer.rewritten_query != followup  # earlier terms were carried over
        assert answer.rewritten_query.startswith(followup)


@pytest.mark.slow
def test_previous_answer_words_never_turn_a_refusal_into_an_answer(assistant):
    """The widened query (with the previous answer's words) finds that answer's passage again;
    a follow-up the documents do not answer is still declined."""
    turns = [
        {"role": "user", "content": "How long does the full inspection of Cafcass take?"},
        {"role": "assistant", "content": "Four weeks, in accordance with the published framework."},
    ]
    followup = "And how many inspectors will be involved?"
    wider = assistant._widened(
        followup, parse_history(turns), assistant.ask(followup, history=turns).rewritten_query
    )
    assert "weeks" in wider  # the widened query exists and carries the answer's words ...
    answer = assistant.ask(followup, history=turns)
    assert answer.refused, answer.answer  # ... but the refusal of the plain query stands
    assert "weeks" not in answer.rewritten_query


@pytest.mark.slow
def test_a_declined_rewrite_falls_back_to_the_question_alone(assistant):
    """The earlier turn's words can be what sinks a follow-up: a question the documents
    answer on its own is answered on its own; one they do not answer is still declined."""
    turns = [
        {
            "role": "user",
            "content": "How long is the Kestrel staff survey open for the youth justice team?",
        },
        {"role": "assistant", "content": "Ten working days."},
    ]
    covered = "And when will the arrangements for inspecting Cafcass be reviewed?"
    answer = assistant.ask(covered, history=turns)
    assert not answer.refused and "December 2021" in answer.answer
    assert answer.rewritten_query == covered  # answered from the question alone
    uncovered = assistant.ask("And what about the Westmere pilot?", history=turns)
    assert uncovered.refused
    assert "kestrel" in uncovered.rewritten_query  # the rewrite was tried first


@pytest.mark.slow
def test_followup_without_history_is_not_rewritten(assistant):
    answer = assistant.ask("And when will they be reviewed?")
    assert answer.rewritten_query == "And when will they be reviewed?"


@pytest.mark.slow
def test_history_changes_the_answer(assistant):
    """The same follow-up retrieves different passages after different first questions."""
    followup = "What about the workforce?"
    a = assistant.ask(
        followup,
        history=[
            {"role": "user", "content": "What do inspectors expect of a learning culture?"},
            {"role": "assistant", "content": "A culture that is challenging and supportive."},
        ],
    )
    b = assistant.ask(
        followup,
        history=[
            {"role": "user", "content": "When will the new arrangements be implemented?"},
            {"role": "assistant", "content": "From February 2021."},
        ],
    )
    assert a.rewritten_query != b.rewritten_query
    assert "learning culture" in a.rewritten_query
    assert "arrangements" in b.rewritten_query
