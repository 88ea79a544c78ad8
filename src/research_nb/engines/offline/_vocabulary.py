"""Which field a question asks about, by meaning rather than spelling.

The candidates are the corpus's own fields and their parts (`CorpusFacts.parts`: "Population", "Area (total)",
"Executive branch (chief of state)"). A question's words are matched to their names by stemmed terms, weighted by
how rare each term is among field names ("inflation" decides, "rate" hardly does), after a small lexicon of everyday
English has added the terms its paraphrases stand for: "bigger" is about area, "more people" about population,
"share of people online" about internet users, "price-stable" about inflation (the lower, the more stable).

The lexicon holds general words, not the wording of particular questions; `bench/attributes.py` measures it on
paraphrases against matching by field names alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from research_nb.engines._text import terms, words
from research_nb.engines.offline._facts import CorpusFacts
from research_nb.sources._text import analyze

#: Everyday phrase -> (the field terms it stands for, polarity: -1 when "more of it" means a lower figure).
#: Phrases are matched on whole words, longest first; each entry is a paraphrase a reader would use.
_LEXICON: tuple[tuple[str, str, int], ...] = (
    # size and people
    (
        "size|vast|vaster|territory|surface|square kilometres|square kilometers|sq km|land mass|landmass",
        "area total",
        1,
    ),
    (
        "populous|populated|inhabitants|residents|population size|how many people|number of people|headcount",
        "population total",
        1,
    ),
    (
        "aging|ageing|average age|older population|oldest population|younger population|youngest population|"
        "population age|age of the population",
        "median age total",
        1,
    ),
    (
        "live longer|live longest|lifespan|life span|longevity|how long people live|how long do people live|"
        "how long does a person live|lives longest|people live longest",
        "life expectancy at birth total population",
        1,
    ),
    ("babies|births|born", "birth rate", 1),
    ("deaths|die", "death rate", 1),
    ("online|internet access|web access|use the internet|connected", "internet users percent of population", 1),
    # economy
    ("price stable|price-stable|stable prices|price stability", "inflation rate consumer prices", -1),
    ("prices|cost of living|inflation", "inflation rate consumer prices", 1),
    ("jobless|joblessness|out of work|without work|without a job|unemployed", "unemployment rate", 1),
    (
        "richer|richest|wealthier|wealthiest|wealth|prosperous|income per person|living standard|standard of living",
        "real gdp per capita",
        1,
    ),
    ("poorer|poorest|less prosperous", "real gdp per capita", -1),
    (
        "economic output|size of the economy|economy size|output|gdp ppp|purchasing power",
        "real gdp purchasing power parity",
        1,
    ),
    ("economy grow|economic growth|growth|grew|expanded", "real gdp growth rate", 1),
    ("money|currency|pay with|legal tender", "exchange rates currency", 1),
    ("sells abroad|sell abroad|exported|export", "exports", 1),
    ("buys abroad|buy abroad|imported|import", "imports", 1),
    ("trading partners|trade partners|customers", "exports partners", 1),
    ("manufacturing|factories|sectors", "industries", 1),
    ("crops|farm products|farming|grows", "agricultural products", 1),
    ("debt|borrowing", "public debt", 1),
    # government
    ("capital city|capital|seat of government", "capital name", 1),
    (
        "head of state|chief of state|monarch|king|queen|emperor|president|ruler|who rules|who leads",
        "executive branch chief of state",
        1,
    ),
    ("head of government|prime minister|premier|chancellor", "executive branch head of government", 1),
    (
        "system of government|form of government|type of government|political system|regime|governed|monarchy|"
        "republic|democracy|communist|kingdom|ruled",
        "government type",
        1,
    ),
    ("top-level domain|top level domain|domain|web suffix|internet code|country code", "internet country code", 1),
    ("member|members|membership|belong|belongs|join|joined|part of", "international organization participation", 1),
    ("independent|independence|gain independence|became independent", "independence", 1),
    ("holiday|national day", "national holiday", 1),
    ("anthem", "national anthem", 1),
    ("vote|voting age|suffrage", "suffrage", 1),
    ("legal system|laws", "legal system", 1),
    # geography
    (
        "border|borders|bordering|neighbours|neighbors|neighboring|neighbouring|adjacent|next to|share a border|"
        "share a land border",
        "land boundaries border countries",
        1,
    ),
    (
        "landlocked|land-locked|coast|coastal|coastline|sea coast|seacoast|access to the sea|sea access|shoreline",
        "coastline",
        1,
    ),
    (
        "tallest peak|tallest mountain|highest peak|highest mountain|highest point|summit|tallest",
        "elevation highest point",
        1,
    ),
    ("lowest point|deepest point", "elevation lowest point", 1),
    ("resources|minerals|mineral", "natural resources", 1),
    ("weather|climate", "climate", 1),
    ("landscape|terrain|topography", "terrain", 1),
    # people and society
    ("languages|language|speak|spoken|tongue|tongues", "languages", 1),
    ("religions|religion|faith|faiths|believe", "religions", 1),
    ("ethnicities|ethnicity|ethnic", "ethnic groups", 1),
    ("read and write|literate|literacy", "literacy total population", 1),
    (
        "children per woman|children does a woman|children a woman|children do women|births per woman|fertility",
        "total fertility rate",
        1,
    ),
    ("infant deaths|babies die|infant mortality", "infant mortality rate total", 1),
    (
        "spend on the military|military spending|defence spending|defense spending|military budget",
        "military expenditures",
        1,
    ),
    ("electricity|power supply", "electricity access", 1),
)
#: Words that stand for a field only when nothing else in the question names one: "Which is bigger?" asks about
#: area, but "the largest population" about population; "more people" is population, "people online" is not.
_FALLBACK: tuple[tuple[str, str, int], ...] = (
    ("bigger|larger|smaller|biggest|largest|smallest|big|large|small", "area total", 1),
    ("people|citizens|more people|fewer people", "population total", 1),
    ("older|oldest|younger|youngest|old|young", "median age total", 1),
)
#: Words that say what is asked but not about which field: "Which country has ...", "the figure".
_NEUTRAL = frozenset(terms("country countries nation nations figure figures value number year years total state"))
_DIRECTION_UP = frozenset(
    "more most higher highest larger largest bigger biggest greater greatest longer longest older oldest top "
    "richer richest wealthier wealthiest taller tallest rose increase increased".split()
)
_DIRECTION_DOWN = frozenset(
    "less least lower lowest smaller smallest fewer fewest shorter shortest younger youngest poorer poorest "
    "bottom fell decrease decreased".split()
)
_DIRECTION_TERMS = frozenset(terms(" ".join(_DIRECTION_UP | _DIRECTION_DOWN)))
#: Parts a field states first when a question names none ("Population" is its total, "Capital" its name).
_HEADLINE_PARTS: tuple[str | None, ...] = (None, "total", "total population", "name")
#: A match that says this share of a field's name names that field outright; below it, the fallback words
#: ("bigger", "people") may name a field better.
_CONFIDENT = 0.6


@dataclass(frozen=True)
class AttributeMatch:
    field: str
    part: str | None
    score: float
    polarity: int  # -1 when the question's "more" means a lower figure ("more price-stable": lower inflation)
    coverage: float  # share of the field name's words the question says (after the lexicon)


class FieldVocabulary:
    """The fields of a corpus, ready to match question words against."""

    def __init__(self, facts: CorpusFacts) -> None:
        self._facts = facts
        # A field that is only a note ("People - note") is commentary, not an attribute a question asks for.
        # Field names keep every word ("Area - comparative" is not "Area"), so they are analysed as the index does.
        self._field_terms = {
            name: frozenset(analyze(name))
            for name in facts.parts
            if not name.endswith("note") and facts.is_data_field(name)
        }
        self._part_terms = {
            (name, part): frozenset(analyze(part))
            for name, parts in facts.parts.items()
            if name in self._field_terms
            for part in parts
            if part
        }
        self._documents = {name: max(parts.values()) for name, parts in facts.parts.items()}
        df = Counter(t for ts in self._field_terms.values() for t in ts)
        df.update(t for ts in self._part_terms.values() for t in ts)
        n = len(self._field_terms) + len(self._part_terms)
        self._idf = {t: math.log(1 + n / (1 + c)) for t, c in df.items()}
        self._lexicon = _compile(_LEXICON)
        self._fallback = _compile(_FALLBACK)

    def match(self, text: str, *, ignore: Iterable[str] = (), lexicon: bool = True) -> AttributeMatch | None:
        """The field (and part) `text` asks about, or None when no field name or paraphrase is in it.
        `ignore`: words that belong to the question's entities and groups, not to its attribute."""
        ignored = set(_NEUTRAL) | _DIRECTION_TERMS | {t for phrase in ignore for t in terms(phrase)}
        asked = Counter(t for t in terms(text) if t not in ignored)
        if not lexicon:
            return self._best(asked, 1)
        lowered = " ".join(words(text))
        polarity = _expand(asked, self._lexicon, lowered)
        found = self._best(asked, polarity)
        if found is None or found.coverage < _CONFIDENT:
            fallback = Counter(asked)
            fallback_polarity = _expand(fallback, self._fallback, lowered)
            if fallback != asked:
                alternative = self._best(fallback, polarity * fallback_polarity)
                if alternative is not None and (found is None or alternative.coverage > found.coverage):
                    return alternative
        return found

    def _best(self, asked: Counter[str], polarity: int) -> AttributeMatch | None:
        if not asked:
            return None
        best: AttributeMatch | None = None
        for name, field_terms in self._field_terms.items():
            field_score = self._overlap(asked, field_terms)
            if field_score <= 0:
                continue
            part, part_score = self._part(name, asked)
            # A field whose name is mostly asked for beats one that shares a word: "birth rate" over "rate".
            coverage = len(field_terms & asked.keys()) / len(field_terms)
            score = round(field_score + part_score + 0.5 * coverage, 6)
            # Ties go to the field more documents state ("Real GDP (purchasing power parity)" over the rare
            # "GDP (purchasing power parity) - real"), then to the shorter name.
            if best is None or (score, self._documents[name], -len(name), name) > (
                best.score,
                self._documents[best.field],
                -len(best.field),
                best.field,
            ):
                best = AttributeMatch(name, part, score, polarity, round(coverage, 6))
        return best

    def _overlap(self, asked: Counter[str], candidate: frozenset[str]) -> float:
        return sum(self._idf.get(t, 0.0) * min(asked[t], 2) for t in candidate if t in asked)

    def _part(self, name: str, asked: Counter[str]) -> tuple[str | None, float]:
        """The part of a field the question names ("chief of state"), else the field's headline part. Only the
        part's own words count: "per capita" in a field's name says nothing about which of its parts is asked."""
        parts = self._facts.parts[name]
        own = self._field_terms[name]
        scored = sorted(
            ((self._overlap(asked, self._part_terms[(name, p)] - own), p) for p in parts if p),
            key=lambda item: (-item[0], item[1]),
        )
        if scored and scored[0][0] > 0:
            return scored[0][1], scored[0][0]
        # The headline part most documents state ("Area" is stated as its total, "Population" too), else the
        # part most documents state (the field's main line); ties by name.
        headlines = [p for p in _HEADLINE_PARTS if p in parts]
        if headlines:
            return max(headlines, key=lambda p: (parts[p], -_HEADLINE_PARTS.index(p))), 0.0
        return max(parts.items(), key=lambda item: (item[1], item[0] or ""))[0], 0.0


def direction(text: str) -> int:
    """+1 when the question asks for more (highest, larger), -1 for less (lowest, smaller), 0 for neither."""
    said = words(text)
    up = next((i for i, w in enumerate(said) if w in _DIRECTION_UP or (w.endswith("est") and w in _DIRECTION_UP)), None)
    down = next((i for i, w in enumerate(said) if w in _DIRECTION_DOWN), None)
    if up is None and down is None:
        return 0
    if down is None or (up is not None and up < down):
        return 1
    return -1


def _expand(asked: Counter[str], lexicon: Sequence[tuple[re.Pattern[str], str, int]], lowered: str) -> int:
    """Add the field terms of every lexicon phrase in `lowered` to `asked`; the polarity they imply."""
    polarity = 1
    for pattern, target, sign in lexicon:
        if pattern.search(lowered):
            for term in terms(target):
                asked[term] += 1
            polarity = sign if sign < 0 else polarity
    return polarity


def _compile(lexicon: Sequence[tuple[str, str, int]]) -> list[tuple[re.Pattern[str], str, int]]:
    compiled = []
    for phrases, target, sign in lexicon:
        alternatives = sorted(phrases.split("|"), key=len, reverse=True)
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(" ".join(words(p))) for p in alternatives) + r")\b")
        compiled.append((pattern, target, sign))
    return compiled
