"""One extension point per kind: generators and retrievers are classes registered by name, and
the registry is the only list of their names (settings, CLI, UI and eval runner read it).

A test registers its own generator and retriever the way a plug-in would - one class, one
decorator - gets an answer through the real `Assistant` with them, and takes them out again
(a fixture, so nothing leaks into other tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import seed_index
from typer.testing import CliRunner

from assistant import generators, retrievers
from assistant.answer import Answer, Assistant, QuestionError, Sentence, render_answer
from assistant.cli import app
from assistant.documents import CITED_FIELDS, Chunk, Citation, Hit, cited_fields
from assistant.eval_runner import run_eval
from assistant.extractive import compose
from assistant.generators import Generator, Request
from assistant.registry import Registry, UnknownName
from assistant.retrieve import Retriever
from assistant.retrievers import BaseRetriever, Filters, SearchResult, fuse
from assistant.settings import Settings, SettingsError
from assistant.text import sentence_spans
from assistant.units import Unit

PSED_AIMS = "What are the three aims of the public sector equality duty?"


# ----------------------------------------------------------------------------- plug-ins
class EchoGenerator(Generator):
    """Repeats the first sentence of passage [1] - a stand-in for a new generator."""

    name = "echo"
    label = "echo (test)"

    def stream(self, request: Request, sources: dict[int, Chunk]) -> Iterator[str]:
        text = sources[1].text
        start, end = sentence_spans(text)[0]
        yield " ".join(text[start:end].split())
        yield " [1]"


class FirstChunks(BaseRetriever):
    """The index's first `k` chunks of the allowed documents, in stored order."""

    name = "first-chunks"
    measures_similarity = False

    def search(self, query: str, k: int, filters: Filters) -> SearchResult:
        index = self.source.index
        chunks = [
            c
            for c in index.chunks
            if (not filters.doc_ids or c.doc_id in filters.doc_ids)
            and (not filters.doc_types or c.doc_type in filters.doc_types)
        ][:k]
        hits = [Hit(c, 1.0 / rank, rank) for rank, c in enumerate(chunks, 1)]
        return SearchResult(query, query, hits, self.name, measures_similarity=False)


@pytest.fixture
def echo() -> Iterator[type[Generator]]:
    generators.register(EchoGenerator)
    yield EchoGenerator
    generators.unregister(EchoGenerator.name)


@pytest.fixture
def first_chunks() -> Iterator[type[BaseRetriever]]:
    retrievers.register(FirstChunks)
    yield FirstChunks
    retrievers.unregister(FirstChunks.name)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return seed_index(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def assistant(settings: Settings) -> Assistant:
    return Assistant(settings)


# ----------------------------------------------------------------------------- generators
def test_a_registered_generator_answers_through_the_assistant(assistant, echo):
    answer = assistant.ask(PSED_AIMS, generator="echo")
    assert not answer.refused and answer.generator == "echo" and answer.fallback == ""
    (sentence,) = answer.sentences
    assert sentence.supported and sentence.citations == [1]
    (citation,) = answer.citations
    assert citation.quote and citation.quote in " ".join(citation.text.split())
    assert answer.answer == f"{sentence.text} [1]"
    events = list(assistant.stream(PSED_AIMS, generator="echo"))
    assert "".join(e for e in events if isinstance(e, str)) == answer.answer
    assert events[-1].answer == answer.answer


def test_the_registry_is_the_only_list_of_generator_names(settings, echo):
    assert generators.names() == ("extractive", "local", "openai", "ollama", "echo")
    assert generators.labels()["echo"] == "echo (test)"
    assert settings.with_overrides(generator="echo").generator == "echo"
    generators.unregister("echo")
    assert "echo" not in generators.names()
    with pytest.raises(SettingsError, match="generator must be one of extractive, local"):
        settings.with_overrides(generator="echo")
    generators.register(EchoGenerator)  # the fixture takes it out again


def test_an_unknown_generator_is_a_question_error_naming_the_registered_ones(assistant):
    with pytest.raises(QuestionError, match="unknown generator 'nope'; choose extractive, local"):
        assistant.ask(PSED_AIMS, generator="nope")


def test_a_generator_that_is_not_verified_falls_back_by_capability(assistant):
    class Inventor(Generator):
        name = "inventor"
        falls_back_to = "extractive"

        def stream(self, request: Request, sources: dict[int, Chunk]) -> Iterator[str]:
            yield "Inspectors award every office a gold star on Fridays [1]."

    class Unchecked(Inventor):
        name = "unchecked"
        falls_back_to = ""

    generators.register(Inventor)
    generators.register(Unchecked)
    try:
        answer = assistant.ask(PSED_AIMS, generator="inventor")
        unchecked = assistant.ask(PSED_AIMS, generator="unchecked")
    finally:
        generators.unregister("inventor")
        generators.unregister("unchecked")
    extractive = assistant.ask(PSED_AIMS, generator="extractive")
    assert answer.fallback == "inventor" and answer.answer == extractive.answer
    assert "The inventor model's answer could not be checked" in answer.notice
    # without the capability an unverified draft is refused, not replaced
    assert unchecked.refused and unchecked.fallback == "" and not unchecked.citations


# ----------------------------------------------------------------------------- retrievers
def test_a_registered_retriever_is_searched_and_answers(settings, assistant, first_chunks):
    assert retrievers.names() == ("hybrid", "dense", "bm25", "naive", "first-chunks")
    result = Retriever(settings).search("anything", k=3, retriever="first-chunks")
    assert [h.rank for h in result.hits] == [1, 2, 3]
    assert settings.with_overrides(retriever="first-chunks").retriever == "first-chunks"
    answer = assistant.ask(PSED_AIMS, retriever="first-chunks")
    assert isinstance(answer, Answer)
    assert [r["chunk_id"] for r in answer.retrieved] == [
        h.chunk.chunk_id for h in Retriever(settings).search("x", retriever="first-chunks").hits
    ]


def test_settings_accept_exactly_the_registered_retrievers(settings):
    for name in retrievers.names():
        assert settings.with_overrides(retriever=name).retriever == name
    with pytest.raises(SettingsError, match="retriever must be one of hybrid, dense, bm25, naive"):
        settings.with_overrides(retriever="fancy")


def test_the_naive_retriever_serves_the_real_pipeline(settings, assistant):
    """`naive` is a retriever like the others (settings accepted it before, search did not)."""
    result = assistant.retriever.search(PSED_AIMS, k=3, retriever="naive")
    assert result.retriever == "naive" and 0 < len(result.hits) <= 3
    assert all(h.chunk.chunk_id.startswith("naive:") for h in result.hits)
    news = assistant.retriever.search(PSED_AIMS, k=3, retriever="naive", doc_types=["news"])
    assert news.hits and all(h.chunk.doc_type == "news" for h in news.hits)
    answer = assistant.ask(PSED_AIMS, retriever="naive")
    assert answer.retrieved and all(r["chunk_id"].startswith("naive:") for r in answer.retrieved)


def test_the_eval_runner_reads_the_registries(settings, tmp_path: Path):
    questions = tmp_path / "q.yaml"
    questions.write_text("name: t\nquestions: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown retriever 'fancy'; choose hybrid, dense"):
        run_eval(settings, [questions], retriever="fancy")
    with pytest.raises(ValueError, match="unknown generator 'nope'; choose extractive"):
        run_eval(settings, [questions], generator="nope")


def test_fusion_strategies_are_a_table(settings):
    index = Retriever(settings).index
    dense, sparse = [(0, 0.9), (1, 0.5)], [(1, 7.0), (2, 3.0)]
    rrf = fuse(index, dense, sparse, 60, "rrf")
    assert [h.chunk is index.chunks[p] for h, p in zip(rrf, (1, 0, 2), strict=True)] == [True] * 3
    assert rrf[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert [h.score for h in fuse(index, dense, [], 60, "dense")] == [0.9, 0.5]
    assert [h.score for h in fuse(index, [], sparse, 60, "bm25")] == [7.0, 3.0]


def test_cli_help_lists_the_registered_names():
    for command, words in (
        ("ask", ["extractive, local, openai or ollama", "hybrid, dense, bm25 or naive"]),
        ("search", ["hybrid, dense, bm25 or naive"]),
    ):
        out = " ".join(
            CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output.split()
        )
        assert all(w in out for w in words), (command, out)


# ----------------------------------------------------------------------------- registry rules
def test_a_registry_rejects_a_taken_name_and_explains_an_unknown_one():
    table: Registry[type] = Registry("widget")

    @table.register
    class One:
        name = "one"

    class Other:
        name = "one"

    table.register(One)  # registering the same class again is harmless
    with pytest.raises(ValueError, match="widget 'one' is already registered"):
        table.register(Other)
    with pytest.raises(TypeError, match="needs a `name`"):
        table.register(type("Nameless", (), {}))
    with pytest.raises(UnknownName, match="unknown widget 'two'; choose one"):
        table.get("two")
    assert table.names() == ("one",) and "one" in table


# ----------------------------------------------------------------------------- one record
CHUNK = Chunk("d:0001", "d", "Alpha beta. Gamma.", "Doc", "news", "Sec", 3, 0, 18)


def test_every_cited_record_reads_its_chunk_fields_from_one_list():
    assert cited_fields(CHUNK) == {
        "doc_id": "d",
        "title": "Doc",
        "section": "Sec",
        "page": 3,
        "chunk_id": "d:0001",
    }
    citation = Citation.from_chunk(2, CHUNK, "Alpha beta.", 0.5, text=CHUNK.text)
    assert (citation.n, citation.quote, citation.score, citation.text) == (
        2,
        "Alpha beta.",
        0.5,
        CHUNK.text,
    )
    assert {k: getattr(citation, k) for k in CITED_FIELDS} == cited_fields(CHUNK)


def test_a_hit_has_one_ranking_entry():
    hit = Hit(CHUNK, 0.1234567, 4, dense_score=0.9)
    assert hit.to_dict(full=False) == {
        "chunk_id": "d:0001",
        "doc_id": "d",
        "rank": 4,
        "score": 0.12346,
    }
    full = hit.to_dict()
    assert full["text"] == CHUNK.text and full["score"] == 0.123457 and full["dense_score"] == 0.9


def test_the_draft_and_the_answer_share_one_layout():
    units = [
        Unit(1, 0, 5, "Lead  in:", False, True, "d", "intro", 1),
        Unit(1, 6, 9, "one", True, False, "d", "item", 1),
        Unit(2, 10, 13, "two", True, False, "d", "item", 1),
        Unit(2, 14, 20, "After.", False, False, "d", "sentence", 0),
    ]
    sentences = [Sentence(" ".join(u.text.split()), [u.source], True, u.is_item) for u in units]
    assert (
        compose(units)
        == render_answer(sentences)
        == "Lead in: [1]\n- one [1]\n- two [2]\nAfter. [2]"
    )
