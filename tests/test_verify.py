"""Citation verification without a model (encode=None): support is judged on content words."""

from __future__ import annotations

import pytest

from assistant.documents import Chunk
from assistant.verify import (
    CheckedSentence,
    Verifier,
    best_support,
    claims,
    parse_markers,
    quote_in_chunk,
)

NEWS = (
    "Ofsted announced that the full inspection of Cafcass has started. The inspection takes "
    "place for four weeks in accordance with the published inspection framework.\n\n"
    "Ofsted inspectors will be working to assess the effectiveness and impact of leadership at "
    "Cafcass and the effectiveness of public and private law work.\n\n"
    "Their approach to inspecting Cafcass is further underpinned by 3 principles that apply to "
    "all social care inspections. Inspection should:\n\n"
    "- focus on the things that matter most to children\u2019s lives\n"
    "- be consistent in our expectations of providers\n"
    "- prioritise our work where improvement is needed most\n\n"
    "Ofsted will publish a report following the inspection and the associated internal "
    "assurance processes they have established."
)
EDI = (
    "We intend to implement the new arrangements for inspecting Cafcass from February 2021. "
    "After this, we will monitor closely how they are working and formally review the "
    "arrangements by December 2021. We will publish any changes made.\n\n"
    "Cafcass's workforce will benefit from assurance that protected characteristics are "
    "considered   externally.\nStaff will see a fair and equitable consideration in feedback "
    "provided."
)


def chunk(n: int, text: str) -> Chunk:
    return Chunk(f"doc{n}:c{n}", f"doc{n}", text, f"Doc {n}", "guidance", "", None, 0, len(text))


@pytest.fixture
def sources() -> dict[int, Chunk]:
    return {1: chunk(1, NEWS), 2: chunk(2, EDI)}


@pytest.fixture
def verifier() -> Verifier:
    return Verifier(0.5, 0.6, encode=None)


def only(checked: list[CheckedSentence]) -> CheckedSentence:
    assert len(checked) == 1, [c.text for c in checked]
    return checked[0]


def test_supported_sentence_with_the_right_citation(verifier, sources):
    cs = only(verifier.check("The inspection takes place for four weeks. [1]", sources))
    assert cs.supported
    assert cs.cited == [1]
    assert cs.reason == ""
    assert cs.text == "The inspection takes place for four weeks."
    sup = cs.support[1]
    assert sup.overlap >= 0.5
    assert "four weeks" in NEWS[sup.start : sup.end]


def test_supported_sentence_in_second_source(verifier, sources):
    cs = only(
        verifier.check(
            "Ofsted will formally review the arrangements by December 2021. [2]", sources
        )
    )
    assert cs.supported and cs.cited == [2]


def test_wrong_but_existing_citation_is_not_enough(verifier, sources):
    # cites [2] (EDI) for a sentence only the news item supports, but it's a near-verbatim
    # sentence: verification re-cites it to [1] and says so
    cs = only(verifier.check("The inspection takes place for four weeks. [2]", sources))
    assert cs.supported
    assert cs.cited == [1]
    assert cs.reason == "citation added by verification"


def test_citation_to_missing_source_is_dropped_and_reassigned(verifier, sources):
    cs = only(verifier.check("The inspection takes place for four weeks. [7]", sources))
    assert 7 not in cs.cited and 7 not in cs.support
    assert cs.supported
    assert cs.cited == [1]
    assert cs.reason == "citation added by verification"


def test_citation_to_missing_source_unsupported_elsewhere(verifier, sources):
    cs = only(
        verifier.check(
            "Inspectors must award every provider an outstanding grade on Fridays. [7]", sources
        )
    )
    assert not cs.supported
    assert cs.cited == []
    assert cs.support == {} or all(n in sources for n in cs.support)
    assert cs.reason  # says why (no valid citation)


def test_invented_filler_sentence_is_unsupported(verifier, sources):
    cs = only(
        verifier.check("This ensures a brighter future for all children everywhere. [1]", sources)
    )
    assert not cs.supported
    assert cs.reason == "not supported by the cited passage"


def test_filler_among_real_sentences_only_filler_fails(verifier, sources):
    text = (
        "The inspection takes place for four weeks. [1] "
        "This ensures a brighter future for all children everywhere. [1] "
        "Ofsted will publish a report following the inspection. [1]"
    )
    checked = verifier.check(text, sources)
    assert [c.supported for c in checked] == [True, False, True]


def test_claims_splits_at_mid_sentence_markers():
    assert claims("A holds [1]; invented B [2].") == ["A holds [1]", "invented B [2]"]
    assert claims("One sentence only. [3]") == ["One sentence only. [3]"]
    assert claims("Two sources back one claim. [1][2]") == ["Two sources back one claim. [1][2]"]


def test_multi_claim_sentence_checks_each_claim(verifier, sources):
    text = (
        "The inspection takes place for four weeks [1]; inspectors must award every provider "
        "an outstanding grade on Fridays [2]."
    )
    checked = verifier.check(text, sources)
    assert len(checked) == 2, [c.text for c in checked]
    first, second = checked
    assert "four weeks" in first.text and first.supported and first.cited == [1]
    assert "outstanding grade" in second.text and not second.supported


@pytest.mark.parametrize(
    "answer",
    [
        "1.\n2.\nThe inspection takes place for four weeks. [1]",
        "1. The inspection takes place for four weeks. [1] 2. Ofsted will publish a report "
        "following the inspection. [1]",
        "- 1.\n- 2.\n- The inspection takes place for four weeks. [1]",
    ],
)
def test_enumeration_fragments_produce_no_sentence(verifier, sources, answer):
    checked = verifier.check(answer, sources)
    assert checked, "the real sentence must survive"
    for cs in checked:
        assert any(ch.isalpha() for ch in cs.text), f"fragment kept: {cs.text!r}"
        assert cs.supported


def test_two_digit_enumeration_fragment_produces_no_sentence(verifier, sources):
    checked = verifier.check("10.\n11.\nThe inspection takes place for four weeks. [1]", sources)
    assert [cs.text for cs in checked] == ["The inspection takes place for four weeks."]


def test_claims_keep_years_at_sentence_end():
    """Regression: a trailing enumerator must not eat the digits of a year ("2021." -> "20")."""
    assert claims("We will review the arrangements by December 2021. [1]") == [
        "We will review the arrangements by December 2021. [1]"
    ]
    assert claims("It is set out in section 149 of the Equality Act 2010.") == [
        "It is set out in section 149 of the Equality Act 2010."
    ]
    # a number ending a sentence is content ("aged 10 to 17."), never a dangling list label
    assert claims("Children aged 10 to 17. [1]") == ["Children aged 10 to 17. [1]"]


def test_checked_text_keeps_year(verifier, sources):
    cs = only(
        verifier.check(
            "We intend to implement the new arrangements for inspecting Cafcass from February "
            "2021. [2]",
            sources,
        )
    )
    assert cs.supported
    assert cs.text.endswith("February 2021.")


def test_parse_markers():
    assert parse_markers("Text here [2][1] .") == ("Text here.", [2, 1])
    assert parse_markers("A [1] and again [1].") == ("A and again.", [1])
    assert parse_markers("No markers.") == ("No markers.", [])


@pytest.mark.parametrize(
    "sentence",
    [
        "The inspection takes place for four weeks.",
        "Inspection should prioritise our work where improvement is needed most.",
        "Cafcass's workforce will benefit from assurance about protected characteristics.",
        "Staff will see fair consideration in feedback.",
    ],
)
def test_best_support_quote_is_in_chunk(sentence, sources):
    for c in sources.values():
        sup = best_support(sentence, c)
        assert 0 <= sup.start < sup.end <= len(c.text)
        quote = c.text[sup.start : sup.end]
        assert quote.strip()
        assert quote_in_chunk(quote, c.text)
        assert quote_in_chunk(" ".join(quote.split()), c.text)


def test_verified_support_spans_are_verbatim(verifier, sources):
    text = (
        "Cafcass's workforce will benefit from assurance that protected characteristics are "
        "considered externally. [2] Inspection should focus on the things that matter most to "
        "children's lives. [1]"
    )
    checked = verifier.check(text, sources)
    assert all(cs.supported for cs in checked)
    for cs in checked:
        for n, sup in cs.support.items():
            quote = " ".join(sources[n].text[sup.start : sup.end].split())
            assert quote_in_chunk(quote, sources[n].text), quote


def test_quote_in_chunk_normalises_whitespace_quotes_and_case():
    text = "Ofsted\u2019s   overall\njudgement  will pertain to the extent"
    assert quote_in_chunk("Ofsted's overall judgement will", text)
    assert quote_in_chunk("OFSTED\u2019S OVERALL JUDGEMENT", text)
    assert not quote_in_chunk("overall judgement will not pertain", text)
    assert not quote_in_chunk("Ofsted's judgement", text)


def test_similarity_second_opinion_is_bounded(sources):
    """Similarity is only a second opinion: a sentence sharing under 80% of the required
    word overlap is rejected even when the encoder calls it identical (fluent filler)."""
    calls: list[list[str]] = []

    def encode(texts):  # a fake encoder: identical unit vectors -> similarity 1.0
        import numpy as np

        calls.append(texts)
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    sentence = (
        "The inspection lasts four weeks according to the chief executive, the mayor and "
        "the board. [1]"
    )
    overlap = best_support(sentence, sources[1]).overlap
    assert 0.25 <= overlap < 0.5  # between half the threshold and the threshold
    without = only(Verifier(0.5, 0.6).check(sentence, sources))
    with_sim = only(Verifier(0.5, 0.6, encode=encode).check(sentence, sources))
    assert not without.supported
    assert not with_sim.supported
    close = "The inspection takes four weeks, the chief executive board says. [1]"
    assert 0.4 <= best_support(close, sources[1]).overlap < 0.5
    assert only(Verifier(0.5, 0.6, encode=encode).check(close, sources)).supported and calls
    assert not only(Verifier(0.5, 0.6).check(close, sources)).supported


def test_a_list_item_of_two_sentences_stays_one_item_through_verification() -> None:
    """An item is quoted whole; splitting it showed its second sentence as an unbulleted
    line under the list ("- The duty cannot be handed on. [1]" then "A college ...")."""
    from assistant.text import split_answer_sentences

    answer = (
        "In summary: [1]\n- The duty cannot be handed on. A college keeps the duty. [1]\n"
        "- The duty continues. [1]\nAfter the list. It ends here. [1]"
    )
    parts = split_answer_sentences(answer, with_items=True)
    assert parts == [
        ("In summary: [1]", False),
        ("The duty cannot be handed on. A college keeps the duty. [1]", True),
        ("The duty continues. [1]", True),
        ("After the list.", False),
        ("It ends here. [1]", False),
    ]
