"""What the widget shows and how often it tells the browser, and the report's citation links — no kernel needed."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from engines_for_tests import MemoryEngine
from research_nb.core.events import (
    LogMessage,
    RunFinished,
    RunStarted,
    SourceFound,
    StageFinished,
    StageStarted,
    SubQuestionProgress,
)
from research_nb.core.workflow import workflow
from research_nb.export import linked_markdown
from research_nb.models.research import ResearchOptions, ResearchReport, ResearchStage, ResearchState
from research_nb.notebook import widget as widget_module
from research_nb.notebook.progress import MAX_LOG_LINES, ProgressView
from research_nb.notebook.run import start_research
from research_nb.notebook.static_files import widget_module as widget_module_source

QUESTION = "How do the economies of Norway and Sweden differ?"


# -- the progress view ----------------------------------------------------------------------------------------


def test_the_view_follows_a_run_through_its_stages() -> None:
    state = ResearchState(user_query=QUESTION, options=ResearchOptions(engine="memory"))
    view = ProgressView(state)
    rid = state.request_id
    view.apply(RunStarted(request_id=rid, query=QUESTION, engine="memory", seq=1))
    view.apply(StageStarted(request_id=rid, stage=ResearchStage.CLARIFICATION, seq=2))
    view.apply(StageFinished(request_id=rid, stage=ResearchStage.CLARIFICATION, seq=3))
    view.apply(StageStarted(request_id=rid, stage=ResearchStage.BRIEF_GENERATION, seq=4))
    view.apply(StageFinished(request_id=rid, stage=ResearchStage.BRIEF_GENERATION, seq=5))
    view.apply(StageStarted(request_id=rid, stage=ResearchStage.RESEARCH_EXECUTION, seq=6))
    for n, (sq, status) in enumerate([("sq1", "done"), ("sq2", "searching")], start=7):
        view.apply(SubQuestionProgress(request_id=rid, sub_question_id=sq, question=sq, status=status, seq=n))
    for n, source in enumerate(["a", "b", "a"], start=9):
        view.apply(SourceFound(request_id=rid, source_id=source, title=f"<b>{source}</b>", seq=n))

    shown = view.traits()
    assert shown["status"] == "running" and shown["stage"] == "research_execution"
    assert [s["state"] for s in shown["stages"]] == ["done", "done", "active", "pending", "pending"]
    assert shown["total_sources"] == 2
    assert shown["sub_questions"] == [
        {"id": "sq1", "question": "sq1", "status": "done", "sources": 0},
        {"id": "sq2", "question": "sq2", "status": "searching", "sources": 0},
    ]
    assert shown["progress"] == pytest.approx(0.05 + 0.10 + 0.60 / 2)

    view.apply(
        RunFinished(
            request_id=rid, status="cancelled", stage=ResearchStage.CANCELLED, error="Cancelled by user", seq=12
        )
    )
    final = view.traits()
    assert final["status"] == "cancelled" and final["cancel_reason"] == "Cancelled by user"
    assert [s["state"] for s in final["stages"]] == ["done", "done", "stopped", "pending", "pending"]


def test_the_view_keeps_only_the_last_log_lines() -> None:
    state = ResearchState(user_query=QUESTION)
    view = ProgressView(state)
    for n in range(MAX_LOG_LINES * 3):
        view.apply(LogMessage(request_id=state.request_id, message=f"line {n}", seq=n + 1))
    assert view.traits()["log"] == [f"line {n}" for n in range(MAX_LOG_LINES * 2, MAX_LOG_LINES * 3)]


# -- the feed: coalesced, capped, final state always delivered ----------------------------------------------------


async def test_a_chatty_run_sends_few_updates_and_always_the_final_state(
    memory_engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory_engine.chatter = 400  # 400 log lines per sub-question, as fast as the loop allows
    run = start_research(QUESTION, engine="memory")
    widget = run.widget
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(widget.comm, "send", lambda data=None, **_: sent.append(data))
    loop = asyncio.get_running_loop()
    began = loop.time()

    state = await run
    await run._live_display().feed.closed()
    elapsed = loop.time() - began

    events = len(workflow.events.history(run.request_id))
    updates = [m for m in sent if m and m.get("method") == "update"]
    assert events > 800
    assert len(updates) <= elapsed * widget_module.MAX_UPDATES_PER_S + 4  # + the immediate start/pause/final ones
    assert state.current_stage is ResearchStage.COMPLETED
    assert updates[-1]["state"]["status"] == "completed" and widget.status == "completed"
    assert len(widget.log) == MAX_LOG_LINES and widget.log[-1].endswith("looked at candidate 399")


# -- the report's links -------------------------------------------------------------------------------------------


def report(markdown: str) -> ResearchReport:
    return ResearchReport(title="t", markdown=markdown)


def test_citations_link_to_anchors_on_the_sources_list() -> None:
    markdown = (
        "# Q\n\n- Norway pumps oil [1]\n- Sweden exports timber [2, 1]\n\n| | N |\n|---|---|\n| GDP | $1 [2] |\n\n"
        "## Sources\n\n1. Norway — Economy\n2. Sweden — Economy\n"
    )
    linked = linked_markdown(report(markdown))
    prefix = re.search(r'<a id="(rnb-[0-9a-f]{8})-1"></a>', linked)
    assert prefix is not None
    p = prefix.group(1)
    assert f"- Norway pumps oil [[1](#{p}-1)]" in linked
    assert f"[[2](#{p}-2), [1](#{p}-1)]" in linked
    assert f"| GDP | \\$1 [[2](#{p}-2)] |" in linked  # escaped: Jupyter would render "$1 ... $2" as math
    assert f'1. <a id="{p}-1"></a>Norway — Economy\n2. <a id="{p}-2"></a>Sweden — Economy' in linked
    assert linked_markdown(report(markdown)) == linked  # the same report links the same way (nbval sees no change)
    under_widget = linked_markdown(report(markdown), place="w")
    assert f'<a id="rnb-w{p.removeprefix("rnb-")}-1">' in under_widget  # another copy, its own ids


def test_escaped_brackets_unknown_numbers_and_existing_links_are_left_alone() -> None:
    markdown = "A source said \\[1\\]. See [3] and [1](http://x).\n\n## Sources\n\n1. One\n"
    linked = linked_markdown(report(markdown))
    assert "A source said \\[1\\]." in linked
    assert "See [3] and [1](http://x)." in linked


def test_a_report_without_sources_is_shown_as_written() -> None:
    assert linked_markdown(report("# Q\n\nNothing found [1].\n")) == "# Q\n\nNothing found [1].\n"


# -- the browser code never turns run text into HTML ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["widget.js", "batch_widget.js"])
def test_the_widget_script_sets_text_never_html(name: str) -> None:
    script = widget_module_source(name)  # as the browser gets it: the shared helpers and the widget's own code
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)
    assert "textContent" in script
