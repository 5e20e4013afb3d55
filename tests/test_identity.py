"""Questions asking for a named person, contact details or a sum of money: declined unless a
passage states one (`question.asks_identity`, `question.states_identity`, the "identity"
refusal rule)."""

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
        # a sum of money, not whether there is a charge, nor an amount of time or notice
        ("How much does an agency pay the inspectorate for a full inspection?", "amount"),
        ("What daily fee does the inspectorate pay its associate inspectors?", "amount"),
        ("What rate per mile is paid for travel to the meeting?", "amount"),
        ("How much can foster carers claim back for travel?", "amount"),
        ("Can a college charge a disabled student for an adjustment?", ""),
        ("How much notice does a provider get?", ""),
        ("How much of the fieldwork time is spent with children?", ""),
        ("How much training do inspectors get?", ""),
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


def test_an_amount_is_a_sum_of_money_or_a_statement_that_there_is_none() -> None:
    q = "How much does an agency pay for a full inspection?"
    assert states_identity("amount", q, ["Each agency pays £1,250 a year."])
    assert states_identity("amount", q, ["Inspections are free of charge to agencies."])
    assert states_identity("amount", q, ["The fee rises by 5% each April."])
    assert not states_identity("amount", q, ["Agencies pay a fee for each full inspection."])


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
