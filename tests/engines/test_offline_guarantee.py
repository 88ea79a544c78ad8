"""The offline engine's guarantee, line by line: every name, number and date in a report is quoted from a passage
that line cites (or is the user's own word), and every other word is either quoted too or the engine's fixed
wording. Checked over reports of every kind of question, from the Factbook and from a user's files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import Passage, ResearchOptions, ResearchStage, ResearchState

FIXTURES = Path(__file__).parent / "fixtures"

#: The words the engine writes around what it quotes (its fixed wording), and nothing else.
FIXED_WORDS = frozenset(
    """
    s has have the a an larger smaller higher lower largest smallest highest lowest in of with next year by
    from first these years to last it rose fell was unchanged yes no lists does not list only as both same
    figures figure are is for different two latest all searched documents document give state stated decide
    decides this question they passages closest follow country countries tied left out another unit units
    comparable such do one show how changed
    """.split()
)
_CITATION = re.compile(r"\s?\[(\d+)\]")
_TOKEN = re.compile(r"[^\s|;:,()\"“”]+")

QUESTIONS = [
    ("What is the capital of Peru?", {}),
    ("What is the unemployment rate in Japan?", {}),
    ("Which countries border Spain?", {}),
    ("Is Portugal or Spain larger?", {}),
    ("Which country in South America has the largest population?", {}),
    ("Name the three largest countries of Africa by area.", {}),
    ("Which African country had the highest inflation rate in 2022?", {}),
    ("How has Japan's unemployment rate changed since 2021?", {}),
    ("How has Japan's population changed since 2020?", {}),  # stated for one year only
    ("Which Asian country has the lowest fertility rate?", {}),  # a group the region names imply
    ("Is Austria landlocked?", {}),
    ("Is Norway a member of the European Union?", {}),
    ("What is the unemployment rate of Antarctica?", {}),
    ("What are the three most populous countries in South America, and which of them has the largest area?", {}),
    ("How do the economies of Norway and Sweden differ?", {}),
    ("What languages are spoken in Switzerland?", {}),
    (
        "Which competitors sell heat-pump subscriptions in Sweden, and how high are electricity prices in "
        "southern Norway?",
        {"sources": [str(FIXTURES / "heatpumps")]},
    ),
    ("In which city is the library designed by Marta Lind?", {"sources": [str(FIXTURES / "hops")]}),
]


def _said(passage: Passage) -> str:
    """What a citation of `passage` vouches for: its title, its heading (the field it states) and its text."""
    return f"{passage.title} {passage.location.heading or ''} {passage.text}"


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("**", "")


def _problems(state: ResearchState) -> list[str]:
    """Words of report lines that are neither quoted from a passage the line cites (or the report cites, for a
    line without citations), nor the question's, nor the engine's fixed wording."""
    assert state.report is not None
    passages = {p.id: p for p in state.passages}
    numbered = {r.number: passages[r.passage_id] for r in state.report.references}
    everything = " ".join(_said(p) for p in numbered.values())
    question = state.user_query.lower()
    problems: list[str] = []
    body = state.report.markdown.split("\n## Sources", 1)[0].splitlines()[3:]  # after the title and byline
    for line in body:
        if not line.strip() or line.startswith(("## ", ">", "|---")):
            continue
        cited = [numbered[int(n)] for n in _CITATION.findall(line)]
        quoted = " ".join(_said(p) for p in cited) if cited else everything
        text = _unescape(_CITATION.sub("", line))
        table_rank = re.match(r"^\| (\d+) \|", text)
        if table_rank:
            text = text[table_rank.end() :]  # a ranking's position is the engine's own count
        for token in _TOKEN.findall(text.lstrip("- ")):
            word = token.strip(".'’—–-").replace("'s", "").replace("’s", "")
            if not word or word.lower() in FIXED_WORDS or word in ("#", "–"):
                continue
            if word in quoted or word.lower() in question:
                continue
            if not any(c.isdigit() or c.isupper() for c in word) and word.lower() in quoted.lower():
                continue
            problems.append(f"{word!r} in {line!r}")
    return problems


@pytest.mark.parametrize(("question", "options"), QUESTIONS, ids=[q for q, _ in QUESTIONS])
async def test_every_word_of_every_line_is_quoted_or_fixed_wording(question: str, options: dict[str, object]) -> None:
    state = await ResearchWorkflow().run(
        question, options=ResearchOptions.model_validate({"clarify": False, **options})
    )
    assert state.current_stage is ResearchStage.COMPLETED
    assert _problems(state) == []


def test_the_check_catches_a_figure_the_passage_does_not_hold() -> None:
    """The check itself can fail: a report line whose figure is not in its cited passage is reported."""
    from research_nb.models.research import Reference, ResearchReport

    passage = Passage(id="p1", document_id="d", title="Japan — Economy", text="Unemployment rate: 2.6% (2024 est.)")
    report = ResearchReport(
        title="q",
        markdown="# q\n\n_byline_\n\n## Answer\n\nJapan's unemployment rate: 3.1% (2024 est.) [1].\n\n## Sources\n",
        references=[Reference(number=1, passage_id="p1", source_id="d", title="Japan — Economy")],
    )
    state = ResearchState(user_query="What is the unemployment rate in Japan?", passages=[passage], report=report)
    assert _problems(state) == ["'3.1%' in \"Japan's unemployment rate: 3.1% (2024 est.) [1].\""]
