"""Where a batch's runs execute, behind one small interface: `InProcessBackend` (the kernel's own loop) and
`DaskBackend` (a `dask.distributed` cluster, in `_dask.py`). Another executor (Ray, say) is one more class with
the same two members: it gets the jobs, reports each outcome as it finishes, and stops everything it started
when its `run` is cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchState


class Job(BaseModel):
    """One research to run: the question, the run id it is stored under, and the options (no secrets)."""

    request_id: str
    question: str
    options: ResearchOptions


class JobOutcome(BaseModel):
    """A finished job. `state` is the run's final state; `stored` says whether it is already in the run store
    (the backend ran it with the driver's workflow) or the driver must save it (it came from a worker)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    request_id: str
    state: ResearchState | None = None
    error: str | None = None
    seconds: float
    worker: str | None = None
    stored: bool = False


Report = Callable[[JobOutcome], None]


class Backend(Protocol):
    name: str

    async def run(self, jobs: Sequence[Job], report: Report) -> None:
        """Run every job, calling `report` once per job as it finishes (in any order). A job that fails is
        reported with its error; it never stops the others. Cancelling this coroutine stops every job."""
        ...


class InProcessBackend:
    """Runs at most `max_concurrency` researches at once on the running loop (the offline engine does its CPU work
    in the research worker process, `research_nb.core.workers`, so the loop and the widget stay live). Each run
    is saved to the workflow's store as it goes."""

    name = "in-process"

    def __init__(self, workflow: ResearchWorkflow, max_concurrency: int = 4) -> None:
        self.workflow = workflow
        self.max_concurrency = max(1, max_concurrency)

    async def run(self, jobs: Sequence[Job], report: Report) -> None:
        queue: Iterator[Job] = iter(jobs)

        async def lane() -> None:
            for job in queue:  # the lanes share one iterator: each job is taken once
                report(await self._one(job))

        lanes = [asyncio.ensure_future(lane()) for _ in range(min(self.max_concurrency, len(jobs)))]
        try:
            await asyncio.gather(*lanes)
        finally:
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)

    async def _one(self, job: Job) -> JobOutcome:
        began = time.perf_counter()
        try:
            state = self.workflow.prepare(job.question, options=job.options, request_id=job.request_id)
            state = await self.workflow.resume_research(state)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one bad question fails alone
            return JobOutcome(request_id=job.request_id, error=one_line(exc), seconds=time.perf_counter() - began)
        stored = self.workflow.store is not None
        return JobOutcome(request_id=job.request_id, state=state, seconds=time.perf_counter() - began, stored=stored)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
