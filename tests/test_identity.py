"""Questions asking for a named person or contact details: declined unless a passage states
one (`question.asks_identity`, `question.states_identity`, the "identity" refusal rule)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import seed_index

from assistant.answer import Assistant
from assistant.question import asks_identity, states_identity


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who is the current Chief Inspector of Ofsted?", "name"),
        ("Who is the acting chair of the staff network?", "name"),
        ("What is the name of the Director of Corporate Services?", "name"),
        ("What telephone number should a provider ring during an inspection?", "contact"),
        ("Which email address do complaints go to?", "contact"),
        ("What is the website address for the reports?", "contact"),
        # roles, bodies and processes are not identities
        ("Who chairs the grading meeting on the final day?", ""),
        ("Who is the senior responsible owner for equality?", ""),
        ("Who decides whether a report is delayed?", ""),
        ("What are the names of the four stages?", ""),  # a name, but not a person's
        ("What is the name of the officer who handles deferrals?", "name"),
        ("How do I contact the lead inspector?", ""),
    ],
)
def test_asks_identity(question: str, kind: str) -> None:
    assert asks_identity(question) == kind


def test_a_name_is_a_title_and_surname_or_words_never_written_in_lower_case() -> None:
    q = "Who is the current Chief Inspector?"
    assert states_identity("name", q, ["The Chief Inspector is Dr Okafor."])
    assert states_identity("name", q, ["Our Chief Inspector, Amina Castellan, leads the work."])
    # roles and bodies are written in lower case elsewhere in the passages
    roles = [
        "The Chief Inspector leads the inspectorate. The equality and inclusion lead reports "
        "to the board, and the Equality and Inclusion Lead chairs the network.",
    ]
    assert not states_identity("name", q, roles)
    # capitalised words the question itself uses are not a name it was not given
    assert not states_identity(
        "name", "Who is the current head of Fernvale Skills?", ["Fernvale Skills is a body."]
    )


def test_contact_details_have_a_form() -> None:
    q = "What telephone number should we ring?"
    assert states_identity("contact", q, ["Ring 0300 123 4567 on weekdays."])
    assert states_identity("contact", q, ["Write to complaints@inspectorate.example.org."])
    assert states_identity("contact", q, ["See www.inspectorate.example for reports."])
    assert not states_identity("contact", q, ["Ring the helpline on the day of notification."])


def test_the_assistant_declines_a_name_no_passage_gives_and_gives_one_that_is(
    tmp_path: Path,
) -> None:
    question = "Who is the current Chief Inspector of Ofsted?"
    seeds = Assistant(seed_index(tmp_path / "seeds"))
    declined = seeds.ask(question)
    assert declined.refused and "name" in declined.refusal_reason
    named = Assistant(
        seed_index(
            tmp_path / "named",
            {
                "leadership.md": "# Leadership\n\nThe current Chief Inspector of Ofsted is "
                "Dr Imogen Halloway, who took up the post in January.\n"
            },
        )
    )
    answer = named.ask(question)
    assert "name" not in answer.refusal_reason
