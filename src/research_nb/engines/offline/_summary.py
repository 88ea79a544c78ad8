"""The Answer of a researched (not planned) question: the sentences that answer it, first.

It reads every sentence of the documents the findings quote and of the documents they name, not only the
findings: those were chosen for the question's words, and the answer often shares few of them. A question says
what kind of thing answers it ("who" or "which" a name, "when" or "what year" a date, "how many" a number) and
what is asked of it (its focus: "born" in "was born in what year?"). A sentence that says the focus and holds
such a thing the question lacks is more likely the answer than one that restates the question's own names. One
sentence per document first, so that the document a multi-hop question leads to is heard; a sentence that names
another retrieved document (a bridge) and the documents the chosen sentences name come before others, and a
document reached that way may give a second sentence: it is where a bridge question's answer is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from research_nb.engines._report import document_title
from research_nb.engines._text import terms, words
from research_nb.engines.offline._extract import scored_sentences
from research_nb.models.research import Finding, Passage, ResearchState, SubQuestion

_SENTENCES_ONE_PART = 3
_ANSWER_BONUS = 0.25
_COVER_WEIGHT = 0.5
_BRIDGE_BONUS = 0.1
_LINK_BONUS = 0.6
#: A further Answer line must be worth this share of the first's value (0.3-0.4 changes no HotpotQA answer; over
#: a user's notes it drops lines that share only a word or two with the question).
_FLOOR = 0.4
#: Two words share a form when they agree in their first letters ("contributor", "contributed").
_STEM = 6
_YEAR = re.compile(r"\b(?:1[0-9]|20)\d{2}\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
#: A passage that opens with its subject's name: capitalised words (a quoted nickname, "de", "Jr." among them)
#: followed by a parenthesis or "is"/"was".
_OPENING = re.compile(
    r"(?P<name>(?:(?:[A-Z][\w'’.-]*|\"[^\"]{1,30}\"|de|da|van|von|of|the|al)\s+){1,9}?)(?:\(|is\b|was\b)"
)
_NAME_WORDS = 8
_TOKEN = re.compile(r"[\w'’-]+")
_NAME = re.compile(r"\b[A-Z][\w'’-]+")


def answer_sentences(state: ResearchState, findings: Sequence[Finding]) -> list[Finding]:
    """Up to three sentences for a one-part question (one per document first), one per part otherwise."""
    parts = state.brief.sub_questions if state.brief else []
    question = state.user_query  # what kind of thing answers it is the whole question's
    chosen: list[Finding] = []
    titles = {s.id: s.title for s in state.sources}
    if not parts:
        return _covering(state, findings, question, _SENTENCES_ONE_PART)
    for sub in parts:
        own = [f for f in findings if f.sub_question_id == sub.id]
        pool = _sentences_of_documents(state, sub, own, titles)
        chosen += _covering(state, pool, question, _SENTENCES_ONE_PART if len(parts) == 1 else 1)
    return chosen


def _sentences_of_documents(
    state: ResearchState, sub: SubQuestion, own: Sequence[Finding], titles: Mapping[str, str]
) -> list[Finding]:
    """Every sentence the sub-question's retrieved passages hold in the documents its findings quote, and in
    the documents those findings name: the findings were chosen to cover the question's words, and the answer
    ("born February 15, 1954", in the document a finding leads to) often shares few of them."""
    ranked = sorted((p for p in state.passages if sub.id in p.sub_question_ids), key=lambda p: (-p.score, p.id))
    quoted = {p.document_id for f in own for p in [state.passage(f.passage_ids[0])] if p is not None}
    said = " ".join(f.text for f in own).casefold()
    named = {p.document_id for p in ranked if _mentions(said, document_title(p.title).casefold())}
    documents = quoted | named
    return [
        f
        for f in scored_sentences(sub, ranked, titles)
        if (p := state.passage(f.passage_ids[0])) is not None and p.document_id in documents
    ] or list(own)


def subject_name(passage: Passage, title: str) -> str:
    """The name a passage gives the subject of its document when it opens by introducing it ("Abraham Alfonse
    Albert Gallatin (January 29, 1761 – ...) was ..." in the document "Albert Gallatin"), else the title: a line
    labelled with it says whose it is in the words of the passage it cites."""
    opening = _OPENING.match(passage.text)
    if opening is None:
        return title
    name = opening.group("name").strip()
    own = set(words(name))
    # every word of the title in the name, an initial ("Leslie S. Hiscott") as any word it begins
    named = all(w in own or (len(w) == 1 and any(o.startswith(w) for o in own)) for w in words(title))
    if len(own) > _NAME_WORDS or not named:
        return title
    return name


def _covering(state: ResearchState, findings: Sequence[Finding], question: str, count: int) -> list[Finding]:
    """`count` sentences, greedily: each one the best by its own score plus what it adds of the question's words
    that the sentences before it did not say (a multi-hop question's words are split between two documents:
    the second sentence should be the one about the other half). One sentence per document while others are left,
    but for the documents a link led to."""
    asked = set(terms(question))
    document: dict[int, str] = {}
    said: dict[int, set[str]] = {}
    own_terms: dict[int, set[str]] = {}
    subjects: dict[str, str] = {}
    for finding in findings:
        passage = state.passage(finding.passage_ids[0])
        document[id(finding)] = passage.document_id if passage else finding.passage_ids[0]
        # A sentence says its document's subject too ("He starred in ..." in the document "Mos Def").
        subject = document_title(passage.title) if passage else ""
        subjects[document[id(finding)]] = subject.casefold()
        own_terms[id(finding)] = set(terms(finding.text))
        said[id(finding)] = (own_terms[id(finding)] | set(terms(subject))) & asked
    asking = _asking(question)
    score = {
        id(f): f.score + (_ANSWER_BONUS if _holds_answer(f.text, own_terms[id(f)], question, asking) else 0.0)
        for f in findings
    }
    # A sentence that names another retrieved document the question does not name is a bridge: it leads to the
    # document that holds the rest of the answer.
    leads = {d: s for d, s in subjects.items() if not _mentions(question.casefold(), s)}
    for f in findings:
        text = f.text.casefold()
        if any(_mentions(text, s) for d, s in leads.items() if d != document[id(f)]):
            score[id(f)] += _BRIDGE_BONUS
    counts = {t: sum(t in ts for ts in said.values()) for t in asked}
    total = sum(1.0 / (1 + c) for c in counts.values()) or 1.0
    weights = {t: 1.0 / (1 + c) / total for t, c in counts.items()}  # a word few sentences say counts more
    chosen: list[Finding] = []
    uncovered = set(asked)
    # The documents chosen by following a link: a bridge question's answer is in the document it leads to, often
    # in another of its sentences than the one chosen first ("Tim Minchin ... is an Australian comedian" and "He was
    # born in Northampton"), so such a document may be heard twice.
    linked: set[str] = set()
    floor: float | None = None
    while len(chosen) < count:
        documents = {document[id(f)] for f in chosen}
        spoken = {f.text for f in chosen}
        left = [f for f in findings if f.text not in spoken]  # not a chosen line, nor its words again
        fresh = [f for f in left if document[id(f)] not in documents - linked] or left
        if not fresh:
            break
        # max() keeps the first of equals, and `findings` come in a fixed order: the choice is deterministic.
        # A document a chosen sentence names is where a bridge question goes on ("... the town of Salem, New
        # Hampshire" -> the document "Salem, New Hampshire").
        texts = [f.text.casefold() for f in chosen]
        named = {d for d, s in subjects.items() if d not in documents - linked and any(_mentions(t, s) for t in texts)}
        value = {
            id(f): score[id(f)]
            + _COVER_WEIGHT * _gain(said[id(f)] & uncovered, weights)
            + (_LINK_BONUS if document[id(f)] in named else 0.0)
            for f in fresh
        }
        best = max(fresh, key=lambda f: value[id(f)])
        if floor is not None and value[id(best)] < floor:
            break  # a further line that says much less than the first is padding: a shorter Answer reads better
        floor = _FLOOR * value[id(best)] if floor is None else floor
        chosen.append(best)
        if document[id(best)] in named:
            linked.add(document[id(best)])
        uncovered -= said[id(best)]
    return chosen


def _mentions(text: str, subject: str) -> bool:
    """Whether `text` names a document by its subject (both case-folded: "salem, new hampshire")."""
    return len(subject) > 2 and subject in text


def _gain(new_words: set[str], weights: dict[str, float]) -> float:
    return sum(weights[t] for t in new_words)


@dataclass(frozen=True)
class _Asking:
    """What a question asks for: the kind of thing that answers it, and the words said of it (its focus)."""

    kind: str  # "year", "number" or "name"
    focus: frozenset[str]


def _asking(question: str) -> _Asking | None:
    tokens = _TOKEN.findall(question)
    asked = _asked([t.lower() for t in tokens])
    if asked is None:
        return None
    kind, position = asked
    return _Asking(kind, frozenset(_focus(tokens, position)))


def _holds_answer(sentence: str, sentence_terms: set[str], question: str, asking: _Asking | None) -> bool:
    """Whether the sentence holds a thing of the kind the question asks for that the question itself lacks, said
    of what the question asks about it: "born in what year?" is answered by a year beside "born", not by any year.
    """
    if asking is None:
        return False
    if asking.focus and not _shares(asking.focus, sentence_terms):
        return False
    if asking.kind == "year":
        return any(y not in question for y in _YEAR.findall(sentence))
    if asking.kind == "number":
        return any(n not in question for n in _NUMBER.findall(sentence))
    known = question.lower()
    names = [m.group(0) for m in _NAME.finditer(sentence) if m.start() > 0]  # not the sentence's first word
    return any(name.lower() not in known for name in names)


def _shares(focus: frozenset[str], said: set[str]) -> bool:
    """Whether the sentence says a focus word, in any of its forms ("contributor", "contributed")."""
    return any(f[:_STEM] == t[:_STEM] if len(f) >= _STEM else f == t for f in focus for t in said)


def _asked(said: Sequence[str]) -> tuple[str, int] | None:
    """What kind of thing answers a question ("year", "number" or "name") and where its question word is.

    The word that decides is the one that asks: "how many" anywhere, "what year", "when"; a question's first word
    otherwise. A "who" or "which" inside the question ("a personality who has two channels") is a relative
    pronoun, not the question."""
    pairs = list(zip(said, [*said[1:], ""], strict=True))
    for i, (word, after) in enumerate(pairs):
        if word == "how" and after in _HOW_MEASURES:
            return "number", i
        if word in ("what", "which") and after in ("year", "date"):
            return "year", i
        if word in ("what", "which") and any(w in _QUANTITIES for w in said[i + 1 : i + 4]):
            return "number", i  # "what is the population of ...", "which has the larger area"
    # "Who ...", "In which city ...", or a question that ends on what it asks ("... held at which city?"); a
    # "when" elsewhere ("what school was she attending when she was signed") is not what it asks
    opening = next((i for i, w in enumerate(said) if w not in _PREPOSITIONS), len(said))
    for i in (opening, *range(max(len(said) - 3, 1), len(said))):
        if i < len(said) and said[i] in _QUESTION_WORDS - {"how"}:
            return ("year" if said[i] == "when" else "name"), i
    if "when" in said:
        return "year", said.index("when")
    return None


def _focus(tokens: Sequence[str], position: int) -> set[str]:
    """The question's words nearest its question word, on either side ("born" in "was born in what year"), and
    its last word ("In what year did the man who shot him die?"): what is asked of the thing the question names.
    Names are skipped: they say what it is asked of."""
    said = [t.lower() for t in tokens]

    def skipped(i: int) -> bool:
        named = i > 0 and tokens[i][:1].isupper()
        return named or said[i] in _QUESTION_WORDS or said[i] in _KIND_WORDS or not terms(said[i])

    focus: set[str] = set()
    for start, step in ((position - 1, -1), (position + 1, 1), (len(said) - 1, -1)):
        i = start
        while 0 <= i < len(said) and skipped(i):
            i += step
        if 0 <= i < len(said):
            focus |= set(terms(said[i]))
    return focus


_PREPOSITIONS = frozenset("in at on to from for by with of during under".split())
_QUESTION_WORDS = frozenset("who whom whose which what when where how".split())
_HOW_MEASURES = frozenset("many much long old tall big far large high deep wide heavy".split())
_QUANTITIES = frozenset(
    "population number length height elevation area age capacity size distance depth width weight speed "
    "total percentage rate".split()
)
#: Words that say what kind of answer is wanted, not what is asked of the subject.
_KIND_WORDS = frozenset("year date many much long old tall big far large high deep wide heavy".split())
