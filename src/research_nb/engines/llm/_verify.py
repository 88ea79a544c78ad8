"""Citation verification for text a model wrote: a claim is shown only if the passage it cites was retrieved by the
run and the passage's own words support it.

Each claim names one passage and quotes the words of that passage it rests on. A claim is kept when:

1. the passage id is one the run retrieved (an invented id or URL is dropped: it could not be shown anyway);
2. the quote is in the passage, word for word (case, spacing, curly quotes and dash styles aside) and is more
   than a couple of words long;
3. the quote supports the claim: every number and every link in the claim appears in the quote, and most of the
   claim's content words (at least 60 %, as stems, so "grew" and "grows" match) appear in the quote or in the
   passage's title (a claim names its subject — "Norway" — that the quoted sentence calls "the country").

Then the claim must mean what its passage says (`ClaimContext`, the names the run knows things by):

4. a question is never a claim;
5. every entity the claim names (a country, a document's subject) must be one its passages are about (the title's
   subject, "Norway" of "Norway — Economy") or that its quote names: "The unemployment rate in Japan is 2.7%"
   citing South Korea's page is dropped. So a comparison needs a passage for each side it names (`second_*`);
6. under a sub-question, the claim must be about that sub-question's entity and share a word of its attribute
   (with the claim, quote, title or heading): Sweden's figures are not Norway's trade balance;
7. a figure must be the figure of the field the claim names: in a `Field: value` line, most of the field's words
   must be the claim's — "trade balance" is not "Current account balance", "unemployment rate" not "Youth
   unemployment rate (ages 15-24)".

Why this measure: numbers and links are where a model most often invents, and they must match exactly; a claim
that only borrows the citation of a related passage brings content words the quote does not have, or an entity
it is not about. The check is lexical, so a faithful paraphrase with many synonyms may be dropped: the report says
how many claims were dropped, and the notes ask the model to stay close to the quoted words. Its precision and
recall on a hand-labelled set are measured by `bench/llm.py` (tests/llm/fixtures/verifier-labelled.json).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from research_nb.engines._fields import FIELD_LINE
from research_nb.engines._text import sentences, terms
from research_nb.engines.llm._plan import named_entities
from research_nb.models.research import Passage, SubQuestion

SUPPORT_THRESHOLD = 0.6
MIN_QUOTE_WORDS = 3
FIELD_THRESHOLD = 0.5  # of a data line's field words, the share a claim citing its figure must use
_SUBJECT_SEPARATOR = " — "  # "Norway — Economy": the subject, then the section
_QUESTION_START = re.compile(
    r"(?i)^(?:what|how|why|which|who|whom|whose|when|where|is|are|does|do|did|can|could|should|will|would)\b"
)
_GLOSS = re.compile(r"\([^)]*\)")
_QUALIFIERS = frozenset({"real", "total"})
_YEAR = re.compile(r"^(?:1[89]|20|21)\d\d$")
#: The few words a claim uses for a field that does not hold them ("people" for "Population").
_FIELD_SYNONYMS = {"peopl": "popul", "inhabit": "popul", "resid": "popul", "jobless": "unemploy"}

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
    second_passage_id: str = Field("", description="Only for a comparison: the passage about the other side")
    second_quote: str = Field("", description="Only for a comparison: the words of that second passage")


@dataclass(frozen=True)
class ClaimContext:
    """What a claim must be about: the names the run knows things by, and under a sub-question its entity and the
    terms of what it asks."""

    entities: Sequence[str] = ()
    entity: str | None = None
    attribute: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def under(cls, sub_question: SubQuestion, entities: Sequence[str]) -> ClaimContext:
        named = _named(sub_question.question, entities)
        entity = sub_question.entity or (named[0] if len(named) == 1 else None)
        name_terms = {t for name in [*named, *([entity] if entity else [])] for t in terms(name)}
        attribute = frozenset(t for t in terms(sub_question.question) if t not in name_terms and not _is_number(t))
        return cls(entities=entities, entity=entity, attribute=attribute)


def entity_names(titles: Iterable[str]) -> list[str]:
    """The subjects of documents and passages ("Norway" of "Norway — Economy"), once each."""
    names = (title.split(_SUBJECT_SEPARATOR, 1)[0].strip() for title in titles)
    return list(dict.fromkeys(name for name in names if len(name) >= 3))


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    passage: Passage | None
    quote: str  # the passage's own words (its spelling), when found
    problem: str | None  # why the claim is not shown; None when it is supported

    @property
    def supported(self) -> bool:
        return self.problem is None

    second: Passage | None = None  # a comparison's passage for its other side
    second_quote: str = ""


def verify(claim: Claim, passages: Mapping[str, Passage], context: ClaimContext | None = None) -> Verdict:
    context = context or ClaimContext()
    passage = passages.get(claim.passage_id.strip())
    if passage is None:
        return Verdict(claim, None, "", f"cites {claim.passage_id!r}, which this run never retrieved")
    if not claim.text.strip():
        return Verdict(claim, passage, "", "is empty")
    if claim.text.strip().endswith("?") or _QUESTION_START.match(claim.text.strip()):
        return Verdict(claim, passage, "", "is a question, not a claim")
    quote = find_quote(claim.quote, passage.text)
    if quote is None:
        return Verdict(claim, passage, "", f"quotes words that are not in {passage.id}")
    if len(quote.split()) < MIN_QUOTE_WORDS:
        return Verdict(claim, passage, quote, "quotes too few words to support anything")
    cited = [(passage, quote)]
    second: Passage | None = None
    second_quote = ""
    if claim.second_passage_id.strip():
        second = passages.get(claim.second_passage_id.strip())
        if second is None:
            return Verdict(claim, passage, quote, f"cites {claim.second_passage_id!r}, which this run never retrieved")
        second_quote = find_quote(claim.second_quote, second.text) or ""
        if len(second_quote.split()) < MIN_QUOTE_WORDS:
            return Verdict(claim, passage, quote, f"quotes words that are not in {second.id}")
        cited.append((second, second_quote))
    problem = (
        _unsupported(claim.text, " ".join(q for _, q in cited), " ".join(p.title for p, _ in cited))
        or _wrong_entity(claim.text, cited, context)
        or _off_question(claim.text, cited, context)
        or _wrong_field(claim.text, cited, context)
    )
    return Verdict(claim, passage, quote, problem, second, second_quote)


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


def subject(passage: Passage) -> str:
    return passage.title.split(_SUBJECT_SEPARATOR, 1)[0].strip()


def _named(text: str, entities: Sequence[str]) -> list[str]:
    return named_entities(text, entities) if entities else []


def _wrong_entity(claim: str, cited: list[tuple[Passage, str]], context: ClaimContext) -> str | None:
    named = _named(claim, context.entities)
    subjects = [subject(p) for p, _ in cited]
    uncovered = [
        name
        for name in named
        if not any(name.casefold() == s.casefold() for s in subjects) and not any(_named(q, [name]) for _, q in cited)
    ]
    if not uncovered:
        return None
    about = " and ".join(dict.fromkeys(subjects))
    if len(named) > 1:
        return f"is about {' and '.join(named)} but cites a passage about {about} only"
    return f"is about {uncovered[0]} but cites a passage about {about}"


def _off_question(claim: str, cited: list[tuple[Passage, str]], context: ClaimContext) -> str | None:
    if context.entity:
        subjects = {subject(p).casefold() for p, _ in cited}
        if context.entity.casefold() not in subjects and context.entity not in _named(claim, [context.entity]):
            return f"is not about {context.entity}, the subject of its sub-question"
    if context.entity and context.attribute:  # an entity-and-attribute question: "What is Norway's trade balance?"
        known = set(terms(claim))
        for passage, quote in cited:
            known |= set(terms(quote)) | set(terms(passage.title)) | set(terms(passage.location.heading or ""))
        if not context.attribute & known:
            return "does not answer its sub-question (none of the words of what it asks)"
        for _, quote in cited:
            field = data_field(quote)
            if field is not None and not context.attribute & (_field_heads(field) | set(terms(field[1]))):
                return f"cites {field[0].strip()!r}, which is not what its sub-question asks"
    return None


def data_field(quote: str) -> tuple[str, str] | None:
    """The (field, value) of a quote that is one `Field: value` data line."""
    lines = quote.strip().split("\n")
    match = FIELD_LINE.match(lines[0].strip()) if len(lines) == 1 else None
    return (match.group("field"), match.group("value")) if match else None


def _field_heads(field: tuple[str, str]) -> set[str]:
    """The words a data field is about: the first of each comma-separated part, glosses and qualifiers aside
    ("Alcohol consumption per capita, beer" is about alcohol and beer, not per capita; "Real GDP per capita"
    about GDP)."""
    heads = set()
    for part in _GLOSS.sub(" ", field[0]).split(","):
        named = [t for t in terms(part) if not _is_number(t) and t not in _QUALIFIERS]
        heads |= set(named[:1])
    return heads


def _wrong_field(claim: str, cited: list[tuple[Passage, str]], context: ClaimContext) -> str | None:
    """The field of each data line whose figure the claim states must be the field the claim speaks of."""
    figures = {n for n in _numbers(claim) if not _YEAR.match(n)}
    if not figures:
        return None
    name_terms = {t for name in _named(claim, context.entities) for t in terms(name)}
    claim_terms = {_FIELD_SYNONYMS.get(t, t) for t in terms(claim)} - name_terms
    for passage, quote in cited:
        for line in _lines_around(passage.text, quote):
            match = FIELD_LINE.match(sentences(line)[0].text if sentences(line) else line)
            if match is None or not figures & set(_numbers(match.group("value"))):
                continue
            label = match.group("field")
            # The field's own words: not its parenthesised gloss ("(ages 15-24)", "(consumer prices)") nor the
            # qualifiers a claim drops ("Real GDP", "..., total"). Its first word is what it is about ("Youth
            # unemployment rate" is not "unemployment rate"); most of the rest must be there too.
            named = [t for t in terms(_GLOSS.sub(" ", label)) if not _is_number(t) and t not in _QUALIFIERS]
            if named and (
                named[0] not in claim_terms or len(set(named) & claim_terms) / len(set(named)) < FIELD_THRESHOLD
            ):
                return f"states the figure of {label.strip()!r}, a field it does not name"
    return None


def _lines_around(text: str, quote: str) -> list[str]:
    """The whole lines of `text` that the (verbatim) `quote` touches."""
    at = text.find(quote)
    if at < 0:
        return []
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at + len(quote))
    return text[start : end if end >= 0 else len(text)].split("\n")


def _is_number(term: str) -> bool:
    return bool(_NUMBER.fullmatch(term.rstrip("%")))


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
