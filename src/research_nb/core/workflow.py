"""The research workflow: drives an engine through clarify -> brief -> research -> compress -> report.

Guarantees every front relies on:
- every stage is cancellable; a cancelled run ends CANCELLED, keeps a partial report built from what was
  gathered, and emits `RunFinished` before the `CancelledError` propagates;
- an engine error ends the run FAILED with a clear message (`run` returns, it does not raise); invalid
  arguments raise `UserInputError` subclasses before anything starts;
- a run paused for clarifying questions returns its state; `answer_clarification` then `resume_research`
  continue it. A run stopped after a stage (cancelled, failed, or loaded from a store) resumes at its next stage;
- with a store, a run is saved from the moment it is accepted (PENDING), after every stage that leaves more than
  `max_unsaved_seconds` of work unsaved, and when it stops, pauses or completes; the process
  driving it holds its lease (`leases.py`) until it stops or pauses. A stored run that is not finished and whose
  lease no live process holds was left by a process that died: it is marked interrupted and can be resumed. A
  run another live process drives is shown as it was last saved and never resumed here
  (`RunOwnedElsewhereError`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from research_nb.core.errors import (
    ClarificationError,
    CorruptRunError,
    InvalidQueryError,
    InvalidStateError,
    RunOwnedElsewhereError,
    UnknownRequestError,
    UserInputError,
)
from research_nb.core.events import (
    ClarificationRequested,
    ErrorRaised,
    ResearchEvent,
    ResearchEventBus,
    RunFinished,
    RunPaused,
    RunStarted,
    StageFinished,
    StageStarted,
    Subscription,
    WarningRaised,
)
from research_nb.core.leases import RunLease
from research_nb.core.protocols import ChecksOptions, Engine, StageContext
from research_nb.core.registry import EngineRegistry
from research_nb.core.store import RunStore
from research_nb.models.api_models import APIKeys
from research_nb.models.clarification import ClarificationResponse
from research_nb.models.research import PIPELINE, ResearchOptions, ResearchStage, ResearchState, checked_question

logger = logging.getLogger(__name__)

StreamCallback = Callable[[ResearchEvent], Any]

DEFAULT_CANCEL_REASON = "Cancelled by user"
#: How long a stop's save waits for a save still being written (a disk that hangs must not hold the loop long).
_PENDING_SAVE_WAIT = 2.0
#: The most stage time a run may hold unsaved. A save costs the awaiting process about a millisecond of its
#: interpreter (the state's JSON on the loop, a thread to write it, the file system's work): for a run whose
#: stages take milliseconds (the offline engine's, warm) that was about a quarter of all the kernel did for it,
#: while redoing such stages after a crash costs less than the wait for a kernel to restart. So a quick stage's
#: save waits for a later stage's, and a kill loses at most this much completed work; a stage of an LLM or web
#: engine (seconds) is saved the moment it completes, as is every run that stops, pauses or completes.
MAX_UNSAVED_SECONDS = 0.5
#: The threads that write checkpoints: our own, so runs' saves neither wait behind nor hold up the user's own
#: `asyncio.to_thread` work in the default executor.
_SAVES = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="research-nb-save")
INTERRUPTED_REASON = "Interrupted: the process running it stopped; resume it to continue"


class ResearchWorkflow:
    """Runs research. Holds no event-loop-bound state, so one instance serves the kernel, pytest and uvicorn."""

    def __init__(
        self,
        *,
        bus: ResearchEventBus | None = None,
        engines: EngineRegistry | None = None,
        store: RunStore | None = None,
        max_finished_states: int = 50,
        max_unsaved_seconds: float = MAX_UNSAVED_SECONDS,
    ) -> None:
        """`store` keeps every run on disk (None: runs live in memory only). Finished states beyond the last
        `max_finished_states` are dropped from memory; with a store they are read back from it on demand.
        `max_unsaved_seconds`: the stage time a run may hold unsaved (0: save after every stage)."""
        self.events = bus or ResearchEventBus()
        self.engines = engines or EngineRegistry()
        self.store = store
        self.max_unsaved_seconds = max_unsaved_seconds
        self._states: OrderedDict[str, ResearchState] = OrderedDict()
        self._max_finished_states = max_finished_states
        self._leases: dict[str, RunLease] = {}  # runs this workflow drives or has accepted
        self._unchecked: set[str] = set()  # prepared with defer_checks, not started yet
        self._writing: dict[str, concurrent.futures.Future[Path]] = {}  # a run's save in `_SAVES`, while it writes

    # -- starting -----------------------------------------------------------------------------------------

    def prepare(
        self,
        user_query: str,
        *,
        options: ResearchOptions | None = None,
        request_id: str | None = None,
        conversation_history: list[dict[str, str]] | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        defer_checks: bool = False,
    ) -> ResearchState:
        """Validate a question and create its PENDING state, visible through `get_state` at once and saved in
        the store (under this process's lease), so a process killed at any later point leaves a resumable run.

        Fronts call this before handing `resume_research(state)` to the task manager, so that a run has a
        readable state from the moment its id is known. With `defer_checks`, only the engine's name is checked
        here; loading the engine and its option checks (which may read the disk) are the run's first step, off
        the event loop, and a failed check ends the run FAILED with that one line.
        """
        query = _checked_query(user_query)
        options = options or ResearchOptions()
        if defer_checks:
            self.engines.require_known(options.engine)
        else:
            _checked_engine(self.engines, options)
        fields: dict[str, Any] = {"request_id": request_id} if request_id else {}
        state = ResearchState(
            user_query=query,
            options=options,
            conversation_history=conversation_history or [],
            user_id=user_id,
            session_id=session_id,
            **fields,
        )
        self.claim(state)
        if defer_checks:
            self._unchecked.add(state.request_id)
        self._remember(state)
        self._checkpoint(state)
        return state

    async def run(
        self,
        user_query: str,
        api_keys: APIKeys | None = None,
        conversation_history: list[dict[str, str]] | None = None,
        request_id: str | None = None,
        stream_callback: StreamCallback | bool | None = None,
        *,
        options: ResearchOptions | None = None,
    ) -> ResearchState:
        """Research `user_query` from the start and return the final (or paused) state."""
        state = self.prepare(
            user_query, options=options, request_id=request_id, conversation_history=conversation_history
        )
        return await self.resume_research(state, api_keys=api_keys, stream_callback=stream_callback)

    async def resume_research(
        self,
        state: ResearchState,
        api_keys: APIKeys | None = None,
        stream_callback: StreamCallback | bool | None = None,
    ) -> ResearchState:
        """Run `state` from its next stage: a new run, one answered after a clarification pause, or one that
        stopped (cancelled, failed) after some stages. `stream_callback`, when callable, gets every event of
        this leg of the run in order (sync or async; it runs beside the research and cannot slow it)."""
        if state.current_stage is ResearchStage.COMPLETED:
            raise InvalidStateError(f"run {state.request_id} is already completed; start a new one")
        if state.awaiting_clarification:
            raise InvalidStateError(
                f"run {state.request_id} is waiting for answers to its clarifying questions: "
                "call answer_clarification(...) first (or answer_clarification(id, None) to skip)"
            )
        self.claim(state)
        check = state.request_id in self._unchecked
        self._unchecked.discard(state.request_id)
        resumed = state.started_at is not None
        if state.is_finished or resumed:
            state.reopen()
        state.start_research()
        self._remember(state)

        pump = _CallbackPump.start(self.events, state.request_id, stream_callback)
        try:
            return await self._drive(state, StageContext(state, self.events, api_keys), resumed, check)
        finally:
            if pump is not None:
                await pump.finish()

    def answer_clarification(self, request_id: str, response: ClarificationResponse | None) -> ResearchState:
        """Record answers to a paused run's questions (None skips them). Raises `ClarificationError` listing
        every problem when the answers do not fit; then `resume_research(state)` continues the run."""
        state = self.require_state(request_id)
        if not state.awaiting_clarification or state.clarification is None:
            raise InvalidStateError(f"run {request_id} is not waiting for clarification")
        if response is None:
            response = ClarificationResponse(request_id=state.clarification.id, answers=[])
            problems = [p for p in state.clarification.problems_with(response) if "is required" not in p]
        else:
            problems = state.clarification.problems_with(response)
        if problems:
            raise ClarificationError("the answers do not fit the questions: " + "; ".join(problems), problems)
        self.claim(state)  # the answered run is this process's to drive
        state.clarification_response = response
        return state

    def claim(self, state: ResearchState) -> None:
        """Take the run's lease for this process (kept until the run stops or pauses; idempotent). Raises
        `RunOwnedElsewhereError` (one line, names the process) while another live process drives the run. Fronts
        call it before handing a resumed run to a task, so the refusal reaches the user, not the task."""
        if self.store is None or self._leases.get(state.request_id) is not None:
            return
        lease = self.store.try_lease(state.request_id)
        if lease is None:
            holder = self.store.holder(state.request_id)
            raise RunOwnedElsewhereError(
                f"run {state.request_id} is being run by {holder.describe() if holder else 'another process'}; "
                "follow it there, or resume it here once it stopped"
            )
        if self._changed_elsewhere(state):
            lease.release()
            self._states.pop(state.request_id, None)  # the next get_state reads the newer one
            raise InvalidStateError(
                f"run {state.request_id} changed in another process since it was read here; open it again"
            )
        self._leases[state.request_id] = lease

    def driven_elsewhere(self, request_id: str) -> bool:
        """Whether another live process (or another workflow) drives the run now."""
        return self.store is not None and request_id not in self._leases and self.store.holder(request_id) is not None

    def _changed_elsewhere(self, state: ResearchState) -> bool:
        """Whether the store holds a newer save of the run than `state` (another process went on with it)."""
        assert self.store is not None
        try:
            stored = self.store.find(state.request_id)
        except CorruptRunError:
            return False  # nothing newer can be read: this state will replace the damaged file
        return stored is not None and stored.updated_at > state.updated_at

    def cancel_idle(self, request_id: str, reason: str = DEFAULT_CANCEL_REASON) -> bool:
        """End a run that has no task driving it: paused for clarifying questions, or cancelled before its
        task took its first step. It ends CANCELLED with its final event (so streams close). False when the run
        had already finished. Never call this while a task is driving the run: cancel the task instead."""
        state = self.require_state(request_id)
        if state.is_finished:
            return False
        if self.driven_elsewhere(request_id):  # a snapshot of another process's live run: never overwrite it
            raise RunOwnedElsewhereError(f"run {request_id} is being run by another process; cancel it there")
        state.cancel(reason)
        self._finished(state)
        return True

    # -- reading ------------------------------------------------------------------------------------------

    def get_state(self, request_id: str) -> ResearchState | None:
        """The run's state: in memory, else from the store (a run of an earlier kernel or process). Raises
        `CorruptRunError` when the stored file is damaged (one line: which file, why)."""
        state = self._states.get(request_id)
        if state is not None or self.store is None:
            return state
        state = self.store.find(request_id)
        if state is None or state.is_finished or state.awaiting_clarification:
            if state is not None:
                self._remember(state)
            return state
        lease = self.store.try_lease(request_id)
        if lease is None:
            return state  # a live process drives it: a snapshot as last saved, read again on each call
        try:
            # Saved mid-run by a process that is gone (a killed kernel): nothing drives it any more. Read it again
            # under its lease (its owner may have finished it meanwhile), say so, and keep it resumable from its
            # last completed stage.
            state = self.store.load(request_id)
            if not state.is_finished and not state.awaiting_clarification:
                state.cancel(INTERRUPTED_REASON)
                self._checkpoint(state)
        finally:
            lease.release()
        self._remember(state)
        return state

    def require_state(self, request_id: str) -> ResearchState:
        state = self.get_state(request_id)
        if state is None:
            raise UnknownRequestError(f"no research run with id {request_id!r}")
        return state

    def list_states(self) -> list[ResearchState]:
        return list(self._states.values())

    # -- driving ------------------------------------------------------------------------------------------

    async def _drive(self, state: ResearchState, ctx: StageContext, resumed: bool, check: bool) -> ResearchState:
        rid = state.request_id
        self.events.emit(
            RunStarted(request_id=rid, query=state.user_query, engine=state.options.engine, resumed=resumed)
        )
        stage = state.current_stage
        engine: Engine | None = None
        try:
            # Off the loop: importing an engine can take seconds, and its checks may walk the user's folders.
            engine = await asyncio.to_thread(_checked_engine if check else _engine, self.engines, state.options)
            unsaved = 0.0  # seconds of completed stages not on disk yet
            for stage in PIPELINE:
                if stage in state.completed_stages:
                    continue
                state.enter_stage(stage)
                self.events.emit(StageStarted(request_id=rid, stage=stage))
                began = time.perf_counter()
                summary = await _run_stage(stage, engine, ctx)
                took = time.perf_counter() - began
                _add_stage_seconds(state, stage, took)
                if state.awaiting_clarification and state.clarification is not None:
                    self.events.emit(ClarificationRequested(request_id=rid, clarification=state.clarification))
                    self._checkpoint(state)
                    self._release(rid)  # nothing drives a paused run; whoever gets the answers takes it on
                    self.events.emit(RunPaused(request_id=rid, stage=stage))
                    return state
                state.finish_stage(stage)
                if stage is PIPELINE[-1]:
                    # The last stage's save is the finished run's: one save, not one for the stage and one more
                    # an instant later for the completion. A Cancel landing here cancels the run, report and all.
                    state.complete()
                unsaved += took
                if state.is_finished or unsaved >= self.max_unsaved_seconds:
                    await self._checkpoint_off_loop(state)
                    unsaved = 0.0
                self.events.emit(StageFinished(request_id=rid, stage=stage, summary=summary))
            if not state.is_finished:  # every stage had completed already (a resumed run stopped after its last)
                state.complete()
                await self._checkpoint_off_loop(state)
            self._finished(state, saved=True)
            return state
        except asyncio.CancelledError as exc:
            reason = str(exc.args[0]) if exc.args and exc.args[0] else DEFAULT_CANCEL_REASON
            self._stop(state, engine, stage, cancel_reason=reason)
            raise
        except Exception as exc:
            if engine is None and isinstance(exc, UserInputError):  # the options cannot work: the check's one line
                message = _redact(str(exc), ctx.api_keys)
            else:
                detail = _redact(f"{type(exc).__name__}: {exc}", ctx.api_keys)
                message = f"the {stage.value.replace('_', ' ')} stage failed: {detail}"
            logger.warning("research %s failed: %s", rid, message)
            self.events.emit(ErrorRaised(request_id=rid, stage=stage, message=message, error_type=type(exc).__name__))
            self._stop(state, engine, stage, error=message)
            return state

    def _stop(
        self,
        state: ResearchState,
        engine: Engine | None,
        stage: ResearchStage,
        *,
        cancel_reason: str | None = None,
        error: str | None = None,
    ) -> None:
        """End a run that did not complete, keeping a partial report of what it gathered."""
        if state.report is None and engine is not None:
            try:
                state.report = engine.partial_report(state)
            except Exception as exc:  # a broken partial report must not hide why the run stopped
                logger.warning("partial report for %s failed: %s", state.request_id, exc)
        if cancel_reason is not None:
            state.cancel(cancel_reason)
        else:
            state.set_error(error or "the run failed")
        self.events.emit(
            StageFinished(request_id=state.request_id, stage=stage, success=False, summary=cancel_reason or "")
        )
        self._finished(state)

    def _checkpoint(self, state: ResearchState) -> None:
        """Save the state when accepted, after a completed stage and at every stop. A full or read-only disk must
        not fail the research: the run goes on in memory and says so, once per run and cause."""
        if self.store is None:
            return
        pending = self._writing.pop(state.request_id, None)
        if pending is not None:
            # A save the run's task stopped waiting for (it was cancelled) may still be writing: it must land
            # first, or the older state it holds would replace this one on disk.
            concurrent.futures.wait([pending], timeout=_PENDING_SAVE_WAIT)
        try:
            self.store.save(state)
        except OSError as exc:
            self._unsaved(state, exc)

    async def _checkpoint_off_loop(self, state: ResearchState) -> None:
        """`_checkpoint` after a completed stage, its file I/O in a thread: several runs' saves would otherwise
        hold the loop (and a notebook's kernel) for milliseconds each. The run waits for it, so its next stage
        starts only once the stage before is on disk, as with `_checkpoint`."""
        if self.store is None:
            return
        # On the loop: the state as it is now, not as a later stage leaves it. Interim unless this save ends the run.
        snapshot = self.store.snapshot(state, interim=not state.is_finished)
        rid = state.request_id
        writing = self._writing[rid] = _SAVES.submit(self.store.write, snapshot)
        try:
            await asyncio.wrap_future(writing)
        except OSError as exc:
            self._unsaved(state, exc)
        if self._writing.get(rid) is writing:  # not when cancelled: then the stop's save waits for it
            del self._writing[rid]

    def _unsaved(self, state: ResearchState, exc: OSError) -> None:
        assert self.store is not None
        # The cause without the file name: that is a random temporary name, different at every save.
        cause = exc.strerror or type(exc).__name__
        message = f"could not save run {state.request_id} to {self.store.directory}: {cause}"
        if message not in state.warnings:
            state.warnings.append(message)
            self.events.emit(WarningRaised(request_id=state.request_id, message=message))

    def _release(self, request_id: str) -> None:
        lease = self._leases.pop(request_id, None)
        if lease is not None:
            lease.release()

    def _finished(self, state: ResearchState, *, saved: bool = False) -> None:
        """Save a run that stopped (unless `saved` already), release it and say so: `RunFinished` comes last."""
        if not saved:
            self._checkpoint(state)
        self._release(state.request_id)
        status = state.current_stage
        self.events.emit(
            RunFinished(
                request_id=state.request_id,
                status=status.value,
                stage=status,
                error=state.error_message or state.cancel_reason,
                has_report=state.report is not None,
                duration=state.duration_seconds(),
            )
        )
        self._forget_old()

    def _remember(self, state: ResearchState) -> None:
        self._states[state.request_id] = state
        self._states.move_to_end(state.request_id)
        if state.is_finished:  # only a finished run can take the count of finished ones past the limit
            self._forget_old()

    def _forget_old(self) -> None:
        finished = [rid for rid, s in self._states.items() if s.is_finished]
        for rid in finished[: max(0, len(finished) - self._max_finished_states)]:
            del self._states[rid]


async def _run_stage(stage: ResearchStage, engine: Engine, ctx: StageContext) -> str:
    """Run one stage, store its result on the state, and describe it in a few words."""
    state = ctx.state
    if stage is ResearchStage.CLARIFICATION:
        if state.clarification_response is not None:
            return "answers received"
        if not state.options.clarify:
            return "skipped"
        state.clarification = await engine.clarify(ctx)
        return "no questions" if state.clarification is None else "questions asked"
    if stage is ResearchStage.BRIEF_GENERATION:
        state.brief = await engine.brief(ctx)
        return f"{len(state.brief.sub_questions)} sub-questions"
    if stage is ResearchStage.RESEARCH_EXECUTION:
        await engine.research(ctx)
        return f"{len(state.passages)} passages from {len(state.sources)} sources"
    if stage is ResearchStage.COMPRESSION:
        state.findings = await engine.compress(ctx)
        return f"{len(state.findings)} findings"
    state.report = await engine.report(ctx)
    return f"{len(state.report.references)} sources cited"


def _engine(engines: EngineRegistry, options: ResearchOptions) -> Engine:
    return engines.get(options.engine)


def _checked_engine(engines: EngineRegistry, options: ResearchOptions) -> Engine:
    """The engine, after its checks of `options` (they raise a `UserInputError` naming the fix)."""
    engine = engines.get(options.engine)
    if isinstance(engine, ChecksOptions):
        engine.check_options(options)
    return engine


def _checked_query(user_query: object) -> str:
    if not isinstance(user_query, str):
        raise InvalidQueryError(f"the research question must be text, not {type(user_query).__name__}")
    try:
        return checked_question(user_query)
    except ValueError as exc:
        raise InvalidQueryError(str(exc)) from None


def _redact(text: str, api_keys: APIKeys | None) -> str:
    return api_keys.redact(text) if api_keys is not None else text


class _CallbackPump:
    """Feeds a run's events to a user callback from its own task, so a slow callback never slows the run."""

    def __init__(self, subscription: Subscription, callback: StreamCallback) -> None:
        self._subscription = subscription
        self._callback = callback
        self._task = asyncio.get_running_loop().create_task(self._pump(), name="research-stream-callback")

    @classmethod
    def start(
        cls, bus: ResearchEventBus, request_id: str, callback: StreamCallback | bool | None
    ) -> _CallbackPump | None:
        if not callable(callback):
            return None  # True/False/None only say whether a front streams; the bus always carries the events
        return cls(bus.subscribe(request_id, replay=False), callback)

    async def _pump(self) -> None:
        async for event in self._subscription:
            try:
                result = self._callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("stream callback failed; it will get no more events")
                self._subscription.close()
                return

    async def finish(self, timeout: float = 1.0) -> None:
        """Deliver what is queued (bounded by `timeout`), then stop."""
        self._subscription.close()
        done, _ = await asyncio.wait([self._task], timeout=timeout)
        if not done:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


workflow = ResearchWorkflow(store=RunStore())


def _add_stage_seconds(state: ResearchState, stage: ResearchStage, seconds: float) -> None:
    """How long each stage took (summed over the legs of a resumed run), for the exports' provenance."""
    timings = state.metadata.get("stage_seconds")
    timings = dict(timings) if isinstance(timings, dict) else {}
    previous = timings.get(stage.value)
    timings[stage.value] = round((previous if isinstance(previous, float | int) else 0) + seconds, 4)
    state.metadata["stage_seconds"] = timings
