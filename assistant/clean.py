"""Web chrome recognition: which lines are navigation, footer, comment-form or newsletter text.

Used on whole blocks by `assistant.ingest.clean_blocks` and on standalone lines by the text
loader; format loaders remove what their format marks as furniture themselves.

Rules are conservative on purpose: a line is dropped only when it is recognisably navigation,
footer, comment-form or newsletter text, because a lost sentence is worse than a stray menu item.
Everything removed is recorded so the index can report it per document.
"""

from __future__ import annotations

import re

# Whole-line patterns: comment forms, newsletter blurbs, share widgets, GOV.UK banners.
CHROME_LINE_PATTERNS = [
    r"(^|\?\s*)leave a (comment|reply)\b",  # a prompt, not "inspectors leave a comment"
    r"your email address will not be published",
    r"required fields are marked",
    r"^read more( stories| news)?\.?$",
    r"sign up (to|for) our (e-?)?newsletter",
    r"straight to your inbox",
    r"^(share|follow us)( this| on)\b",
    r"^subscribe\b",
    r"^coronavirus \(covid-19\)",
    r"^home\s*>",
    r"^is this page useful\??$",
    r"there is something wrong with this page",
    r"open government licence",
    r"crown copyright",
    r"built by the government digital service",
    r"^skip to main content$",
    r"^cookies on gov\.uk",
    r"we use (some essential )?cookies",
    r"^(accept|reject) (additional|all) cookies$",
]

# GOV.UK navigation/footer phrases. A line made only of these (and punctuation) is chrome.
NAV_PHRASES = [
    "accessibility statement",
    "benefits",
    "births, deaths, marriages and care",
    "business and self-employed",
    "childcare and parenting",
    "citizenship and living in the uk",
    "contact",
    "cookies",
    "crime, justice and the law",
    "departments and policy",
    "departments",
    "disabled people",
    "driving and transport",
    "education and learning",
    "employing people",
    "environment and countryside",
    "guidance and regulation",
    "help",
    "housing and local services",
    "how government works",
    "information releases",
    "money and tax",
    "news and communications",
    "no",
    "otherwise stated",
    "passports, travel and living abroad",
    "policy papers and consultations",
    "privacy",
    "research and statistics",
    "rhestr o wasanaethau cymraeg",
    "services and information",
    "services",
    "terms and conditions",
    "the uk has left the eu",
    "transparency and freedom of",
    "visas and immigration",
    "working, jobs and pensions",
    "worldwide",
    "yes",
    "open consultation",
    "contents",
    "topics",
    "government activity",
    "check the new rules for january 2021",
    "guidance and support",
]
_NAV_RE = re.compile(
    r"(?<![\w])("
    + "|".join(re.escape(p) for p in sorted(NAV_PHRASES, key=len, reverse=True))
    + r")(?![\w])",
    re.IGNORECASE,
)
_CHROME_RES = [re.compile(p, re.IGNORECASE) for p in CHROME_LINE_PATTERNS]


def is_chrome_line(line: str) -> bool:
    """True when a whole line is website chrome rather than document content."""
    stripped = line.strip().strip("*_ ").strip()
    if not stripped:
        return False
    if any(rx.search(stripped) for rx in _CHROME_RES):
        return True
    rest = _NAV_RE.sub(" ", stripped.replace("*", " "))
    return sum(ch.isalnum() for ch in rest) < 3
