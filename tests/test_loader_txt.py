"""Plain-text loader: round trip over the suite's txt renderings (text as a PDF extractor
leaves a two-column PDF), the two seed corpus files, and the damages one at a time."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import SEED_PSED_AIMS

from assistant.blocks import Block
from assistant.loader_txt import (
    Line,
    Piece,
    Unit,
    _append,
    _body_rows,
    _cells,
    _resplit,
    _table_at,
    load_txt,
)
from assistant.loaders import LoadError
from evals.render import DEFAULT_SRC, discover_sources, parse_source, render_suite
from evals.roundtrip import fidelity

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
EDI = CORPUS / "cafcass-inspection-framework-edi-statement-2020.txt"
NEWS = CORPUS / "news-ofsted-announces-full-inspection-of-cafcass.txt"
DOC_IDS = [p.parent.name for p in discover_sources(DEFAULT_SRC)]

# The issue-12 targets (recall 0.99, heading F1 0.95, tau 0.98) are out of reach for this
# rendering: its tables have lost their column gaps (cells joined by single spaces; a third of
# the suite's units are cells) and riffled columns leave some joins undecidable. These are
# the figures measured when the loader was written (text_recall, heading_f1, order_tau),
# asserted so a change that loses ground fails; raise them as the loader improves. Raised
# after table recovery (header run into the first row, numbered rows, rows cut or run
# together): mean text recall 0.684 -> 0.815. Raised again after un-riffling
# (`assistant.txt_riffle`), dates kept whole in cells, short numbered rows, lower-case inline
# numbered items, hyphen/heading fixes, item merges kept to dangling words and number words
# as cell starts: 0.815 -> 0.931 (`python -m evals.roundtrip test-artifacts/suite/txt`).
# Raised after dates as header cells, stated periods closing cells, labelled rows run
# together and units re-cut after a finished sentence (`_resplit`): 0.931 -> 0.952.
MEASURED = {
    "fernvale-complaints-procedure": (0.969, 1.000, 1.000),
    "fernvale-equality-duty-guidance": (0.955, 1.000, 1.000),
    "fernvale-further-education-framework": (0.964, 1.000, 1.000),
    "fernvale-inspection-faq": (0.985, 0.980, 0.999),
    "kestrel-annual-equality-report": (0.989, 0.919, 1.000),
    "kestrel-consultation-outcome": (1.000, 1.000, 1.000),
    "kestrel-inspector-code-of-conduct": (0.970, 1.000, 1.000),
    "kestrel-youth-justice-handbook": (0.940, 0.988, 1.000),
    "northmoor-equality-statement": (0.847, 1.000, 1.000),
    "northmoor-fostering-framework": (0.975, 0.968, 1.000),
    "northmoor-fostering-handbook": (0.955, 0.950, 1.000),
    "northmoor-news-revised-framework": (0.870, 0.889, 1.000),
}
SLACK = 0.005  # the figures above are rounded to three places

PSED_AIMS = SEED_PSED_AIMS


@pytest.fixture(scope="module")
def suite_txt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("suite-txt")
    render_suite(DEFAULT_SRC, out, formats=["txt"])
    return out / "txt"


def load(path: Path) -> list[Block]:
    return load_txt(path, path.read_bytes()).blocks


def load_text(tmp_path: Path, text: str) -> list[Block]:
    path = tmp_path / "doc.txt"
    path.write_text(text, encoding="utf-8")
    return load(path)


def paragraph_text(tmp_path: Path, text: str) -> str:
    """The paragraphs `text` loads as, joined: what the hyphen tests read."""
    return " ".join(t for k, t in units(load_text(tmp_path, text)) if k == "paragraph")


def units(blocks: list[Block]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for b in blocks:
        if b.kind == "list":
            out.extend(("item", it.text) for it in b.items)
        elif b.kind == "table":
            out.extend(("cell", c) for row in b.rows for c in row)
        else:
            out.append((b.kind, b.text))
    return out


def test_measured_covers_the_suite() -> None:
    assert sorted(MEASURED) == DOC_IDS and len(DOC_IDS) == 12


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_round_trip(suite_txt: Path, doc_id: str) -> None:
    source = parse_source(DEFAULT_SRC / doc_id / "source.md")
    doc = load_txt(suite_txt / f"{doc_id}.txt", (suite_txt / f"{doc_id}.txt").read_bytes())
    fid = fidelity(source, doc.blocks)
    recall, f1, tau = MEASURED[doc_id]
    assert fid.furniture == []  # the target itself: no page furniture in any unit
    assert fid.text_recall >= recall - SLACK, fid.missed[:5]
    assert fid.heading_f1 >= f1 - SLACK, (fid.missed_headings, fid.extra_headings)
    assert fid.order_tau >= min(tau, 0.98) - SLACK
    assert doc.metadata["title"] == source.title
    assert doc.doc_id == doc_id and doc.format == "txt"


def test_seed_psed_aims_are_three_whole_items() -> None:
    blocks = load(EDI)
    lead = next(
        i for i, b in enumerate(blocks) if b.text.endswith("to have due regard to the need to:")
    )
    aims = blocks[lead + 1]
    assert aims.kind == "list"
    assert [it.text for it in aims.items] == PSED_AIMS


def test_seed_edi_statement_loads_sensibly() -> None:
    doc = load_txt(EDI, EDI.read_bytes())
    assert doc.metadata["title"] == "Future inspection of Cafcass from 2021"
    found = units(doc.blocks)
    headings = [t for k, t in found if k == "heading"]
    assert "4. Eliminating discrimination" in headings
    assert "5. Advancing equality of opportunity" in headings
    assert not any(t.startswith("Home >") or "Crown copyright" in t for _, t in found)
    assert not any("**" in t or "<u>" in t for _, t in found)


def test_seed_news_paragraphs_and_lists() -> None:
    blocks = load(NEWS)
    assert (blocks[0].kind, blocks[0].level) == ("heading", 1)
    assert blocks[0].text == "Ofsted announces full inspection of Cafcass"
    lists = [[it.text for it in b.items] for b in blocks if b.kind == "list"]
    assert lists == [
        [
            "intelligent: all of our work will be evidence-led, and we will work to ensure "
            "that our evaluation tools and frameworks will be valid and reliable",
            "responsible: our frameworks will be fair. We will seek to reduce inspection "
            "burdens and make our expectations and findings clear",
            "focused: we will target our time and resources where they can lead directly to "
            "improvement",
        ],
        [
            "focus on the things that matter most to children\u2019s lives",
            "be consistent in our expectations of providers",
            "prioritise our work where improvement is needed most",
        ],
    ]
    paragraphs = [b.text for b in blocks if b.kind == "paragraph"]
    assert paragraphs[-1] == (
        "Cafcass will share this on their website following clearance with Ofsted and our "
        "Cafcass Board."
    )
    assert len(paragraphs) == 8  # the comment form and newsletter lines are gone
    for b in blocks:  # each lead-in ends with its colon and comes right before its list
        if b.kind == "list":
            assert blocks[blocks.index(b) - 1].text.endswith(":")


def test_inline_bullets_split_after_their_lead_in(tmp_path: Path) -> None:
    blocks = load_text(
        tmp_path,
        "Title of the note\n\nProviders need to: \u2022 publish their information \u2022 set\n"
        "one objective \u2022 review it every year\n",
    )
    assert units(blocks)[1:] == [
        ("paragraph", "Providers need to:"),
        ("item", "publish their information"),
        ("item", "set one objective"),
        ("item", "review it every year"),
    ]


def test_wrapped_list_item_is_one_item(tmp_path: Path) -> None:
    blocks = load_text(
        tmp_path,
        "Complaints\n\nWhat to do:\n\n- Send the complaint to the complaints team within\n"
        "  ten working days.\n- Keep a copy of everything you send.\n(a) a lettered\n"
        "item that wraps\n",
    )
    (lst,) = [b for b in blocks if b.kind == "list"]
    assert [(it.text, it.label) for it in lst.items] == [
        ("Send the complaint to the complaints team within ten working days.", ""),
        ("Keep a copy of everything you send.", ""),
        ("a lettered item that wraps", "(a)"),
    ]


def test_page_furniture_and_running_header_removed(tmp_path: Path) -> None:
    header = "Example Inspectorate - Handbook"
    text = (
        "A handbook for everyone\n\n"
        "1. Scope\n\nThis handbook applies to every inspection we carry out from this\n"
        "Page 1 of 3\n" + header + "\n"
        "spring onwards.\n\n2. Notice\n\nWe give two days of notice.\nPage 2 of 3\n"
        + header
        + "\nWe may give less when children are at risk.\nPage 3 of 3\n"
    )
    found = units(load_text(tmp_path, text))
    assert not any("Page" in t or header in t for _, t in found)
    assert (
        "paragraph",
        "This handbook applies to every inspection we carry out from this spring onwards.",
    ) in found
    assert [t for k, t in found if k == "heading"] == [
        "A handbook for everyone",
        "1. Scope",
        "2. Notice",
    ]


def test_hyphen_rejoined_only_for_words_of_the_document(tmp_path: Path) -> None:
    text = (
        "Notes\n\nThe inspection team reads the records of each child. An inspec-\n"
        "tion also looks at the sixth-\nform provision and at the records of the\n"
        "provider. A form is filled in for each visit.\n"
    )
    para = paragraph_text(tmp_path, text)
    assert "An inspection also looks at the sixth-form provision" in para


def test_numbered_list_is_not_taken_for_sections(tmp_path: Path) -> None:
    text = (
        "Code of conduct\n\n1. Who this code applies to\n\nIt applies to every inspector.\n\n"
        "2. Our principles\n\nThe principles are:\n\n1. Integrity: we act honestly.\n"
        "2. Respect: everyone is treated with courtesy.\n3. Evidence: findings rest on it.\n\n"
        "3. What services can expect\n\nCourtesy and clear explanations.\n"
    )
    found = units(load_text(tmp_path, text))
    assert [t for k, t in found if k == "heading"] == [
        "Code of conduct",
        "1. Who this code applies to",
        "2. Our principles",
        "3. What services can expect",
    ]
    assert ("item", "Evidence: findings rest on it.") in found


def test_glued_heading_is_split_from_its_paragraph(tmp_path: Path) -> None:
    text = (
        "Guidance\n\n1. About this guidance This guidance is for principals and\n"
        "governors of colleges.\n\n2. The general duty The general duty applies to colleges.\n"
        "It is set out in law. This guidance explains it.\n"
    )
    found = units(load_text(tmp_path, text))
    assert found[1:4] == [
        ("heading", "1. About this guidance"),
        ("paragraph", "This guidance is for principals and governors of colleges."),
        ("heading", "2. The general duty"),
    ]


def test_bad_files_raise_load_error(tmp_path: Path) -> None:
    for name, data, reason in [
        ("binary.txt", bytes(range(256)) * 8, "not a text file"),
        ("blank.txt", b" \n\n\t\n", "no text"),
        ("furniture.txt", b"Page 1 of 2\n\nPage 2 of 2\n", "no readable text"),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(LoadError, match=reason) as info:
            load_txt(path, data)
        assert info.value.path == str(path)


def test_windows_encodings(tmp_path: Path) -> None:
    path = tmp_path / "win.txt"
    path.write_bytes("Caf\u00e9 report\n\nIt\u2019s fine.\n".encode("cp1252"))
    doc = load_txt(path, path.read_bytes())
    assert doc.metadata["encoding"] == "cp1252"
    assert units(doc.blocks) == [("heading", "Caf\u00e9 report"), ("paragraph", "It\u2019s fine.")]


def test_table_header_run_into_first_row_and_rows_run_together(tmp_path: Path) -> None:
    text = (
        "Staff report\n\nThe table gives the figures.\n\n"
        "Staff group Headcount Women Seniors 14 8\n"
        "Inspectors 168 97 Support and corporate staff 230 136\n"
        "Total 412 241\n\nMost staff are women.\n"
    )
    (table,) = [b for b in load_text(tmp_path, text) if b.kind == "table"]
    assert [list(r) for r in table.rows] == [
        ["Staff group", "Headcount", "Women"],
        ["Seniors", "14", "8"],
        ["Inspectors", "168", "97"],
        ["Support and corporate staff", "230", "136"],
        ["Total", "412", "241"],
    ]


def test_table_rows_numbered_like_a_list(tmp_path: Path) -> None:
    text = (
        "Consultation outcome\n\nThe results are below.\n\n"
        "Proposal Agreed Disagreed Decision\n1. Shorter notice 41% 52% Do not go ahead\n"
        "2. New domain 77% 12% Go ahead\n3. Two weeks 58% 30% Go ahead\n\nThat is all.\n"
    )
    (table,) = [b for b in load_text(tmp_path, text) if b.kind == "table"]
    assert list(table.rows[1]) == ["1. Shorter notice", "41%", "52%", "Do not go ahead"]
    assert len(table.rows) == 4


def test_line_starting_with_a_number_continues_the_sentence(tmp_path: Path) -> None:
    text = (
        "Adjustments\n\nThe median time from a request to the adjustment\n"
        "being in place was nineteen working days, down from\n34 working days a year before.\n"
    )
    assert (
        "paragraph",
        "The median time from a request to the adjustment being in place "
        "was nineteen working days, down from 34 working days a year before.",
    ) in units(load_text(tmp_path, text))


def test_bullets_that_are_wrapped_prose_join_into_one_item() -> None:
    """The seed EDI statement prints one paragraph as three "- " lines, each cut mid-sentence:
    they are one run of prose, not three list items (lower-case phrases stay items, see
    test_seed_news_paragraphs_and_lists)."""
    items = [it.text for b in load(EDI) if b.kind == "list" for it in b.items]
    joined = next(t for t in items if t.startswith("We are publishing this statement"))
    assert "the equality, diversity and inclusion implications prior to consultation" in joined
    assert "from those with protected characteristics and those who" in joined
    assert not any(t.startswith(("inclusion implications", "characteristics and")) for t in items)


def test_riffled_columns_read_column_by_column(tmp_path: Path) -> None:
    a = [
        "The inspection team reads every case file and",
        "talks to the staff who hold the cases. It then",
        "writes a short note for the service manager.",
    ]
    b = [
        "Services should keep their records up to date",
        "and make sure each file shows the plan, the",
        "review dates and the name of the case worker.",
    ]
    riffled = [line for pair in zip(a, b, strict=True) for line in pair]
    found = units(load_text(tmp_path, "Notes\n\n" + "\n".join(riffled) + "\n"))
    assert ("paragraph", " ".join(a)) in found and ("paragraph", " ".join(b)) in found
    # the same lines in their own order are left alone
    plain = units(load_text(tmp_path, "Notes\n\n" + "\n".join(a) + "\n\n" + "\n".join(b) + "\n"))
    assert plain == found


def test_dates_stay_whole_in_table_cells() -> None:
    # a capital after a number ("30 | September") and a number after a capital
    # ("March | 2026") are cell starts anywhere but inside a date
    assert _cells(
        "Start a mentoring programme Equality and Inclusion Lead 30 September 2025", 3
    ) == [
        "Start a mentoring programme",
        "Equality and Inclusion Lead",
        "30 September 2025",
    ]
    assert _cells("Publish the report Head of Policy 31 March 2027", 3)[-1] == "31 March 2027"
    assert _cells("Train every inspector Learning Lead March 2026", 3)[-1] == "March 2026"


def test_inline_numbered_items_going_on_lower_case(tmp_path: Path) -> None:
    text = (
        "Adjustments\n\nThe duty has three parts. A provider must take reasonable "
        "steps to: 1. change a\n"
        "practice that puts people at a disadvantage 2. remove a physical feature 3.\n"
        "provide an auxiliary aid or service\n"
    )
    items = [t for k, t in units(load_text(tmp_path, text)) if k == "item"]
    assert items == [
        "change a practice that puts people at a disadvantage",
        "remove a physical feature",
        "provide an auxiliary aid or service",
    ]


def test_one_word_numbered_heading_glued_to_its_paragraph(tmp_path: Path) -> None:
    text = (
        "Handbook\n\n1. Introduction This handbook explains how we inspect.\n"
        "This is the third edition.\n\n2. Scope\n\nThe handbook applies to every service.\n\n"
        "2.1 Who it covers\n\nIt covers all staff.\n\n3. Reporting\n\nWe publish every report.\n"
    )
    found = units(load_text(tmp_path, text))
    assert ("heading", "1. Introduction") in found
    assert (
        "paragraph",
        "This handbook explains how we inspect. This is the third edition.",
    ) in found


def test_hyphen_split_word_with_common_tail_is_rejoined(tmp_path: Path) -> None:
    # "orientation" occurs only here, and "-tion" tails elsewhere must not make "tion" a word
    text = (
        "Notes\n\nNeeds linked to their religion, sex and sexual orienta-\n"
        "tion are met. Each inspec-\ntion checks the informa-\ntion held on each educa-\n"
        "tion plan.\n"
    )
    para = paragraph_text(tmp_path, text)
    assert "sexual orientation are met" in para and "information held" in para


def test_hyphen_with_a_word_for_tail_is_rejoined_unless_both_parts_are_words(
    tmp_path: Path,
) -> None:
    # "rest" is a word of the document, "inte" is no word: "interest"; "sixth" and "form" are
    # both words: the compound keeps its hyphen even though neither form occurs elsewhere
    text = (
        "Notes\n\nHelp comes in a way that holds their inte-\nrest and fits around the\n"
        "rest of their life. Each sixth-\nform college is asked for its records.\n"
    )
    para = paragraph_text(tmp_path, text)
    assert "holds their interest and" in para and "Each sixth-form college" in para


def test_new_paragraph_after_a_list_item_is_not_appended_to_it(tmp_path: Path) -> None:
    # the list is wrapped wider than the paragraph after it (the suite's equality statement)
    text = (
        "Duty\n\nAdvancing equality of opportunity includes, in particular:\n"
        "\u2022 removing or reducing disadvantages that people suffer\n"
        "because of a protected characteristic\n"
        "\u2022 encouraging people with a protected characteristic to take part in\n"
        "public life and other activities where their participation is low\n"
        "Fostering good relations means, in particular,\n"
        "tackling prejudice and promoting understanding\n"
        "between different groups.\n"
    )
    found = units(load_text(tmp_path, text))
    assert (
        "item",
        "encouraging people with a protected characteristic to take part in public life and "
        "other activities where their participation is low",
    ) in found
    assert (
        "paragraph",
        "Fostering good relations means, in particular, tackling prejudice and promoting "
        "understanding between different groups.",
    ) in found


def _wrapped(*blocks: str, width: int = 48) -> str:
    """Blocks hard-wrapped at one width, one after another without blank lines."""
    return "\n".join(textwrap.fill(b, width) for b in blocks) + "\n"


def test_items_ending_on_a_preposition_stay_separate(tmp_path: Path) -> None:
    # "... work with" / "• learners are ..." is two items (a preposition can end one), and an
    # inline "act on • learners develop" keeps the document's own marker
    text = "Behaviour\n\n" + _wrapped(
        "Inspectors look at whether:",
        "\u2022 learners show respect for staff, for one another and for the employers they "
        "work with",
        "\u2022 learners are motivated and take pride in their work",
        "\u2022 teachers check understanding and give feedback that learners act on "
        "\u2022 learners develop fluent English and mathematics skills relevant to their courses",
    )
    items = [t for k, t in units(load_text(tmp_path, text)) if k == "item"]
    assert items == [
        "learners show respect for staff, for one another and for the employers they work with",
        "learners are motivated and take pride in their work",
        "teachers check understanding and give feedback that learners act on",
        "learners develop fluent English and mathematics skills relevant to their courses",
    ]


def test_nested_item_is_not_merged_into_its_parent(tmp_path: Path) -> None:
    text = "Leadership\n\n" + _wrapped(
        "Inspectors will consider whether:",
        "\u2022 the management board has a vision and strategy that all statutory partners "
        "have signed up to",
        "\u2013 the youth justice plan is current, costed and approved by the board",
        "\u2013 board members can describe the priorities in their own words",
    )
    (lst,) = [b for b in load_text(tmp_path, text) if b.kind == "list"]
    assert [(it.text, it.level) for it in lst.items] == [
        (
            "the management board has a vision and strategy that all statutory partners "
            "have signed up to",
            0,
        ),
        ("the youth justice plan is current, costed and approved by the board", 1),
        ("board members can describe the priorities in their own words", 1),
    ]


def test_lower_case_line_goes_on_the_line_before_not_a_lead_in_further_back(
    tmp_path: Path,
) -> None:
    first = (
        "Children first: we judge services by what they do for children, and children's "
        "experiences stay at the centre of what we look at and what we write."
    )
    second = (
        "Evidence over assertion: ratings rest on what inspectors read in case records, hear "
        "in interviews and find in documents."
    )
    text = (
        "Principles\n\nFive principles shape every inspection we carry out:\n\n"
        + _wrapped("1. " + first, "2. " + second, width=56)
        + "\nSome visits are carried out of hours.\n"  # "out of": evidence for a wrong join
    )
    found = units(load_text(tmp_path, text))
    assert ("paragraph", "Five principles shape every inspection we carry out:") in found
    assert ("item", first) in found and ("item", second) in found


def test_number_words_and_prepositions_open_cells() -> None:
    # cells that start lower-case, marked only by a spelled-out number or "within 15"
    assert _cells(
        "Notice given five working days two working days one working day, or none", 4
    ) == [
        "Notice given",
        "five working days",
        "two working days",
        "one working day, or none",
    ]
    assert _cells("Draft report sent within 15 working days within 10 working days", 3) == [
        "Draft report sent",
        "within 15 working days",
        "within 10 working days",
    ]
    # "more" is no preposition: the number opens the cell ("5,000 or more | 7 to 10 ..."),
    # and a phrase can end on it ("80% or more | Exemplary")
    assert _cells("5,000 or more 7 to 10 inspectors", 2) == ["5,000 or more", "7 to 10 inspectors"]
    assert _cells("80% or more Exemplary", 2) == ["80% or more", "Exemplary"]


def test_dates_head_columns_and_stated_periods_close_cells() -> None:
    # a header whose cells are dates has no capital to cut at
    assert _cells("Figure 30 June 2024 30 June 2025", None) == [
        "Figure",
        "30 June 2024",
        "30 June 2025",
    ]
    # "within 42 months" is a cell: opened by the preposition after a one-word label and
    # closed by the stated period, though the next cell starts lower-case
    assert _cells("Outstanding within 42 months none, unless a concern is raised", 3) == [
        "Outstanding",
        "within 42 months",
        "none, unless a concern is raised",
    ]
    # "each" can end a phrase, so the capital after it opens a cell
    assert _cells("Panels of tutors, 4 to 8 people each A reviewer 60 minutes", 3) == [
        "Panels of tutors, 4 to 8 people each",
        "A reviewer",
        "60 minutes",
    ]


def test_two_labelled_rows_run_together_are_two_rows() -> None:
    # one reading would make a punctuated clause the first row's label
    assert _body_rows(
        "Strong Next review in the usual cycle; the provider may host a visit Weak The "
        "reviewer agrees a plan; next review within a year",
        2,
    ) == [
        ["Strong", "Next review in the usual cycle; the provider may host a visit"],
        ["Weak", "The reviewer agrees a plan; next review within a year"],
    ]
    # parallel rows opening on the same word
    assert _body_rows("Notice of a review 10 working days Notice of a themed visit 25 days", 2) == [
        ["Notice of a review", "10 working days"],
        ["Notice of a themed visit", "25 days"],
    ]
    # a long label with no clause punctuation stays one row
    assert _body_rows(
        "Board minutes and papers for the last 12 months Within 10 working days of notice", 2
    ) == [["Board minutes and papers for the last 12 months", "Within 10 working days of notice"]]


def test_a_row_cut_off_is_read_again_with_its_tail() -> None:
    # the line pass ran two rows together and cut the second one's last cell off; the tail
    # ("25 working days") is read back with the piece before it, which then holds two rows
    texts = [
        "Stage Timing",
        "Notice of a visit 15 working days before the visit",
        "Notice of a review 10 working days Notice of selection for a themed visit",
        "25 working days",
        "Planning call Within 5 working days of notice",
    ]
    found = _table_at([Piece("paragraph", t, None) for t in texts], 0, set())
    assert found is not None
    rows, used = found
    assert used == 5
    assert rows[2:4] == [
        ["Notice of a review", "10 working days"],
        ["Notice of selection for a themed visit", "25 working days"],
    ]


def test_units_are_cut_again_after_a_finished_sentence(tmp_path: Path) -> None:
    item = "5. Openness: we tell a provider what we found before we publish it, in full."
    para = (
        "Reviewers are polite and say what they are doing and why. They keep an open mind "
        "until the evidence is in, and they do not give advice."
    )
    lead = "The board and the staff agree one plan, and each part of it has an owner."
    found = units(
        load_text(
            tmp_path,
            "Principles\n\n"
            + _wrapped(item, width=60)  # an item, then a paragraph: they stay apart
            + _wrapped(para, width=50)
            + "\n"
            + _wrapped("The scores are added together. The total sets a rating.", width=60)
            + "Total score Rating\n\n"  # a table's header after its lead-in paragraph
            + "Reviewers will consider whether:\n\n- the plan is current\n\n"
            + _wrapped(lead, width=40)
            + "Reviewers will consider whether:\n\n- the plan is costed\n\n"
            + "Reviewers will consider whether:\n\n- the plan is shared\n",
        )
    )
    assert ("item", item[3:]) in found and ("paragraph", para) in found
    assert ("paragraph", "The scores are added together. The total sets a rating.") in found
    assert ("paragraph", lead) in found  # the repeated lead-in opens a unit of its own
    assert sum(u == ("paragraph", "Reviewers will consider whether:") for u in found) == 3


def test_a_unit_no_single_wrap_width_fits_is_cut_where_each_side_fits() -> None:
    # the line pass appended a narrower paragraph to an item: no width fits both, one fits
    # each side of the cut after "in full."
    item = textwrap.wrap(
        "5. Openness: we tell a provider what we found before we publish it, in full.", 60
    )
    para = textwrap.wrap(
        "Reviewers are polite and say what they are doing and why. They keep an open "
        "mind until the evidence is in, and they do not give advice.",
        50,
    )
    unit = Unit()
    for n, text in enumerate(item + para):
        _append(unit, text, n)
    cut = _resplit([unit], [Line(t, False, None) for t in item + para])
    assert [u.lines for u in cut] == [item, para]


def test_a_unit_cut_again_keeps_each_parts_own_page(tmp_path: Path) -> None:
    # the table header after the page break fits the paragraph's wrap width, so the line
    # pass reads on; `_resplit` cuts it off again, and it keeps the page it is printed on
    para = (
        "Each standard gets a score. The scores are added together to give",
        "a total, and that total then sets the provisional overall rating.",
    )
    blocks = load_text(
        tmp_path,
        f"Scores\n\n{para[0]}\n{para[1]}\nPage 1 of 2\nTotal score Rating\n\n"
        "A rating can be challenged.\nPage 2 of 2\n",
    )
    pages = {b.text: b.page for b in blocks}
    assert pages[" ".join(para)] == 1
    assert pages["Total score Rating"] == 2
