"""Question analysis: what kind of answer a question expects, and which of its words matter.

Two things decide whether a sentence answers a question, and both are about the question, not
about any document:

- the expected **answer type** - a duration for "how long", a date for "when", a time of day
  for "what time", a count for "how many", an amount for "how much ... cost", a person, role or
  body for "who", a list for "what are the ...", criteria for "what do inspectors look for", a
  definition for "what is meant by", yes/no for "can / must / does ...", a process for "what
  happens after", a reason for "why";
- the **focus terms**, weighted by how rare they are in the corpus (IDF), so the words that are
  everywhere in a document set (the inspectorate's name, "inspection", "inspectors") count for
  little and the ones that pick the passage ("deferral", "voucher", "within") count for much.

Rules are cue phrases matched at the start of the question (English question forms), each
type with a pattern that recognises a sentence *stating* such an answer (`states`), used by the
scorer and by refusal ("no candidate carries the expected answer type").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.text import Concept, content_terms, question_concepts, stem_variants

if TYPE_CHECKING:
    from assistant.bm25 import BM25Index

ANSWER_TYPES = (
    "duration",
    "frequency",
    "date",
    "time",
    "number",
    "money",
    "person",
    "list",
    "criteria",
    "definition",
    "yesno",
    "process",
    "reason",
    "comparison",
    "other",
)

_NUM = (
    r"(?:\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    r"fifty|sixty|hundred|a|an|half)"
)
_UNIT = r"(?:working |calendar |school |clear |full )?(?:minute|hour|day|week|month|year|term)s?"
MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december)"
)
# What a sentence stating each answer type looks like (case-insensitive).
STATES: dict[str, re.Pattern[str]] = {
    "duration": re.compile(
        rf"\b{_NUM}[- ]{_UNIT}\b|\b{_UNIT.replace('s?', '')}s? (?:long|later)\b|"
        r"\b(?:within|for|up to|at least|no more than|over|after|before)\b[^.]{0,25}\b"
        rf"{_NUM}\b[^.]{{0,12}}\b{_UNIT}\b",
        re.IGNORECASE,
    ),
    "frequency": re.compile(
        r"\b(?:every|each|once|twice|annually|yearly|monthly|weekly|daily|at least once|"
        r"per (?:year|month|week|day))\b",
        re.IGNORECASE,
    ),
    "date": re.compile(
        rf"\b\d{{1,2}}(?:st|nd|rd|th)? {MONTH}\b|\b{MONTH} \d{{4}}\b|\b(?:19|20)\d{{2}}\b|"
        r"\b(?:on or after|from|by|until|since) (?:the )?\d",
        re.IGNORECASE,
    ),
    # a time of day ("no earlier than 8am", "at 10.30 am", "before midday")
    "time": re.compile(
        r"\b\d{1,2}(?:[.:]\d{2})? ?(?:am|pm)\b|\b(?:midday|noon|midnight)\b", re.IGNORECASE
    ),
    "number": re.compile(
        rf"\b\d+(?:[.,]\d+)?%?|\b{_NUM} (?:per ?cent|percent)\b|\b{_NUM}\b", re.IGNORECASE
    ),
    "money": re.compile(
        r"£\s?\d|\$\s?\d|€\s?\d|\b\d+(?:[.,]\d+)? ?(?:pounds|pence|p)\b|"
        r"\b(?:free of charge|no charge|no fee|does not charge|cost|fee|payment)\b",
        re.IGNORECASE,
    ),
    "person": re.compile(
        r"\b(?:inspector|manager|officer|director|chief|chair|head|lead|team|panel|board|"
        r"adjudicator|ombudsman|commissioner|secretary|minister|governors?|principal|"
        r"individual|person|staff|council|authority|inspectorate|office|department|agency|"
        r"service|body|committee|tribunal|court|carer|leader|parent|provider|learner|employer|"
        r"partner|member|representative|governor|trustee|employee|volunteer|assessor|adviser|"
        r"advisor|practitioner|professional|organisation|organization|network|group|user|"
        r"resident|pupil|student|family|families|children|young people|people)s?\b",
        re.IGNORECASE,
    ),
    "definition": re.compile(
        r"\b(?:means|is defined as|refers to|is when|is a|is an|is any|are any|are the|describes|"
        r"is the term|in this (?:framework|handbook|guidance))\b|"
        # a glossary entry: "Sampling window: the six months, ending ..."
        r"(?-i:^\s*[A-Z][\w'’ -]{1,40}:\s+[a-z])",
        re.IGNORECASE,
    ),
    # a reason or purpose ("so that inspectors can arrange more visits", "because ...")
    "reason": re.compile(
        r"\b(?:so that|so as to|because|in order to|since|the reason|reasons? (?:is|are|was|"
        r"were|for)|due to|as a result|to (?:allow|ensure|make sure|enable|help|reduce|avoid|"
        r"give|show|protect))\b",
        re.IGNORECASE,
    ),
    "yesno": re.compile(
        r"\b(?:may|must|can|cannot|can't|will|will not|won't|does not|do not|is not|are not|"
        r"only|never|always|required|not required|allowed|permitted)\b",
        re.IGNORECASE,
    ),
}

# Cue phrases at the start of a question, in the order they are tried (first match wins).
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("comparison", r"\b(?:compare|comparison|differ|difference between|both .* and)\b"),
        (
            "list",
            r"^(?:\W*)(?:what|which|name|list)\s+(?:are\s+)?(?:the\s+)?(?:two|three|four|five|six|"
            r"seven|eight|nine|ten|\d+)\b",
        ),
        ("frequency", r"^(?:\W*)(?:how often|how frequently|at what interval)"),
        (
            "duration",
            r"^(?:\W*)(?:(?:and|so|then)\s+)?(?:how long|how far back|for how long|"
            r"how many (?:working |calendar )?(?:minutes|hours|days|weeks|months|years)|"
            r"how quickly|how soon|within what|"
            r"what is the (?:time limit|deadline|notice period)|how much (?:notice|time))",
        ),
        (
            "money",
            r"^(?:\W*)(?:(?:and|so)\s+)?(?:how much (?:does|do|is|are|will|can|money|funding)|"
            r"what (?:is the )?(?:fee|cost|charge|amount|price|budget|allowance))|"
            r"\b(?:cost|fee|charge|pay(?!\s+(?:\w+\s+)?attention)|paid|funding|£)\b",
        ),
        ("time", r"\b(?:at )?what time|\b(?:what|which|between what) hours\b"),
        (
            "date",
            r"^(?:\W*)(?:(?:and|so)\s+)?(?:when|by when|on what date|what date|which date|"
            r"from what date|in what year|which year|what year|since when)",
        ),
        (
            "number",
            r"^(?:\W*)(?:(?:and|so)\s+)?(?:how many|what (?:number|percentage|proportion|"
            r"share|fraction)|what per ?cent|how large|how big|what is the (?:number|size|"
            r"median|mean|average|rate|proportion|percentage))",
        ),
        (
            "person",
            r"^(?:\W*)(?:(?:and|so)\s+)?(?:who|whom|whose|to whom|which (?:person|people|"
            r"role|officer|body|organisation|organization|team|member|group|inspector)|"
            r"what (?:role|body|organisation|organization))",
        ),
        (
            "definition",
            r"^(?:\W*)(?:what (?:is|are) meant by|what does .* mean|define|what is (?:an? )?"
            r"\w+(?: \w+)? (?:in this|under this)|meaning of|what counts as|what does .* "
            r"involve)|\bmean(?:s|t)? by\b",
        ),
        (
            "criteria",
            r"\b(?:expect|expectations?|look for|looks for|criteria|criterion|evaluate|"
            r"judge|assess|what makes|good practice|standards? (?:for|of))\b",
        ),
        (
            "process",
            r"^(?:\W*)(?:(?:and|so|then)\s+)?(?:what happens|walk me through|take me through|"
            r"what are the (?:\w+ )?(?:stages|steps)|how (?:does|do|is|are|will|can|should)"
            r"|what (?:steps|stages|is the process|are the steps)|in what order|what must .* do"
            r"|what should .* do|after)",
        ),
        ("reason", r"^(?:\W*)(?:(?:and|so|but)\s+)?(?:why|for what reason|what is the reason)\b"),
        (
            "yesno",
            r"^(?:\W*)(?:(?:and|so|but)\s+)?(?:is|are|can|could|does|do|did|must|should|will|"
            r"would|may|might|has|have|was|were)\b",
        ),
        (
            "list",
            r"^(?:\W*)(?:(?:and|so)\s+)?(?:what are|which are|list|name|what (?:kinds|types|"
            r"sorts)|which (?:\w+ )?(?:are|does|do)|what \w+s (?:are|does|do|must|should|will)"
            r"|what (?:can|could|should|must|will|does|do) .* (?:include|do about|reach|cover))",
        ),
    )
)


_SCENE = re.compile(
    r"^(?:when|if|once|after|before|while|where|as soon as|unless)\b[^,?]{3,},\s+"
    r"((?:what|which|who|whom|whose|when|where|why|how|is|are|can|could|does|do|did|must|"
    r"should|will|would|may|has|have)\b.*)$",
    re.IGNORECASE,
)


def answer_type(question: str) -> str:
    """The answer type a question expects (see `ANSWER_TYPES`), "other" when no cue matches.

    A question that sets a scene first ("Our service has 150 cases. How many ...?") is typed
    by its last sentence, the one that asks.
    """
    text = " ".join(question.split())
    sentences = [p for p in re.split(r"(?<=[.!])\s+(?=[A-Z])", text) if p.strip()]
    if len(sentences) > 1 and "?" in sentences[-1]:
        text = sentences[-1]
    # "Once the meeting is over, what are the remaining stages?": the asking clause may follow
    clauses = [text] + [m.group(1) for m in re.finditer(r",\s+(\w.*)$", text)]
    # "When inspectors check safeguarding, what do they look for?": a leading time or
    # condition clause sets the scene; the clause after it asks
    scene = _SCENE.match(text)
    if scene:
        clauses = [scene.group(1)]
    for kind, cue in _CUES:
        if any(cue.search(clause) for clause in clauses):
            return kind
    if text.lower().startswith(("what", "which")) and re.search(r"\w+s\b", text):
        return "list" if re.search(r"\b(?:are|include|includes)\b", text, re.I) else "other"
    return "other"


# A question about a document's own scope or audience ("Who is covered by the code?", "Who is
# the handbook for?", "What does the framework apply to?"): the document's signposts answer it.
_SCOPE = re.compile(
    r"\b(?:cover(?:s|ed)?|appl(?:y|ies)|written for|intended for|audience|purpose|scope)\b|"
    r"\bfor\?\s*$",
    re.IGNORECASE,
)


def asks_scope(question: str) -> bool:
    """Whether the question asks what a document covers, applies to or is for."""
    return bool(_SCOPE.search(question))


# A capitalised word inside a sentence ("Northmoor's", "Harrowdene"), possessive dropped. A
# sentence's first word is left out: it is capitalised whatever it is ("Why", "So", "Can").
# Which of the words name something only some documents mention is the index's to say
# (`Index.documents_with`).
_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][A-Za-z-]+)(?:['’]s)?\b")


def named_words(question: str) -> list[str]:
    """The question's capitalised words after each sentence's first, in order, each once."""
    seen: list[str] = []
    for line in question.strip().splitlines():
        for word in _NAME.findall(line.strip()):
            if word not in seen:
                seen.append(word)
    return seen


def states(kind: str, text: str) -> bool:
    """Whether `text` states an answer of type `kind` (types without a pattern: always)."""
    pattern = STATES.get(kind)
    return True if pattern is None else bool(pattern.search(text))


class TermStats:
    """Document frequencies of stemmed content terms over the indexed passages, for IDF.

    Built from the BM25 index's own postings (`from_bm25`), so the statistics are those of
    the live index generation at no extra cost, however many chunks it holds; `__init__`
    counts terms over texts directly (tests, small corpora).
    """

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self.df: dict[str, int] = {}
        self.n = 0
        self._sorted: list[str] | None = None  # the indexed stems, sorted on first `variants`
        for text in texts:
            self.n += 1
            for term in set(content_terms(text)):
                self.df[term] = self.df.get(term, 0) + 1

    @classmethod
    def from_bm25(cls, index: BM25Index) -> TermStats:
        """Frequencies read from the BM25 index's postings (tokens stemmed the same way)."""
        stats = cls()
        stats.n = index.size
        stats.df = index.doc_freqs()
        return stats

    def variants(self, term: str) -> list[str]:
        """Indexed stems standing in for `term` when no passage has it (`stem_variants`)."""
        if self._sorted is None:
            self._sorted = sorted(t for t, n in self.df.items() if n > 0)
        return stem_variants(term, self._sorted, self.df)

    def idf(self, term: str) -> float:
        """BM25's IDF, floored at a small positive value so a term never weighs negatively.

        A term no passage contains gets the highest IDF: a question that hinges on it is
        about something the documents do not mention.
        """
        df = self.df.get(term, 0)
        return max(math.log(1 + (self.n - df + 0.5) / (df + 0.5)), 0.05)


@dataclass(frozen=True)
class Analysis:
    """The expected answer type and the IDF-weighted concepts of one question.

    `concepts` are the question's specific things (glossary synonyms as alternatives, see
    `assistant.text.question_concepts`) that occur somewhere in the index, each with its
    weight; `absent` those that occur nowhere - no passage can match them, so they cannot rank
    one unit above another, but they matter for refusal (often a near-miss question's point,
    sometimes only its phrasing: "how far back"). `focus` holds the user's own words' concepts
    when the question was rewritten from a follow-up.
    """

    question: str
    answer_type: str
    concepts: tuple[tuple[Concept, float], ...]
    focus: tuple[tuple[Concept, float], ...] = ()
    absent: tuple[tuple[Concept, float], ...] = ()
    counted: str = ""  # what a "how many ...?" question counts, stemmed ("stage", "servic")
    head: str = ""  # the kind of thing a "what/which X ...?" question asks for, stemmed

    def missing(self, terms: set[str]) -> list[tuple[Concept, float]]:
        """The concepts (with weights) that `terms` do not satisfy."""
        return [(c, w) for c, w in self.concepts if not _satisfied(c, terms)]


def spellings(concept: Concept) -> list[str]:
    """A concept's alternative spellings as stemmed text, for explanations and messages."""
    return sorted(" ".join(sorted(alt)) for alt in concept)


def _satisfied(concept: Concept, terms: set[str]) -> bool:
    return any(alt <= terms for alt in concept)


def concept_weight(concept: Concept, stats: TermStats | None) -> float:
    """A concept weighs as its rarest spelling's commonest term: "public sector equality duty"
    is as specific as "PSED", and a phrase is only as rare as its least rare word."""
    if stats is None:
        return 1.0
    return max(min(stats.idf(t) for t in alt) for alt in concept if alt)


def weighted_coverage(concepts: tuple[tuple[Concept, float], ...], terms: set[str]) -> float:
    """IDF-weighted share of the concepts that `terms` satisfy (0 when there are none)."""
    total = sum(w for _, w in concepts)
    if total <= 0:
        return 0.0
    return sum(w for c, w in concepts if _satisfied(c, terms)) / total


def analyse(
    question: str,
    stats: TermStats | None = None,
    glossary: tuple[tuple[str, ...], ...] = (),
    focus: str = "",
) -> Analysis:
    """Answer type (of the user's own words when given) plus IDF-weighted concepts."""

    def weigh(text: str) -> tuple[list[tuple[Concept, float]], list[tuple[Concept, float]]]:
        known, absent = [], []
        for concept in question_concepts(text, glossary):
            if stats is not None:
                concept = _with_variants(concept, stats)
            pair = (concept, concept_weight(concept, stats))
            (known if stats is None or _in_corpus(concept, stats) else absent).append(pair)
        return known, absent

    concepts, absent = weigh(question)
    focus_concepts = weigh(focus)[0] if focus else []
    kind = answer_type(focus) if focus else "other"
    if kind == "other":
        kind = answer_type(question)
    counted = counted_noun(focus or question) if kind in ("number", "duration") else ""
    return Analysis(
        question,
        kind,
        tuple(concepts),
        tuple(focus_concepts),
        tuple(absent),
        counted,
        head_noun(focus or question),
    )


# "How many [of the] <up to five words> <verb>": the last word before the verb is what is counted.
_HOW_MANY = re.compile(
    r"\bhow many (?:of (?:the|its|their|our) )?((?:[\w'-]+ ){0,4}?[\w'-]+?) (?:does|do|did|"
    r"are|is|will|can|has|have|were|was|must|should|would|could|fall|get|take|sit|make)\b",
    re.IGNORECASE,
)


def counted_noun(question: str) -> str:
    """The stem of what a "how many ...?" question counts ("" when it is not one): a number
    question is answered by a number of that thing, not by any number."""
    m = _HOW_MANY.search(question)
    if not m:
        return ""
    # the head noun comes before any preposition: "concerns about inspector conduct"
    phrase = re.split(r"\s+(?:about|of|for|in|with|on|to|from|under|by|against)\s+", m.group(1))[0]
    word = phrase.split()[-1].lower()
    word = word[:-1] if word.endswith("s") else word  # "stages" -> "stage", read as a prefix
    return word[:-2] if word.endswith("ie") else word  # "agencies" -> "agenc"


# "What/Which [up to two words] <noun> <auxiliary or preposition>": the noun names the kind of
# thing asked for ("What principles does the code set out?", "Which reasons for deferring ...
# will Fernvale not accept?"), and documents label what answers with it (a section "Our
# principles", a lead-in "Examples of adjustments we often see include:").
_HEAD_AUX = (
    r"(?:is|are|was|were|do|does|did|can|could|must|should|will|would|might|may|has|have|"
    r"need|needs)"
)
_HEAD_WORDS = r"((?:(?!" + _HEAD_AUX + r"\b)[\w'-]+\s+){0,2}?(?!" + _HEAD_AUX + r"\b)[\w'-]+)"
_HEAD = re.compile(
    r"^\W*(?:(?:and|so)\s+)?(?:what|which)\s+"
    + _HEAD_WORDS
    + r"\s+(?:(of)\s+"
    + _HEAD_WORDS
    + r"\s+)?(?:"
    + _HEAD_AUX
    + r"|for|about|in|under|to|from|with|on|that)\b",
    re.IGNORECASE,
)
# Heads that name no kind of their own: "types of provision" asks for provision, and "What
# happens to ..." has a verb where the noun would be.
_EMPTY_HEADS = frozenset({"type", "kind", "sort", "thing", "part", "happen", "one"})


def head_noun(question: str) -> str:
    """The stem of the kind of thing a "what/which X ...?" question asks for ("" if none)."""
    m = _HEAD.search(" ".join(question.split()))
    if not m:
        return ""
    terms = content_terms(m.group(1).split()[-1])
    head = terms[0] if terms else ""
    if head in _EMPTY_HEADS:
        after = content_terms(m.group(3).split()[-1]) if m.group(2) else []
        head = after[0] if after and after[0] not in _EMPTY_HEADS else ""
    return head


# Words that end a number's phrase before the counted noun comes: "3 months from the stage 3
# response" counts months, not stages ("41 of the 64 agencies" still counts agencies).
_NOT_COUNTING = r"(?:from|to|after|before|within|since|until|by|at|on|per)"


def states_count(counted: str, text: str) -> bool:
    """Whether `text` gives a number of `counted` things ("four stages", "37 youth justice
    services", "41 of the 64 agencies"): a number at most four words before the noun."""
    return bool(
        re.search(
            rf"\b(?:\d[\d,.]*|{_NUM})\b(?:\W+(?!{_NOT_COUNTING}\b)[\w'-]+){{0,4}}?\W+"
            rf"{re.escape(counted)}\w*",
            text,
            re.IGNORECASE,
        )
    )


def _with_variants(concept: Concept, stats: TermStats) -> Concept:
    """The concept plus, for each spelling with a term no passage holds, that spelling with the
    term's indexed stem variants in its place ("overrepres" also as "overrepresent")."""
    extra = set()
    for alt in concept:
        for term in alt:
            for variant in stats.variants(term):
                extra.add((alt - {term}) | {variant})
    return concept | frozenset(extra) if extra else concept


def _in_corpus(concept: Concept, stats: TermStats) -> bool:
    """Whether some spelling of the concept has every term somewhere in the index."""
    return any(alt and all(stats.df.get(t, 0) > 0 for t in alt) for alt in concept)


# Questions that ask for an identity the documents must state literally: a named person ("Who
# is the current Chief Inspector?", "What is the name of ...?") or contact details (a telephone
# number, an email or web address). A passage about the role or the helpline does not answer
# them, and such questions are a common way to ask beyond a framework document.
_ASKS_NAME = re.compile(
    r"^\W*(?:(?:and|so)\s+)?(?:who (?:is|are) (?:the |our |your )?(?:current|present|new|acting|"
    r"interim)\b|what (?:is|are) the (?:full )?names? of\b.*\b(?:person|people|inspectors?|"
    r"directors?|chairs?|managers?|officers?|head|leads?|chief|minister|secretary|"
    r"commissioner|adjudicator|ombudsman|principal|leaders?|owner|members?|trustees?|"
    r"governors?)\b)",
    re.IGNORECASE,
)
_ASKS_CONTACT = re.compile(
    r"\b(?:(?:tele)?phone|mobile|contact|helpline) numbers?\b|\be-?mail address(?:es)?\b|"
    r"\b(?:web ?site|web|postal) address(?:es)?\b",
    re.IGNORECASE,
)
# A question asking for a sum of money: "How much ...?" about paying, costs or funding, or
# "What (daily) fee / cost / allowance ...?" - not whether there is one ("Can a college
# charge ...?"), nor how much of something, notice, time or training. A passage about the fee
# that states no amount does not answer it.
_ASKS_AMOUNT = re.compile(
    r"^\W*(?:(?:and|so)\s+)?(?:how much\b(?!\s+(?:of|notice|time)\b)(?=.*\b(?:pay|pays|paid|"
    r"cost|costs|fee|fees|charge|charges|funding|fund|money|budget|claim|allowance|price|grant|"
    r"salary|earn|fine|reimburse\w*)\b)|what (?:is |was |are |were )?(?:the |its |their |a )?"
    r"(?:[\w'-]+ ){0,3}(?:fees?|costs?|charges?|price|amount|allowance|budget|salary|"
    r"(?:daily|hourly|weekly|mileage|day) rate|rate per \w+|fines?)\b)",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"£\s?\d|\$\s?\d|€\s?\d|\b\d+(?:[.,]\d+)? ?(?:pounds|pence)\b|\d\s?%|\bper ?cent\b|"
    r"\bfree(?: of charge)?\b|\bno (?:charge|fee|cost)\b|\bdoes not (?:charge|pay)\b",
    re.IGNORECASE,
)
_HONORIFIC_NAME = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Professor|Prof|Sir|Dame|Lord|Lady|Baroness|Baron)\.? [A-Z][a-z]+"
)
_CONTACT = re.compile(
    r"\b0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4}\b|\+\d{1,3}[ \d-]{8,}|[\w.+-]+@[\w-]+\.[\w.]+|"
    r"https?://|\bwww\.|\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b"
)
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?\b")


def asks_identity(question: str) -> str:
    """ "name", "contact" or "amount" when the question asks for a named person, contact
    details or a sum of money (see `_ASKS_NAME`, `_ASKS_CONTACT`, `_ASKS_AMOUNT`), else ""."""
    text = " ".join(question.split())
    if _ASKS_CONTACT.search(text):
        return "contact"
    if _ASKS_AMOUNT.search(text):
        return "amount"
    return "name" if _ASKS_NAME.search(text) else ""


# A question asking when something will next happen ("When will Fernvale next revise its
# framework?", "How soon is it next inspected?"): a passage answers it only with a sentence
# that states a time and names that action. Passages dating something else ("replaces the
# framework published in July 2021") do not. No constant; measured on the suite (README
# "A next occasion"): of its 7 questions with "next", dev's 2 and test's 1 out-of-scope ones
# are declined and none of the 4 answerable ones.
_NEXT = re.compile(r"\bnext\s+([a-z][a-z'-]*)", re.IGNORECASE)
_TIMED = ("date", "duration", "frequency")


def asks_next(question: str, kind: str) -> str:
    """The stem of the word after "next" when a time question (`kind` a date, duration or
    frequency) asks when something will next happen, else ""."""
    if kind not in _TIMED:
        return ""
    m = _NEXT.search(question)
    terms = content_terms(m.group(1)) if m else []
    return terms[0] if terms else ""


def states_next(term: str, passages: list[str]) -> bool:
    """Whether some sentence of the passages names `term` and states a time."""
    for passage in passages:
        for sentence in re.split(r"(?<=[.;:])\s+|\n", passage):
            if term in content_terms(sentence) and any(states(k, sentence) for k in _TIMED):
                return True
    return False


# Capitalised words that start or end a role, body, title or law rather than a person's name.
_NOT_NAME = frozenset(
    "a an the this that these those his her their our your its my we he she it they i "
    "act acts bill code order regulations rules statement framework policy report plan "
    "guidance handbook standards section schedule part annex chapter".split()
)


def states_identity(kind: str, question: str, passages: list[str]) -> bool:
    """Whether the passages state what `asks_identity` found the question asks for.

    Contact details have a form (a telephone number, an address with "@", a web address, a
    postcode). A person's name is looked for only in sentences that share a word with the
    question (the role asked about): a title and surname ("Dr Okafor"), or two capitalised
    words in a row that the question does not use, that the passages never write in lower
    case and that are no role, body, title or law ("Equality and Inclusion Lead", "the Chief
    Inspector" and "Education Act" are not names).
    """
    if kind == "contact":
        return any(_CONTACT.search(p) for p in passages)
    if kind == "amount":
        return any(_AMOUNT.search(p) for p in passages)
    if kind != "name":
        return True
    asked = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    topic = {w for w in asked if len(w) > 3} - {"current", "name", "names", "what", "which"}
    lower = {w for p in passages for w in re.findall(r"\b[a-z][a-z'-]*\b", p)}

    def proper(word: str) -> bool:
        key = word.lower()
        return (
            key not in asked
            and key not in lower
            and key.split("'")[0] not in lower | _NOT_NAME
            and not STATES["person"].fullmatch(word)
        )

    for p in passages:
        for sentence in re.split(r"(?<=[.!?])\s+", p):
            if not topic & {w.lower() for w in re.findall(r"[A-Za-z]+", sentence)}:
                continue
            if _HONORIFIC_NAME.search(sentence):
                return True
            words = [(m.group(0), m.start(), m.end()) for m in _CAPITALISED.finditer(sentence)]
            for (a, _, end), (b, start, _) in zip(words, words[1:], strict=False):
                if sentence[end:start] == " " and proper(a) and proper(b):
                    return True
    return False
