"""Listing from the index: later listings read no run file, and a lost, damaged or stale index never gives a
wrong listing (it costs one read of the files it does not vouch for, and heals)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import research_nb.core.store as store_module
from engines_for_tests import ENGINE_NAME, MemoryEngine
from research_nb.core.store import RunStore
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState


async def stored_runs(store: RunStore, engine: MemoryEngine, count: int) -> list[ResearchState]:
    flow = ResearchWorkflow(store=store, max_unsaved_seconds=0)  # saved after every stage: index lines to compact
    flow.engines.register(ENGINE_NAME, lambda: engine)
    options = ResearchOptions(engine=ENGINE_NAME)
    return [await flow.run(f"How does Norway's economy work? ({n})", options=options) for n in range(count)]


@pytest.fixture
def file_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The run files the store reads in full, by run id."""
    reads: list[str] = []
    read = store_module._read_run

    def counted(path: Path, request_id: str) -> tuple[os.stat_result, ResearchState]:
        reads.append(request_id)
        return read(path, request_id)

    monkeypatch.setattr(store_module, "_read_run", counted)
    return reads


def summary(store: RunStore) -> list[tuple[str, ResearchStage | None, str]]:
    return [(r.request_id, r.stage, r.question) for r in store.scan().runs]


async def test_listings_read_no_run_file_once_runs_are_indexed(
    tmp_path: Path, engine: MemoryEngine, file_reads: list[str]
) -> None:
    store = RunStore(tmp_path)
    runs = await stored_runs(store, engine, 30)
    file_reads.clear()
    listed = summary(store)
    assert listed == [(s.request_id, ResearchStage.COMPLETED, s.user_query) for s in reversed(runs)]
    assert file_reads == []  # every save indexed itself
    assert len((tmp_path / ".index.jsonl").read_text().splitlines()) == 30  # compacted: one line per run


async def test_a_lost_or_damaged_index_gives_the_same_listing_and_heals(
    tmp_path: Path, engine: MemoryEngine, file_reads: list[str]
) -> None:
    store = RunStore(tmp_path)
    await stored_runs(store, engine, 5)
    expected = summary(store)
    index = tmp_path / ".index.jsonl"
    for broken in (b"", b"\xff\xfe garbage\n{not json\n", index.read_bytes()[:-40]):  # empty, junk, torn
        index.write_bytes(broken)
        file_reads.clear()
        assert summary(store) == expected
        assert 0 < len(file_reads) <= 5
        file_reads.clear()
        assert summary(store) == expected and file_reads == []  # healed
    index.unlink()
    assert summary(store) == expected
    index.unlink()
    os.mkfifo(index)  # reading or writing a named pipe would block for ever
    await stored_runs(store, engine, 1)  # a save
    index.unlink()
    os.mkfifo(index)
    assert len(summary(store)) == 6 and index.is_file()  # replaced by a real index


async def test_a_file_changed_behind_the_index_is_read_again(
    tmp_path: Path, engine: MemoryEngine, file_reads: list[str]
) -> None:
    store = RunStore(tmp_path)
    first, second = await stored_runs(store, engine, 2)
    # Another tool (or an older research-nb) rewrites a run without touching the index.
    changed = first.model_copy(update={"user_query": "What is Sweden's main export?"})
    (tmp_path / f"{first.request_id}.json").write_text(changed.model_dump_json())
    (tmp_path / f"{second.request_id}.json").unlink()
    file_reads.clear()
    assert summary(store) == [(first.request_id, ResearchStage.COMPLETED, "What is Sweden's main export?")]
    assert file_reads == [first.request_id]
