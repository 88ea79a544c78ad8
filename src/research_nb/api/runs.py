"""Starting, resuming and cancelling runs for the HTTP front: requests in, core singletons out.

Every run, including one resumed after its clarifying questions, is a task of the `task_manager`, driven by the
`workflow`; the HTTP front keeps nothing of its own but the API keys of runs paused for answers (in memory only,
so the resumed run can use them; they are never written anywhere).
"""

from __future__ import annotations

import asyncio

from pydantic import JsonValue

from research_nb.api.wire import wire_report
from research_nb.core.errors import CorruptRunError, UserInputError
from research_nb.core.protocols import ChecksOptions
from research_nb.core.task_manager import task_manager
from research_nb.core.workflow import workflow
from research_nb.models.api_models import SERVER_ONLY_OPTIONS, APIKeys, ResearchRequest, ResearchStatus, RunStatus
from research_nb.models.clarification import ClarificationResponse
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState

#: How long a DELETE waits for a cancelled run to wind down, so that its reply reflects the end.
CANCEL_WAIT_SECONDS = 10.0

_paused_keys: dict[str, APIKeys] = {}


#: Options that name files on the server: refused unless the server allows them (`allow_server_paths`).
SERVER_PATH_OPTIONS = ("sources", "record_to", "replay_from")


def check_remote_options(request: ResearchRequest, *, allow_server_paths: bool) -> None:
    """Refuse options a remote client must not set: they would read or write the server's files, or send the
    server's keys to a host of the client's choosing. Raises `UserInputError` naming them and the fix."""
    refused = [name for name in SERVER_ONLY_OPTIONS if getattr(request, name)]
    problems = [f"{', '.join(refused)} cannot be set over HTTP: configure the model on the server"] if refused else []
    paths = [name for name in SERVER_PATH_OPTIONS if getattr(request, name)]
    if paths and not allow_server_paths:
        problems.append(
            f"{', '.join(paths)} name files on the server, which this server does not allow "
            "(start it with RESEARCH_NB_API_ALLOW_SERVER_PATHS=1 to allow them)"
        )
    if problems:
        raise UserInputError("; ".join(problems))


async def check_engine_options(options: ResearchOptions) -> None:
    """Build the engine and let it check the options (built-in corpora installed, paths that exist) in a worker
    thread: both may take long (an engine's first import, a walk of a big folder) and the server's loop must
    stay free for every other request. Raises the engine's `UserInputError`."""

    def check() -> None:
        engine = workflow.engines.get(options.engine)
        if isinstance(engine, ChecksOptions):
            engine.check_options(options)

    await asyncio.to_thread(check)


def lookup(request_id: str) -> ResearchState:
    """The run's state. Raises `UnknownRequestError` (404), or `CorruptRunError` (422) for a stored run that
    cannot be read back: whatever is wrong with its file, the answer is one line, never a 500."""
    try:
        return workflow.require_state(request_id)
    except (UserInputError, CorruptRunError):
        raise
    except (OSError, UnicodeError, ValueError) as exc:
        raise CorruptRunError(f"the stored run {request_id!r} cannot be read ({type(exc).__name__})") from None


def start_run(request: ResearchRequest, *, user_id: str | None, session_id: str | None) -> ResearchState:
    """Register the run (readable at once, its events buffered from the first) and start its task. The options
    were checked off the loop already (`check_engine_options`), so `prepare` does not check them again on it."""
    state = workflow.prepare(
        request.query, options=request.options(), user_id=user_id, session_id=session_id, defer_checks=True
    )
    task_manager.start(state.request_id, _drive(state, request.api_keys), metadata=_metadata(state))
    return state


def resume_run(request_id: str, answers: ClarificationResponse) -> ResearchState:
    """Record the answers (raises `ClarificationError` listing what is wrong) and run the rest as a new task."""
    lookup(request_id)  # an unknown or damaged run: 404 or 422
    state = workflow.answer_clarification(request_id, answers)
    task_manager.start(request_id, _drive(state, _paused_keys.pop(request_id, None)), metadata=_metadata(state))
    return state


async def cancel_run(request_id: str, reason: str) -> bool:
    """Cancel a run however it is waiting; True if a running task was cancelled. A finished run is left as it
    ended. Raises `UnknownRequestError` for an unknown id."""
    state = lookup(request_id)
    if state.is_finished:
        return False
    _paused_keys.pop(request_id, None)
    task = task_manager.get_task(request_id)
    task_cancelled = False
    if task is not None and not task.done():
        task_cancelled = task_manager.cancel_nowait(request_id, reason)
        await asyncio.wait([task], timeout=CANCEL_WAIT_SECONDS)
        if not task.done():
            return task_cancelled  # still unwinding: the workflow ends the run and sends its final event
    # Paused for answers, or cancelled before its first step: no task is left to end the run.
    workflow.cancel_idle(request_id, reason)
    return task_cancelled


def cancel_idle_runs(reason: str) -> int:
    """At shutdown, after the task manager stopped the tasks: end the runs no task drives any more."""
    idle = [
        state.request_id
        for state in workflow.list_states()
        if not state.is_finished and not _has_live_task(state.request_id)
    ]
    for request_id in idle:
        _paused_keys.pop(request_id, None)
        workflow.cancel_idle(request_id, reason)
    return len(idle)


def run_status(state: ResearchState) -> RunStatus:
    stage = state.current_stage
    if stage is ResearchStage.COMPLETED:
        return "completed"
    if stage is ResearchStage.FAILED:
        return "failed"
    if stage is ResearchStage.CANCELLED:
        return "cancelled"
    return "processing"


def status_of(state: ResearchState) -> ResearchStatus:
    return ResearchStatus(
        request_id=state.request_id,
        status=run_status(state),
        stage=state.current_stage,
        error=state.error_message or state.cancel_reason,
        report=None if state.report is None else wire_report(state.report, state),
        awaiting_clarification=state.awaiting_clarification,
    )


async def _drive(state: ResearchState, api_keys: APIKeys | None) -> ResearchState:
    result = await workflow.resume_research(state, api_keys=api_keys)
    if result.awaiting_clarification and api_keys is not None:
        _paused_keys[result.request_id] = api_keys
    return result


def _has_live_task(request_id: str) -> bool:
    task = task_manager.get_task(request_id)
    return task is not None and not task.done()


def _metadata(state: ResearchState) -> dict[str, JsonValue]:
    return {
        "front": "http",
        "query": state.user_query[:100],
        "engine": state.options.engine,
        "user_id": state.user_id,
        "session_id": state.session_id,
    }
