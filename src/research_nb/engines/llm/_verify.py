"""Citation verification for text a model wrote: a claim is shown only if the passage it cites was retrieved by the
run and the passage's own words support it.

Each claim names one passage and quotes the words of that passage it rests on. A claim is kept when:

1. the passage id is one the run retrieved (an invented id or URL is dropped: it could not be shown anyway);
2. the quote is in the passage, word for word (case, spacing, curly quotes and dash styles aside) and is more
   than a couple of words long;
3. the quote supports the claim: every number and every link in the claim appears in the quote, and most of the
   claim's content words (at least 60 %, as stems, so "grew" and "grows" match) appear in the quote or in the
   passage's title (a claim names its subject — "Norway" — that the quoted sentence calls "the country").

Why this measure: numbers and links are where a model most often invents, and they must match exactly; a claim
that only borrows the citation of a related passage brings content words the quote does not have. The check is
lexical, so a faithful paraphrase with many synonyms may be dropped: the report says how many claims were dropped,
and the notes ask the model to stay close to the quoted words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, Field

from research_nb.engines._text import terms
from research_nb.models.research import Passage

SUPPORT_THRESHOLD = 0.6
MIN_QUOTE_WORDS = 3

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Number words are numbers too ("seven high tides" is not "two high tides"); "one" is left out, being a pronoun too.
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "_ _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
    if value >= 2
} | {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "hundred": "100",
    "thousand": "1000",
    "million": "1000000",
    "billion": "1000000000",
    "dozen": "12",
}
_NUMBER_WORD = re.compile(r"(?i)\b(" + "|".join(_NUMBER_WORDS) + r")\b")
_LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|gov|edu)\b")
_CHAR_MAP = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "‑": "-", "\u00a0": " "})


class Claim(BaseModel):
    """A statement a model makes, with the passage it rests on."""

    text: str = Field(description="One factual statement, in plain words, close to the quoted words")
    passage_id: str = Field(description="The id of the passage that supports the statement, exactly as given")
    quote: str = Field(description="The words of that passage that support the statement, copied exactly")


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    passage: Passage | None
    quote: str  # the passage's own words (its spelling), when found
    problem: str | None  # why the claim is not shown; None when it is supported

    @property
    def supported(self) -> bool:
        return self.problem is None


def verify(claim: Claim, passages: Mapping[str, Passage]) -> Verdict:
    passage = passages.get(claim.passage_id.strip())
    if passage is None:
        return Verdict(claim, None, "", f"cites {claim.passage_id!r}, which this run never retrieved")
    if not claim.text.strip():
        return Verdict(claim, passage, "", "is empty")
    quote = find_quote(claim.quote, passage.text)
    if quote is None:
        return Verdict(claim, passage, "", f"quotes words that are not in {passage.id}")
    if len(quote.split()) < MIN_QUOTE_WORDS:
        return Verdict(claim, passage, quote, "quotes too few words to support anything")
    problem = _unsupported(claim.text, quote, passage.title)
    return Verdict(claim, passage, quote, problem)


def find_quote(quote: str, text: str) -> str | None:
    """`quote` as it is written in `text` (matched ignoring case, spacing, quote and dash styles), or None."""
    wanted, _ = _normalized(quote.strip().strip("\"'“”‘’").strip())
    if not wanted:
        return None
    haystack, positions = _normalized(text)
    at = haystack.find(wanted)
    if at < 0:
        return None
    return text[positions[at] : positions[at + len(wanted) - 1] + 1]


def _unsupported(claim: str, quote: str, title: str) -> str | None:
    missing_numbers = set(_numbers(claim)) - set(_numbers(quote))
    if missing_numbers:
        return f"states {', '.join(sorted(missing_numbers))}, which the quoted words do not"
    quote_folded = quote.casefold()
    for link in _LINK.findall(claim):
        if link.casefold().rstrip(".,;)") not in quote_folded:
            return f"shows a link ({link}) the quoted words do not contain"
    claim_terms = set(terms(claim))
    if not claim_terms:
        return None
    known = set(terms(quote)) | set(terms(title))
    coverage = len(claim_terms & known) / len(claim_terms)
    if coverage < SUPPORT_THRESHOLD:
        return f"is not supported by the quoted words ({coverage:.0%} of its content words are in them)"
    return None


def _numbers(text: str) -> list[str]:
    """Numbers as written, without thousands separators ("91,100" and "91100" are the same number), number words
    as digits."""
    found = [_NUMBER_WORDS[w.lower()] for w in _NUMBER_WORD.findall(text)]
    for match in _NUMBER.findall(text):
        parts = match.replace(",", ".").split(".")
        if len(parts) > 1 and all(len(p) == 3 for p in parts[1:]):
            found.append("".join(parts))  # thousands separators
        else:
            found.append(match.replace(",", "."))
    return found


def _normalized(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with one space for each run of spacing, and each character's position in `text`."""
    out: list[str] = []
    positions: list[int] = []
    for i, char in enumerate(text.translate(_CHAR_MAP)):
        if char.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                positions.append(i)
            continue
        lowered = char.lower()
        out.extend(lowered)
        positions.extend([i] * len(lowered))
    if out and out[-1] == " ":
        out.pop()
        positions.pop()
    return "".join(out), positions
