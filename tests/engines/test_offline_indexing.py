"""A run whose corpus must be indexed first shows it: `IndexingProgress` events, the last one finished."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from research_nb.core.events import IndexingProgress, ResearchEvent, StageStarted
from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.offline import OfflineEngine
from research_nb.models.research import ResearchOptions, ResearchStage
from research_nb.sources import builtin
from research_nb.sources._segment import LoadedDocument

FIXTURES = Path(__file__).parent / "fixtures"


def offline_flow(cache: Path) -> ResearchWorkflow:
    flow = ResearchWorkflow()
    flow.engines.register("offline", lambda: OfflineEngine(cache_dir=cache))
    return flow


async def research(flow: ResearchWorkflow, options: ResearchOptions) -> list[ResearchEvent]:
    events: list[ResearchEvent] = []
    state = await flow.run("What is cross-laminated timber?", options=options, stream_callback=events.append)
    assert state.current_stage is ResearchStage.COMPLETED
    return events


@pytest.mark.parametrize(
    ("options", "corpus", "inputs"),
    [
        (ResearchOptions(sources=[str(FIXTURES / "hops")]), str(FIXTURES / "hops"), None),
        (ResearchOptions(corpora=["factbook"]), "the World Factbook", 1),
    ],
)
async def test_a_run_that_must_index_first_says_what_and_how_far_then_that_it_finished(
    tmp_path: Path, options: ResearchOptions, corpus: str, inputs: int | None
) -> None:
    events = await research(offline_flow(tmp_path / "cache"), options)

    indexing = [e for e in events if isinstance(e, IndexingProgress)]
    assert indexing and all(e.corpus == corpus for e in indexing)
    assert indexing[0].files_done == 0 and not indexing[0].finished
    assert indexing[-1].finished and indexing[-1].files_done == indexing[-1].files_total > 0
    assert indexing[-1].passages > 0 and [e.finished for e in indexing].count(True) == 1
    assert inputs is None or indexing[-1].files_total == inputs
    # Indexing happens before anything is searched: all of it within the run's first stage.
    first_stage = next(i for i, e in enumerate(events) if isinstance(e, StageStarted))
    second_stage = next(i for i, e in enumerate(events) if isinstance(e, StageStarted) and i > first_stage)
    assert all(first_stage < events.index(e) < second_stage for e in indexing)


async def test_a_run_over_an_index_already_built_sends_no_indexing_events(tmp_path: Path) -> None:
    options = ResearchOptions(sources=[str(FIXTURES / "hops")])
    await research(offline_flow(tmp_path / "cache"), options)

    again = await research(offline_flow(tmp_path / "cache"), options)  # a new engine: the store is on disk

    assert not [e for e in again if isinstance(e, IndexingProgress)]


async def test_a_run_that_comes_while_the_factbook_is_prepared_shows_that_build_and_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = OfflineEngine(cache_dir=tmp_path / "cache", in_worker=False)
    flow = ResearchWorkflow()
    flow.engines.register("offline", lambda: engine)
    joined = threading.Event()  # set when the run shows the build that was already going on
    conversions = []

    def slow_load() -> list[LoadedDocument]:
        conversions.append(threading.current_thread().name)
        joined.wait(30)  # the prepared build is held here until the run has joined it
        return builtin.load_factbook()

    monkeypatch.setitem(builtin.BUILTINS, "factbook", replace(builtin.BUILTINS["factbook"], load=slow_load))
    prepared = asyncio.create_task(engine.prepare())

    def seen(event: ResearchEvent) -> None:
        if isinstance(event, IndexingProgress):
            joined.set()
        events.append(event)

    events: list[ResearchEvent] = []
    state = await flow.run("Norway", options=ResearchOptions(corpora=["factbook"]), stream_callback=seen)
    await prepared

    assert state.current_stage is ResearchStage.COMPLETED
    assert len(conversions) == 1  # one build, the prepared one
    indexing = [e for e in events if isinstance(e, IndexingProgress)]
    assert indexing[0].corpus == "the World Factbook" and not indexing[0].finished
    assert indexing[-1].finished and [e.finished for e in indexing].count(True) == 1
