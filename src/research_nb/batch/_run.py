"""`BatchRun`: the handle over many research runs, and `research_many` / `resume_batch` that start one.

    batch = research_many(["Which country has the longest coastline?", ...], sources=["notes/"])
    states = await batch          # every run's final state, in input order (read from the run store on access)
    batch.to_pandas()             # one row per question: id, question, status, error, seconds, report

The batch keeps a small summary per question (`BatchItem`); full states live in the run store, saved as each run
finishes, so 10,000 questions cost 10,000 summaries in memory and a dead driver loses no finished run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, overload

from pydantic import BaseModel, ValidationError

from research_nb.batch._backend import Backend, InProcessBackend, Job, JobOutcome
from research_nb.batch._manifest import (
    BatchEntry,
    BatchItem,
    BatchManifest,
    load_manifest,
    new_batch_id,
    save_manifest,
)
from research_nb.batch._questions import BatchQuestion, batch_questions
from research_nb.core.errors import MissingDependencyError, UserInputError
from research_nb.core.protocols import ChecksOptions
from research_nb.core.workflow import ResearchWorkflow
from research_nb.core.workflow import workflow as default_workflow
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState, checked_question

#: Runs at once in-process. Engines that wait on the network (llm) gain from overlap; the offline engine is
#: CPU-bound, and runs overlapping on one loop only contend for the GIL (bench/batch.py: 4 at once is 0.76× one at a
#: time), so it runs one at a time here and scales out with Dask instead.
DEFAULT_IN_PROCESS_CONCURRENCY = 4
CPU_BOUND_ENGINES = frozenset({"offline"})
_OPTION_NAMES = frozenset(ResearchOptions.model_fields) - {"max_concurrency"}
_KEPT_ERRORS = 5
_KEPT_SLOWEST = 5
_REUSED_STAGES = (ResearchStage.COMPLETED, ResearchStage.FAILED)


class BatchProgress(BaseModel):
    """Where a batch is, for a widget or a log line."""

    total: int
    completed: int
    failed: int
    cancelled: int
    remaining: int
    elapsed_seconds: float
    per_second: float
    eta_seconds: float | None
    slowest: list[tuple[str, float]]
    errors: list[tuple[str, str]]
    finished: bool


class BatchRun:
    """Many research runs going on in the background: awaitable, cancellable (all at once), exportable."""

    #: Set by the notebook front when it loads (`research_nb.notebook.batch.install`): what a notebook
    #: shows for a batch (its live widget). None outside a notebook: a batch shows as its one-line repr.
    display_factory: ClassVar[Callable[[BatchRun], Any] | None] = None

    def __init__(self, manifest: BatchManifest, items: list[BatchItem], backend: Backend, flow: ResearchWorkflow):
        self.batch_id = manifest.batch_id
        self.options = manifest.options
        self.items = items
        self.backend = backend
        self._workflow = flow
        self._by_request = {item.request_id: item for item in items}
        self._memory: dict[str, ResearchState] = {}  # only when the workflow has no store
        self._listeners: list[Callable[[], None]] = []
        self._errors: list[tuple[str, str]] = [(i.id, i.error) for i in items if i.error]
        self._began = time.monotonic()
        self._ended: float | None = None
        self._ran = 0
        self._task: asyncio.Task[None] | None = None
        self._display: Any = None

    def _start(self, jobs: list[Job]) -> None:
        self._task = _running_loop().create_task(self._drive(jobs), name=f"research-nb-{self.batch_id}")

    async def _drive(self, jobs: list[Job]) -> None:
        try:
            if jobs:
                await self.backend.run(jobs, self._record)
        except asyncio.CancelledError:
            pass  # Cancel-all: the backend stopped its runs; what did not finish is marked below
        finally:
            for item in self.items:
                if item.status in ("pending", "running"):
                    item.status = "cancelled"
            self._ended = time.monotonic()
            self._notify()

    def _record(self, outcome: JobOutcome) -> None:
        item = self._by_request[outcome.request_id]
        item.seconds = outcome.seconds
        item.worker = outcome.worker
        state = outcome.state
        if state is not None and not outcome.stored:
            if self._workflow.store is not None:
                self._workflow.store.save(state)
            else:
                self._memory[state.request_id] = state
        elif state is not None and self._workflow.store is None:
            self._memory[state.request_id] = state
        if state is None:
            item.status, item.error = "failed", outcome.error
        elif state.current_stage is ResearchStage.COMPLETED:
            item.status = "completed"
        elif state.current_stage is ResearchStage.CANCELLED:
            item.status, item.error = "cancelled", state.cancel_reason
        else:
            item.status, item.error = "failed", state.error_message or f"ended {state.current_stage.value}"
        if item.status == "failed" and item.error:
            self._errors = [*self._errors, (item.id, item.error)][-_KEPT_ERRORS:]
        self._ran += 1
        self._notify()

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether the batch ended (every question finished, failed or was cancelled); true from its last
        notification on, while its task is still returning."""
        return self._ended is not None or self._task is None or self._task.done()

    def progress(self) -> BatchProgress:
        counts = {"completed": 0, "failed": 0, "cancelled": 0, "pending": 0, "running": 0}
        for item in self.items:
            counts[item.status] += 1
        elapsed = (self._ended or time.monotonic()) - self._began
        rate = self._ran / elapsed if elapsed > 0 else 0.0
        remaining = counts["pending"] + counts["running"]
        timed = [(i.id, i.seconds) for i in self.items if i.seconds is not None and not i.reused]
        slowest = sorted(timed, key=lambda pair: -pair[1])[:_KEPT_SLOWEST]
        return BatchProgress(
            total=len(self.items),
            completed=counts["completed"],
            failed=counts["failed"],
            cancelled=counts["cancelled"],
            remaining=remaining,
            elapsed_seconds=elapsed,
            per_second=rate,
            eta_seconds=remaining / rate if rate > 0 and remaining else (0.0 if not remaining else None),
            slowest=[(key, seconds) for key, seconds in slowest if seconds is not None],
            errors=list(self._errors),
            finished=self.done,
        )

    def state(self, key: str | int) -> ResearchState | None:
        """The full state of one question's run (by its id, or its position when `key` is an int), read from
        the run store; None for a question that never ran (it was rejected, or the batch was cancelled first)."""
        item = self._item(key)
        if item.request_id in self._memory:
            return self._memory[item.request_id]
        if item.status == "pending" or self._workflow.store is None:
            return None
        return self._workflow.get_state(item.request_id)

    def states(self) -> BatchStates:
        return BatchStates(self)

    def _item(self, key: str | int) -> BatchItem:
        if isinstance(key, int):
            return self.items[key]
        for item in self.items:
            if item.id == key:
                return item
        raise UserInputError(f"batch {self.batch_id} has no question with id {key!r}")

    # -- waiting and acting -------------------------------------------------------------------------------

    def __await__(self) -> Any:
        return self._until_done().__await__()

    async def _until_done(self) -> BatchStates:
        """Interrupting the waiting cell stops the waiting, not the batch (as with a single run)."""
        if self._task is not None and not self._task.done():
            await asyncio.wait([self._task])
        return BatchStates(self)

    def cancel(self) -> bool:
        """Cancel-all: stop every run of the batch (on every worker) and submit no more. True if it was going."""
        if self._task is None or self.done:
            return False
        return self._task.cancel()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every finished run and when the batch ends (a widget coalesces these)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- exporting ----------------------------------------------------------------------------------------

    def iter_records(self, *, report: bool = True) -> Iterator[dict[str, Any]]:
        """One flat record per question, in input order; the report's Markdown is read one run at a time."""
        for item in self.items:
            record: dict[str, Any] = item.model_dump(exclude={"position"})
            if report:
                state = self.state(item.position) if item.status in ("completed", "failed", "cancelled") else None
                record["report"] = state.report.markdown if state is not None and state.report else None
            yield record

    def to_records(self, *, report: bool = True) -> list[dict[str, Any]]:
        return list(self.iter_records(report=report))

    def to_pandas(self, *, report: bool = True) -> Any:
        """A `pandas.DataFrame` with one row per question, indexed by the question ids (pandas is optional)."""
        try:
            import pandas
        except ImportError:
            raise MissingDependencyError("batch.to_pandas() needs pandas: pip install pandas") from None
        return pandas.DataFrame.from_records(self.to_records(report=report), index="id")

    def save(self, path: str | Path, *, report: bool = True) -> Path:
        """Write the records as JSON Lines (`.jsonl`) or Parquet (`.parquet`, needs pyarrow); returns the path."""
        target = Path(path).expanduser()
        suffix = target.suffix.lower()
        if suffix == ".parquet":
            try:
                import pyarrow
                import pyarrow.parquet
            except ImportError:
                raise MissingDependencyError(
                    "saving Parquet needs pyarrow: pip install pyarrow (or save .jsonl)"
                ) from None
            pyarrow.parquet.write_table(pyarrow.Table.from_pylist(self.to_records(report=report)), target)
            return target
        if suffix not in (".jsonl", ".ndjson"):
            raise UserInputError(f"save a batch as .jsonl or .parquet, not {suffix or 'a file without a suffix'}")
        with target.open("w", encoding="utf-8") as out:
            for record in self.iter_records(report=report):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return target

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        factory = type(self).display_factory
        if factory is None:
            return {"text/plain": repr(self)}
        if self._display is None:
            self._display = factory(self)
        bundle: dict[str, Any] = self._display._repr_mimebundle_()
        bundle["text/plain"] = f"BatchRun({self.batch_id!r}, {len(self.items)} questions)"  # stable for nbval
        return bundle

    @property
    def widget(self) -> Any:
        """The live widget in a notebook (made on first use), else None."""
        factory = type(self).display_factory
        if self._display is None and factory is not None:
            self._display = factory(self)
        return getattr(self._display, "widget", None)

    def __repr__(self) -> str:
        p = self.progress()
        return (
            f"BatchRun({self.batch_id!r}, {p.total} questions, backend={self.backend.name!r}: {p.completed} done, "
            f"{p.failed} failed, {p.cancelled} cancelled, {p.remaining} remaining)"
        )


class BatchStates(Sequence[ResearchState | None]):
    """The batch's final states in input order, read from the run store when asked for (one at a time)."""

    def __init__(self, batch: BatchRun) -> None:
        self._batch = batch

    def __len__(self) -> int:
        return len(self._batch.items)

    @overload
    def __getitem__(self, index: int) -> ResearchState | None: ...
    @overload
    def __getitem__(self, index: slice) -> list[ResearchState | None]: ...
    def __getitem__(self, index: int | slice) -> ResearchState | list[ResearchState | None] | None:
        if isinstance(index, slice):
            return [self._batch.state(i) for i in range(len(self))[index]]
        return self._batch.state(range(len(self))[index])


def research_many(
    questions: Any,
    *,
    client: Any = None,
    max_concurrency: int | None = None,
    column: str | None = None,
    workflow: ResearchWorkflow | None = None,
    **options: Any,
) -> BatchRun:
    """Start researching every question and return the batch's handle at once (on the running loop).

    `questions`: a list of strings or `(id, question)` pairs, a pandas Series, or a DataFrame (`column=` names
    the column). `options` are those of one research (`sources=`, `engine=`, `max_search_results=`, ...).
    `client`: a `dask.distributed.Client` to run on its cluster; None runs in this process. `max_concurrency`:
    runs at once in-process (default 1 for the offline engine, else 4), or tasks in flight on the cluster
    (default four per worker thread).
    """
    _running_loop()  # before anything is written: a batch that cannot start leaves no manifest
    flow = workflow or default_workflow
    entries = batch_questions(questions, column=column)
    research_options = _options(options)
    engine = flow.engines.get(research_options.engine)  # an unknown engine or bad options fail before anything
    if isinstance(engine, ChecksOptions):
        engine.check_options(research_options)
    batch_id = new_batch_id()
    manifest = BatchManifest(
        batch_id=batch_id,
        options=research_options,
        entries=[BatchEntry(id=q.id, question=q.question, request_id=f"{batch_id}-{n}") for n, q in enumerate(entries)],
    )
    if flow.store is not None:
        save_manifest(manifest)
    return _launch(manifest, flow, client, max_concurrency, done={})


def resume_batch(
    batch_id: str, *, client: Any = None, max_concurrency: int | None = None, workflow: ResearchWorkflow | None = None
) -> BatchRun:
    """Continue a batch of an earlier kernel or process: runs only the questions whose run is not finished in the
    store (never started, interrupted or cancelled); completed and failed runs are kept as they are."""
    flow = workflow or default_workflow
    if flow.store is None:
        raise UserInputError("resuming a batch needs a run store (the workflow has none)")
    manifest = load_manifest(batch_id)
    stages = {run.request_id: run.stage for run in flow.store.scan().runs}
    done = {
        entry.request_id: stage
        for entry in manifest.entries
        if (stage := stages.get(entry.request_id)) in _REUSED_STAGES and stage is not None
    }
    return _launch(manifest, flow, client, max_concurrency, done=done)


def _launch(
    manifest: BatchManifest,
    flow: ResearchWorkflow,
    client: Any,
    max_concurrency: int | None,
    done: dict[str, ResearchStage],
) -> BatchRun:
    backend: Backend
    if client is None:
        default = 1 if manifest.options.engine in CPU_BOUND_ENGINES else DEFAULT_IN_PROCESS_CONCURRENCY
        backend = InProcessBackend(flow, max_concurrency or default)
    else:
        try:
            from research_nb.batch._dask import DaskBackend
        except ImportError:
            raise MissingDependencyError(
                "research_many(client=...) needs dask.distributed: pip install 'research-nb[dask]'"
            ) from None

        backend = DaskBackend(client, max_concurrency)
    items: list[BatchItem] = []
    jobs: list[Job] = []
    for position, entry in enumerate(manifest.entries):
        item = BatchItem(position=position, id=entry.id, question=entry.question, request_id=entry.request_id)
        items.append(item)
        if entry.request_id in done:
            item.status = "completed" if done[entry.request_id] is ResearchStage.COMPLETED else "failed"
            item.reused = True
            continue
        try:
            question = checked_question(entry.question)
        except ValueError as exc:  # a bad question fails alone, without a run; the others go on
            item.status, item.error = "failed", f"InvalidQueryError: {exc}"
            continue
        jobs.append(Job(request_id=entry.request_id, question=question, options=manifest.options))
    batch = BatchRun(manifest, items, backend, flow)
    batch._start(jobs)
    return batch


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise UserInputError(
            "a batch runs on a running event loop: call research_many in a notebook cell or in async code "
            "(in a script: asyncio.run(main()) with `await research_many(...)` inside)"
        ) from None


def _options(options: dict[str, Any]) -> ResearchOptions:
    unknown = sorted(set(options) - _OPTION_NAMES)
    if unknown:
        raise UserInputError(
            f"unknown option {', '.join(map(repr, unknown))}; known: {', '.join(sorted(_OPTION_NAMES))}"
        )
    try:
        parsed = ResearchOptions(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserInputError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    # Workers may start in another folder: relative sources are made absolute here, once, for every backend.
    sources = [s if Path(s).expanduser().is_absolute() else str(Path(s).absolute()) for s in parsed.sources]
    return parsed.model_copy(update={"sources": sources})


__all__ = ["BatchProgress", "BatchQuestion", "BatchRun", "BatchStates", "research_many", "resume_batch"]
