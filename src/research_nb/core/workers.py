"""A research worker process: engines run their CPU-heavy stages there, so the process that awaits them (a Jupyter
kernel, the HTTP server, a batch driver) keeps its interpreter, and its lock, for itself.

Why a process: Python threads share one interpreter lock, so index building or BM25 search in a thread of the
kernel slows every message the kernel handles (an execute round trip was 6.4x idle with five offline runs).

Why this mechanism: one dedicated child process, a fresh interpreter started with `subprocess` (``fork_exec``:
nothing of the parent runs in the child before ``exec``), spoken to over a socket pair with
`multiprocessing.connection.Connection` (length-prefixed pickles):
- *fork* (multiprocessing's default on Linux before 3.14) copies a process that runs threads (ipykernel's control
  and heartbeat threads, uvicorn's, ours) in whatever state their locks are: the child can deadlock on the first
  lock a thread held at the fork.
- multiprocessing's *spawn* starts a fresh interpreter too, but it re-runs the parent's ``__main__`` in the child:
  a user's script without an ``if __name__ == "__main__":`` guard starts its research again there and fails
  ("An attempt has been made to start a new process before the current process has finished its bootstrapping
  phase"). A command line of our own imports nothing of the user's. *forkserver* has the same ``__main__``
  preparation and leaves a second long-lived helper process to stop at shutdown.
- `concurrent.futures.ProcessPoolExecutor` runs one call per process at a time and has no channel back for events
  while the call runs nor a way to stop a running call; research needs both (log lines and sources found as they
  happen, Cancel within 50 ms), and a dead worker breaks the whole executor for good.
- One process serves every run of this process concurrently (its own event loop, CPU work in its threads), so a
  corpus opened for one run stays open for the next: warm runs stay warm, and on two cores one worker plus the
  awaiting process use the machine without fighting over it.

The protocol (pickled dataclasses over the pipe, the worker's sent in lists, one per burst of a stage's messages;
one reader thread on each side; states, results and passages inside them as JSON, `payloads.py` says why):
- parent -> worker: `Call` (build the engine from its `Recipe` once, run one stage on a copy of the state),
  `Cancel` (cancel that stage's task; its blocking threads stop at their next `check_stop()`), `Forget` and
  `Stop`. The worker keeps the state each stage leaves (for the last runs only: the parent sends `Forget` for
  older ones), so a run's next `Call` leaves out the fields the worker holds already (its passages, brief,
  findings): writing the whole state for each stage was the largest pickle the parent made.
- worker -> parent, in the order they happen: `Emitted` (an event: log line, source found, progress, indexing),
  `Recorded` (passages the stage added, so a run cancelled mid-stage keeps them for its partial report), then
  `Returned` (the stage's result and the state fields it changed: a delta, not the state, since the awaiting
  process already holds the rest, and the passages `Recorded` carried) or `Raised` (its exception).
The parent applies each message on the event loop of the run that awaits it, so events reach the run's bus in
order, and the state is written only from that loop.

Cancelling: the awaiting task ends at once (the parent does not wait for the worker), and `Cancel` tells the
worker to stop the stage. A worker that dies (killed, out of memory) ends every stage it was running with
`WorkerDiedError` (the run ends FAILED with that one line, resumable); the next call starts a new worker. The
worker exits by itself when its pipe closes: at `shutdown()`, and when the parent dies in any way (SIGTERM,
SIGKILL), since the kernel then closes the pipe's end. It ignores SIGINT: interrupting a kernel (a signal to its
process group) must not kill the worker; runs are cancelled through the pipe.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from research_nb.core.errors import RunFailure
from research_nb.core.events import ResearchEvent, WarningRaised
from research_nb.core.payloads import pack, unpack
from research_nb.core.protocols import StageContext
from research_nb.models.api_models import APIKeys
from research_nb.models.research import Passage, ResearchState, Source

logger = logging.getLogger(__name__)

#: The state fields a stage may fill in; the worker sends them back and the awaiting process adopts them. The
#: lifecycle fields (stage, times, error) belong to the workflow and are never taken from the worker.
STAGE_FIELDS = ("clarification", "brief", "sources", "passages", "findings", "report", "warnings", "metadata")
#: The stage fields a `Call` may leave out when the worker holds them: the awaiting process only ever replaces
#: them (or, for the lists, appends what the worker sent), never changes them in place, so the object it holds
#: (and, for a list, its length) tells whether the worker's copy is still the same. Warnings and metadata are
#: changed in place by the workflow (stage timings), and small: always sent.
KEPT_FIELDS = ("clarification", "brief", "sources", "passages", "findings", "report")

#: `RESEARCH_NB_WORKERS=off` runs every stage in the awaiting process (in threads), as before workers existed.
WORKERS_ENV = "RESEARCH_NB_WORKERS"
#: The worker's scheduling niceness: on a machine whose cores are all busy, the kernel (typing, widgets, Cancel)
#: gets the CPU before background research does. Research slows only while something else wants the cores.
WORKER_NICENESS = 10
_BATCH = 256  # messages handed to a loop in one callback (about: a batch from the worker is not split)
_KEPT_RUNS = 16  # runs whose last stage's state the worker keeps for their next stage
#: How long the worker holds a stage's events to send them in one batch: well under what a person sees as a delay
#: in the progress shown, and longer than a warm stage's bursts of events are apart.
_FLUSH_DELAY = 0.01
#: The kept fields that are lists (left out as [], their default); the others default to None and are left out so.
_LIST_FIELDS = frozenset(name for name in KEPT_FIELDS if ResearchState.model_fields[name].default_factory is list)
_STOP_WAIT = 1.0  # seconds a worker gets to exit by itself at shutdown before it is killed


class WorkerDiedError(RunFailure):
    """The worker process running a stage stopped (killed, out of memory) before the stage finished."""


@dataclass(frozen=True)
class Recipe:
    """How the worker builds an engine: `factory(*args)`, both picklable by reference (a module-level function
    or class and plain values). The worker builds each recipe once and keeps the engine, with its open corpora."""

    factory: Callable[..., Any]
    args: tuple[Hashable, ...] = ()


# -- the protocol -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    job: int
    recipe: Recipe
    method: str
    state: Any  # the `ResearchState`, packed, with the fields in `kept` left empty
    api_keys: APIKeys | None = None
    kept: tuple[str, ...] = ()  # fields to take from the state the run's last stage left in the worker


@dataclass(frozen=True)
class Forget:
    """Drop the state the run's last stage left (the parent no longer counts on it)."""

    request_id: str


@dataclass(frozen=True)
class Cancel:
    job: int


@dataclass(frozen=True)
class Prepare:
    """Build the engine from its `Recipe` and run `engine.method()` now, ahead of any run (nothing is sent back)."""

    recipe: Recipe
    method: str


@dataclass(frozen=True)
class Stop:
    """Exit now (what the worker also does when its pipe closes)."""


@dataclass(frozen=True)
class Emitted:
    job: int
    event: ResearchEvent


@dataclass(frozen=True)
class Recorded:
    job: int
    passages: Any  # list[Passage], packed
    sub_question_id: str | None
    sources: Any  # list[Source], packed


@dataclass(frozen=True)
class Returned:
    job: int
    result: Any  # packed
    fields: dict[str, Any]  # each value packed


@dataclass(frozen=True)
class Raised:
    job: int
    error: BaseException


_FromWorker = Emitted | Recorded | Returned | Raised


# -- the awaiting side --------------------------------------------------------------------------------------------


@dataclass
class _Job:
    """One stage running in the worker, and the run (loop, context) it reports to."""

    loop: asyncio.AbstractEventLoop
    ctx: StageContext
    future: asyncio.Future[Any]

    def deliver(self, message: _FromWorker) -> None:
        """Apply one message from the worker (on the run's loop, in the order the worker sent them)."""
        if self.future.done():
            return  # cancelled meanwhile: the run no longer listens
        if isinstance(message, Emitted):
            if isinstance(message.event, WarningRaised):
                self.ctx.warn(message.event.message)  # recorded on the state too, once per run
            else:
                self.ctx.emit(message.event)
        elif isinstance(message, Recorded):
            self.ctx.apply_passages(unpack(message.passages), message.sub_question_id, unpack(message.sources))
        elif isinstance(message, Returned):
            self.ctx.adopt({name: unpack(value) for name, value in message.fields.items()})
            self.future.set_result(unpack(message.result))
        else:
            self.future.set_exception(message.error)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


@dataclass
class _Process:
    """One worker process, its pipe, the thread that reads it and the one that writes what the pipe could not take
    at once."""

    process: subprocess.Popen[bytes]
    conn: Connection  # read by the reader thread
    sock: socket.socket  # the same pipe, written by `send` (and the writer thread); closed by the writer thread
    jobs: dict[int, _Job] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    outbox: queue.SimpleQueue[bytes | None] = field(default_factory=queue.SimpleQueue)
    queued: int = 0  # frames in `outbox` or being written by the writer thread (under `send_lock`)
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    alive: bool = True
    #: Per run, what the worker holds of its state since its last stage returned (the oldest first).
    kept: OrderedDict[str, _Kept] = field(default_factory=OrderedDict)

    def send(self, message: Call | Cancel | Forget | Prepare | Stop) -> None:
        """Pickled here (a snapshot of the state as it is now) and written at once if the pipe takes it whole
        without waiting, which it does unless the worker is busy reading an earlier message: the loop never waits
        for the pipe. What it does not take goes to the writer thread, and so does everything after it until that
        thread has written it all, to keep the order. Writing here spares the writer thread's wake-up (and its turn
        at the interpreter lock) for nearly every message: a stage's `Call`, `Cancel` within the cancel target."""
        frame = _frame(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
        with self.send_lock:
            if self.queued == 0:
                try:
                    sent = self.sock.send(frame, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    return  # the worker is gone; the reader sees its pipe close and fails its stages
                if sent == len(frame):
                    return
                frame = frame[sent:]
            self.queued += 1
            self.outbox.put(frame)

    def write(self) -> None:
        """The writer thread: write the frames `send` left to it, waiting for the pipe, until told to stop."""
        with self.sock:
            while (frame := self.outbox.get()) is not None:
                try:
                    self.sock.sendall(frame)
                except OSError:
                    return  # the worker is gone; the reader sees its pipe close and fails its stages
                with self.send_lock:
                    self.queued -= 1


def _frame(data: bytes) -> bytes:
    """`data` framed as `multiprocessing.connection.Connection.send_bytes` frames it, which the worker's
    `Connection.recv` reads: a 4-byte big-endian length, or -1 and an 8-byte length past 2 GiB."""
    if len(data) > 0x7FFFFFFF:
        return struct.pack("!iQ", -1, len(data)) + data
    return struct.pack("!i", len(data)) + data


class WorkerPool:
    """Runs engine stages in a worker process, started on first use and replaced when it dies. Thread-safe and
    free of loop-bound state: each call reports to the loop it was awaited on (the kernel's, pytest's, uvicorn's).
    """

    def __init__(self, *, enabled: bool | None = None) -> None:
        self._enabled = enabled
        self._lock = threading.Lock()
        self._current: _Process | None = None
        self._jobs = itertools.count(1)

    @property
    def enabled(self) -> bool:
        """Whether stages may run in a worker here: not when turned off (`RESEARCH_NB_WORKERS=off`), nor in a
        daemonic process (a Dask worker: it may not start children, and it is off the kernel already)."""
        if self._enabled is None:
            self._enabled = os.environ.get(WORKERS_ENV, "").strip().lower() not in {"0", "off", "false", "no"}
        return self._enabled and not multiprocessing.current_process().daemon

    @property
    def pid(self) -> int | None:
        """The running worker's process id, if one is running."""
        current = self._current
        return current.process.pid if current is not None and current.alive else None

    async def call(self, recipe: Recipe, method: str, ctx: StageContext) -> Any:
        """Run `engine.method(ctx)` in the worker (the engine built from `recipe` there) and return its result,
        after adopting the state fields it filled in. Cancelling the awaiting task cancels the stage in the worker.
        Raises what the stage raised, or `WorkerDiedError` when the worker stopped under it."""
        loop = asyncio.get_running_loop()
        job_id = next(self._jobs)
        worker = self._worker()
        job = _Job(loop, ctx, loop.create_future())
        with worker.lock:
            worker.jobs[job_id] = job
            if not worker.alive:  # it died since `_worker()` returned it, and its stages were failed already
                job.fail(WorkerDiedError("the research worker process stopped before it got this stage; try again"))
        rid = ctx.state.request_id
        try:
            with worker.lock:
                kept = worker.kept.pop(rid, None)  # the stage changes the worker's copy: only a return says how
            worker.send(_call(job_id, recipe, method, ctx, kept))
            result = await job.future
            self._keep(worker, rid, _Kept.of(ctx.state))
            return result
        except asyncio.CancelledError:
            if worker.alive:
                worker.send(Cancel(job_id))
            raise
        finally:
            with worker.lock:
                worker.jobs.pop(job_id, None)

    def _keep(self, worker: _Process, request_id: str, kept: _Kept) -> None:
        with worker.lock:
            worker.kept[request_id] = kept
            old = [worker.kept.popitem(last=False)[0] for _ in range(len(worker.kept) - _KEPT_RUNS)]
        for forgotten in old:
            worker.send(Forget(forgotten))

    def prepare(self, recipe: Recipe, method: str) -> None:
        """Start the worker now (if none runs) and have it run `engine.method()` for the engine of `recipe`: work
        done before the first run needs it (opening a corpus). Returns at once; what it does is not reported."""
        self._worker().send(Prepare(recipe, method))

    def shutdown(self, timeout: float = _STOP_WAIT) -> None:
        """Stop the worker (it exits when its pipe closes; killed after `timeout` s) and wait for it. Idempotent;
        a later call starts a new worker."""
        with self._lock:
            current, self._current = self._current, None
        if current is None:
            return
        current.alive = False
        current.send(Stop())
        current.outbox.put(None)
        try:
            current.process.wait(timeout)
        except subprocess.TimeoutExpired:
            current.process.kill()
            current.process.wait(timeout)
        with current.lock:
            jobs = list(current.jobs.values())
        for job in jobs:
            _post(job, job.fail, WorkerDiedError("the research worker was stopped (shutdown)"))

    # -- internals ----------------------------------------------------------------------------------------------

    def _worker(self) -> _Process:
        with self._lock:
            if self._current is None or not self._current.alive:
                self._current = self._start()
            return self._current

    def _start(self) -> _Process:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            process = subprocess.Popen(
                [sys.executable, "-c", f"from research_nb.core.workers import serve; serve({theirs.fileno()})"],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
            # The child's copy of its end is the only one left: its death closes the pipe for our reader.
            worker = _Process(process, Connection(os.dup(ours.fileno())), ours.dup())
        atexit.unregister(self.shutdown)  # once: a script or CLI that ends stops its worker (which would also go on
        atexit.register(self.shutdown)  # its pipe's EOF, a moment later)
        threading.Thread(target=self._read, args=(worker,), name="research-nb-worker-reader", daemon=True).start()
        threading.Thread(target=worker.write, name="research-nb-worker-writer", daemon=True).start()
        logger.info("research worker started (pid %s)", process.pid)
        return worker

    def _read(self, worker: _Process) -> None:
        """Hand what the worker sends to the runs' loops: whatever has arrived, in one callback per loop (one
        wake-up of the loop for a burst of events, not one per event)."""
        while True:
            try:
                batch: list[_FromWorker] = worker.conn.recv()
                while len(batch) < _BATCH and worker.conn.poll():
                    batch.extend(worker.conn.recv())
            except (EOFError, OSError):
                break
            per_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, _FromWorker]]] = {}
            with worker.lock:
                for message in batch:
                    job = worker.jobs.get(message.job)
                    if job is not None:
                        per_loop.setdefault(job.loop, []).append((job, message))
            for loop, deliveries in per_loop.items():
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits those stages
                    loop.call_soon_threadsafe(_deliver, deliveries)
        self._died(worker)
        worker.outbox.put(None)
        worker.conn.close()

    def _died(self, worker: _Process) -> None:
        """The worker's pipe closed: fail what it was running; the next call starts a new one."""
        if not worker.alive:
            return  # stopped on purpose (shutdown), or already handled
        worker.alive = False
        try:
            code: int | None = worker.process.wait(_STOP_WAIT)
        except subprocess.TimeoutExpired:
            code = None
        how = _exit_description(code)
        logger.warning("research worker (pid %s) stopped: %s", worker.process.pid, how)
        error = WorkerDiedError(
            f"the research worker process (pid {worker.process.pid}) {how} during this stage; "
            "resume the run to try again"
        )
        with worker.lock:
            jobs = list(worker.jobs.values())
        for job in jobs:
            _post(job, job.fail, error)


@dataclass(frozen=True)
class _Kept:
    """The awaiting process's objects for a run's `KEPT_FIELDS` when its last stage returned, which the worker's copy
    equals (and each list's length then)."""

    values: tuple[object, ...]
    lengths: tuple[int | None, ...]

    @classmethod
    def of(cls, state: ResearchState) -> _Kept:
        values = tuple(getattr(state, name) for name in KEPT_FIELDS)
        return cls(values, tuple(len(v) if isinstance(v, list) else None for v in values))

    def still(self, state: ResearchState) -> tuple[str, ...]:
        """The fields of `state` that are still what the worker holds."""
        return tuple(
            name
            for name, value, length in zip(KEPT_FIELDS, self.values, self.lengths, strict=True)
            if getattr(state, name) is value and (length is None or len(value) == length)
        )


def _call(job: int, recipe: Recipe, method: str, ctx: StageContext, kept: _Kept | None) -> Call:
    """The stage's `Call`: the state without the fields the worker holds already (they are left empty)."""
    state = ctx.state
    still = kept.still(state) if kept is not None else ()
    if still:
        state = state.model_copy(update={name: [] if name in _LIST_FIELDS else None for name in still})
    return Call(job, recipe, method, pack(state), ctx.api_keys, still)


def _deliver(deliveries: list[tuple[_Job, _FromWorker]]) -> None:
    for job, message in deliveries:
        job.deliver(message)


def _post(job: _Job, fn: Callable[..., None], *args: object) -> None:
    with contextlib.suppress(RuntimeError):  # the run's loop is closed: nobody awaits the stage any more
        job.loop.call_soon_threadsafe(fn, *args)


def _exit_description(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


# -- the worker side ----------------------------------------------------------------------------------------------


class _ForwardingBus:
    """The worker's stand-in for the run's event bus: every event goes to the awaiting process, in order."""

    def __init__(self, server: _Server, job: int) -> None:
        self._server, self._job = server, job

    def emit(self, event: ResearchEvent) -> ResearchEvent:
        self._server.send(Emitted(self._job, event))
        return event


class _WorkerContext(StageContext):
    """A stage's context in the worker: events go to the awaiting process, and so do the passages recorded, ahead
    of their `SourceFound` events (as in one process, a source's passages are in the state before it is announced).
    """

    def __init__(self, server: _Server, job: int, state: ResearchState, api_keys: APIKeys | None) -> None:
        super().__init__(state, _ForwardingBus(server, job), api_keys)
        self._server, self._job = server, job
        self._held: list[ResearchEvent] | None = None
        # Each stage field as the awaiting process has it now (pickled): `changed_fields` sends back only what
        # differs, not the whole state (unpickling a run's passages took the kernel about a millisecond a stage).
        self._synced = {name: _fingerprint(getattr(state, name)) for name in STAGE_FIELDS}

    def changed_fields(self) -> dict[str, Any]:
        """The stage fields that differ from what the awaiting process holds: those it must adopt."""
        fields = {name: getattr(self.state, name) for name in STAGE_FIELDS}
        return {name: value for name, value in fields.items() if _fingerprint(value) != self._synced[name]}

    def emit(self, event: ResearchEvent) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            super().emit(event)

    def add_passages(
        self, passages: Iterable[Passage], sub_question_id: str | None = None, sources: Iterable[Source] = ()
    ) -> list[Passage]:
        passages, sources = list(passages), list(sources)
        self._held = []
        try:
            new = super().add_passages(passages, sub_question_id, sources)
        finally:
            held, self._held = self._held, None
        # The passages as this state now holds them (a new one carries `sub_question_id` already), so the awaiting
        # process adds them as they are instead of copying each one again to add the id.
        held_now = {p.id: p for p in new}
        recorded = [held_now.get(p.id, p) for p in passages]
        self._server.send(Recorded(self._job, pack(recorded), sub_question_id, pack(sources)))
        # The awaiting process applies `Recorded` as `add_passages` did here: both fields are in step again.
        for name in ("passages", "sources"):
            self._synced[name] = _fingerprint(getattr(self.state, name))
        for event in held:
            super().emit(event)
        return new


class _Server:
    """The worker process: runs the stages it is sent as tasks on its own loop, until its pipe closes."""

    def __init__(self, conn: Connection, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self._loop = loop
        self._send_lock = threading.Lock()
        self._outgoing: list[_FromWorker] = []
        self._engines: dict[Recipe, Any] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._kept: dict[str, ResearchState] = {}  # per run, the state its last stage left (`Call.kept`)
        self._prepared: set[asyncio.Task[None]] = set()

    def send(self, message: _FromWorker) -> None:
        """From the loop or from a stage's blocking thread (progress of a corpus being indexed). Messages go out
        in batches, one pipe message (a list) for what a stage said within `_FLUSH_DELAY` of the first of them, or
        up to its end: the awaiting process then wakes its reader thread, and its loop, and takes its interpreter
        lock, once for a stage's burst of events rather than once per event or per turn of this loop. A stage's
        answer (`Returned`, `Raised`) goes at once, with what was said before it."""
        with self._send_lock:
            self._outgoing.append(message)
            first = len(self._outgoing) == 1
        if isinstance(message, Returned | Raised):
            self._loop.call_soon_threadsafe(self._flush)
        elif first:  # else a flush is scheduled already and will take this one too, in order
            self._loop.call_soon_threadsafe(self._loop.call_later, _FLUSH_DELAY, self._flush)

    def _flush(self) -> None:
        with self._send_lock:
            batch, self._outgoing = self._outgoing, []
            if not batch:
                return  # an answer's flush took them already
            try:
                self._conn.send(batch)  # pickled whole before anything is written
            except OSError:
                raise
            except Exception:
                # A message that cannot be pickled (a stage's result, say) fails its stage, as it did when each
                # message was sent alone; the rest of the batch still goes out, in order.
                self._conn.send([_sendable(message) for message in batch])

    def read(self) -> None:
        """The reader thread: hand each message to the loop; exit the process when the pipe closes."""
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the awaiting process is gone: nothing here must outlive it
            if isinstance(message, Stop):
                os._exit(0)  # no stage keeps anything worth finishing: the index cache is written atomically
            self._loop.call_soon_threadsafe(self._handle, message)

    def _handle(self, message: Call | Cancel | Forget | Prepare) -> None:
        if isinstance(message, Forget):
            self._kept.pop(message.request_id, None)
            return
        if isinstance(message, Cancel):
            task = self._tasks.get(message.job)
            if task is not None:
                task.cancel()
            return
        if isinstance(message, Prepare):
            task = self._loop.create_task(self._prepare(message))
            self._prepared.add(task)  # a strong reference while it runs
            task.add_done_callback(self._prepared.discard)
            return
        try:
            state = self._state_for(message)  # now, in the order the calls came: a later one keeps this state
        except Exception as exc:
            self.send(Raised(message.job, _picklable(exc)))
            return
        self._tasks[message.job] = self._loop.create_task(self._run(message, state))

    def _engine(self, recipe: Recipe) -> Any:
        engine = self._engines.get(recipe)
        if engine is None:
            engine = self._engines[recipe] = recipe.factory(*recipe.args)
        return engine

    async def _prepare(self, prepare: Prepare) -> None:
        try:
            await getattr(self._engine(prepare.recipe), prepare.method)()
        except Exception:  # a run that needs what failed here meets the failure itself, and reports it
            logger.exception("preparing %s failed", prepare.method)

    def _state_for(self, call: Call) -> ResearchState:
        """The state the call's stage runs on: what it carries, with the kept fields taken from what the run's
        last stage left here. Whatever was kept for the run goes: this stage changes it."""
        state: ResearchState = unpack(call.state)
        kept = self._kept.pop(state.request_id, None)
        if call.kept:
            if kept is None:
                raise RuntimeError(f"the worker holds no state of run {state.request_id} to take {call.kept} from")
            state = state.model_copy(update={name: getattr(kept, name) for name in call.kept})
        return state

    async def _run(self, call: Call, state: ResearchState) -> None:
        try:
            engine = self._engine(call.recipe)
            ctx = _WorkerContext(self, call.job, state, call.api_keys)
            result = await getattr(engine, call.method)(ctx)
            changed = {name: pack(value) for name, value in ctx.changed_fields().items()}
            self._kept[state.request_id] = ctx.state
            self.send(Returned(call.job, pack(result), changed))
        except asyncio.CancelledError:
            pass  # the awaiting side has moved on; it expects no answer
        except Exception as exc:
            self.send(Raised(call.job, _picklable(exc)))
        finally:
            self._tasks.pop(call.job, None)


def _sendable(message: _FromWorker) -> _FromWorker:
    """The message, or its stage's failure when it cannot be pickled."""
    try:
        pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return Raised(message.job, _picklable(exc))
    return message


def _fingerprint(value: object) -> bytes:
    """A field's content as bytes: equal bytes, equal content (a false difference only costs a field resent)."""
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _picklable(exc: Exception) -> BaseException:
    """The exception itself when it survives pickling (its type and message are what the run reports)."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RunFailure(f"{type(exc).__name__}: {exc}")
    return exc


def serve(fd: int) -> None:
    """The worker process's entry point: `fd` is its end of the socket pair to the awaiting process."""
    conn = Connection(fd)
    os.nice(WORKER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a kernel interrupt reaches its process group; runs stop by Cancel

    async def main() -> None:
        server = _Server(conn, asyncio.get_running_loop())
        threading.Thread(target=server.read, name="research-nb-worker-pipe", daemon=True).start()
        await asyncio.Event().wait()  # until the reader exits the process

    asyncio.run(main())


#: The process's worker, shared by every run (the kernel's, the HTTP server's, a batch's).
workers = WorkerPool()
