"""Reading a research question without a language model: entities, aspect, comparison, vagueness.

Entities are found two ways: names of documents in the corpus that appear (capitalised) in the question —
"Norway", "Arthur's Magazine" — and, failing that, runs of capitalised words. The aspect is what is left once
entities, stop words and comparison words are gone ("economies"). The same title lookup finds the entities a
retrieved passage mentions, which is what the multi-hop search follows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from research_nb.engines._text import COMPARISON_WORDS, STOPWORDS, word_spans, words
from research_nb.models.research import ResearchBrief, SubQuestion

_MAX_NAME_WORDS = 8
_QUALIFIER = re.compile(r"\s*\([^)]*\)$")
_TOKEN = re.compile(r"[^\W_]+(?:['’.\-&][^\W_]+)*\.?", re.UNICODE)
_LIST_WORDS = frozenset({"and", "or", "vs", "versus"})
_BOTH = re.compile(r"^both\s*|\s*\bboth$", re.IGNORECASE)  # "both actors" reads "actors"; "both" alone, nothing
_LIST_FILLERS = frozenset({"the", "both", "s"})  # "both the A and the B", "A's and B's"
_CONNECTORS = frozenset({"of", "the", "for", "and", "de", "la", "von", "van", "du", "del", "in", "on", "&"})


@dataclass(frozen=True)
class Mention:
    name: str  # as written in the text
    document_ids: tuple[str, ...]  # documents with that title; empty for a plain capitalised phrase
    start: int
    group: str | None = None  # the group a name stands for ("South American" -> "South America")


@dataclass(frozen=True)
class QueryAnalysis:
    question: str
    entities: tuple[Mention, ...]
    aspect: str
    comparison: bool
    vague: bool


class TitleIndex:
    """Lower-cased document titles -> document ids, for spotting known names in text."""

    def __init__(
        self,
        titles: Mapping[str, str],
        aliases: Mapping[str, Sequence[str]] | None = None,
        groups: Sequence[str] = (),
    ) -> None:
        """`aliases`: other names of a document (document id -> names); `groups`: names of groups of documents
        (regions), recognised with their adjectives too ("Africa", "African")."""
        by_title: dict[str, list[str]] = {}
        names = [(doc_id, key) for doc_id, title in sorted(titles.items()) for key in _title_keys(title)]
        names += [
            (doc_id, key) for doc_id, more in sorted((aliases or {}).items()) for a in more for key in _title_keys(a)
        ]
        for doc_id, key in names:
            if key not in STOPWORDS and len(key) > 1 and doc_id not in by_title.get(key, []):
                by_title.setdefault(key, []).append(doc_id)
        self._by_title = {k: tuple(v) for k, v in by_title.items()}
        self._groups = {form.lower(): group for group in groups for form in group_forms(group)}

    def mentions(self, text: str, *, fallback_capitalised: bool = False) -> list[Mention]:
        """Known titles written with a capital in `text`, longest match first, in order of appearance.
        With `fallback_capitalised`, unknown runs of capitalised words count as names too."""
        tokens = [(m.group(0), m.start()) for m in _TOKEN.finditer(text)]
        found: list[Mention] = []
        i = 0
        while i < len(tokens):
            match = self._longest_title(text, tokens, i)
            if match is not None:
                found.append(match[0])
                i = match[1]
                continue
            if fallback_capitalised and _capitalised(tokens[i][0]) and not _is_sentence_opener(tokens, i):
                j = i + 1
                while j < len(tokens) and j - i < _MAX_NAME_WORDS:
                    if self._longest_title(text, tokens, j) is not None:
                        break  # a known name starts here: it is a mention of its own
                    word = tokens[j][0]
                    nxt = tokens[j + 1][0] if j + 1 < len(tokens) else ""
                    if _capitalised(word) or (word.lower() in _CONNECTORS and _capitalised(nxt) and word != "and"):
                        j += 1
                    else:
                        break
                while j - 1 > i and tokens[j - 1][0].lower() in _CONNECTORS:
                    j -= 1  # "GDP of" before a known name is "GDP"
                start, end = tokens[i][1], tokens[j - 1][1] + len(tokens[j - 1][0])
                name = text[start:end].rstrip(".")
                if name.lower() not in STOPWORDS and name.lower() not in COMPARISON_WORDS:
                    found.append(Mention(name, (), start))
                i = j
                continue
            i += 1
        return found

    def _longest_title(self, text: str, tokens: list[tuple[str, int]], i: int) -> tuple[Mention, int] | None:
        if not _capitalised(tokens[i][0]):
            return None
        for j in range(min(len(tokens), i + _MAX_NAME_WORDS), i, -1):
            start, end = tokens[i][1], tokens[j - 1][1] + len(tokens[j - 1][0])
            span = text[start:end]
            for candidate in _name_forms(span):
                ids = self._by_title.get(candidate.lower())
                if ids:
                    return Mention(candidate, ids, start), j
                group = self._groups.get(candidate.lower())
                if group:
                    return Mention(candidate, (), start, group=group), j
        return None


def _name_forms(span: str) -> tuple[str, ...]:
    """A span as written, without a closing full stop, and without a possessive ("Iceland's", "Philippines'")."""
    bare = span.rstrip(".")
    for suffix in ("'s", "’s", "'", "’"):
        if bare.endswith(suffix):
            return (span, bare, bare[: -len(suffix)])
    return (span, bare)


def group_forms(group: str) -> list[str]:
    """The names a group goes by: "East and Southeast Asia" is also "East Asia", "Southeast Asia" and their
    adjectives ("Southeast Asian"); "Europe" is "European", "Middle East" "Middle Eastern"."""
    names = [group]
    if " and " in group:
        head, tail = group.split(" and ", 1)
        tail = tail.removeprefix("the ")
        last = tail.split()[-1] if " " in tail else ""
        names.append(tail)
        if " " in head:
            names.append(head)
        elif last:  # "East" and "Southeast Asia": "East Asia" (a lone word such as "Australia" names a country)
            names.append(f"{head} {last}")
    forms: list[str] = []
    for name in names:
        forms.append(name)
        if name.endswith("a"):
            forms.append(name + "n")
        elif name.endswith("e"):
            forms.append(name + "an")
        elif name.endswith("East"):
            forms.append(name + "ern")
    return list(dict.fromkeys(forms))


def _title_keys(title: str) -> list[str]:
    """A title and the shorter names text uses for it: "Into the Badlands (TV series)" is also "Into the
    Badlands", "Christies Beach, South Australia" also "Christies Beach"."""
    full = " ".join(title.split()).lower()
    bare = _QUALIFIER.sub("", full)
    return list(dict.fromkeys(k for k in (full, bare, bare.split(", ")[0]) if k))


def analyse(question: str, titles: TitleIndex) -> QueryAnalysis:
    entities = _dedupe(titles.mentions(question, fallback_capitalised=True))
    known = [e for e in entities if e.document_ids]
    if len(known) >= 2:
        entities = known  # unknown capitalised words beside known names are topic words ("GDP", "Economy")
    elif known:
        entities = [e for e in entities if e.document_ids or not e.name.isupper()]
    entity_words = {w for e in entities for w in words(e.name)}
    question_words = words(question)
    aspect_words = [
        w for w in question_words if w not in STOPWORDS and w not in COMPARISON_WORDS and w not in entity_words
    ]
    # A comparison sets documents side by side: it needs two names the corpus has documents for. Capitalised words
    # it does not know ("American", "February") stay in the question rather than becoming sub-questions.
    compared = [e for e in entities if e.document_ids]
    listed = _listed(question, compared)
    comparison = len(listed) >= 2 or (len(compared) >= 2 and any(w in COMPARISON_WORDS for w in question_words))
    if comparison:
        entities = listed or compared
    vague = not entities and len(aspect_words) < 2
    return QueryAnalysis(question, tuple(entities), " ".join(aspect_words), comparison, vague)


def _listed(question: str, names: Sequence[Mention]) -> list[Mention]:
    """The names the question lists side by side ("Norway and Sweden", "A, B or C", "both "X" and "Y""): what it
    compares. Names in different clauses ("appeared in X and was nominated for Y") describe one answer instead,
    and a name outside the list ("Which college is in the United States, A or B?") is part of what is asked."""
    ordered = sorted(names, key=lambda m: m.start)
    runs: list[list[Mention]] = []
    joined = False
    for name in ordered:
        between = set(words(question[runs[-1][-1].start + len(runs[-1][-1].name) : name.start])) if runs else None
        if between is not None and between <= _LIST_WORDS | _LIST_FILLERS:
            runs[-1].append(name)
            joined = joined or bool(between & _LIST_WORDS)
            continue
        if joined:
            break
        runs.append([name])
    return runs[-1] if joined else []


def make_brief(analysis: QueryAnalysis) -> ResearchBrief:
    """One sub-question per entity for a comparison; otherwise the question itself plus one per entity."""
    aspect = analysis.aspect
    if analysis.comparison:
        asked = _BOTH.sub("", _phrase(analysis.question, aspect.split()) or "") or analysis.question.strip()
        subs = [
            SubQuestion(
                id=f"sq{n}",
                question=f"{e.name}: {asked}",
                queries=[f"{e.name} {aspect}".strip()],
                entity=e.name,
            )
            for n, e in enumerate(analysis.entities, start=1)
        ]
        return ResearchBrief(objective=analysis.question, sub_questions=subs, comparison=True)
    queries = [analysis.question, *(f"{e.name} {aspect}".strip() for e in analysis.entities)]
    main = SubQuestion(id="sq1", question=analysis.question, queries=_unique(queries))
    return ResearchBrief(objective=analysis.question, sub_questions=[main])


def _phrase(question: str, aspect: Sequence[str]) -> str | None:
    """The aspect as the question writes it ("born first", "co-owned"), when its words stand together there; a
    sub-question that strings together words from all over the question ("production company co owned rodger
    michell produced") would not read."""
    if not aspect:
        return None
    found = word_spans(question)
    for i in range(len(found) - len(aspect) + 1):
        if [w for w, *_ in found[i : i + len(aspect)]] == list(aspect):
            return question[found[i][1] : found[i + len(aspect) - 1][2]]
    return None


def _dedupe(mentions: Sequence[Mention]) -> list[Mention]:
    seen: set[str] = set()
    kept = []
    for mention in mentions:
        key = mention.name.lower()
        if key not in seen:
            seen.add(key)
            kept.append(mention)
    return kept


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _capitalised(token: str) -> bool:
    return token[:1].isupper() or (token[:1].isdigit() and any(c.isupper() for c in token))


_OPENERS = frozenset(
    [
        "how",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "compare",
        "describe",
        "explain",
        "tell",
        "give",
        "list",
        "summarise",
        "summarize",
        "in",
        "on",
        "the",
        "a",
        "an",
    ]
)


def _is_sentence_opener(tokens: list[tuple[str, int]], i: int) -> bool:
    """A capitalised question word or verb that opens the question is not a name."""
    return tokens[i][0].lower() in _OPENERS or tokens[i][0].lower() in STOPWORDS
