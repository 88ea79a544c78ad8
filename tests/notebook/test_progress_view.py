"""What the progress widget shows, folded from a run's events (no kernel, no browser): a clock that counts research
and not the wait for answers, an indexing step before Clarify, what the run does now, and counts that agree with
the report under the widget."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engines_for_tests import MemoryEngine
from research_nb.core.events import (
    IndexingProgress,
    RunFinished,
    RunPaused,
    RunStarted,
    SourceFound,
    StageStarted,
    SubQuestionProgress,
    UsageUpdated,
)
from research_nb.export import cited_numbers
from research_nb.models.research import Reference, ResearchOptions, ResearchReport, ResearchStage, ResearchState, utcnow
from research_nb.notebook.progress import ProgressView
from research_nb.notebook.run import start_research

QUESTION = "How do the economies of Norway and Sweden differ?"


def new_view(**options: object) -> tuple[ProgressView, str]:
    state = ResearchState(user_query=QUESTION, options=ResearchOptions(engine="memory", **options))  # type: ignore[arg-type]
    return ProgressView(state), state.request_id


def test_the_clock_counts_research_not_the_wait_for_answers() -> None:
    view, rid = new_view()
    t0 = utcnow() - timedelta(minutes=10)
    view.apply(RunStarted(request_id=rid, query=QUESTION, engine="memory", timestamp=t0, seq=1))
    view.apply(RunPaused(request_id=rid, stage=ResearchStage.CLARIFICATION, timestamp=t0 + timedelta(seconds=3), seq=2))

    waiting = view.traits()
    assert waiting["status"] == "awaiting_clarification"
    assert waiting["elapsed"] == 3.0 and not waiting["clock_running"]  # the ten minutes since count for nothing

    # answered five minutes later: the clock goes on from 3 s
    answered = t0 + timedelta(minutes=5)
    view.apply(RunStarted(request_id=rid, query=QUESTION, engine="memory", resumed=True, timestamp=answered, seq=3))
    assert view.traits()["clock_running"]
    done = answered + timedelta(seconds=4)
    view.apply(RunFinished(request_id=rid, status="completed", stage=ResearchStage.COMPLETED, timestamp=done, seq=4))
    finished = view.traits()
    assert finished["elapsed"] == 7.0 and finished["elapsed_before"] == 0.0 and not finished["clock_running"]


def test_a_resumed_run_starts_its_clock_at_zero_and_keeps_the_earlier_total() -> None:
    view, rid = new_view()
    t0 = utcnow() - timedelta(hours=1)
    view.apply(RunStarted(request_id=rid, query=QUESTION, engine="memory", timestamp=t0, seq=1))
    stopped = t0 + timedelta(seconds=30)
    view.apply(RunFinished(request_id=rid, status="cancelled", stage=ResearchStage.CANCELLED, timestamp=stopped, seq=2))
    assert view.traits()["elapsed"] == 30.0

    view.apply(RunStarted(request_id=rid, query=QUESTION, engine="memory", resumed=True, timestamp=utcnow(), seq=3))
    resumed = view.traits()
    assert resumed["status"] == "running"
    assert resumed["elapsed"] < 5  # this leg: not the old 30 s, nor the hour since
    assert resumed["elapsed_before"] == 30.0


def test_indexing_is_a_step_of_its_own_before_clarify() -> None:
    view, rid = new_view()
    view.apply(RunStarted(request_id=rid, query=QUESTION, engine="memory", seq=1))
    view.apply(StageStarted(request_id=rid, stage=ResearchStage.CLARIFICATION, seq=2))
    corpus = "the World Factbook"
    view.apply(IndexingProgress(request_id=rid, corpus=corpus, files_total=40, seq=3))
    view.apply(
        IndexingProgress(
            request_id=rid, corpus=corpus, files_done=12, files_total=40, passages=3100, seconds_left=4.6, seq=4
        )
    )

    indexing = view.traits()
    first, clarify = indexing["stages"][:2]
    assert first == {
        "id": "indexing",
        "label": "Indexing the World Factbook",
        "state": "active",
        "detail": "12 / 40 files · 3,100 passages · about 5 s left",
    }
    assert clarify["id"] == "clarification" and clarify["state"] == "pending"  # it waits on the index
    assert indexing["stage"] == "indexing"
    assert indexing["activity"]["label"] == "Indexing the World Factbook"
    assert indexing["progress"] == pytest.approx(0.2 * 12 / 40)

    view.apply(
        IndexingProgress(
            request_id=rid, corpus=corpus, files_done=40, files_total=40, passages=9000, finished=True, seq=5
        )
    )
    ready = view.traits()
    assert [s["state"] for s in ready["stages"][:2]] == ["done", "active"]
    assert ready["stages"][0]["detail"] == "40 / 40 files · 9,000 passages · ready"
    assert ready["stage"] == "clarification"
    assert ready["progress"] == pytest.approx(0.2)


def test_the_view_says_what_the_run_does_now_and_lists_sources_with_links() -> None:
    view, rid = new_view(model="gpt-4o-mini")
    view.apply(RunStarted(request_id=rid, query=QUESTION, engine="memory", seq=1))
    view.apply(StageStarted(request_id=rid, stage=ResearchStage.RESEARCH_EXECUTION, seq=2))
    view.apply(
        SubQuestionProgress(
            request_id=rid, sub_question_id="sq1", question="Norway's economy", status="searching", seq=3
        )
    )
    view.apply(
        SourceFound(request_id=rid, source_id="no", title="Norway — Economy", url="https://example.org/no", seq=4)
    )
    view.apply(SourceFound(request_id=rid, source_id="notes", title="notes.md", url="papers/notes.md", seq=5))
    view.apply(UsageUpdated(request_id=rid, input_tokens=1200, output_tokens=300, requests=2, cost_usd=0.0031, seq=6))

    shown = view.traits()
    assert shown["request_id"] == rid and shown["engine"] == "memory" and shown["model_name"] == "gpt-4o-mini"
    assert shown["activity"] == {"label": "Searching", "text": "Norway's economy", "reading": "notes.md"}
    assert shown["sources"] == [
        {"id": "no", "title": "Norway — Economy", "url": "https://example.org/no"},
        {"id": "notes", "title": "notes.md", "url": "papers/notes.md"},
    ]
    assert shown["usage"] == "1,500 tokens in 2 requests ($0.0031)"

    view.apply(
        SubQuestionProgress(request_id=rid, sub_question_id="sq1", question="Norway's economy", status="done", seq=7)
    )
    assert view.traits()["activity"] == {"label": "Search", "text": "", "reading": "notes.md"}


def test_the_counts_are_those_the_report_cites() -> None:
    """28 numbered passages from 2 documents: the widget says so, not "2 sources found, 2 cited"."""
    references = [
        Reference(number=n, passage_id=f"p{n}", source_id="norway" if n <= 14 else "sweden", title="t")
        for n in range(1, 29)
    ]
    body = " ".join(f"Fact [{n}]." for n in range(1, 27)) + " Two more [27, 28]. Not a citation: \\[29\\]."
    markdown = f"# Q\n\n{body}\n\n## Sources\n\n" + "\n".join(f"{n}. t" for n in range(1, 29))
    report = ResearchReport(title="Q", references=references, markdown=markdown)
    view, _ = new_view()

    view.show_report(report)

    assert view.traits()["cited"] == {"passages": 28, "documents": 2, "numbers": list(range(1, 29))}


async def test_a_finished_run_shows_the_counts_of_its_own_report(memory_engine: MemoryEngine) -> None:
    run = start_research(QUESTION, engine="memory")
    widget = run.widget
    state = await run
    await run._live_display().feed.closed()

    assert state.report is not None
    numbers = sorted(cited_numbers(state.report))
    assert numbers  # the memory engine's report cites its passages
    assert widget.cited == {
        "passages": len(numbers),
        "documents": len({r.source_id for r in state.report.references}),
        "numbers": numbers,
    }
    assert widget.total_sources == len(state.sources)
    assert widget.activity == {"label": "", "text": "", "reading": ""}  # nothing going on any more
