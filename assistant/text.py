"""Small text utilities shared by retrieval, answering and verification.

One definition of "sentence" and "content word" keeps the extractive generator, the citation
verifier and the evaluation runner consistent with each other.
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from collections.abc import Container
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Sentence ends, semicolons that end clauses in lists, and line breaks.
_UNIT_END = re.compile(r"(?<![\s(]\d\.)(?<=[.!?])['’\")\]]*[ \t]+(?=['‘\"(]?[A-Z0-9])")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves also may might must shall us tell say said please whether within without upon
    via per etc ie eg will one two three four five six seven eight nine ten many much""".split()
)
# Words so common in this domain that matching them says little about answerability.
GENERIC = frozenset(
    """ofsted cafcass inspection inspections inspect inspector inspectors document documents
    framework guidance statement new proposed""".split()
)


# Verbs and fillers of question phrasing: their absence from a passage says nothing about
# whether the passage answers the question ("What does 'focused' mean?").
QUESTION_WORDS = frozenset(
    """mean means meant meaning use used using long last lasts give gives given get gets got come
    comes check checks look looks looking follow follows treat treated call called way ways cover
    covers covered whose believe believes talk talks lead leads sure happen happens happened apply
    applies applied name named need needs every part put anything something kind kinds type types
    know want make makes take takes find show shows going go goes exactly actually specific
    specifically explain describe described said says according regarding relation relate related
    thing things anyone someone people person expect expected far walk isn't aren't doesn't
    don't can't won't i'm i've i'd we're we've you're it's they're there's what's""".split()
)


def normalise(text: str) -> str:
    """Lowercase, unify quotes and dashes, collapse whitespace (for matching, not display)."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = text.replace("–", "-").replace("—", "-")
    return " ".join(text.lower().split())


_local = threading.local()


def english_stemmer():  # type: ignore[no-untyped-def]
    """This thread's Snowball English stemmer, or None when PyStemmer is not installed.

    One per thread because PyStemmer objects must not be used by two threads at once, and
    the UI answers several questions concurrently. BM25 and content words share it, so
    "aims" becomes "aim" the same way everywhere.
    """
    if not hasattr(_local, "stemmer"):
        try:
            import Stemmer

            _local.stemmer = Stemmer.Stemmer("english")
        except ImportError:
            _local.stemmer = None
    return _local.stemmer


# Irregular past forms Snowball leaves apart from their verb ("found" / "findings"); only
# forms that are not also common nouns or other words ("led", "left", "felt" are).
_IRREGULAR = {
    "found": "find",
    "made": "make",
    "given": "give",
    "gave": "give",
    "took": "take",
    "taken": "take",
    "held": "hold",
    "paid": "pay",
    "told": "tell",
    "sent": "send",
    "brought": "bring",
    "kept": "keep",
    "taught": "teach",
    "sought": "seek",
    "chose": "choose",
    "chosen": "choose",
    "met": "meet",
    "wrote": "write",
    "written": "write",
    "began": "begin",
    "begun": "begin",
    "knew": "know",
    "known": "know",
    "spoke": "speak",
    "spoken": "speak",
    "saw": "see",
    "seen": "see",
    "thought": "think",
    "bought": "buy",
    "ran": "run",
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    word = _IRREGULAR.get(word.lower(), word) if word.islower() or word.istitle() else word
    stemmer = english_stemmer()
    return stemmer.stemWord(word) if stemmer else word.rstrip("s")


# Stems a stem matches when the index lacks it (`stem_variants`): Snowball stems
# "overrepresented" to "overrepres" but "overrepresentation" to "overrepresent", "complained" to
# "complain" but "complaint" to "complaint", so a question and the passage that answers it can
# share a word and no stem. Chosen on the suite's dev split (`assistant eval
# evals/suite/questions/*.yaml --split dev --by-format test-artifacts/suite`, see README "Stem
# variants"): shared prefix of at least 5 letters, at most 4 letters longer or shorter.
VARIANT_MIN_PREFIX = 5
VARIANT_MAX_EXTRA = 4


def stem_variants(term: str, vocabulary: list[str], known: Container[str]) -> list[str]:
    """The indexed stems (`vocabulary` sorted, `known` the same as a set) that `term` is a
    prefix of, or that are a prefix of `term`, within `VARIANT_MAX_EXTRA` letters.

    Only for a term the index lacks: where the question's own stem is indexed it is the better
    match, and a variant would let "state" match "statement".
    """
    if len(term) < VARIANT_MIN_PREFIX or term in known:
        return []
    out = [
        term[:n]
        for n in range(max(VARIANT_MIN_PREFIX, len(term) - VARIANT_MAX_EXTRA), len(term))
        if term[:n] in known
    ]
    i = bisect.bisect_left(vocabulary, term)
    while i < len(vocabulary) and vocabulary[i].startswith(term):
        if len(vocabulary[i]) - len(term) <= VARIANT_MAX_EXTRA:
            out.append(vocabulary[i])
        i += 1
    return out


@lru_cache(maxsize=1024)
def passage_terms(text: str) -> frozenset[str]:
    """The set of a passage's content terms, computed once per passage text.

    Unit features, the refusal signals and the refusal rules all read the same few retrieved
    passages for every question; this keeps them from tokenising each one three times.
    """
    return frozenset(content_terms(text))


def content_terms(text: str, drop_generic: bool = False) -> list[str]:
    """Stemmed content words in order (stop words removed)."""
    words = [w for w in _WORD.findall(normalise(text)) if w not in STOPWORDS and len(w) > 1]
    if drop_generic:
        # a question verb's plural noun is a thing asked about ("the main findings"), though
        # it shares the verb's stem ("find"); the verb's own forms stay out
        generic = _generic_stems()
        words = [w for w in words if stem(w) not in generic or w.endswith("ings")]
    return [stem(w) for w in words]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or list line in `text`, trimmed, bullets excluded.

    A line that stops mid-sentence and a following line that starts in lower case are one
    sentence broken by a line wrap, so they are joined (the span covers the break) - but never
    across a blank line, which separates blocks (`assistant.blocks.layout`).
    """
    raw: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        ls, le = line.start(), line.end()
        stripped = line.group().lstrip()
        if stripped.startswith("- "):  # a list item stays one unit, however many sentences
            s = ls + (len(line.group()) - len(stripped)) + 2
            e = ls + len(line.group().rstrip())
            if e > s and any(ch.isalnum() for ch in text[s:e]):
                raw.append((s, e))
            continue
        pos = ls
        for m in [*_UNIT_END.finditer(text, ls, le), None]:
            end = m.start() if m else le
            piece = text[pos:end]
            lead = len(piece) - len(piece.lstrip())
            s, e = pos + lead, pos + len(piece.rstrip())
            if e > s and any(ch.isalnum() for ch in text[s:e]):
                raw.append((s, e))
            pos = m.end() if m else le
    spans: list[tuple[int, int]] = []
    for s, e in raw:
        if spans:
            ps, pe = spans[-1]
            gap = text[pe:s]
            if (
                text[pe - 1] not in ".!?:;'\"’)]"
                and text[s].islower()
                and "- " not in gap
                and not text[ps - 2 : ps].startswith("-")
                and gap.strip() == ""
                and "\n\n" not in gap  # a blank line ends a block: units never cross one
            ):
                spans[-1] = (ps, e)
                continue
        spans.append((s, e))
    return spans


def split_answer_sentences(answer: str, with_items: bool = False) -> list[Any]:
    """Sentences of a generated answer; a citation marker stays with the sentence before it.

    With `with_items`, returns (sentence, is_list_item) pairs.
    """
    answer = answer.strip()
    if not answer:
        return []
    out: list[str] = []
    for line in answer.split("\n"):
        if line.lstrip()[:1] in ("-", "*", "•") and line.lstrip()[1:2] == " ":
            out.append(line.strip())  # a list item is one item, however many sentences
        elif line.strip():
            out += _prose_sentences(line.strip())
    cleaned = [(s.lstrip("-*• ").strip(), s.lstrip()[:1] in "-*•") for s in out if s.strip(" -*•")]
    return cleaned if with_items else [s for s, _ in cleaned]


def _prose_sentences(answer: str) -> list[str]:
    """The sentences of one line of prose, each with the markers that follow it."""
    parts = re.split(r"(?<=[.!?])((?:\s*\[\d+\])*)\s+(?=[\"'‘(]?[A-Z0-9-])", answer)
    out: list[str] = []
    buf = ""
    for i, part in enumerate(parts):
        if part is None:
            continue
        if i % 2 == 1:  # captured trailing markers belong to the previous sentence
            buf += part
            continue
        if buf.strip():
            out.append(buf.strip())
        buf = part
    if buf.strip():
        out.append(buf.strip())
    return out


Concept = frozenset[frozenset[str]]  # alternative spellings, each a set of stemmed terms


def _generic_stems() -> frozenset[str]:
    return frozenset({stem(g) for g in GENERIC | QUESTION_WORDS} | GENERIC | QUESTION_WORDS)


def question_concepts(question: str, groups: tuple[tuple[str, ...], ...]) -> list[Concept]:
    """The specific things a question asks about, with glossary synonyms as alternatives.

    "What does the PSED require?" has one concept that "PSED" or "public sector equality duty"
    both satisfy, so an answer passage is not penalised for using the other spelling.
    """
    lowered = normalise(question)
    generic = _generic_stems()
    used: set[str] = set()
    out: list[Concept] = []
    for group in groups:
        hit = [m for m in group if re.search(rf"(?<!\w){re.escape(normalise(m))}(?!\w)", lowered)]
        if not hit:
            continue
        hit_terms = {t for m in hit for t in content_terms(m)}
        used |= hit_terms
        if hit_terms <= generic:
            continue
        alternatives = frozenset(
            frozenset(t for t in content_terms(m) if t not in generic) for m in group
        ) - {frozenset()}
        if alternatives:
            out.append(alternatives)
    for term in dict.fromkeys(content_terms(question, drop_generic=True)):
        if term not in used:
            out.append(frozenset([frozenset([term])]))
    return list(dict.fromkeys(out))


def concept_coverage(concepts: list[Concept], terms: set[str]) -> float:
    """Share of concepts that `terms` satisfy (any alternative fully present)."""
    if not concepts:
        return 0.0
    return sum(any(alt <= terms for alt in c) for c in concepts) / len(concepts)
