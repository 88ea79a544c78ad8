"""The Dask distributed backend: the runs of a batch go to a cluster's workers, their states come back as they
finish.

Each worker keeps one `ResearchWorkflow` for its whole life (set up by `ResearchWorkerPlugin`), so the engine
and the corpus it opened (the offline engine caches opened corpora per process, keyed by their inputs) serve
every later question on that worker: a question costs its research, not imports and an index load. Workers run
without a store; the driver saves each returned state into its own run store, so durability does not depend on
a shared disk. A worker that dies takes nothing finished with it: the scheduler reruns its tasks elsewhere and
the deterministic engine gives the same reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import uuid4

from distributed import WorkerPlugin, as_completed, get_worker

from research_nb.batch._backend import Job, JobOutcome, Report, one_line
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchState

PLUGIN_NAME = "research-nb"


class ResearchWorkerPlugin(WorkerPlugin):
    """Gives a worker its long-lived workflow (no store: the driver keeps the runs)."""

    name = PLUGIN_NAME

    def setup(self, worker: Any) -> None:
        worker_workflow()  # each batch registers the plugin again: the process's workflow (and engines) stay


_workflow: ResearchWorkflow | None = None


def worker_workflow() -> ResearchWorkflow:
    """This worker process's workflow, made once: its engines keep what they opened for the process's life."""
    global _workflow
    if _workflow is None:
        _workflow = ResearchWorkflow(store=None, max_finished_states=0)
    return _workflow


def research_on_worker(job_json: str) -> tuple[str, float, str]:
    """The task: one research on this worker. Returns the final state as JSON, the seconds it took, the worker."""
    job = Job.model_validate_json(job_json)
    worker = get_worker()
    workflow = worker_workflow()
    began = time.perf_counter()
    state = asyncio.run(workflow.run(job.question, request_id=job.request_id, options=job.options))
    return state.model_dump_json(), time.perf_counter() - began, str(worker.address)


class DaskBackend:
    """Keeps at most `max_in_flight` tasks on the cluster (default: four per thread) and tops up as results
    come back, so a batch of 10,000 questions never floods the scheduler and Cancel-all has little to cancel."""

    name = "dask"

    def __init__(self, client: Any, max_in_flight: int | None = None) -> None:
        self.client = client
        self.max_in_flight = max_in_flight

    async def run(self, jobs: Sequence[Job], report: Report) -> None:
        client = self.client
        await asyncio.to_thread(client.register_plugin, ResearchWorkerPlugin(), name=PLUGIN_NAME)
        threads = sum((await asyncio.to_thread(client.nthreads)).values()) or 1
        limit = self.max_in_flight or 4 * threads  # a short queue per thread: no worker waits on the driver
        waiting: Iterator[Job] = iter(jobs)
        in_flight: dict[Any, Job] = {}
        finished = as_completed()  # type: ignore[no-untyped-call]

        def top_up() -> None:
            while len(in_flight) < limit and (job := next(waiting, None)) is not None:
                key = f"research-nb-{job.request_id}-{uuid4().hex[:8]}"  # a fresh key: a resumed job runs again
                future = client.submit(research_on_worker, job.model_dump_json(), key=key, pure=False)
                in_flight[future] = job
                finished.add(future)  # type: ignore[no-untyped-call]

        try:
            await asyncio.to_thread(top_up)
            while in_flight:
                future = await asyncio.to_thread(next, finished)
                job = in_flight.pop(future)
                report(await asyncio.to_thread(_outcome, future, job))
                future.release()
                await asyncio.to_thread(top_up)
        finally:
            if in_flight:  # cancelled (or broken): nothing of ours stays on the cluster
                futures = list(in_flight)
                in_flight.clear()
                finished.clear()  # type: ignore[no-untyped-call]
                await asyncio.shield(asyncio.to_thread(client.cancel, futures, force=True))


def _outcome(future: Any, job: Job) -> JobOutcome:
    began = time.perf_counter()
    try:
        state_json, seconds, worker = future.result()
    except Exception as exc:  # the task raised, or its worker kept dying (KilledWorker): this job fails alone
        return JobOutcome(request_id=job.request_id, error=one_line(exc), seconds=time.perf_counter() - began)
    state = ResearchState.model_validate_json(state_json)
    return JobOutcome(request_id=job.request_id, state=state, seconds=seconds, worker=worker)
