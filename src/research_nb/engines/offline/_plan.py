"""Question analysis: what kind of answer a question wants, about whom, and which field decides it.

    "Which South American country has the highest inflation rate in 2022?"
    -> superlative · Inflation rate (consumer prices) · highest · South America · 2022

The plan is read from the question's own words and the corpus's vocabulary (document names and aliases, group
names, field names through `FieldVocabulary`); nothing here knows a particular question. A question the corpus's
fields cannot decide (no field matches, no entity or group) is an `overview`, researched by search as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from research_nb.engines._text import words
from research_nb.engines.offline._facts import CorpusFacts
from research_nb.engines.offline._query import Mention, TitleIndex
from research_nb.engines.offline._vocabulary import AttributeMatch, FieldVocabulary, direction
from research_nb.models.research import QuestionPlan

#: Words that open a yes/no question.
YESNO_OPENERS = frozenset("is are was were do does did has have had can could will".split())
_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "twelve": 12, "fifteen": 15, "twenty": 20,
}  # fmt: skip
_TREND_WORDS = frozenset(
    "changed change changes trend trends evolved evolution developed development since each every over history "
    "grown risen fallen moved".split()
)
#: Words of a yes/no question about a trend ("Has it fallen since 2022?"), by the movement they ask about.
_MOVED = {
    **dict.fromkeys("risen rose rise rising increased increase grown grew gone up climbed".split(), "rose"),
    **dict.fromkeys("fallen fell fall falling decreased decrease dropped declined shrunk shrank".split(), "fell"),
}
_LIST_OPENERS = ("list", "name", "which countries", "what are", "which are")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
#: Yes/no questions that test a field's value for a word: the phrases that ask it, the field, the word, and
#: whether the phrase asks for its presence (+1) or absence (-1).
_TESTS: tuple[tuple[str, str, str, int], ...] = (
    (
        "without a sea coast|without a coast|without a coastline|no coast|no coastline|no access to the sea|"
        "landlocked|land-locked|land locked",
        "Coastline",
        "landlocked",
        1,
    ),
    (
        "have a coast|have a coastline|coastal|access to the sea|border the sea|on the sea|by the sea",
        "Coastline",
        "landlocked",
        -1,
    ),
    ("monarchy|monarch|king|queen|kingdom|royal|emperor", "Government type", "monarchy", 1),
    ("republic", "Government type", "republic", 1),
    ("communist", "Government type", "communist", 1),
    ("federal|federation", "Government type", "federal", 1),
    ("democracy|democratic", "Government type", "democracy", 1),
    ("theocracy|theocratic", "Government type", "theocratic", 1),
)
#: Organisations by the names people use, as the Factbook's participation lists abbreviate them.
_ORGANISATIONS = {
    "european union": "EU", "eu": "EU", "united nations": "UN", "un": "UN", "nato": "NATO",
    "north atlantic treaty organization": "NATO", "african union": "AU", "world trade organization": "WTO",
    "wto": "WTO", "opec": "OPEC", "asean": "ASEAN", "oecd": "OECD", "commonwealth": "C", "g20": "G-20",
    "g-20": "G-20", "g7": "G-7", "g-7": "G-7", "schengen": "Schengen Convention",
    "schengen area": "Schengen Convention",
    "arab league": "AL", "organization of american states": "OAS", "imf": "IMF", "efta": "EFTA",
    "international monetary fund": "IMF", "world health organization": "WHO", "mercosur": "Mercosur",
}  # fmt: skip
_MEMBERSHIP = re.compile(r"\b(member|members|membership|belong|belongs|in|part|join|joined|participate)\b")
_CLAUSE = re.compile(
    r"(?:,\s*(?:and|but)\s+|;\s*|\?\s+|\s+and\s+)(?=(?:how|what|which|who|where|when|why|is|are|does|do)\b)",
    re.IGNORECASE,
)


def plan_question(question: str, titles: TitleIndex, facts: CorpusFacts, vocabulary: FieldVocabulary) -> QuestionPlan:
    """The plan of a question: one of the kinds of `QuestionPlan.kind`, with what it is about."""
    clauses = split_clauses(question, titles)
    if len(clauses) > 1:
        return QuestionPlan(kind="multipart", parts=clauses)
    return _plan_one(question, titles, facts, vocabulary)


def plan_parts(
    plan: QuestionPlan, titles: TitleIndex, facts: CorpusFacts, vocabulary: FieldVocabulary
) -> list[QuestionPlan]:
    """The plan of each clause of a multi-part question. A clause that names nothing ("and what is its
    population?") is about what the clause before it names."""
    plans: list[QuestionPlan] = []
    for part in plan.parts:
        carry = [*plans[-1].entities, *plans[-1].groups] if plans else []
        plans.append(_plan_one(part, titles, facts, vocabulary, carry=carry))
    return plans


def split_clauses(question: str, titles: TitleIndex) -> list[str]:
    """The clauses of a multi-part question, each a readable question of its own ("Which competitors ... in
    Sweden?", "How high are electricity prices in southern Norway?"). A clause without a subject of its own
    ("and what is the figure?") belongs to the one before it; one that names nothing but asks something ("and what
    is its population?") is a part about what the one before it names."""
    pieces = [p.strip(" ,;?") for p in _CLAUSE.split(question) if p and p.strip(" ,;?")]
    clauses: list[str] = []
    for piece in pieces:
        own = [w for w in words(piece) if w not in _FILLER]
        if clauses and not own:
            clauses[-1] = f"{clauses[-1]}, {piece}"
            continue
        clauses.append(piece)
    return [c[0].upper() + c[1:] + "?" for c in clauses] if len(clauses) > 1 else [question]


_FILLER = frozenset(
    "how what which who where when why is are does do the a an and of it its their figure value number that this "
    "there".split()
)


def _plan_one(
    question: str,
    titles: TitleIndex,
    facts: CorpusFacts,
    vocabulary: FieldVocabulary,
    carry: Sequence[str] = (),
) -> QuestionPlan:
    mentions = titles.mentions(question)
    groups = list(dict.fromkeys(m.group for m in mentions if m.group))
    entities = _entities(mentions)
    if not entities and not groups and carry:  # "its population": what the clause before names
        carried = [m for name in carry for m in titles.mentions(name)]
        entities, groups = _entities(carried), list(dict.fromkeys(m.group for m in carried if m.group))
    names = [m.name for m in mentions]
    years = sorted({int(y) for y in _YEAR.findall(question)})
    said = words(question)
    opener = said[0] if said else ""
    organisation = _organisation(question, mentions, entities)
    moved = _MOVED.get(next((w for w in said if w in _MOVED), ""))
    if opener in YESNO_OPENERS and (len(entities) == 1 or (organisation and len(entities) == 2)) and not moved:
        return _yes_no(question, entities, organisation, names, vocabulary)
    match = vocabulary.match(question, ignore=names)
    if match is None:
        return _overview(entities, groups, years)
    numeric = facts.is_numeric(match.field, match.part)
    way = direction(_without(question, names)) * match.polarity
    operation = "lowest" if way < 0 else "highest"
    base = {
        "attribute": match.field,
        "attribute_detail": match.part,
        "entities": [m.name for m in entities],
        "groups": groups,
        "years": years,
    }
    if groups and numeric and not entities:
        count = _count(said)
        if count:
            return QuestionPlan(kind="topn", operation=operation, count=count, **base)
        return QuestionPlan(kind="superlative", operation=operation, **base)
    if len(entities) >= 2 and numeric and way != 0:
        return QuestionPlan(kind="comparison", operation=operation, **base)
    if (
        len(entities) == 1
        and numeric
        and (years or _TREND_WORDS & set(said) or moved)
        and (_asks_change(said) or moved)
    ):
        return QuestionPlan(kind="trend", operation="changed", test=moved, **base)
    if len(entities) == 1:
        if numeric:
            return QuestionPlan(kind="numeric", **base)
        listing = question.lower().startswith(_LIST_OPENERS) or _plural_field(match)
        return QuestionPlan(kind="list" if listing else "fact", **base)
    return _overview(entities, groups, years)


def _overview(entities: Sequence[Mention], groups: list[str], years: list[int]) -> QuestionPlan:
    return QuestionPlan(kind="overview", entities=[m.name for m in entities], groups=groups, years=years)


def _yes_no(
    question: str,
    entities: Sequence[Mention],
    organisation: str | None,
    names: Sequence[str],
    vocabulary: FieldVocabulary,
) -> QuestionPlan:
    subject = [entities[0].name]
    lowered = " ".join(words(question))
    if organisation and _MEMBERSHIP.search(lowered):
        return QuestionPlan(
            kind="yesno",
            entities=subject,
            attribute="International organization participation",
            operation="member",
            test=organisation,
        )
    for phrases, field_name, word, sign in _TESTS:
        if re.search(r"\b(?:" + "|".join(re.escape(" ".join(words(p))) for p in phrases.split("|")) + r")\b", lowered):
            return QuestionPlan(
                kind="yesno",
                entities=subject,
                attribute=field_name,
                operation="is" if sign > 0 else "has",
                test=word,
            )
    match = vocabulary.match(question, ignore=names)
    if match is None:
        return _overview(entities, [], [])
    content = [w for w in words(_without(question, names)) if w not in _FILLER and w not in YESNO_OPENERS]
    return QuestionPlan(
        kind="yesno",
        entities=subject,
        attribute=match.field,
        attribute_detail=match.part,
        operation="is",
        test=content[-1] if content else None,
    )


def _entities(mentions: Sequence[Mention]) -> list[Mention]:
    """Known documents the question names, once each, in the order it names them."""
    seen: set[tuple[str, ...]] = set()
    kept = []
    for mention in mentions:
        if mention.document_ids and mention.document_ids not in seen:
            seen.add(mention.document_ids)
            kept.append(mention)
    return kept


def _organisation(question: str, mentions: Sequence[Mention], entities: Sequence[Mention]) -> str | None:
    """The organisation a membership question names ("the European Union" -> "EU", "NATO")."""
    lowered = " ".join(words(question))
    for name in sorted(_ORGANISATIONS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(name)}\b", lowered) and (
            len(name) > 3 or re.search(rf"\b{name.upper()}\b", question)
        ):
            return _ORGANISATIONS[name]
    tokens: list[str] = re.findall(r"\b[A-Z][A-Z0-9-]{1,7}\b", question)
    for token in tokens:
        named = re.search(
            rf"\b(?:member|members|belongs?|join|joined|part|participates?)\b.*\b{re.escape(token)}\b", question
        )
        if (named or re.search(rf"\bin (?:the )?{re.escape(token)}\b", question)) and not any(
            token in m.name for m in entities[:1]
        ):
            return token
    return None


def _count(said: Sequence[str]) -> int | None:
    for word in said:
        if word in _NUMBERS:
            return _NUMBERS[word]
        if word.isdigit() and 1 < int(word) <= 50:
            return int(word)
    return None


def _asks_change(said: Sequence[str]) -> bool:
    """A trend asks how a figure moved over years, not what it is in one."""
    return bool(_TREND_WORDS & set(said)) or sum(1 for w in said if _YEAR.fullmatch(w)) >= 2


def _plural_field(match: AttributeMatch) -> bool:
    name = (match.part or match.field).split(" (")[0]
    return name.endswith("s") and not name.endswith(("ss", "us", "is"))


def _without(text: str, names: Sequence[str]) -> str:
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    return text
