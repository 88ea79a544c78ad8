"""Fault injection for the run store: every kind of damaged entry, a full disk, a read-only folder.

Each damaged entry is skipped by a listing and named on one line with its reason, every other run stays listed
and readable, and reading the damaged run is one clear error. A full or read-only disk never fails a run: the run
finishes in memory with one warning (no random temporary name in it), and what was stored before stays readable.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines_for_tests import ENGINE_NAME, MemoryEngine
from research_nb.core.errors import CorruptRunError, UnknownRequestError
from research_nb.core.events import ResearchEvent
from research_nb.core.store import RunStore
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState
from store_damage import damage

QUESTION = "How does Norway's economy work?"


def fresh(store: RunStore, engine: MemoryEngine) -> ResearchWorkflow:
    flow = ResearchWorkflow(store=store)
    flow.engines.register(ENGINE_NAME, lambda: engine)
    return flow


async def run(flow: ResearchWorkflow, question: str = QUESTION) -> tuple[ResearchState, list[ResearchEvent]]:
    """A run to its end, and every event it sent (from its acceptance on)."""
    state = await flow.run(question, options=ResearchOptions(engine=ENGINE_NAME))
    return state, flow.events.history(state.request_id)


async def test_each_damaged_entry_is_named_once_and_every_good_run_is_still_listed(
    tmp_path: Path, engine: MemoryEngine
) -> None:
    store = RunStore(tmp_path)
    flow = fresh(store, engine)
    good = [(await run(flow, f"{QUESTION} ({n})"))[0] for n in range(3)]
    expected = damage(tmp_path, tmp_path / f"{good[0].request_id}.json")

    listing = store.scan()
    assert [r.request_id for r in listing.runs] == [s.request_id for s in reversed(good)]  # newest first
    reasons = {Path(d.path).name: d.problem for d in listing.damaged}
    assert set(reasons) == set(expected)
    for name, fragment in expected.items():
        assert fragment in reasons[name], (name, reasons[name])
    for entry in listing.damaged:
        assert "\n" not in entry.line() and entry.line().startswith(f"skipped {tmp_path}")


@pytest.mark.parametrize(
    "request_id", ["broken-link", "link-loop", "latin1", "a-folder", "truncated", "foreign", "pipe", "huge", "renamed"]
)
async def test_opening_a_damaged_run_is_one_clear_error_and_others_open(
    tmp_path: Path, engine: MemoryEngine, request_id: str
) -> None:
    store = RunStore(tmp_path)
    good, _ = await run(fresh(store, engine))
    damage(tmp_path, tmp_path / f"{good.request_id}.json")

    reader = fresh(store, engine)  # a new process: nothing in memory
    with pytest.raises(CorruptRunError) as caught:
        reader.get_state(request_id)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / f"{request_id}.json") in message and f"runs --delete {request_id}" in message
    assert reader.require_state(good.request_id) == good


async def test_odd_and_overlong_ids_are_unknown_runs_not_crashes(tmp_path: Path, engine: MemoryEngine) -> None:
    reader = fresh(RunStore(tmp_path), engine)
    for request_id in ("odd name!", "", ".hidden", "../../etc/passwd", "x" * 5000):
        with pytest.raises(UnknownRequestError, match="is not a research run id"):
            reader.require_state(request_id)


async def test_a_damaged_entry_can_be_deleted_and_retention_leaves_damage_alone(
    tmp_path: Path, engine: MemoryEngine
) -> None:
    store = RunStore(tmp_path)
    good, _ = await run(fresh(store, engine))
    damage(tmp_path, tmp_path / f"{good.request_id}.json")
    assert store.delete("truncated") and store.delete("broken-link")
    assert {"truncated.json", "broken-link.json"}.isdisjoint(Path(d.path).name for d in store.scan().damaged)
    from datetime import timedelta

    assert store.delete_older_than(timedelta(0)) == [good.request_id]
    listing = store.scan()
    assert listing.runs == [] and len(listing.damaged) == 9  # for a person to look at, not silently removed


async def test_text_that_cannot_be_encoded_never_costs_the_run(tmp_path: Path, engine: MemoryEngine) -> None:
    """A lone surrogate that reaches a state (here in a warning, as from a mis-decoded file name) is saved with
    U+FFFD in its place; the run is stored and reads back."""
    store = RunStore(tmp_path)
    flow = fresh(store, engine)
    state = flow.prepare(QUESTION, options=ResearchOptions(engine=ENGINE_NAME))
    state.warnings.append("skipped caf\udce9.md: unreadable")
    done = await flow.resume_research(state)
    assert done.current_stage is ResearchStage.COMPLETED
    stored = fresh(store, engine).require_state(state.request_id)
    assert stored.current_stage is ResearchStage.COMPLETED
    assert "skipped caf\ufffd.md: unreadable" in stored.warnings


# -- a full disk and a read-only folder, on a real small file system ------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (a disk that fills up after one run); skipped only where no file system can be mounted."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill_up(filler: Path) -> Path:
    """Fill the disk that holds `filler` to its last block."""
    try:
        with open(filler, "wb", buffering=0) as out:
            while True:
                out.write(b"\0" * 1024)
    except OSError:
        pass
    return filler


def remount_read_only(mount_point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)


async def test_a_full_disk_finishes_the_run_in_memory_with_one_warning(small_disk: Path, engine: MemoryEngine) -> None:
    store = RunStore(small_disk / "runs")
    flow = fresh(store, engine)
    before, _ = await run(flow, "How does Sweden's economy work?")
    filler = fill_up(small_disk / "filler")

    state, events = await run(flow)
    assert state.current_stage is ResearchStage.COMPLETED and state.report is not None
    warnings = [e.message for e in events if e.type == "warning"]
    assert len(warnings) == 1 and state.warnings == warnings
    assert "could not save run" in warnings[0] and "No space left on device" in warnings[0]
    assert ".tmp" not in warnings[0]
    assert list(store.directory.glob(".*.tmp")) == []  # no half-written file left behind
    listing = store.scan()
    assert [r.request_id for r in listing.runs] == [before.request_id] and listing.damaged == []
    assert fresh(store, engine).require_state(before.request_id) == before

    filler.unlink()  # space again: the next run is stored as usual
    after, _ = await run(flow)
    assert after.warnings == [] and store.find(after.request_id) == after


async def test_a_read_only_store_warns_once_per_run_and_still_lists(small_disk: Path, engine: MemoryEngine) -> None:
    store = RunStore(small_disk / "runs")
    before, _ = await run(fresh(store, engine))
    remount_read_only(small_disk)

    flow = fresh(store, engine)
    for _ in range(2):
        state, events = await run(flow)
        assert state.current_stage is ResearchStage.COMPLETED
        warnings = [e.message for e in events if e.type == "warning"]
        assert warnings == state.warnings and len(warnings) == 1
        assert "Read-only file system" in warnings[0] and ".tmp" not in warnings[0]
    assert [r.request_id for r in store.scan().runs] == [before.request_id]
    assert fresh(store, engine).require_state(before.request_id) == before
