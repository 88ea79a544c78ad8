"""The FastAPI app: the seed's HTTP API on the same `workflow` and `task_manager` singletons as the notebook.

Start it with `research-nb serve` (uvicorn on 127.0.0.1). The wire format is the seed's, so its clients work
unchanged (see the README's "HTTP API" section); what the seed got wrong is fixed: a late stream subscriber gets
a replay, unknown ids are 404, DELETE cancels the running task, the status shows the stage the run is in now,
and no event is lost between the POST and the stream's GET (a run's events are buffered from the first one).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from research_nb.api.auth import require_token, settings_of
from research_nb.api.errors import install_error_handlers
from research_nb.api.limits import BodyLimits
from research_nb.api.openapi import install_openapi
from research_nb.api.runs import (
    cancel_idle_runs,
    cancel_run,
    check_engine_options,
    check_remote_options,
    lookup,
    resume_run,
    run_status,
    start_run,
    status_of,
)
from research_nb.api.settings import ServerSettings, settings_of_app
from research_nb.api.sse import event_stream
from research_nb.api.wire import fit_clarification, wire_report
from research_nb.core.errors import InvalidStateError
from research_nb.core.task_manager import SHUTDOWN_REASON, task_manager
from research_nb.core.workers import workers
from research_nb.core.workflow import DEFAULT_CANCEL_REASON, workflow
from research_nb.models.api_models import (
    MAX_REQUEST_ID_CHARS,
    CancelResponse,
    ClarificationAccepted,
    ErrorResponse,
    HealthStatus,
    PendingClarification,
    ResearchRequest,
    ResearchResponse,
    ResearchStatus,
    WireReport,
)
from research_nb.models.clarification import ClarificationResponse
from research_nb.models.research import ResearchState

logger = logging.getLogger(__name__)

_LOG_HANDLER_NAME = "research-nb-api"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings = ServerSettings()
    _configure_logging(settings.log_level)
    logger.info("research-nb API ready; bearer token %s", "required" if settings.token_value() else "not required")
    yield
    # Ctrl+C: open streams were already told (they cancel their runs and deliver the final frame); now stop
    # every other running task, then end the runs no task drives (paused for answers), all as cancelled.
    stopped = await task_manager.shutdown()
    idle = cancel_idle_runs(SHUTDOWN_REASON)
    workers.shutdown()  # the research worker process: nothing awaits it any more
    logger.info(
        "research-nb API stopped: %d running and %d waiting research runs cancelled%s",
        stopped.cancelled,
        idle,
        f", {stopped.still_running} did not stop in time" if stopped.still_running else "",
    )


def _configure_logging(level: str) -> None:
    """Send the research_nb loggers to stderr beside uvicorn's own lines (once, however often the app starts)."""
    package_logger = logging.getLogger("research_nb")
    package_logger.setLevel(level.upper())
    if not any(h.get_name() == _LOG_HANDLER_NAME for h in package_logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_LOG_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(levelname)s:     [%(name)s] %(message)s"))
        package_logger.addHandler(handler)


app = FastAPI(
    title="research-nb",
    version=version("research-nb"),
    summary="Deep research with cited Markdown reports, over HTTP",
    lifespan=lifespan,
)
install_error_handlers(app)


install_openapi(app, lambda: settings_of_app(app))
app.add_middleware(BodyLimits, settings=lambda: settings_of_app(app))

_Responses = dict[int | str, dict[str, Any]]
_NOT_FOUND: _Responses = {404: {"model": ErrorResponse, "description": "No research run with this id"}}
_INVALID: _Responses = {
    400: {
        "model": ErrorResponse,
        "description": "The body cannot be read (not UTF-8 JSON), or answers that do not fit",
    },
    422: {
        "model": ErrorResponse,
        "description": "Invalid input, or a stored run that cannot be read: `detail` says",
    },
    408: {"model": ErrorResponse, "description": "The request body did not arrive in time"},
    413: {"model": ErrorResponse, "description": "The request body is larger than 1 MiB"},
}
#: A run id in a path: bounded, so that no lookup is asked to open a 5,000-character file name.
RunId = Annotated[str, Path(max_length=MAX_REQUEST_ID_CHARS, description="The `request_id` the POST returned")]
router = APIRouter(
    dependencies=[Depends(require_token)],
    responses={401: {"model": ErrorResponse, "description": "Missing or wrong bearer token"}, **_INVALID},
)


@app.get("/health", tags=["server"])
async def health() -> HealthStatus:
    active = await task_manager.list_active_tasks()
    return HealthStatus(version=app.version, engines=workflow.engines.names(), active_runs=len(active))


@router.post("/research", status_code=202, tags=["research"])
async def submit_research(
    body: ResearchRequest,
    request: Request,
    x_user_id: Annotated[str | None, Header(max_length=200)] = None,
    x_session_id: Annotated[str | None, Header(max_length=200)] = None,
) -> ResearchResponse:
    """Start researching `query` in the background; follow `stream_url`, poll the status, fetch `report_url`."""
    check_remote_options(body, allow_server_paths=settings_of(request).allow_server_paths)
    await check_engine_options(body.options())  # off the loop: /health and every stream go on meanwhile
    state = start_run(body, user_id=x_user_id, session_id=x_session_id)
    rid = state.request_id
    return ResearchResponse(
        request_id=rid,
        status="accepted",
        message=f"Research started with the {state.options.engine} engine",
        stream_url=f"/research/{rid}/stream" if body.stream else None,
        report_url=f"/research/{rid}/report",
    )


@router.get("/research/{request_id}", responses=_NOT_FOUND, tags=["research"])
async def research_status(request_id: RunId) -> ResearchStatus:
    """Where the run is now: `status`, the `stage` it is in, its error, and its report once there is one."""
    return status_of(lookup(request_id))


@router.get(
    "/research/{request_id}/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The run's events"}, **_NOT_FOUND},
    tags=["research"],
)
async def research_events(
    request_id: RunId,
    request: Request,
    last_event_id: Annotated[int, Header(ge=0, description="Resume after this event id")] = 0,
) -> EventSourceResponse:
    """The run's events from its first, then live ones; closes right after the `complete` frame."""
    state = lookup(request_id)
    return event_stream(
        state,
        workflow.events,
        settings_of(request),
        last_event_id=last_event_id,
        on_shutdown=lambda: cancel_run(request_id, SHUTDOWN_REASON),
    )


@router.get(
    "/research/{request_id}/report",
    response_model=WireReport,
    responses={
        200: {"content": {"text/markdown": {"schema": {"type": "string"}}}, "description": "The report"},
        404: {"model": ErrorResponse, "description": "Unknown id, or the run ended without a report"},
        409: {"model": ErrorResponse, "description": "The run has not finished"},
    },
    tags=["research"],
)
async def research_report(
    request_id: RunId,
    accept: Annotated[str, Header()] = "application/json",
    format: Annotated[Literal["json", "markdown"] | None, Query(description="Overrides the Accept header")] = None,
) -> Response:
    """The finished run's report as JSON, or as Markdown for `Accept: text/markdown` (or `?format=markdown`).
    A cancelled or failed run's report is partial (`metadata.partial`, and its title says so)."""
    state = lookup(request_id)
    if not state.is_finished:
        raise InvalidStateError(
            f"research {request_id} is still at stage {state.current_stage.value}: the report is not ready yet"
        )
    if state.report is None:
        raise HTTPException(404, _no_report(state))
    if format == "markdown" or (format is None and "text/markdown" in accept):
        return Response(state.report.markdown, media_type="text/markdown; charset=utf-8")
    return JSONResponse(wire_report(state.report, state).model_dump(mode="json"))


def _no_report(state: ResearchState) -> str:
    """Why a finished run has no report, in words: it stopped before it gathered anything."""
    cancelled = run_status(state) == "cancelled"
    reason = state.cancel_reason if cancelled else state.error_message
    return (
        f"research {state.request_id} {'was cancelled' if cancelled else 'failed'} before it gathered anything, "
        "so it has no report" + (f" ({reason})" if reason else "")
    )


@router.delete("/research/{request_id}", responses=_NOT_FOUND, tags=["research"])
async def cancel_research(request_id: RunId) -> CancelResponse:
    """Cancel the run and wait for it to stop; a finished run is left as it ended."""
    task_cancelled = await cancel_run(request_id, DEFAULT_CANCEL_REASON)
    state = lookup(request_id)
    status = run_status(state)
    if status == "cancelled":
        message = f"research {request_id} cancelled" + ("" if task_cancelled else " (it was not running)")
    elif status == "processing":
        message = f"research {request_id} is being cancelled"
    else:
        message = f"research {request_id} had already {status}; nothing to cancel"
    return CancelResponse(request_id=request_id, status=status, message=message, task_cancelled=task_cancelled)


@router.get(
    "/research/{request_id}/clarification",
    responses={404: {"model": ErrorResponse, "description": "Unknown id, or no questions pending"}},
    tags=["clarification"],
)
async def pending_clarification(request_id: RunId) -> PendingClarification:
    """The clarifying questions the run waits on (each within the limits old clients check: at most 10
    questions of at most 500 characters, contexts of at most 1,000, at most 20 choices of at most 200)."""
    state = lookup(request_id)
    if not state.awaiting_clarification or state.clarification is None:
        raise HTTPException(404, f"research {request_id} has no clarifying questions waiting for answers")
    return PendingClarification(
        request_id=request_id,
        clarification_request=fit_clarification(state.clarification),
        original_query=state.user_query,
    )


@router.post(
    "/research/{request_id}/clarification",
    responses={
        400: {"model": ErrorResponse, "description": "The answers do not fit: `detail` lists every problem"},
        409: {"model": ErrorResponse, "description": "No clarifying questions are pending"},
        **_NOT_FOUND,
    },
    tags=["clarification"],
)
async def answer_clarification(request_id: RunId, answers: ClarificationResponse) -> ClarificationAccepted:
    """Answer the questions (by question id); the run resumes in the background."""
    state = resume_run(request_id, answers)
    return ClarificationAccepted(
        request_id=request_id,
        message=f"Answers accepted; research {request_id} resumed",
        current_stage=state.current_stage,
    )


app.include_router(router)
