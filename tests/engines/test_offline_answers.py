"""The offline engine answers first: question plans, composed answers for every kind, and the quoting guarantee.

Expected answers are read from the Factbook passages themselves (the figures of the countries involved), never
written into the test, so the tests follow the package's data when it is updated.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.offline._values import parse_quantity
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState
from research_nb.sources.corpus import Corpus

FIXTURES = Path(__file__).parent / "fixtures"


async def run(question: str, **options: object) -> ResearchState:
    state = await ResearchWorkflow().run(
        question, options=ResearchOptions.model_validate({"clarify": False, **options})
    )
    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert state.report is not None
    return state


def section(markdown: str, title: str) -> str:
    return markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0].strip()


def answer_of(state: ResearchState) -> str:
    assert state.report is not None
    return section(state.report.markdown, "Answer")


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@pytest.fixture(scope="module")
def factbook() -> Corpus:
    return Corpus.open([], builtins=["factbook"])


def value(corpus: Corpus, country: str, line_start: str) -> str:
    """The value of the first line of `country`'s document that starts with `line_start` ("Population, total")."""
    document = next(d for d, title in corpus.titles().items() if title == country)
    found = _first(_lines(corpus, document), re.escape(line_start))
    assert found is not None, f"{country} states no {line_start}"
    return found


def figure(text: str) -> float:
    quantity = parse_quantity(text)
    assert quantity is not None, text
    return quantity.number


async def test_a_superlative_over_a_region_names_the_winner_its_figure_and_ranks_every_member(factbook: Corpus) -> None:
    state = await run("Which country in South America has the largest population?")
    plan = state.brief.plan if state.brief else None
    assert plan is not None and plan.kind == "superlative" and plan.groups == ["South America"]
    assert plan.attribute == "Population" and plan.operation == "highest"
    members = ["Argentina", "Bolivia", "Brazil", "Chile", "Colombia", "Ecuador", "Guyana", "Paraguay", "Peru"]
    members += ["Suriname", "Uruguay", "Venezuela"]
    figures = {m: value(factbook, m, "Population, total") for m in members}
    winner = max(members, key=lambda m: figure(figures[m]))
    first = unescape(answer_of(state)).splitlines()[0]
    assert first.startswith(f"{winner} has the largest population (total) in South America: {figures[winner]} [")
    ranking = section(state.report.markdown if state.report else "", "Ranking")
    rows = [r for r in ranking.splitlines() if re.match(r"\| \d+ \|", r)]
    assert len(rows) == len(members)  # every sovereign member, dependencies (Falklands) left out
    assert [r.split(" | ")[1] for r in rows] == sorted(members, key=lambda m: -figure(figures[m]))
    cited = {r.title.split(" — ")[0] for r in state.report.references} if state.report else set()
    assert cited == set(members)  # nothing off topic


async def test_a_top_n_question_lists_that_many_in_order(factbook: Corpus) -> None:
    state = await run("Name the three largest countries of Africa by area.")
    assert state.brief and state.brief.plan and state.brief.plan.kind == "topn" and state.brief.plan.count == 3
    answer = unescape(answer_of(state))
    names = re.findall(r"(?:: |; )([A-Z][\w' ]+), [\d.,]+ (?:million )?sq km", answer)
    assert len(names) == 3
    areas = [figure(value(factbook, n, "Area, total")) for n in names]
    assert areas == sorted(areas, reverse=True)


@pytest.mark.parametrize(
    ("question", "field", "lower_wins"),
    [
        ("Is Germany or France more populous?", "Population, total", False),
        ("Which has the lower unemployment rate, Japan or Italy?", "Unemployment rate", True),
    ],
)
async def test_a_comparison_names_the_winner_with_both_figures(
    factbook: Corpus, question: str, field: str, lower_wins: bool
) -> None:
    state = await run(question)
    assert state.brief and state.brief.plan and state.brief.plan.kind == "comparison"
    a, b = state.brief.plan.entities
    va, vb = value(factbook, a, field), value(factbook, b, field)
    winner = a if (figure(va) < figure(vb)) == lower_wins else b
    answer = unescape(answer_of(state))
    assert answer.startswith(f"{winner} has the ")
    assert va.split(" (")[0] in answer and vb.split(" (")[0] in answer


async def test_a_trend_gives_every_year_oldest_first(factbook: Corpus) -> None:
    state = await run("How has Japan's unemployment rate changed since 2021?")
    assert state.brief and state.brief.plan and state.brief.plan.kind == "trend"
    document = next(d for d, t in factbook.titles().items() if t == "Japan")
    passage = next(p for p in factbook.passages_of(document) if p.location.heading == "Unemployment rate")
    years = [line.split(": ", 1)[1] for line in passage.text.split("\n") if line.startswith("Unemployment rate:")]
    wanted = [v for v in years if int(re.search(r"\((\d{4})", v).group(1)) >= 2021][::-1]  # type: ignore[union-attr]
    answer = unescape(answer_of(state))
    positions = [answer.index(v) for v in wanted]
    assert len(wanted) >= 2 and positions == sorted(positions)
    assert "By year" in (state.report.markdown if state.report else "")


@pytest.mark.parametrize(
    ("question", "word", "support"),
    [
        ("Is Austria landlocked?", "Yes", "landlocked"),
        ("Is Portugal a landlocked country?", "No", "km"),
        ("Is Spain a monarchy?", "Yes", "monarchy"),
        ("Is Norway a member of the European Union?", "No", "does not list EU"),
        ("Is France in the EU?", "Yes", "lists EU"),
    ],
)
async def test_a_yes_no_question_says_yes_or_no_and_the_deciding_value(question: str, word: str, support: str) -> None:
    state = await run(question)
    answer = unescape(answer_of(state))
    assert answer.startswith(f"{word}: ") and support in answer


async def test_a_list_question_quotes_the_list_and_says_whose_it_is(factbook: Corpus) -> None:
    state = await run("Which countries border Spain?")
    borders = value(factbook, "Spain", "Land boundaries, border countries")
    answer = unescape(answer_of(state))
    assert answer.startswith("Spain's land boundaries (border countries): ") and borders in answer


async def test_a_question_the_corpus_cannot_decide_says_so() -> None:
    state = await run("What is the unemployment rate of Antarctica?")
    answer = unescape(answer_of(state))
    assert answer.startswith("The searched documents do not decide this question")


async def test_a_multi_part_question_gets_one_readable_sub_question_per_clause() -> None:
    question = (
        "Which competitors sell heat-pump subscriptions in Sweden, and how high are electricity prices in southern "
        "Norway?"
    )
    state = await run(question, sources=[str(FIXTURES / "heatpumps")])
    assert state.brief and [sq.question for sq in state.brief.sub_questions] == [
        "Which competitors sell heat-pump subscriptions in Sweden?",
        "How high are electricity prices in southern Norway?",
    ]
    answer = unescape(answer_of(state))
    assert "Vattenfall, Bixia and Nibe Rent" in answer and "95 øre per kWh" in answer
    md = state.report.markdown if state.report else ""
    bodies = [section(md, sq.question) for sq in state.brief.sub_questions]
    assert bodies[0] != bodies[1]


async def test_a_yes_no_question_about_two_things_compares_them(tmp_path: Path) -> None:
    (tmp_path / "ada.md").write_text("# Ada Berg\n\nAda Berg is a Swedish jazz pianist and composer.\n")
    (tmp_path / "lin.md").write_text("# Lin Ohm\n\nLin Ohm is a Danish rock drummer.\n")
    (tmp_path / "eva.md").write_text("# Eva Dahl\n\nEva Dahl is a Norwegian jazz singer.\n")
    sources = [str(tmp_path)]
    no = unescape(answer_of(await run("Are Ada Berg and Lin Ohm both jazz musicians?", sources=sources)))
    yes = unescape(answer_of(await run("Are Ada Berg and Eva Dahl both jazz musicians?", sources=sources)))
    assert no.startswith("No: Ada Berg — Ada Berg is a Swedish jazz pianist") and "Lin Ohm is a Danish rock" in no
    assert yes.startswith("Yes: ")
    same = unescape(answer_of(await run("Are Lin Ohm and Eva Dahl of the same nationality?", sources=sources)))
    assert same.startswith("No: ")


async def test_answers_are_byte_identical_for_the_same_inputs() -> None:
    question = "Which African country has the highest inflation rate in 2022?"
    first, second = await run(question), await run(question)
    assert first.report and second.report and first.report.markdown == second.report.markdown


async def test_conclusion_and_introduction_are_their_own() -> None:
    state = await run("Which is more populous, Spain or Colombia?")
    report = state.report
    assert report is not None and report.conclusion and report.introduction
    assert report.conclusion != report.executive_summary
    assert "comparison" in report.introduction and report.conclusion.startswith("In short: ")


async def test_each_part_of_a_multi_part_question_is_answered_and_a_bare_clause_is_about_the_one_before(
    factbook: Corpus,
) -> None:
    state = await run("What is the capital of Peru and what is its population?")
    assert state.brief and state.brief.plan and state.brief.plan.kind == "multipart"
    lines = unescape(answer_of(state)).split("\n\n")
    assert lines[0].startswith("Peru's capital (name): " + value(factbook, "Peru", "Capital, name"))
    assert lines[1].startswith("Peru's population (total): " + value(factbook, "Peru", "Population, total"))


def _yearly(corpus: Corpus, country: str, field: str) -> dict[int, str]:
    document = next(d for d, t in corpus.titles().items() if t == country)
    passage = next(p for p in corpus.passages_of(document) if p.location.heading == field)
    values = [line.split(": ", 1)[1] for line in passage.text.split("\n") if line.startswith(field + ":")]
    return {int(re.search(r"\((\d{4})", v).group(1)): v for v in values}  # type: ignore[union-attr]


async def test_a_figure_asked_for_a_year_is_that_year_s(factbook: Corpus) -> None:
    by_year = _yearly(factbook, "Brazil", "Inflation rate (consumer prices)")
    year = min(by_year)  # not the newest, which a question without a year gets
    state = await run(f"What was Brazil's inflation rate in {year}?")
    assert by_year[year] in unescape(answer_of(state)) and by_year[max(by_year)] not in unescape(answer_of(state))


async def test_a_yes_no_question_about_a_trend_answers_with_the_movement(factbook: Corpus) -> None:
    by_year = _yearly(factbook, "Italy", "Unemployment rate")
    first, last = (figure(by_year[y]) for y in (min(by_year), max(by_year)))
    state = await run(f"Has Italy's unemployment rate fallen since {min(by_year)}?")
    assert unescape(answer_of(state)).startswith("Yes." if last < first else "No.")


async def test_a_bridge_question_is_answered_from_the_document_it_leads_to() -> None:
    # The architect's document holds two years; the Answer quotes the one said of what is asked ("born"), not
    # the one in the sentence that shares most words with the question.
    state = await run(
        "In what year was the architect who designed the Harbour Library born?",
        sources=[str(FIXTURES / "bridge")],
        corpora=[],
    )
    answer = answer_of(state)
    line = next(line for line in answer.splitlines() if "1961" in line)
    assert "1988" not in answer
    number = int(re.findall(r"\[(\d+)\]", line)[-1])
    assert state.report is not None
    cited = next(r for r in state.report.references if r.number == number)
    assert cited.title == "Marta Lind"


async def test_an_answer_line_names_its_subject_as_the_passage_introduces_it() -> None:
    state = await run("Who designed the Harbour Library?", sources=[str(FIXTURES / "bridge")], corpora=[])
    # "Marta Elisabet Lind is a Swedish architect ..." opens the document titled "Marta Lind"
    assert "**Marta Elisabet Lind:**" in answer_of(state)


def _musicians(folder: Path) -> list[str]:
    (folder / "ada.md").write_text(
        "# Ada Berg\n\nAda Berg is a Swedish jazz pianist, born in 1971.\n"
        "She recorded the album Blue Harbour with the drummer Lin Ohm and toured with the singer Eva Dahl.\n"
    )
    (folder / "lin.md").write_text("# Lin Ohm\n\nLin Ohm is a Danish rock drummer, born in 1968.\n")
    (folder / "eva.md").write_text("# Eva Dahl\n\nEva Dahl is a Norwegian jazz singer, born in 1975.\n")
    return [str(folder)]


async def test_a_comparison_gets_one_readable_sub_question_per_name_it_lists(tmp_path: Path) -> None:
    sources = _musicians(tmp_path)
    first = await run("Who was born first, Ada Berg or Lin Ohm?", sources=sources)
    assert first.brief and [sq.question for sq in first.brief.sub_questions] == [
        "Ada Berg: born first",
        "Lin Ohm: born first",
    ]
    # The words asked about are scattered over the question: each sub-question keeps the question whole rather
    # than stringing its words together ("play album blue harbour"); Eva Dahl is outside the list compared.
    question = "Is Ada Berg or Lin Ohm the drummer in Eva Dahl's band?"
    scattered = await run(question, sources=sources)
    assert scattered.brief and [sq.question for sq in scattered.brief.sub_questions] == [
        f"Ada Berg: {question}",
        f"Lin Ohm: {question}",
    ]


async def test_names_in_different_clauses_describe_one_answer_and_are_not_compared(tmp_path: Path) -> None:
    question = "Which pianist recorded with Lin Ohm and toured with Eva Dahl?"
    state = await run(question, sources=_musicians(tmp_path))
    assert state.brief and [sq.question for sq in state.brief.sub_questions] == [question]
    assert "Ada Berg" in answer_of(state)


async def test_the_document_a_bridge_leads_to_may_answer_from_a_second_sentence(tmp_path: Path) -> None:
    (tmp_path / "ferry.md").write_text(
        "# Kalmar Ferry Terminal\n\nThe Kalmar Ferry Terminal was designed by the engineer Olof Sand and opened in "
        "2004.\nIts hall seats four hundred passengers waiting for the ferries to the islands.\n"
    )
    (tmp_path / "olof.md").write_text(
        "# Olof Sand\n\nOlof Sand is a Swedish engineer who designed the Kalmar Ferry Terminal and two bridges in "
        "the harbour of Kalmar.\nHe grew up on Öland, where he still lives with his family.\n"
    )
    (tmp_path / "bridges.md").write_text(
        "# Bridges of Kalmar\n\nSeveral bridges in Kalmar were designed by engineers from Gothenburg, and one of "
        "them leads to an island.\n"
    )
    state = await run(
        "Where does the engineer who designed the Kalmar Ferry Terminal live?", sources=[str(tmp_path)], corpora=[]
    )
    # The engineer's document is reached through the terminal's; its first sentence restates the question, its
    # second one answers it.
    assert "**Olof Sand:** He grew up on Öland, where he still lives with his family." in answer_of(state)


def _lines(corpus: Corpus, document: str) -> list[str]:
    return [line for p in corpus.passages_of(document) for line in p.text.split("\n")]


def _countries(corpus: Corpus, regions: set[str]) -> dict[str, list[str]]:
    """The countries in its own right (an independence, no dependency status, not a union of member states) of
    `regions`, each with its text lines."""
    found = {}
    for document, title in corpus.titles().items():
        lines = _lines(corpus, document)
        keys = {p.location.heading for p in corpus.passages_of(document)}  # the fields the document states
        region = next((line.split(": ", 1)[1] for line in lines if line.startswith("Region: ")), None)
        if region in regions and "Independence" in keys and not keys & {"Dependency status", "Member states"}:
            found[title] = lines
    return found


def _first(lines: list[str], key: str) -> str | None:
    """The value of the first line whose key matches `key` (a regex)."""
    return next((line.split(":", 1)[1].strip() for line in lines if re.match(rf"(?:{key})\s*:", line)), None)


async def test_a_wider_region_that_the_regions_names_imply_ranks_all_of_their_countries(factbook: Corpus) -> None:
    # The Factbook files Asian countries in three regions; "Asian" is all of them.
    countries = _countries(factbook, {"Central Asia", "South Asia", "East and Southeast Asia"})
    rates = {c: v for c, lines in countries.items() if (v := _first(lines, "Total fertility rate"))}
    winner = min(rates, key=lambda c: figure(rates[c]))
    state = await run("Which Asian country has the lowest fertility rate?")
    first = unescape(answer_of(state)).splitlines()[0]
    assert first.startswith(f"{winner} has the lowest total fertility rate in Asia: {rates[winner]} [")
    ranking = section(state.report.markdown if state.report else "", "Ranking")
    assert len([r for r in ranking.splitlines() if re.match(r"\| \d+ \|", r)]) == len(rates)


async def test_a_union_of_member_states_is_not_ranked_among_countries(factbook: Corpus) -> None:
    areas = {c: v for c, lines in _countries(factbook, {"Europe"}).items() if (v := _first(lines, "Area, total"))}
    winner = max(areas, key=lambda c: figure(areas[c]))
    state = await run("Which European country has the largest area?")
    first = unescape(answer_of(state)).splitlines()[0]
    assert first.startswith(f"{winner} has the largest area (total) in Europe: {areas[winner].split(' ; ')[0]}")
    assert "European Union" not in (state.report.markdown if state.report else "")


async def test_a_field_whose_lines_name_their_year_is_ranked_by_its_latest_figure(factbook: Corpus) -> None:
    # "Military expenditures, Military Expenditures 2024: 8% of GDP (2024 est.)": the year is in the line's key
    countries = _countries(factbook, {"Middle East"})
    spent = {
        c: v
        for c, lines in countries.items()
        if (v := _first(lines, r"Military expenditures, Military Expenditures \d{4}"))
    }
    winner = max(spent, key=lambda c: figure(spent[c]))
    state = await run("Which Middle Eastern country has the highest military expenditures?")
    first = unescape(answer_of(state)).splitlines()[0]
    assert first.startswith(f"{winner} has the highest military expenditures in Middle East: {spent[winner]} [")


async def test_a_trend_the_corpus_states_for_one_year_says_so_with_that_figure(factbook: Corpus) -> None:
    population = value(factbook, "Japan", "Population, total")
    state = await run("How has Japan's population changed since 2020?")
    answer = unescape(answer_of(state))
    assert answer.startswith(f"Japan's population (total) is stated for one year only: {population} [")
    assert "do not show how it changed" in answer


async def test_each_answer_line_is_labelled_with_the_document_it_cites_when_two_say_the_same(tmp_path: Path) -> None:
    (tmp_path / "zeta.md").write_text("# Zeta Mill\n\nThe mill grinds oats every morning.\nIt was built in 1901.\n")
    (tmp_path / "eta.md").write_text("# Eta Mill\n\nThe mill grinds oats every morning.\nIt burned down in 1950.\n")
    state = await run("Which mill grinds oats every morning?", sources=[str(tmp_path)], corpora=[])
    assert state.report is not None
    titles = {r.number: r.title for r in state.report.references}
    lines = [line for line in answer_of(state).splitlines() if line.startswith("- **")]
    assert sum("The mill grinds oats every morning." in line for line in lines) == 1  # once, not once per document
    for line in lines:
        label = line.split("**")[1].rstrip(":")
        assert titles[int(re.findall(r"\[(\d+)\]", line)[-1])] == label


async def test_the_answer_is_not_padded_with_lines_that_say_far_less_than_the_first() -> None:
    notes = Path(__file__).parents[2] / "notebooks" / "compost-notes"  # the example notebooks' own notes
    state = await run("What temperature should a hot compost pile reach?", sources=[str(notes)], corpora=[])
    answer = answer_of(state)
    assert "55 to 65 degrees Celsius" in answer
    assert "frost" not in answer  # "A bin should be kept out of frost and direct summer sun.": nothing asked
