"""research_many on a real Dask LocalCluster of two worker processes: identical reports, a worker killed
mid-batch, Cancel-all leaving nothing on the scheduler, a bad question, resume after the driver process died."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from research_nb.batch import research_many, resume_batch
from research_nb.core.store import RunStore
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchStage

from .conftest import QUESTIONS, research_keys

OPTIONS: dict[str, Any] = {"clarify": False}


@pytest.fixture
def flow(tmp_path: Path) -> ResearchWorkflow:
    """The offline engine with a store of its own (the driver's runs)."""
    return ResearchWorkflow(store=RunStore(tmp_path / "runs"))


async def _in_process_reports(flow: ResearchWorkflow, questions: list[str]) -> list[str]:
    states = await research_many(questions, workflow=flow, max_concurrency=1, **OPTIONS)
    return [s.report.markdown for s in states if s is not None and s.report is not None]


async def _until(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_reports_are_byte_identical_to_in_process_runs_and_a_bad_question_fails_alone(
    cluster_client: Any, flow: ResearchWorkflow
) -> None:
    expected = await _in_process_reports(flow, QUESTIONS)
    questions = [*QUESTIONS[:3], "", *QUESTIONS[3:]]
    batch = research_many(questions, client=cluster_client, workflow=flow, **OPTIONS)
    states = await batch

    assert states[3] is None and batch.items[3].status == "failed" and "empty" in (batch.items[3].error or "")
    got = [s.report.markdown for s in states if s is not None and s.report is not None]
    assert got == expected
    assert {item.worker for item in batch.items if item.worker} == set(cluster_client.nthreads())  # both served
    for item in batch.items:  # every finished run is in the driver's store
        if item.status == "completed":
            assert flow.store is not None and flow.store.load(item.request_id).current_stage is ResearchStage.COMPLETED
    await _until(lambda: research_keys(cluster_client) == [], seconds=10)  # released futures are forgotten


async def test_a_worker_killed_mid_batch_has_its_questions_retried_elsewhere(
    cluster_client: Any, flow: ResearchWorkflow
) -> None:
    questions = QUESTIONS * 3
    expected = await _in_process_reports(flow, QUESTIONS)
    pids: dict[str, int] = cluster_client.run(os.getpid)
    batch = research_many(questions, client=cluster_client, workflow=flow, max_concurrency=4, **OPTIONS)
    await _until(lambda: batch.progress().completed >= 1)
    victim = next(iter(pids))
    os.kill(pids[victim], signal.SIGKILL)
    states = await batch

    assert batch.progress().completed == len(questions)
    assert [s.report.markdown for s in states if s and s.report] == expected * 3
    cluster_client.wait_for_workers(2, timeout=30)  # the nanny restarts the worker for the next test


async def test_cancel_all_leaves_no_task_on_the_scheduler(cluster_client: Any, flow: ResearchWorkflow) -> None:
    batch = research_many(QUESTIONS * 10, client=cluster_client, workflow=flow, max_concurrency=4, **OPTIONS)
    await _until(lambda: batch.progress().completed >= 1)
    assert batch.cancel() is True
    await batch
    progress = batch.progress()
    assert progress.cancelled > 0 and progress.completed + progress.cancelled == 60 and progress.finished
    await _until(lambda: research_keys(cluster_client) == [], seconds=10)
    assert batch.cancel() is False


DRIVER = """
import asyncio, os, sys
from distributed import Client
from research_nb.batch import research_many

async def main():
    client = Client(sys.argv[1])
    questions = sys.argv[2].split("|")
    batch = research_many(questions, client=client, max_concurrency=2, clarify=False)
    print(batch.batch_id, flush=True)
    while batch.progress().completed < 3:
        await asyncio.sleep(0.005)
    os._exit(1)  # the driver dies mid-batch: no cleanup, no goodbye

asyncio.run(main())
"""


async def test_resume_after_the_driver_process_died_runs_only_what_is_missing(
    cluster_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    questions = QUESTIONS * 2
    env = {**os.environ, "RESEARCH_NB_DATA_DIR": str(data)}
    address = cluster_client.scheduler.address
    script = textwrap.dedent(DRIVER)
    died = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script, address, "|".join(questions)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == 1, died.stderr
    batch_id = died.stdout.split()[0]
    flow = ResearchWorkflow(store=RunStore(data / "runs"))
    monkeypatch.setenv("RESEARCH_NB_DATA_DIR", str(data))  # where the dead driver left the batch's manifest
    assert flow.store is not None
    before = {run.request_id: run.updated_at for run in flow.store.scan().runs}
    resumed = resume_batch(batch_id, client=cluster_client, workflow=flow)
    states = await resumed
    reused = [item for item in resumed.items if item.reused]
    assert 3 <= len(reused) < len(questions)
    assert resumed.progress().completed == len(questions)
    assert [s.user_query for s in states if s] == questions
    for item in reused:  # a run finished before the crash is kept as it was, not run again
        assert flow.store.load(item.request_id).updated_at == before[item.request_id]
    expected = await _in_process_reports(ResearchWorkflow(store=None), QUESTIONS)
    assert [s.report.markdown for s in states if s and s.report] == expected * 2
