"""The seed's Step 7 `test_task_manager.py` on the real import paths (waiting on events, not sleeps), plus the
flaws DESIGN.md section 3 says the seed's manager has: records, copies, re-submission, several event loops."""

import asyncio
import gc
import uuid

import pytest

from research_nb.core.errors import DuplicateRequestError
from research_nb.core.task_manager import BackgroundTaskManager, task_manager


async def _forever(started: asyncio.Event | None = None) -> None:
    if started is not None:
        started.set()
    await asyncio.Event().wait()


async def _quick(value: str = "done") -> str:
    await asyncio.sleep(0)
    return value


# -- the seed's four tests --------------------------------------------------------------------------------


async def test_task_submission() -> None:
    manager = BackgroundTaskManager()
    release = asyncio.Event()

    async def sample_task() -> str:
        await release.wait()
        return "completed"

    request_id = await manager.submit_research("test-123", sample_task(), metadata={"test": True})
    assert request_id == "test-123"

    status = await manager.get_task_status("test-123")
    assert status is not None
    assert status.status == "running"
    assert status.metadata == {"test": True}

    release.set()
    record = await manager.wait("test-123")
    assert record is not None and record.status == "completed"
    assert record.finished_at is not None and record.finished_at.tzinfo is not None
    assert manager.get_task("test-123") is None  # a finished task is released; its record stays

    await manager.shutdown(timeout=1.0)


async def test_task_cancellation() -> None:
    manager = BackgroundTaskManager()
    await manager.submit_research("test-456", _forever())

    assert await manager.cancel_task("test-456") is True
    assert await manager.cancel_task("test-456") is False  # already being cancelled

    record = await manager.wait("test-456")
    assert record is not None
    assert (record.status, record.cancel_reason) == ("cancelled", "Cancelled by user")
    assert await manager.cancel_task("test-456") is False  # finished
    await manager.shutdown(timeout=1.0)


async def test_task_manager_shutdown() -> None:
    manager = BackgroundTaskManager()
    for i in range(5):
        await manager.submit_research(f"test-{i}", _forever())

    active = await manager.list_active_tasks()
    assert sorted(active) == [f"test-{i}" for i in range(5)]

    report = await manager.shutdown(timeout=2.0)

    assert (report.cancelled, report.still_running) == (5, 0)
    assert await manager.list_active_tasks() == {}
    for i in range(5):
        status = await manager.get_task_status(f"test-{i}")
        assert status is not None and status.status == "cancelled"
        assert status.cancel_reason == "Cancelled by shutdown"


async def test_duplicate_request_id_handling() -> None:
    """Re-submitting a running id cancels the old task and waits for its cleanup before the new one starts; the
    old task's ending cannot touch the new task's record."""
    manager = BackgroundTaskManager()
    counter = {"value": 0}
    log: list[str] = []
    first_started, second_started, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def first_task() -> None:
        counter["value"] += 1
        first_started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that awaits: the new task must still wait for it
            log.append("first cleaned up")

    async def second_task() -> None:
        log.append("second started")
        counter["value"] += 1
        second_started.set()
        await release.wait()
        counter["value"] += 1

    await manager.submit_research("duplicate", first_task(), metadata={"attempt": 1})
    await first_started.wait()
    old_task = manager.get_task("duplicate")

    await manager.submit_research("duplicate", second_task(), metadata={"attempt": 2})

    assert old_task is not None and old_task.cancelled()
    await second_started.wait()
    assert counter["value"] == 2  # first task cancelled after one step, second one started
    assert log == ["first cleaned up", "second started"]
    status = await manager.get_task_status("duplicate")
    assert status is not None and (status.status, status.metadata) == ("running", {"attempt": 2})
    assert list(await manager.list_active_tasks()) == ["duplicate"]

    release.set()
    record = await manager.wait("duplicate")
    assert record is not None and (record.status, record.metadata) == ("completed", {"attempt": 2})
    assert counter["value"] == 3

    await manager.shutdown(timeout=1.0)


# -- beyond the seed ------------------------------------------------------------------------------------


async def test_start_refuses_a_running_id_and_closes_the_refused_coroutine(manager: BackgroundTaskManager) -> None:
    started = asyncio.Event()
    manager.start("busy", _forever(started))
    await started.wait()
    refused = _quick()

    with pytest.raises(DuplicateRequestError, match="'busy' is already running"):
        manager.start("busy", refused)

    assert refused.cr_frame is None  # closed, so no "coroutine was never awaited" later
    status = await manager.get_task_status("busy")
    assert status is not None and status.status == "running"


async def test_a_task_cancelled_before_its_first_step_still_sees_the_cancellation(
    manager: BackgroundTaskManager,
) -> None:
    """A front may cancel right after submitting (a double click, a shutdown): the coroutine must still get the
    CancelledError inside its body, or a research run would never record that it was cancelled."""
    seen: list[str] = []

    async def job() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError as exc:
            seen.append(str(exc))
            raise

    manager.start("eager-cancel", job())
    assert manager.cancel_nowait("eager-cancel", "Changed my mind") is True
    record = await manager.wait("eager-cancel")

    assert seen == ["Changed my mind"]
    assert record is not None and (record.status, record.cancel_reason) == ("cancelled", "Changed my mind")


async def test_failed_task_keeps_its_error(manager: BackgroundTaskManager) -> None:
    async def broken() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("index is corrupt")

    await manager.submit_research("broken", broken())
    record = await manager.wait("broken")

    assert record is not None and (record.status, record.error) == ("failed", "RuntimeError: index is corrupt")


async def test_records_are_kept_after_completion_until_cleanup(manager: BackgroundTaskManager) -> None:
    await manager.submit_research("kept", _quick())
    await manager.wait("kept")

    assert await manager.cleanup_completed(older_than_seconds=3600) == 0
    status = await manager.get_task_status("kept")
    assert status is not None and status.status == "completed"

    assert await manager.cleanup_completed(older_than_seconds=0) == 1
    assert await manager.get_task_status("kept") is None
    assert len(manager) == 0


async def test_cleanup_never_forgets_a_running_task(manager: BackgroundTaskManager) -> None:
    started = asyncio.Event()
    await manager.submit_research("running", _forever(started))
    await started.wait()

    assert await manager.cleanup_completed(older_than_seconds=0) == 0
    assert list(await manager.list_active_tasks()) == ["running"]


async def test_number_of_finished_records_is_bounded() -> None:
    manager = BackgroundTaskManager(max_finished=3)
    started = asyncio.Event()
    await manager.submit_research("keeper", _forever(started))
    await started.wait()
    for i in range(6):
        await manager.submit_research(f"done-{i}", _quick())
        await manager.wait(f"done-{i}")

    assert len(manager) == 4  # three finished records and the running task
    kept = [i for i in range(6) if await manager.get_task_status(f"done-{i}") is not None]
    assert kept == [3, 4, 5]
    keeper = await manager.get_task_status("keeper")
    assert keeper is not None and keeper.status == "running"
    await manager.shutdown(timeout=1.0)


async def test_status_is_a_copy(manager: BackgroundTaskManager) -> None:
    metadata: dict[str, object] = {"query": "Norway", "tags": ["a"]}
    started = asyncio.Event()
    await manager.submit_research("copy", _forever(started), metadata=metadata)  # type: ignore[arg-type]
    await started.wait()
    metadata["query"] = "changed by the caller"
    metadata["tags"].append("b")  # type: ignore[attr-defined]

    status = await manager.get_task_status("copy")
    assert status is not None
    status.status = "completed"
    status.metadata["query"] = "changed by a reader"
    active = await manager.list_active_tasks()
    active["copy"].metadata.clear()

    again = await manager.get_task_status("copy")
    assert again is not None
    assert (again.status, again.metadata) == ("running", {"query": "Norway", "tags": ["a"]})
    assert again.created_at.tzinfo is not None


async def test_unknown_ids_are_answered_not_raised(manager: BackgroundTaskManager) -> None:
    assert await manager.get_task_status("nope") is None
    assert await manager.cancel_task("nope") is False
    assert await manager.wait("nope") is None
    assert manager.get_task("nope") is None


def test_singleton_serves_consecutive_event_loops() -> None:
    """The kernel, pytest and uvicorn each bring a loop: the singleton must not stay bound to the first one."""
    request_id = f"loops-{uuid.uuid4().hex}"

    async def first_loop() -> None:
        started = asyncio.Event()
        await task_manager.submit_research(request_id, _forever(started))
        await started.wait()
        assert request_id in await task_manager.list_active_tasks()
        # Returning ends asyncio.run, which cancels what is left, as a finished test or a closed kernel does.

    async def second_loop() -> None:
        assert request_id not in await task_manager.list_active_tasks()
        status = await task_manager.get_task_status(request_id)
        assert status is not None and status.status == "cancelled"
        assert await task_manager.cancel_task(request_id) is False

        await task_manager.submit_research(request_id, _quick("second loop"))
        record = await task_manager.wait(request_id)
        assert record is not None and record.status == "completed"
        assert task_manager.get_task(request_id) is None  # finished: released, the record remains
        assert await task_manager.cleanup_completed(0) >= 1
        assert await task_manager.get_task_status(request_id) is None

    asyncio.run(first_loop())
    asyncio.run(second_loop())


def test_a_task_whose_loop_closed_is_reported_lost_not_running() -> None:
    """A loop closed under a pending task (a kernel stopped abruptly) must not leave a task "running" forever."""
    manager = BackgroundTaskManager()
    loop = asyncio.new_event_loop()

    async def submit() -> None:
        started = asyncio.Event()
        await manager.submit_research("orphan", _forever(started))
        await started.wait()

    loop.run_until_complete(submit())
    loop.close()

    async def later() -> None:
        assert await manager.list_active_tasks() == {}
        status = await manager.get_task_status("orphan")
        assert status is not None and status.status == "cancelled"
        assert status.cancel_reason is not None and "loop closed" in status.cancel_reason
        assert await manager.cancel_task("orphan") is False
        report = await manager.shutdown(timeout=1.0)
        assert (report.cancelled, report.still_running) == (0, 0)
        assert await manager.cleanup_completed(older_than_seconds=3600) == 1

    asyncio.run(later())
    # The purged task is garbage now; collect it here so asyncio's "destroyed but pending" note is logged inside
    # this test (captured) rather than at interpreter exit.
    gc.collect()
