"""Text cleaning: remove website chrome and repair PDF-extraction damage, keeping every
sentence of real content.

Rules are conservative on purpose: a line is dropped only when it is recognisably navigation,
footer, comment-form or newsletter text, because a lost sentence is worse than a stray menu item.
Everything removed is recorded so the index can report it per document.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Whole-line patterns: comment forms, newsletter blurbs, share widgets, GOV.UK banners.
CHROME_LINE_PATTERNS = [
    r"\bleave a (comment|reply)\b",
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
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_BULLET_CHARS = "•●▪◦‣∙·"
_INLINE_BULLET = re.compile(r"\s*[" + _BULLET_CHARS + r"]\s+")
_HTML_TAG = re.compile(r"</?(u|b|i|em|strong|span|br)\b[^>]*>", re.IGNORECASE)


@dataclass
class CleanResult:
    """Cleaned text plus what was taken out (for the index manifest and for debugging)."""

    text: str
    removed_chars: int = 0
    removed_lines: list[str] = field(default_factory=list)
    pages: list[tuple[int, int]] = field(default_factory=list)


def is_chrome_line(line: str) -> bool:
    """True when a whole line is website chrome rather than document content."""
    stripped = line.strip().strip("*_ ").strip()
    if not stripped:
        return False
    if any(rx.search(stripped) for rx in _CHROME_RES):
        return True
    rest = _NAV_RE.sub(" ", stripped.replace("*", " "))
    return sum(ch.isalnum() for ch in rest) < 3


def _normalise_chars(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = text.replace("\u00a0", " ").replace("\u2009", " ").replace("\u202f", " ")
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")


def _repair_line(line: str) -> str:
    line = _HTML_TAG.sub("", line)
    line = re.sub(r"\*\*(.+?)\*\*", r"\1", line)
    line = re.sub(r"__(.+?)__", r"\1", line)
    line = re.sub(r"^\s*>\s?", "", line)  # e-mail/markdown quote marker on a title line
    line = re.sub(r"[ ]{2,}", " ", line)
    return line.rstrip()


def _split_bullets(line: str) -> list[str]:
    """'intro: • a • b' -> ['intro:', '- a', '- b'] (inline bullets from PDF extraction)."""
    if not any(ch in line for ch in _BULLET_CHARS):
        return [line]
    parts = _INLINE_BULLET.split(line)
    out = [parts[0].rstrip()] if parts[0].strip() else []
    out += ["- " + p.strip() for p in parts[1:] if p.strip()]
    return out


def clean_text(text: str) -> CleanResult:
    """Clean one text: chrome lines out, bullets split, hyphenation and blank runs repaired."""
    original_len = len(text)
    text = _normalise_chars(text)
    removed: list[str] = []
    lines: list[str] = []
    for raw_line in text.split("\n"):
        if is_chrome_line(raw_line):
            removed.append(raw_line.strip())
            continue
        for line in _split_bullets(_repair_line(raw_line)):
            lines.append(line.strip() if not line.startswith("- ") else line)
    text = "\n".join(lines)
    # a word hyphenated across a line break ("consid-\nered"), only between lowercase letters
    text = re.sub(r"([a-z])-\n([a-z])", r"\1\2", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    removed_chars = sum(len(r) for r in removed)
    result = CleanResult(text=text, removed_chars=removed_chars, removed_lines=removed)
    result.removed_chars = max(removed_chars, 0) if original_len else 0
    return result


def clean_pages(text: str, pages: list[tuple[int, int]]) -> CleanResult:
    """Clean a paginated text page by page so page numbers survive cleaning."""
    if not pages:
        return clean_text(text)
    bounds = [start for start, _ in pages] + [len(text)]
    parts: list[str] = []
    new_pages: list[tuple[int, int]] = []
    removed: list[str] = []
    removed_chars = 0
    offset = 0
    for i, (start, number) in enumerate(pages):
        piece = clean_text(text[start : bounds[i + 1]])
        removed += piece.removed_lines
        removed_chars += piece.removed_chars
        body = piece.text.strip()
        if not body:
            continue
        if parts:
            offset += 2
        new_pages.append((offset, number))
        parts.append(body)
        offset += len(body)
    joined = "\n\n".join(parts) + "\n"
    return CleanResult(joined, removed_chars, removed, new_pages)
