"""A question naming a body is answered from the documents that name it, when they answer."""

from __future__ import annotations

from pathlib import Path

from assistant.answer import Assistant
from assistant.explain import Explanation
from assistant.index import build_index
from assistant.question import named_words
from assistant.retrieve import Retriever
from tests.conftest import REPO_ROOT, make_settings, seed_index

# The unnamed passage restates the question in its heading and twice in its text, so it wins
# the search; the document naming Northmoor answers too, under a heading of its own.
OTHER = (
    "# How long the complaints team takes to answer a complaint\n\nThe complaints team takes "
    "20 working days to answer a complaint. How long the complaints team takes to answer a "
    "complaint is set out here.\n"
)
NAMED = (
    "# Northmoor\n\nThe Northmoor office publishes reports.\n\n## Complaints\n\nThe team "
    "takes 15 working days to answer a complaint.\n"
)


def test_named_words_skip_each_sentences_first_word() -> None:
    assert named_words("Why did the Northmoor Care Inspectorate's team say so?") == [
        "Northmoor",
        "Care",
        "Inspectorate",
    ]
    assert named_words("How long? And Kestrel's?") == ["Kestrel"]
    assert named_words("Can I complain?") == []


def test_documents_with_a_word_come_from_the_index(tmp_path: Path) -> None:
    settings = seed_index(tmp_path, {"other.md": OTHER, "named.md": NAMED})
    index = Retriever(settings).index
    assert index.documents_with("Northmoor") == frozenset({"named"})
    assert index.documents_with("Zanzibar") == frozenset()


def test_a_question_naming_a_body_is_answered_from_its_document(tmp_path: Path) -> None:
    question = "How long does the Northmoor complaints team take to answer a complaint?"
    assistant = Assistant(seed_index(tmp_path, {"other.md": OTHER, "named.md": NAMED}))
    explain = Explanation()
    answer = assistant.ask(question, explain=explain)
    assert not answer.refused
    assert explain.query["scoped_to"] == {"name": "Northmoor", "documents": ["named"]}
    assert "15 working days" in answer.answer and "20 working days" not in answer.answer
    # a question naming nobody is still answered from the best passage
    plain = assistant.ask("How long does the complaints team take to answer a complaint?")
    assert "20 working days" in plain.answer


# Fernvale is named in the document's opening chunk only; the chunk listing the principles
# says "this framework", as real frameworks do.
FRAMEWORK = (
    "# About the Fernvale Inspectorate\n\nThe Fernvale Inspectorate inspects colleges and "
    "training providers across the region. "
    + "It publishes a report after every inspection and keeps a record of what it found. "
    * 12
    + "\n\n## Our principles\n\nEvery inspection under this framework follows four "
    "principles:\n\n- first-hand evidence\n- proportionate activity\n- openness\n"
    "- learners first\n"
)


def test_a_passage_counts_the_names_its_document_mentions(tmp_path: Path) -> None:
    """A passage is about the body its document names, though its own text does not say it:
    the off-topic guard reads the document's names with the passage's words."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "fernvale-framework.md").write_text(FRAMEWORK, encoding="utf-8")
    (corpus / "other.md").write_text(OTHER, encoding="utf-8")
    settings = make_settings(REPO_ROOT, corpus, tmp_path / "idx")
    build_index(settings)
    assistant = Assistant(settings)
    question = "Which principles do Fernvale inspections of colleges follow?"
    names = assistant.document_names(question)
    assert names["fernvale-framework"] == frozenset({"fernval"})
    assert all(
        "fernval" not in stems for doc, stems in names.items() if doc != "fernvale-framework"
    )
    explain = Explanation()
    answer = assistant.ask(question, explain=explain)
    assert explain.refusal["fired"] is None, explain.refusal
    assert not answer.refused and "first-hand evidence" in answer.answer


# Kestrel's report states a pay gap; Northmoor's statement does not, and never names
# Northmoor in its text: only its publisher, in the sidecar, says whose it is.
PAY_GAP = (
    "# Gender pay gap\n\nOur median gender pay gap is 4.1%, or £1.12 an hour. The median gap is "
    "the difference between the middle hourly pay of men and of women.\n"
)
NOTICE = (
    "# Notice of inspection\n\nWe give an agency five working days' notice of a full "
    "inspection. We tell the registered manager by telephone.\n"
)


def _publisher(name: str) -> str:
    return f"title: Equality report\npublisher: {name}\ntype: other\n"


def test_a_document_names_its_publisher_though_its_text_does_not(tmp_path: Path) -> None:
    settings = seed_index(
        tmp_path,
        {
            "statement.md": NOTICE,
            "statement.meta.yaml": _publisher("Northmoor Care Inspectorate"),
            "other.md": OTHER,
        },
    )
    index = Retriever(settings).index
    assert index.documents_with("Northmoor") == frozenset()
    assert index.documents_naming("Northmoor") == frozenset({"statement"})
    assert index.documents_naming("northmoor's") == frozenset({"statement"})
    assert index.documents_naming("Zanzibar") == frozenset()


def test_another_publisher_s_answer_to_a_named_body_s_question_is_declined(
    tmp_path: Path,
) -> None:
    """Answered from another body's document, the question is declined when the documents
    naming its body do not state the answer; a document with no publisher recorded may be
    the named body's own, so its answer stands."""
    question = "What is the Northmoor Care Inspectorate's median gender pay gap?"
    northmoor = {
        "statement.md": NOTICE,
        "statement.meta.yaml": _publisher("Northmoor Care Inspectorate"),
        "report.md": PAY_GAP,
    }
    unattributed = Assistant(seed_index(tmp_path / "a", northmoor))
    assert "4.1%" in unattributed.ask(question).answer
    kestrel = {**northmoor, "report.meta.yaml": _publisher("Kestrel Justice Inspectorate")}
    assistant = Assistant(seed_index(tmp_path / "b", kestrel))
    answer = assistant.ask(question)
    assert answer.refused and "4.1%" not in answer.answer
    assert "Kestrel Justice Inspectorate" in answer.refusal_reason
    assert "Northmoor" in answer.refusal_reason
    # the same document answers a question that names no body, or names its own
    assert "4.1%" in assistant.ask("What is the median gender pay gap?").answer
    assert "4.1%" in assistant.ask("What is Kestrel's median gender pay gap?").answer
