"""PSED obligations view: row data, phrase matching, relevance, the matrix on the seed corpus
(real MiniLM), on the seeds with a characteristic removed and on a small synthetic framework
(hash embedder, real verification), exports and the CLI entry point."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import EDI_ID, copy_seeds, make_settings

from assistant.cli_psed import psed_command
from assistant.index import Index, build_index
from assistant.psed import (
    ADDRESSED,
    NOT_FOUND,
    PsedMatrix,
    RowSpec,
    find_terms,
    load_rows,
    psed_matrix,
    relevance,
)
from assistant.verify import quote_in_chunk

AIMS = [
    "Eliminate discrimination, harassment and victimisation",
    "Advance equality of opportunity",
    "Foster good relations",
]
DIRECT = [
    "Age",
    "Disability",
    "Gender reassignment",
    "Pregnancy and maternity",
    "Race",
    "Religion or belief",
    "Sex",
    "Sexual orientation",
]
INDIRECT = ["Marriage and civil partnership"]


def spec(key: str) -> RowSpec:
    return next(r for r in load_rows() if key in (r.id, r.label))


def assert_verbatim(matrix: PsedMatrix, settings: Any) -> None:
    """Every passage quote is a verbatim slice of the chunk it cites."""
    by_id = {c.chunk_id: c for c in Index.open(settings).chunks}
    for row in matrix.rows:
        assert row.count >= len(row.passages)
        assert (row.status == ADDRESSED) == (row.count > 0)
        for p in row.passages:
            assert quote_in_chunk(p.quote, by_id[p.chunk_id].text), p.quote
            assert p.doc_id == by_id[p.chunk_id].doc_id


# ----------------------------------------------------------------------------- data and matching
def test_rows_are_the_three_aims_and_nine_characteristics() -> None:
    rows = load_rows()
    assert [r.label for r in rows if r.kind == "aim"] == AIMS
    assert sorted(r.label for r in rows if r.kind == "characteristic") == sorted(DIRECT + INDIRECT)
    assert len({r.id for r in rows}) == 12


def test_phrases_match_whole_words_synonyms_and_line_breaks() -> None:
    assert find_terms(spec("race"), "Leaders embrace change.") == []
    assert find_terms(spec("race"), "issues of race, and racism")
    assert find_terms(spec("age"), "see page 4 and the image") == []
    assert find_terms(spec("age"), "race, sex, age, sexual orientation")
    assert find_terms(spec("sex"), "sexual orientation and sexuality") == []
    assert find_terms(spec("religion-or-belief"), "race, religion and belief, sex")
    assert find_terms(spec("religion-or-belief"), "acting in good faith") == []
    assert find_terms(spec("pregnancy-and-maternity"), "sex, pregnancy and sexual orientation")
    assert find_terms(spec("foster-good-relations"), "6. Developing good\n\nrelations")
    assert find_terms(spec("foster-good-relations"), "a fostering agency") == []
    assert find_terms(spec("advance-equality-of-opportunity"), "ADVANCING Equality of Opportunity")


def test_gender_inside_gender_reassignment_does_not_count_for_sex() -> None:
    sex = spec("sex")
    assert find_terms(sex, "disability, gender reassignment, race") == []
    assert find_terms(sex, "gender reassignment and gender pay gaps")  # the second one counts
    assert find_terms(spec("gender-reassignment"), "disability, gender reassignment, race")


def test_direct_and_indirect_relevance() -> None:
    text = (
        "All of the protected characteristics are relevant, either directly (age, disability, "
        "race, religion and belief, sex, pregnancy and sexual orientation) or indirectly "
        "(marriage and civil partnership)."
    )
    assert relevance(spec("age"), text) == "direct"
    assert relevance(spec("pregnancy-and-maternity"), text) == "direct"
    assert relevance(spec("marriage-and-civil-partnership"), text) == "indirect"
    assert relevance(spec("gender-reassignment"), text) == ""
    assert relevance(spec("race"), "Race is indirectly relevant to this work.") == "indirect"
    assert relevance(spec("foster-good-relations"), text) == ""  # aims have no relevance


# ----------------------------------------------------------------------------- matrices (hash)
@pytest.fixture
def no_gender_reassignment(tmp_path: Path, repo_root: Path) -> Any:
    """The seed corpus with its one mention of gender reassignment removed."""
    corpus = copy_seeds(tmp_path / "corpus")
    edi = corpus / f"{EDI_ID}.txt"
    text = edi.read_text(encoding="utf-8")
    assert text.count("gender reassignment") == 1
    edi.write_text(text.replace("gender reassignment, ", ""), encoding="utf-8")
    settings = make_settings(repo_root, corpus, tmp_path / "idx")
    build_index(settings)
    return settings


def test_missing_characteristic_is_no_passage_found(no_gender_reassignment: Any) -> None:
    matrix = psed_matrix(no_gender_reassignment)
    row = matrix.row("Gender reassignment")
    assert row.status == NOT_FOUND and row.count == 0 and row.passages == []
    assert not row.addressed and row.first_quote == ""
    for label in AIMS + [d for d in DIRECT if d != "Gender reassignment"] + INDIRECT:
        assert matrix.row(label).status == ADDRESSED, label
    assert matrix.row("Marriage and civil partnership").relevance == "indirect"
    assert_verbatim(matrix, no_gender_reassignment)
    data = matrix.to_dict()
    assert data["summary"]["not_found"] == ["Gender reassignment"]


def test_exports(no_gender_reassignment: Any) -> None:
    matrix = psed_matrix(no_gender_reassignment)
    rows = list(csv.DictReader(io.StringIO(matrix.to_csv())))
    assert [r["label"] for r in rows] == [r.label for r in matrix.rows]
    missing = next(r for r in rows if r["label"] == "Gender reassignment")
    assert missing == {
        "label": "Gender reassignment",
        "kind": "characteristic",
        "status": NOT_FOUND,
        "count": "0",
        "relevance": "",
        "doc_ids": "",
        "sections": "",
        "first_quote": "",
    }
    age = next(r for r in rows if r["label"] == "Age")
    assert age["status"] == ADDRESSED and int(age["count"]) >= 1 and age["doc_ids"] == EDI_ID
    assert age["first_quote"] == matrix.row("Age").first_quote
    md = matrix.to_markdown()
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert len(lines) == 1 + 12  # header + one line per row
    assert "| Gender reassignment | characteristic | ✗ no passage found | 0 |" in md
    assert "| Age | characteristic | ✓ |" in md


def test_small_framework_with_its_own_wording(tmp_path: Path, repo_root: Path) -> None:
    """Built from whatever is indexed: a framework that uses other words for the rows."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "youth-framework.md").write_text(
        "# Youth service inspection framework\n"
        "## Leadership\n"
        "Inspectors will check that leaders tackle racism and bullying of disabled young "
        "people, and that the service promotes good relations between groups.\n"
        "## Safety\n"
        "Staff must record every incident of harassment within one working day.\n",
        encoding="utf-8",
    )
    settings = make_settings(repo_root, corpus, tmp_path / "idx")
    build_index(settings)
    matrix = psed_matrix(settings)
    addressed = {r.label for r in matrix.rows if r.addressed}
    assert addressed == {
        "Race",
        "Disability",
        "Foster good relations",
        "Eliminate discrimination, harassment and victimisation",
    }
    assert matrix.row("Race").passages[0].matched == "racism"
    assert matrix.row("Disability").passages[0].matched == "disabled"
    assert matrix.documents == ["youth-framework"]
    assert_verbatim(matrix, settings)


def test_psed_command_json_and_exports(
    hash_settings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert psed_command(False, None, None, hash_settings) == 1  # no index yet
    assert "assistant index" in capsys.readouterr().err
    build_index(hash_settings)
    csv_out, md_out = tmp_path / "psed.csv", tmp_path / "psed.md"
    assert psed_command(True, csv_out, md_out, hash_settings) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["rows"]) == 12 and data["documents"]
    assert csv_out.read_text(encoding="utf-8").startswith("label,kind,status,count")
    assert md_out.read_text(encoding="utf-8").startswith("| PSED obligation |")
    assert psed_command(False, None, None, hash_settings) == 0
    assert "PSED obligations" in capsys.readouterr().out
    assert psed_command(False, tmp_path / "missing" / "x.csv", None, hash_settings) == 1


# ----------------------------------------------------------------------------- real model
@pytest.mark.slow
def test_seed_corpus_matrix(minilm_index: Any) -> None:
    matrix = psed_matrix(minilm_index)
    for label in AIMS:
        row = matrix.row(label)
        assert row.status == ADDRESSED and row.count >= 1 and row.kind == "aim", label
    for label in DIRECT:
        row = matrix.row(label)
        assert row.status == ADDRESSED and row.relevance == "direct", (label, row)
    for label in INDIRECT:
        row = matrix.row(label)
        assert row.status == ADDRESSED and row.relevance == "indirect", (label, row)
    assert matrix.row("Eliminate discrimination, harassment and victimisation").doc_ids == [EDI_ID]
    assert_verbatim(matrix, minilm_index)


@pytest.mark.slow
def test_seed_corpus_marks_absent_obligations_not_found(minilm_index: Any) -> None:
    extra = RowSpec("caste", "Caste", "characteristic", ("caste", "caste discrimination"))
    matrix = psed_matrix(minilm_index, rows=(*load_rows(), extra))
    assert matrix.row("Caste").status == NOT_FOUND and matrix.row("Caste").count == 0
    assert "| Caste | characteristic | ✗ no passage found | 0 |" in matrix.to_markdown()
    assert sum(r.addressed for r in matrix.rows) == 12
