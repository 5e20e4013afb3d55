"""Candidate units: neighbour features and lists shown with their lead-in (nested lists too)."""

from __future__ import annotations

import numpy as np

from assistant.documents import Chunk, Hit
from assistant.extractive import _group, _list_of
from assistant.question import analyse
from assistant.units import FEATURES, chunk_units, feature_vector, featurise

NESTED = (
    "We will start work on the next objectives. The steps are:\n\n"
    "- Review what the current objectives achieved.\n"
    "- Hold listening sessions with:\n\n"
    "- each staff network\n"
    "- people who use our services\n\n"
    "- Publish draft objectives for comment.\n\n"
    "Time limits in this procedure are in working days. A working day is any weekday that "
    "is not a bank holiday."
)


def _units(question: str, text: str = NESTED):
    chunk = Chunk("d:1", "d", text, "Doc", "other", "Plans", None, 0, len(text))
    hit = Hit(chunk, 1.0, 1)
    units = chunk_units(1, hit)
    featurise(units, [hit], analyse(question), {}, np.zeros(384, dtype=np.float32))
    return units


def test_nested_list_is_led_in_by_its_parent_item():
    units = _units("Who will the listening sessions be held with?")
    network = next(u for u in units if u.text == "each staff network")
    intro, items = _list_of(network, units)
    assert intro is not None and intro.text == "Hold listening sessions with:"
    assert [u.text for u in items] == ["each staff network", "people who use our services"]
    group, total = _group(network, units, max_items=8)
    assert group[0] is intro and total == 2


def test_top_level_list_keeps_its_own_lead_in():
    units = _units("What are the steps?")
    review = next(u for u in units if u.text.startswith("Review"))
    intro, items = _list_of(review, units)
    assert intro is not None and intro.text.endswith("The steps are:")
    assert items[0] is review and "Hold listening sessions with:" in [u.text for u in items]


def test_neighbour_features_read_the_unit_before():
    units = _units("What are the time limits in working days?")
    restates = next(u for u in units if u.text.startswith("Time limits"))
    answer = next(u for u in units if u.text.startswith("A working day"))
    assert restates.features["lex"] > answer.features["lex"]
    assert answer.features["prev_lex"] == restates.features["lex"]
    assert answer.features["prev_gain"] == restates.features["lex"] - answer.features["lex"]
    assert answer.features["after_best"] == 1.0 and restates.features["after_best"] == 0.0
    assert answer.features["prev_same_block"] == 1.0
    first = min(units, key=lambda u: u.start)
    assert first.features["prev_lex"] == 0.0 and first.features["prev_same_block"] == 0.0
    for u in units:
        assert len(feature_vector(u)) == len(FEATURES)  # every feature filled for every unit


def test_contents_list_items_and_numbered_headings_are_labels():
    """A table of contents printed as a list never answers: neither its numbered headings
    ("6. Developing good relations") nor the heading fragments listed with them."""
    text = (
        "Contents:\n\n"
        "- framework impact on those with protected characteristics and the evaluation\n"
        "- 3 PSED aims? 4. Eliminating discrimination 5. Advancing equality of opportunity\n"
        "- 6. Developing good relations\n\n"
        "The duty has three aims:\n\n"
        "- eliminate discrimination\n"
        "- advance equality of opportunity\n"
        "- foster good relations"
    )
    units = _units("What are the aims of the duty?", text)
    kinds = {u.text: u.kind for u in units}
    assert kinds["6. Developing good relations"] == "label"
    assert kinds["framework impact on those with protected characteristics and the evaluation"] == (
        "label"
    )
    assert kinds["foster good relations"] == "item"  # a real list of phrases stays a list
    assert kinds["eliminate discrimination"] == "item"


SERVICES = (
    "Services can expect inspectors to:\n\n"
    "- arrive at the time agreed with the service\n"
    "- carry identification at all times\n"
    "- avoid interrupting meal times and visits unless there is a safeguarding concern\n"
    "- keep interviews to the time agreed\n\n"
    "Inspectors are employed by the inspectorate."
)


def test_focused_group_puts_the_answering_item_right_after_its_lead_in():
    units = _units("Which parts of the regime should inspectors not interrupt?", SERVICES)
    meals = next(u for u in units if u.text.startswith("avoid interrupting"))
    intro = next(u for u in units if u.kind == "intro")
    group, total = _group(meals, units, max_items=8, focused=True)
    # the lead-in, then the item that answers, then the rest of the list in document order
    assert [u.text.split()[0] for u in group] == ["Services", "avoid", "arrive", "carry", "keep"]
    assert group[0] is intro and total == 4
    listed, _ = _group(meals, units, max_items=8)  # a list question keeps document order
    assert [u.text.split()[0] for u in listed] == ["Services", "arrive", "carry", "avoid", "keep"]


def test_focused_group_led_by_a_lead_in_shows_its_best_item_first():
    units = _units("Which parts of the regime should inspectors not interrupt?", SERVICES)
    intro = next(u for u in units if u.kind == "intro")
    for u in units:
        u.score = 2.0 if u.text.startswith("carry") else 0.0
    group, total = _group(intro, units, max_items=3, focused=True)
    assert [u.text.split()[0] for u in group] == ["Services", "carry", "arrive", "avoid"]
    assert total == 4  # three of four shown: the answer says how many more


def test_focused_group_keeps_a_nested_lead_in_item_with_its_list():
    units = _units("Who will the listening sessions be held with?")
    parent = next(u for u in units if u.text == "Hold listening sessions with:")
    focused, _ = _group(parent, units, max_items=8, focused=True)
    whole, _ = _group(parent, units, max_items=8)
    assert focused == whole


def test_a_sentence_with_dates_is_not_a_contents_line():
    """Numbers before capitals mark a contents line ("3 PSED aims 4. Eliminating ..."), but a
    day before a month is a date: the sentence naming three dates is an answer, not a label."""
    text = (
        "Three online briefing sessions will be held for managers, on 18 November, 2 December "
        "and 9 December 2025. Each session lasts 90 minutes.\n\n"
        "- 3 PSED aims 4. Eliminating discrimination 5. Advancing equality"
    )
    units = _units("When are the briefing sessions?", text)
    dates = next(u for u in units if u.text.startswith("Three online"))
    contents = next(u for u in units if u.text.startswith("3 PSED"))
    assert dates.kind == "sentence" and contents.kind == "label"


def test_a_lead_in_to_a_quotation_comes_with_the_quotation():
    text = (
        "A spokesperson for the providers forum, which represents 41 of the 64 agencies, said:"
        '\n\n"We welcome the sharper focus on stability."\n\nThe framework starts in 2026.'
    )
    units = _units("How many agencies does the forum represent?", text)
    said = next(u for u in units if u.text.startswith("A spokesperson"))
    group, total = _group(said, units, max_items=8)
    assert [u.text for u in group] == [said.text, '"We welcome the sharper focus on stability."']
    assert total == 0
    alone = _units("Who spoke?", "The forum's chair said:")
    assert _group(alone[0], alone, max_items=8) == ([], 0)  # nothing after it: never shown


def test_after_the_lead_units_follow_by_score_not_document_order():
    from assistant.extractive import AnswerModel, select_units

    text = (
        "The handbook was revised in 2025. Fieldwork for a full inspection lasts four days. "
        "Inspectors arrive at nine on the first day. Each day ends with a short meeting."
    )
    units = _units("How long is fieldwork?", text)
    scores = {"Fieldwork": 5.0, "Each": 4.0, "The": 3.0, "Inspectors": 1.0}
    for u in units:
        u.score = scores[u.text.split()[0]]
    model = AnswerModel(weights={}, keep_margin=3.0, max_items=8, char_budget=2000)
    chosen = select_units(analyse("How long is fieldwork?"), units, model, max_units=4)
    # the lead, then the next best; the unit below the margin is left out
    assert [u.text.split()[0] for u in chosen] == ["Fieldwork", "Each", "The"]


def test_a_table_row_is_read_with_its_header():
    """A data row names no column: its context is the table's header row."""
    text = (
        "Staff group | Headcount | Women | Percentage women\n"
        "Inspectors | 168 | 97 | 57.7%\n"
        "All staff | 412 | 241 | 58.5%"
    )
    units = _units("What percentage of inspectors are women?", text)
    rows = {u.text.split(" | ")[0]: u for u in units if u.kind == "row"}
    inspectors = rows["Inspectors"]
    assert inspectors.features["lex_context"] > inspectors.features["lex"]
    assert inspectors.features["lex_context"] == 1.0  # percentage, women from the header


def test_a_header_row_is_a_label_never_an_answer_and_a_data_row_is_not():
    """Column names answer nothing; a first row with figures, or a continued table's first
    row (its header is in the chunk's context), is data."""
    text = (
        "We grade on four points.\n\nGrade | Label | What the grade means\n"
        "1 | Exceptional | Provision is of consistently high quality\n"
        "3 | Requires improvement | Provision is not yet good enough"
    )
    units = _units("What does grade 3 mean?", text)
    kinds = {u.text.split(" | ")[0]: (u.kind, u.header) for u in units if " | " in u.text}
    assert kinds == {"Grade": ("label", True), "1": ("row", False), "3": ("row", False)}
    data_first = "Inspectors | 168 | 97\nAll staff | 412 | 241"
    assert all(u.kind == "row" for u in _units("How many inspectors?", data_first))
    chunk = Chunk("d:2", "d", "Ratings panel | Board", "Doc", "other", "S", None, 0, 21)
    chunk.context = "Stage | Who decides"
    assert chunk_units(1, Hit(chunk, 1.0, 1))[0].kind == "row"


def test_a_criteria_answer_puts_the_best_item_first_but_a_list_answer_keeps_order():
    from assistant.extractive import AnswerModel, select_units
    from assistant.question import Analysis

    units = _units("What do inspectors look for?", SERVICES)
    for u in units:
        u.score = 3.0 if u.text.startswith("carry") else (2.0 if u.kind == "intro" else 1.0)
    model = AnswerModel(weights={}, keep_margin=3.0, max_items=8, char_budget=2000)

    def shown(kind: str) -> list[str]:
        chosen = select_units(Analysis("q", kind, ()), units, model, max_units=4)
        return [u.text.split()[0] for u in chosen]

    # criteria: the expectation that answers leads the list; a list question reads in order
    assert shown("criteria")[:3] == ["Services", "carry", "arrive"]
    assert shown("list")[:3] == ["Services", "arrive", "carry"]


FLAT = (
    "The main responsibilities are:\n\n"
    "- The lead inspector:\n"
    "- plans the inspection and leads the team\n"
    "- writes the report\n"
    "- The regulatory inspection manager:\n"
    "- quality assures the inspection and the report\n"
    "- must agree any proposed inadequate judgement before the final feedback meeting\n"
    "- decides requests for deferral"
)


def test_an_item_of_a_flattened_sub_list_keeps_its_parent_item():
    """Nested items a loader printed as one list: the answering item's parent comes first."""
    units = _units("Who has to agree to a proposed inadequate judgement?", FLAT)
    agree = next(u for u in units if u.text.startswith("must agree"))
    group, total = _group(agree, units, max_items=4, focused=True)
    assert [u.text.split()[0] for u in group[:3]] == ["The", "The", "must"]
    assert group[1].text == "The regulatory inspection manager:" and total == 7
    assert len(group) == 5  # the lead-in and four items


def test_two_items_of_one_shortened_list_give_one_notice():
    from assistant.extractive import AnswerModel, select_units
    from assistant.question import Analysis

    units = _units("Who decides requests for deferral?", FLAT)
    for u in units:
        u.score = {"decides": 5.0, "must": 4.5}.get(u.text.split()[0], 0.0)
    model = AnswerModel(weights={}, keep_margin=3.0, max_items=3, char_budget=2000)
    shortened: list[tuple[int, int, int]] = []
    select_units(Analysis("q", "person", ()), units, model, 4, shortened=shortened)
    assert shortened == [(1, 3, 7)]


def test_a_list_interrupted_by_a_sub_list_is_one_list_with_its_sub_list():
    """ "1. Review ... 2. Hold sessions with: (sub-list) 3. Publish ..." prints as three
    blocks; the items after the sub-list continue the outer list, and the parent item is
    never shown without its sub-list."""
    units = _units("What are the steps?")
    publish = next(u for u in units if u.text.startswith("Publish"))
    intro, items = _list_of(publish, units)
    assert intro is not None and intro.text.endswith("The steps are:")
    assert [u.text.split()[0] for u in items] == ["Review", "Hold", "Publish"]
    group, total = _group(items[0], units, max_items=8)
    assert [u.text.split()[0] for u in group] == [
        "The",
        "Review",
        "Hold",
        "each",
        "people",
        "Publish",
    ]
    assert total == 3


def test_a_lead_in_never_follows_the_sentence_it_introduces():
    from assistant.extractive import AnswerModel, Decisions, select_units
    from assistant.question import Analysis

    text = (
        "The following criterion must be met for the grade to be strong:\n\n"
        "Learners know more and remember more as a result of the curriculum."
    )
    units = _units("Which criterion must be met?", text)
    for u in units:
        u.score = 5.0 if u.text.startswith("Learners") else 4.0
    model = AnswerModel(weights={}, keep_margin=3.0, max_items=8, char_budget=2000)
    decisions = Decisions()
    chosen = select_units(Analysis("q", "other", ()), units, model, 4, decisions)
    assert [u.text.split()[0] for u in chosen] == ["Learners"]
    intro = next(u for u in units if u.text.startswith("The following"))
    assert decisions.reasons[intro.key] == "not needed: what it introduces is shown already"


def test_a_count_of_something_else_does_not_match_a_how_many_question():
    text = (
        "The adjudicator is appointed for a term of three years. "
        "The procedure has four stages, from informal resolution to adjudication."
    )
    units = _units("How many stages does the procedure have?", text)
    term = next(u for u in units if u.text.startswith("The adjudicator"))
    stages = next(u for u in units if u.text.startswith("The procedure"))
    assert stages.features["type_match"] == 1.0 and term.features["type_match"] == 0.0


def test_a_how_many_days_question_wants_days_not_any_duration():
    text = (
        "Each conversation with the case manager lasts about 45 minutes. "
        "The case fieldwork week lasts four days, from Monday to Thursday."
    )
    units = _units("How many days do the case assessors spend on site?", text)
    minutes = next(u for u in units if "45 minutes" in u.text)
    days = next(u for u in units if "four days" in u.text)
    assert days.features["type_match"] == 1.0 and minutes.features["type_match"] == 0.0


def test_steps_keep_their_order_whatever_the_question():
    """Moving the answering step up under "follows these steps:" would misstate the order."""
    text = (
        "A simple approach follows these steps:\n\n"
        "- Describe the proposal.\n"
        "- Gather evidence about who is affected.\n"
        "- Consult the people affected where the effect could be significant."
    )
    units = _units("Whom should the college consult?", text)
    consult = next(u for u in units if u.text.startswith("Consult"))
    group, _ = _group(consult, units, max_items=8, focused=True)
    assert [u.text.split()[0] for u in group] == ["A", "Describe", "Gather", "Consult"]


SIGNPOSTS = (
    "This handbook explains how the Inspectorate inspects youth services. "
    "Questions about this report go to the Equality Lead. "
    "The code of conduct sets out how inspectors behave. "
    "The framework applies to the 64 agencies registered in the region. "
    "Practical arrangements are explained in our separate guidance for providers. "
    "It sets out what inspectors judge. "
    "Inspectors give four weeks' notice of a full inspection.\n\n"
    "The handbook sets out:\n\n"
    "- how we rate each standard\n"
    "- how we report what we find"
)


def test_signposts_and_their_outline_lists_are_marked_but_scope_statements_are_not():
    units = _units("How much notice do inspectors give?", SIGNPOSTS)
    marked = {u.text for u in units if u.features["signpost"]}
    assert marked == {
        "This handbook explains how the Inspectorate inspects youth services.",
        "Questions about this report go to the Equality Lead.",
        "The code of conduct sets out how inspectors behave.",
        "Practical arrangements are explained in our separate guidance for providers.",
        "It sets out what inspectors judge.",
        "The handbook sets out:",
        "how we rate each standard",
        "how we report what we find",
    }
    assert "signpost" in FEATURES


def test_a_question_about_the_documents_scope_is_answered_by_its_signposts():
    units = _units("Who is the handbook for?", SIGNPOSTS)
    assert not any(u.features["signpost"] for u in units)
    units = _units("Who is covered by the code of conduct?", SIGNPOSTS)
    assert not any(u.features["signpost"] for u in units)


def test_a_short_paragraph_is_shown_whole_after_the_answer():
    """The lead's own short paragraph completes it (the rest after what was chosen); a long
    paragraph, another paragraph and a list are never pulled in."""
    from dataclasses import replace

    from assistant.extractive import AnswerModel, Decisions, select_units

    text = (
        "Inspectors report on equality under leadership and management. They do not give a "
        "separate grade for equality.\n\n"
        "A separate paragraph about grading in general follows here.\n\n"
        "During a visit inspectors:\n\n"
        "- read the equality objectives\n"
        "- meet governors"
    )
    question = "Do inspectors give a separate grade for equality?"
    units = _units(question, text)
    scores = {"They": 9.0, "A": 8.0, "Inspectors": 2.0, "During": 1.0}
    for u in units:
        u.score = scores.get(u.text.split()[0], 0.5)
    model = AnswerModel(weights={}, keep_margin=3.0, max_items=8, char_budget=2000)
    analysis = analyse(question)

    def first_words(m: AnswerModel, log: Decisions | None = None) -> list[str]:
        return [u.text.split()[0] for u in select_units(analysis, units, m, 4, decisions=log)]

    assert first_words(model) == ["They", "A"]  # off: the paragraph's first sentence is lost
    log = Decisions()
    assert first_words(replace(model, complete_below=400), log) == ["They", "A", "Inspectors"]
    added = next(u for u in units if u.text.startswith("Inspectors report"))
    assert log.reasons[added.key].startswith("selected: completes its short paragraph")
    # a paragraph longer than the limit stays as the scores chose it
    assert first_words(replace(model, complete_below=60)) == ["They", "A"]


LABELLED = (
    "Inspectors keep to these principles on every visit.\n\n"
    "- Integrity: inspectors act honestly.\n"
    "- Impartiality: inspectors judge on evidence.\n\n"
    "Examples of adjustments we often make include:\n\n"
    "- extra time\n"
    "- a quiet room\n\n"
    "The code is reviewed every two years."
)


def test_the_question_s_head_noun_marks_what_a_heading_or_lead_in_labels():
    """A question "What principles ...?" asks for what the section "Our principles" holds,
    "What examples ...?" for the items under "Examples of ... include:"; a unit neither labels
    is unmarked."""

    def marked(question: str, section: str) -> set[str]:
        chunk = Chunk("d:1", "d", LABELLED, "Doc", "other", section, None, 0, len(LABELLED))
        hit = Hit(chunk, 1.0, 1)
        units = chunk_units(1, hit)
        featurise(units, [hit], analyse(question), {}, np.zeros(384, dtype=np.float32))
        return {u.text for u in units if u.features["head_label"]}

    everything = marked("What principles does the code set out?", "2. Our principles")
    assert any(t.startswith("Integrity") for t in everything)
    assert any(t.startswith("The code is reviewed") for t in everything)  # the whole section
    examples = marked("What examples of adjustments does the code give?", "3. Working with us")
    assert examples == {
        "Examples of adjustments we often make include:",
        "extra time",
        "a quiet room",
    }
    assert marked("How often is the code reviewed?", "2. Our principles") == set()
    assert "head_label" in FEATURES


STAGES = (
    "Most complaints are settled informally.\n\n"
    "Stage | Who handles it | Time limit\n"
    "1. Informal resolution | The lead inspector | During the visit\n"
    "2. Formal investigation | An investigating officer | 10 working days\n"
    "3. Internal review | The director | 10 working days from stage 2\n"
    "4. Independent adjudication | The adjudicator | 3 months from stage 3"
)


def _stage_units(question: str):
    chunk = Chunk(
        "d:1",
        "d",
        STAGES,
        "Doc",
        "other",
        "The four stages of the complaints procedure",
        None,
        0,
        len(STAGES),
    )
    hit = Hit(chunk, 1.0, 1)
    units = chunk_units(1, hit)
    featurise(units, [hit], analyse(question), {}, np.zeros(384, dtype=np.float32))
    for u in units:  # the scorer's view: the third stage's row best, then the sentence
        u.score = {"3.": 9.0, "Most": 8.5}.get(u.text.split()[0], 1.0)
    return units


def test_a_list_question_answered_by_a_table_row_shows_the_table_s_rows():
    """ "What are the stages?" and a table with a row per stage under a heading naming them:
    the rows in document order, not the best row alone; off (0), or for a row whose table
    the heading does not tie to the question, the row stands alone."""
    from dataclasses import replace

    from assistant.extractive import AnswerModel, select_units

    model = AnswerModel(weights={}, keep_margin=3.0, max_items=8, char_budget=2000)
    question = "What are the stages of the complaints procedure?"
    units = _stage_units(question)
    analysis = analyse(question)

    def firsts(m: AnswerModel, a=analysis, us=units) -> list[str]:
        return [u.text.split()[0] for u in select_units(a, us, m, 4)]

    whole = replace(model, whole_table=0.5)
    # the header row is a label, never quoted; the sentence still follows the table
    assert firsts(whole) == ["1.", "2.", "3.", "4.", "Most"]
    assert firsts(model) == ["3.", "Most"]
    other = "How is a challenge to a grade handled?"
    assert firsts(whole, analyse(other), _stage_units(other)) == ["3.", "Most"]
    # a question that does not ask for a list keeps its one row
    single = "What is the time limit for an internal review?"
    assert firsts(whole, analyse(single), _stage_units(single)) == ["3.", "Most"]


def test_a_lead_sentence_opening_with_a_pronoun_comes_after_what_it_refers_to():
    """ "It does not require ..." says nothing on its own: the short sentence before it in its
    paragraph goes first; a long one, one in another paragraph, or a lead that names its
    subject does not."""
    from dataclasses import replace

    from assistant.extractive import AnswerModel, Decisions, select_units

    text = (
        "Some background about the duty comes first.\n\n"
        "The duty is about process. It does not require a college to achieve any result."
    )
    question = "Does the duty require a college to achieve a result?"
    units = _units(question, text)
    for u in units:
        u.score = {"It": 9.0}.get(u.text.split()[0], 1.0)
    model = AnswerModel(weights={}, keep_margin=3.0, max_items=8, char_budget=2000)
    analysis = analyse(question)

    def firsts(m: AnswerModel, log: Decisions | None = None, us=units) -> list[str]:
        return [u.text.split()[0] for u in select_units(analysis, us, m, 4, decisions=log)]

    assert firsts(model) == ["It"]  # off
    log = Decisions()
    assert firsts(replace(model, antecedent_max=100), log) == ["The", "It"]
    pulled = next(u for u in units if u.text.startswith("The duty"))
    assert log.reasons[pulled.key].startswith("selected: says what #1 refers to")
    assert firsts(replace(model, antecedent_max=20)) == ["It"]  # 26 characters: too long
    # the sentence before in another paragraph is not its antecedent
    alone = _units(question, "The duty is about process.\n\nIt does not require a result.")
    for u in alone:
        u.score = {"It": 9.0}.get(u.text.split()[0], 1.0)
    assert firsts(replace(model, antecedent_max=100), us=alone) == ["It"]
    # a lead that names its subject stands alone
    for u in units:
        u.score = {"The": 9.0}.get(u.text.split()[0], 1.0)
    assert firsts(replace(model, antecedent_max=100)) == ["The"]


LONG_LIST = (
    "Inspectors evaluate the extent to which:\n\n"
    "- alpha leaders set a clear vision\n"
    "- bravo governors hold leaders to account\n"
    "- charlie staff workload is managed\n"
    "- delta learners know how to report a concern\n"
    "- echo staff receive regular training\n"
    "- foxtrot pre-employment checks are made on every member of staff\n"
    "- golf the designated safeguarding lead is trained"
)


def test_a_long_list_shown_in_part_keeps_its_best_items_in_document_order():
    """Four of seven expectations fit: the answering item first, then the best-scoring of the
    rest in the list's order, not simply the first ones."""
    units = _units("What do inspectors look for in safeguarding?", LONG_LIST)
    scores = {"delta": 9.0, "golf": 8.0, "foxtrot": 7.0, "alpha": 1.0, "bravo": 0.5}
    for u in units:
        u.score = scores.get(u.text.split()[0], 0.0)
    delta = next(u for u in units if u.text.startswith("delta"))
    group, total = _group(delta, units, max_items=4, focused=True)
    assert [u.text.split()[0] for u in group] == ["Inspectors", "delta", "alpha", "foxtrot", "golf"]
    assert total == 7
    # when it all fits, the rest keep document order as before
    group, _ = _group(delta, units, max_items=8, focused=True)
    assert [u.text.split()[0] for u in group][:4] == ["Inspectors", "delta", "alpha", "bravo"]


def test_a_criteria_answer_may_go_on_after_its_list_but_a_list_answer_stops():
    """A criteria answer shows its list focused (the best item first, not necessarily all of
    it), so what follows may still be needed; a list answer shows the list whole and ends."""
    from assistant.extractive import AnswerModel, Decisions, select_units

    text = (
        "Case assessors consider whether:\n\n"
        "- the assessment was on time\n"
        "- the plan was shared with the child\n\n"
        "Assessors also record whether identifiable victims were considered."
    )
    model = AnswerModel(weights={}, keep_margin=3.0, max_items=8, char_budget=2000)

    def firsts(question: str, log: Decisions | None = None) -> list[str]:
        units = _units(question, text)
        for u in units:
            u.score = {"the": 9.0, "Case": 8.0, "Assessors": 7.5}.get(u.text.split()[0], 1.0)
        return [u.text.split()[0] for u in select_units(analyse(question), units, model, 4, log)]

    criteria = "What do case assessors look for in an assessment?"
    assert analyse(criteria).answer_type == "criteria"
    assert firsts(criteria)[-1] == "Assessors"
    listed = "What are the things case assessors consider in an assessment?"
    assert analyse(listed).answer_type == "list"
    log = Decisions()
    assert "Assessors" not in firsts(listed, log)
    assert "not needed: the list that answers is shown whole" in log.reasons.values()
