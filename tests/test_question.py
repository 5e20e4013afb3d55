"""Question analysis, candidate units and refusal signals: the rules behind the fitted scorer.

Fast, no model: units are cut from hand-made chunks and features computed with fixed vectors.
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.documents import Chunk, Hit
from assistant.question import TermStats, analyse, answer_type, states, weighted_coverage
from assistant.refusal import FEATURES as REFUSAL_FEATURES
from assistant.refusal import refusal_features
from assistant.units import FEATURES, chunk_units, featurise


@pytest.mark.parametrize(
    "question,kind",
    [
        ("How long does the planning call last?", "duration"),
        ("How far back do inspectors look at unplanned endings?", "duration"),
        ("How often must a college publish its equality information?", "frequency"),
        ("When is the report published?", "date"),
        ("How many inspectors are on the team?", "number"),
        ("How much does a re-inspection cost?", "money"),
        ("Who chairs the forum?", "person"),
        ("What three things must the inspectorate have due regard to?", "list"),
        ("What is meant by a working day?", "definition"),
        ("Walk me through what a case assessor does.", "process"),
        ("Once the meeting is over, what are the remaining stages?", "process"),
        ("Can a provider challenge the findings?", "yesno"),
        ("Our service has 150 cases. How many will inspectors sample?", "number"),
        ("Tell me about the weather.", "other"),
    ],
)
def test_answer_type_from_question_form(question: str, kind: str) -> None:
    assert answer_type(question) == kind


def test_states_recognises_answer_forms() -> None:
    assert states("duration", "Each session lasts 90 minutes.")
    assert not states("duration", "Sessions are held on 18 November.")
    assert states("money", "Each child receives a £20 voucher.")
    assert states("date", "The framework applies from 1 April 2025.")
    assert states("definition", "A working day is any day from Monday to Friday.")
    assert states("list", "anything at all")  # no pattern: every unit may state a list


def test_idf_weights_rare_words_over_common_ones() -> None:
    texts = ["inspectors visit the provider"] * 9 + ["inspectors review deferral requests"]
    stats = TermStats(texts)
    analysis = analyse("Can inspectors grant a deferral?", stats)
    weights = {next(iter(next(iter(c)))): w for c, w in analysis.concepts}
    assert weights["deferr"] > weights["grant"] if "grant" in weights else True
    assert "grant" not in weights  # in no passage: absent, not a ranking concept
    assert [next(iter(next(iter(c)))) for c, _ in analysis.absent] == ["grant"]
    # "inspectors" is a generic domain word, dropped before weighting
    assert all("inspector" not in next(iter(c)) for c, _ in analysis.concepts)
    covered = weighted_coverage(analysis.concepts, {"deferr"})
    assert covered == 1.0


def test_a_question_about_the_next_occasion_wants_that_action_with_a_time() -> None:
    """ "When will Fernvale next revise its framework?" is not answered by the framework's
    publication date; a sentence naming the revision with a time is needed."""
    from assistant.question import asks_next, states_next

    question = "When will Fernvale next revise its framework?"
    term = asks_next(question, answer_type(question))
    assert term == "revis"
    dated_else = ["It applies from 1 September 2025 and replaces the framework of July 2021."]
    assert not states_next(term, dated_else)
    assert states_next(term, dated_else + ["We will revise the framework by March 2028."])
    assert states_next("updat", ["We update this guidance every year."])
    # not a time question, or no "next": the rule does not apply
    assert (
        asks_next("Will the same lead inspector come back for our next full inspection?", "yesno")
        == ""
    )
    assert asks_next("When is the report published?", "date") == ""


def test_a_question_verb_s_plural_noun_is_a_key_word_but_the_verb_is_not() -> None:
    """ "When will a service hear the main findings?" asks about findings, though "findings"
    stems to "find", a question verb ("Where can I find ...?") that says nothing."""
    from assistant.text import content_terms, stem

    asked = analyse("When will a service hear the main findings of the inspection?")
    assert frozenset([frozenset([stem("findings")])]) in [c for c, _ in asked.concepts]
    assert stem("find") not in content_terms("Where can I find the report?", drop_generic=True)
    assert content_terms("What needs to happen?", drop_generic=True) == []


def test_an_irregular_past_form_shares_its_verb_s_stem() -> None:
    """ "What findings can a complaint reach?" is answered by "each part is found to be
    upheld": Snowball stems "found" and "findings" apart, the irregular forms do not."""
    from assistant.text import content_terms, stem

    assert stem("found") == stem("findings") == stem("find")
    assert stem("chosen") == stem("choose") and stem("met") == stem("meeting")
    assert stem("led") == "led" and stem("left") == "left"  # also nouns or other words
    assert set(content_terms("Each part of a complaint is found to be upheld")) >= {
        stem("findings")
    }
    passage = "each part of a complaint is found to be upheld"
    stats = TermStats([passage, "the team meets"])
    analysis = analyse("What findings can a complaint reach?", stats)
    assert [c for c, _w in analysis.absent] == [frozenset({frozenset({"reach"})})]
    assert weighted_coverage(analysis.concepts, set(content_terms(passage))) == 1.0


def test_a_stem_the_index_lacks_matches_its_indexed_variants() -> None:
    """Snowball stems "overrepresented" and "overrepresentation" apart; the question still
    matches the passage that uses the other form, in the concepts and in BM25."""
    from assistant.bm25 import BM25Index

    texts = [
        "services respond to the overrepresentation of some groups of children",
        "inspectors pay attention to the stability of placements",
        "the state pays for the statement",
    ]
    stats = TermStats(texts)
    analysis = analyse("Which groups are overrepresented?", stats)
    assert not analysis.absent  # "overrepres" stands in as "overrepresent"
    assert weighted_coverage(analysis.concepts, {"overrepresent", "group"}) == 1.0
    # an indexed stem keeps to itself: "state" does not also match "statement"
    assert stats.variants("state") == [] and "statement" not in stats.variants("stat")
    assert stats.variants("overrepres") == ["overrepresent"]
    bm25 = BM25Index.build(texts)
    plain = bm25.scores("overrepresented")
    assert plain is None  # exactly bm25s: an unindexed term scores nothing
    scores = bm25.scores("overrepresented", variants=True)
    assert scores is not None and int(np.argmax(scores)) == 0 and scores[1] == 0


def test_glossary_synonyms_are_one_concept() -> None:
    glossary = (("PSED", "public sector equality duty"),)
    stats = TermStats(["the public sector equality duty applies", "the PSED applies"])
    analysis = analyse("What does the PSED require?", stats, glossary)
    (concept, _w), *rest = analysis.concepts
    assert len(concept) == 2  # either spelling satisfies it
    terms = {"public", "sector", "equal", "duti"}
    assert weighted_coverage(((concept, 1.0),), terms) == 1.0


def test_the_shipped_glossary_joins_everyday_words_to_the_documents_words(repo_root) -> None:
    from assistant.retrieve import load_glossary

    glossary = load_glossary(repo_root / "assistant" / "glossary.yaml")
    stats = TermStats(["an agency may ask to defer an inspection", "inspectors speak to the media"])
    for question, stated in (
        ("Can we get our inspection postponed?", {"defer"}),
        ("Who may talk to journalists?", {"media"}),
    ):
        analysis = analyse(question, stats, glossary)
        assert any(weighted_coverage(((c, 1.0),), stated) == 1.0 for c, _w in analysis.concepts)


def test_a_contraction_is_not_a_concept() -> None:
    stats = TermStats(["an associate inspector left a probation service"])
    analysis = analyse("I'm an associate inspector. Can I inspect it?", stats)
    assert "i'm" not in {
        t for c, _w in (*analysis.concepts, *analysis.absent) for a in c for t in a
    }


def _hit(text: str, n: int = 1, section: str = "2. Timing", doc: str = "d") -> Hit:
    chunk = Chunk(f"{doc}:{n}", doc, text, "Doc title", "other", section, None, 0, len(text))
    return Hit(chunk, 1.0 / n, n, dense_score=0.5)


CHUNK = (
    "Inspections last three days.\n\n"
    "Inspectors look at:\n\n"
    "- the quality of practice\n"
    "- the impact of leaders\n\n"
    "Grade | Label\n"
    "1 | Exceptional\n\n"
    "Published 3 May 2024\n\n"
    "3 Timing 4. Grades 5. Reports\n\n"
    "and the work of practitioners with families in court"
)


def test_units_are_cut_by_kind_and_block() -> None:
    units = chunk_units(1, _hit(CHUNK))
    kinds = [(u.kind, u.text) for u in units]
    assert kinds[0] == ("sentence", "Inspections last three days.")
    assert kinds[1] == ("intro", "Inspectors look at:")
    assert kinds[2:4] == [("item", "the quality of practice"), ("item", "the impact of leaders")]
    assert units[2].block == units[3].block == units[1].block + 1
    # a table: its header row names the columns and is a label, its data rows are rows
    assert [k for k, _ in kinds[4:6]] == ["label", "row"] and units[4].header
    assert ("label", "Published 3 May 2024") in kinds  # a date line
    assert ("label", "3 Timing 4. Grades 5. Reports") in kinds  # a contents line
    assert kinds[-1][0] == "sentence"


def test_features_and_broken_sentences() -> None:
    hit = _hit(CHUNK)
    units = chunk_units(1, hit)
    stats = TermStats([CHUNK, "other text about reports"])
    analysis = analyse("How many days are inspections?", stats)
    vectors = {u.key: np.eye(1, 8, i % 8, dtype=np.float32)[0] for i, u in enumerate(units)}
    featurise(units, [hit], analysis, vectors, np.eye(1, 8, 0, dtype=np.float32)[0])
    first = units[0]
    assert set(first.features) == set(FEATURES)
    assert first.features["type_match"] == 1.0 and first.features["cosine"] == 1.0
    assert first.features["cosine_top"] == 1.0 and first.features["bm25"] == 1.0
    assert units[2].features["type_match"] == 0.0
    assert units[-1].broken and not first.broken  # starts in lower case, no full stop
    assert not units[2].broken  # an item need not be a sentence


def test_a_time_of_day_question_wants_a_time_of_day() -> None:
    """ "What time do inspectors arrive?" is not answered by a date or a duration: it wants
    "8am" or "before midday", and a passage stating none does not carry its answer."""
    assert answer_type("What time do inspectors arrive on the first day?") == "time"
    assert answer_type("What hours can a service expect inspectors to be on site?") == "time"
    assert answer_type("When in the week, and at what time, are reports released?") == "time"
    assert answer_type("When will the report be published?") == "date"
    assert answer_type("How much time do we have to respond?") == "duration"
    assert states("time", "Inspectors arrive no earlier than 8am and leave by 6 pm.")
    assert states("time", "The lead inspector telephones before midday.")
    assert states("time", "Reports are published at 10.30 am.")
    assert not states("time", "The report is published on 3 March 2026, I am told.")
    hit = _hit("Inspection starts on 3 March 2026 and lasts four days.")
    stats = TermStats([hit.chunk.text, "the team arrives"])
    asked = analyse("What time does the inspection start?", stats)
    units = chunk_units(1, hit)
    vec = np.ones(4, dtype=np.float32) / 2
    featurise(units, [hit], asked, {u.key: vec for u in units}, vec)
    got = refusal_features(asked, [hit], 0.7, units)
    assert got["typed_absent"] == 1.0 and got["typed_found"] == 0.0


def test_a_why_question_prefers_a_sentence_that_gives_a_reason() -> None:
    """ "Why are they making that change?" is answered by "..., so that inspectors can arrange
    more visits", not by when the change was consulted on."""
    assert answer_type("Why are they making that change?") == "reason"
    assert answer_type("And why did boards want to keep ratings?") == "reason"
    assert answer_type("When is the change made?") == "date"
    hit = _hit(
        "The change follows a 12-week consultation. Notice rises to five days, so that "
        "inspectors can arrange more visits."
    )
    asked = analyse("Why is the notice changing?")
    units = chunk_units(1, hit)
    vec = np.ones(4, dtype=np.float32) / 2
    featurise(units, [hit], asked, {u.key: vec for u in units}, vec)
    matched = {u.text.split()[0]: u.features["soft_match"] for u in units}
    assert matched == {"The": 0.0, "Notice": 1.0}
    assert not states("reason", "Reports are published on Thursdays.")


def test_refusal_features_see_missing_rare_words_and_types() -> None:
    hit = _hit("Each session lasts 90 minutes and includes time for questions.")
    stats = TermStats([hit.chunk.text, "the fee for a review is set by the board"])
    answerable = analyse("How long does each session last?", stats)
    fee = analyse("How much is the fee for a session?", stats)
    units = chunk_units(1, hit)
    vec = np.ones(4, dtype=np.float32) / 2
    featurise(units, [hit], answerable, {u.key: vec for u in units}, vec)
    got = refusal_features(answerable, [hit], 0.7, units)
    assert list(got) == list(REFUSAL_FEATURES)
    assert got["coverage"] == 1.0 and got["typed_found"] == 1.0
    lacking = refusal_features(fee, [hit], 0.7, units)
    assert lacking["coverage"] < 1.0 and lacking["missing"] > 0
    assert lacking["typed_absent"] == 1.0  # a money question, no amount in the passage


@pytest.mark.parametrize(
    "question,kind",
    [
        # a leading time or condition clause sets the scene; the clause after the comma asks
        (
            "When inspectors check that safeguarding is effective, what do they look for?",
            "criteria",
        ),
        ("If a college disagrees with inspectors, whom should it tell first?", "person"),
        ("When will the report be published, and can that take longer?", "date"),
        # paying attention is not paying money
        ("Which overrepresented groups do inspectors pay particular attention to?", "other"),
        ("What daily fee does the inspectorate pay its associates?", "money"),
    ],
)
def test_answer_type_reads_the_asking_clause(question, kind):
    assert answer_type(question) == kind


def test_a_how_many_question_wants_a_number_of_what_it_counts():
    from assistant.question import counted_noun, states_count

    assert counted_noun("How many stages are there in the complaints procedure?") == "stage"
    assert counted_noun("How many agencies does the forum represent?") == "agenc"
    assert counted_noun("What is the time limit?") == ""
    # the head noun, before a preposition
    assert counted_noun("How many concerns about inspector conduct did it receive?") == "concern"
    assert states_count("stage", "The procedure has four stages: informal, formal and review.")
    assert states_count("agenc", "The forum, which represents 41 of the 64 agencies, said:")
    assert not states_count("stage", "The adjudicator is appointed for a term of three years.")
    stated = analyse("How many stages are there in the complaints procedure?")
    assert stated.answer_type == "number" and stated.counted == "stage"


def test_a_glossary_entry_states_a_definition():
    assert states("definition", "Sampling window: the six months in which a case must begin.")
    assert not states("definition", "The process is:")  # a lead-in defines nothing
    assert not states("definition", "Exemplary: 3 points")  # a label and a value


def test_a_number_counts_the_noun_it_leads_up_to() -> None:
    from assistant.question import states_count

    assert states_count("stage", "The procedure has four stages.")
    assert states_count("agenc", "The forum represents 41 of the 64 agencies.")
    # "3 months from the stage 3 response" counts months, not stages
    assert not states_count(
        "stage", "Independent adjudication | 3 months from the stage 3 response"
    )


def test_a_what_or_which_question_names_the_kind_of_thing_it_asks_for():
    from assistant.question import head_noun

    assert head_noun("What principles does Kestrel's code of conduct set out?") == "principl"
    assert head_noun("Which reasons for deferring an inspection will Fernvale not accept?") == (
        "reason"
    )
    assert head_noun("What key judgements did inspectors make?") == "judgement"
    # a word that names no kind: the noun after "of" does
    assert head_noun("Which types of provision can get their own grade?") == "provis"
    assert head_noun("What kinds of reasonable adjustments do inspectors make?") == "adjust"
    assert head_noun("What three things must the inspectorate have due regard to?") == ""
    # no noun where the kind would be
    assert head_noun("What happens to a provider's grades?") == ""
    assert head_noun("What is the deadline for a complaint?") == ""
    assert head_noun("What do inspectors need to be sure of?") == ""
    assert head_noun("How long does an inspection last?") == ""
    assert analyse("What grades can an agency receive?").head == "grade"
