"""The offline engine end to end: cited reports from the Factbook and from a user's own files."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import pytest

from research_nb.core.events import SourceFound
from research_nb.core.registry import EngineRegistry
from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.offline import OfflineEngine
from research_nb.models.clarification import ChoiceSelection, ClarificationAnswer, ClarificationResponse
from research_nb.models.research import Passage, ResearchOptions, ResearchStage, ResearchState
from research_nb.sources.corpus import Corpus

FIXTURES = Path(__file__).parent / "fixtures"
NORWAY_SWEDEN = "How do the economies of Norway and Sweden differ?"


def assert_citations_true(state: ResearchState) -> int:
    """Every citation in the report quotes a passage this run retrieved; returns how many were checked."""
    assert state.report is not None
    retrieved = {p.id: p for p in state.passages}
    checked = 0
    for citation in state.report.citations():
        assert citation.passage_id in retrieved, f"cites a passage the run never retrieved: {citation}"
        assert citation.quote in retrieved[citation.passage_id].text, f"quote not in its passage: {citation}"
        checked += 1
    for finding in state.findings:  # a composed answer's finding quotes its passage; an extracted one is a sentence
        assert all((finding.quote or finding.text) in retrieved[pid].text for pid in finding.passage_ids[:1])
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", state.report.markdown)}
    assert numbers == {r.number for r in state.report.references}, "every [n] has its source, every source is cited"
    assert all(r.passage_id in retrieved for r in state.report.references)
    return checked


async def run(question: str, **options: object) -> ResearchState:
    flow = ResearchWorkflow()
    return await flow.run(question, options=ResearchOptions.model_validate(options))


async def test_comparison_gets_a_side_by_side_table_with_true_citations() -> None:
    state = await run(NORWAY_SWEDEN)
    assert state.current_stage is ResearchStage.COMPLETED
    md = state.report.markdown if state.report else ""
    assert md.startswith(f"# {NORWAY_SWEDEN}\n")
    assert "## Answer" in md and "## At a glance" in md and "## Sources" in md
    assert "| | Norway | Sweden |" in md
    assert re.search(r"\| Real GDP per capita \| \$[\d,]+ \(\d{4} est\.\) \[\d+\] \| \$[\d,]+", md)
    assert md.index("## Answer") < md.index("## At a glance") < md.index("## Norway") < md.index("## Sources")
    assert "CIA World Factbook (public domain)" in md
    assert assert_citations_true(state) >= 16  # 8 rows x 2 countries at least


async def test_reports_are_byte_identical_for_the_same_inputs() -> None:
    first, second = await run(NORWAY_SWEDEN), await run(NORWAY_SWEDEN)
    assert first.report and second.report
    assert first.report.markdown == second.report.markdown


@pytest.mark.parametrize(
    "question",
    [
        "What is the unemployment rate in Japan?",
        "Compare the GDP of Germany and France",
        "Which languages are spoken in Switzerland?",
    ],
)
async def test_every_citation_is_true_by_construction(question: str) -> None:
    state = await run(question)
    assert state.current_stage is ResearchStage.COMPLETED
    assert assert_citations_true(state) > 0


async def test_follow_up_hops_find_a_document_the_question_does_not_name() -> None:
    sources = [str(FIXTURES / "hops")]
    question = "In which city is the library designed by Marta Lind?"
    without = await run(question, sources=sources, max_search_results=1, max_hops=0)
    with_hops = await run(question, sources=sources, max_search_results=1, max_hops=2)

    def titles(s: ResearchState) -> set[str]:
        return {src.title for src in s.sources}

    assert "Kalmar" not in titles(without)
    assert "Kalmar" in titles(with_hops)
    assert "Kalmar is a city in south-eastern Sweden" in (with_hops.report.markdown if with_hops.report else "")
    assert_citations_true(with_hops)


async def test_text_from_documents_cannot_inject_markup() -> None:
    state = await run("What do the security notes say?", sources=[str(FIXTURES / "tricky")])
    md = state.report.markdown if state.report else ""
    assert "security notes" in md
    unescaped = re.compile(r"(?<!\\)[<\[]")  # a "<" or "[" without its backslash would be live markup
    body = md.split("## Sources")[0].replace("## ", "")
    assert not [m.group(0) for m in unescaped.finditer(re.sub(r"\[\d+\]", "", body))]
    assert "\\<script\\>" in md and "\\[click here\\]" in md
    assert_citations_true(state)


async def test_a_vague_question_asks_for_clarification_and_uses_the_answers() -> None:
    flow = ResearchWorkflow()
    state = await flow.run("economy")
    assert state.awaiting_clarification and state.clarification is not None
    ids = [q.id for q in state.clarification.questions]
    assert ids == ["focus", "aspect"]
    answers = ClarificationResponse(
        request_id=state.clarification.id,
        answers=[
            ClarificationAnswer(question_id="focus", text="Norway"),
            ClarificationAnswer(question_id="aspect", selection=ChoiceSelection(id="figures")),
        ],
    )
    flow.answer_clarification(state.request_id, answers)
    state = await flow.resume_research(state)
    assert state.current_stage is ResearchStage.COMPLETED
    assert state.report is not None and "Norway" in state.report.markdown
    assert_citations_true(state)


async def test_a_specific_question_is_not_interrupted() -> None:
    state = await run("Norway")
    assert state.clarification is None and state.current_stage is ResearchStage.COMPLETED


async def test_cancel_during_research_leaves_a_partial_cited_report(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hold the search for Sweden so the cancel lands while research is under way, whatever the machine's speed.
    release = threading.Event()
    search = Corpus.search_sync

    def held_search(self: Corpus, query: str, k: int = 10) -> list[Passage]:
        if query.startswith("Sweden"):
            release.wait(timeout=30)
        return search(self, query, k)

    monkeypatch.setattr(Corpus, "search_sync", held_search)
    engines = EngineRegistry()
    engines.register("offline", lambda: OfflineEngine(in_worker=False))  # the patched search is this process's
    flow = ResearchWorkflow(engines=engines)
    state = flow.prepare(NORWAY_SWEDEN, options=ResearchOptions(max_hops=0))
    task = asyncio.get_running_loop().create_task(flow.resume_research(state))
    try:
        async with flow.events.subscribe(state.request_id) as events:
            async for event in events:
                if isinstance(event, SourceFound):
                    task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        release.set()
    assert state.current_stage is ResearchStage.CANCELLED
    assert state.report is not None and state.report.metadata.partial
    assert "Partial report" in state.report.markdown and "Norway" in state.report.markdown
    assert_citations_true(state)


async def test_own_files_only_by_default_when_sources_are_given() -> None:
    state = await run("What is cross-laminated timber?", sources=[str(FIXTURES / "hops")])
    assert state.sources and all(s.origin != "World Factbook" for s in state.sources)
    assert "layers of lumber" in (state.report.markdown if state.report else "")


@pytest.mark.parametrize(
    ("question", "country", "field", "absent"),
    [
        # the Languages field's sub-field of sample sentences is a data line, not statements to quote
        ("What languages are spoken in Switzerland?", "Switzerland", "Languages: German", "une source indispensable"),
        ("What are the main exports of Japan?", "Japan", "exports", "Qing Dynasty"),
    ],
)
async def test_a_question_about_one_country_cites_that_country(
    question: str, country: str, field: str, absent: str
) -> None:
    state = await run(question)
    assert state.report is not None
    assert absent not in state.report.markdown
    assert {r.title.split(" — ")[0] for r in state.report.references} == {country}
    answer = state.report.markdown.split("## Answer")[1].split("##")[0]
    assert field.lower() in answer.lower() and country in answer  # whose it is is said
    assert_citations_true(state)


async def test_hard_wrapped_paragraphs_are_quoted_as_whole_sentences() -> None:
    state = await run("How long could millers grind grain on each tide?", sources=[str(FIXTURES / "wrapped")])
    texts = [f.text for f in state.findings]
    assert "Millers could grind grain for about four hours on each tide." in texts
    assert any(t.startswith("A tide mill fills its pond") and t.endswith("as the\nsea falls again.") for t in texts)
    assert not any(t == "Tide mills of the Atlantic coast" for t in texts)  # a title is not a finding
    md = state.report.markdown if state.report else ""
    assert "rises and closes the gate" in md  # shown on one line
