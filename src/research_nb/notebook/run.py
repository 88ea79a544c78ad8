"""`ResearchRun`: the handle `%research` and `research()` return at once, while the run goes on in the background.

    run = %research "How do the economies of Norway and Sweden differ?"
    run                      # the live widget (with Cancel); the report appears under it when done
    state = await run        # waits without blocking the kernel; returns the final (or paused) state
    run.markdown()           # the report, with citations linked to its sources
    run.export("report.html")  # or .md, .json (the whole state), .pdf (the pdf-export extra)

Displaying a run shows two outputs: the widget, and under it the report's own output, a Markdown display that is
filled in when the run ends. Jupyter saves that one in the notebook as plain Markdown, so a notebook reopened
without widget state, GitHub's viewer, `jupyter nbconvert --to markdown` and nbval all show the report.

Interrupting a cell that awaits a run stops the waiting, not the run: a run is a background job with its own
Cancel button and `run.cancel()`, and a user who interrupts to get the prompt back keeps the research going.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nest_asyncio
from IPython.display import Markdown, display, update_display
from pydantic import ValidationError

from research_nb.core.errors import InvalidStateError, UserInputError, describe_validation_error
from research_nb.core.task_manager import task_manager
from research_nb.core.workflow import workflow
from research_nb.export import export_state
from research_nb.models.api_models import APIKeys, ResearchRequest
from research_nb.models.clarification import (
    ChoiceSelection,
    ClarificationAnswer,
    ClarificationRequest,
    ClarificationResponse,
)
from research_nb.models.research import ResearchReport, ResearchStage, ResearchState
from research_nb.notebook.kernel import capture_loop
from research_nb.notebook.progress import ProgressView, Status
from research_nb.notebook.report import report_display, report_markdown
from research_nb.notebook.widget import ResearchWidget, WidgetFeed
from research_nb.sources.paths import check_paths

CANCELLED_BY_USER = "Cancelled by user"
_OPTION_NAMES = frozenset(ResearchRequest.model_fields) - {"query", "stream"}

Answers = ClarificationResponse | Mapping[str, str | Sequence[str]] | None


def start_research(query: str, *, widget: bool = True, api_keys: APIKeys | None = None, **options: Any) -> ResearchRun:
    """Validate, start the run on the running loop and return its handle at once.

    `options` are `ResearchRequest`'s (`sources=[...]`, `engine=`, `model=`, `max_search_results=`, `clarify=`).
    Raises a `UserInputError` (one line, says what to fix) for a bad question, option, path or engine.
    """
    unknown = sorted(set(options) - _OPTION_NAMES)
    if unknown:
        raise UserInputError(
            f"unknown option {', '.join(map(repr, unknown))}; known: {', '.join(sorted(_OPTION_NAMES))}"
        )
    try:
        request = ResearchRequest(query=query, **options)
    except ValidationError as exc:
        raise UserInputError(describe_validation_error(exc)) from None
    run_options = request.options()
    # Only checks that take microseconds happen here (the magic returns at once, whatever the folder holds): the
    # engine's cheap checks (a model without its key), and one stat per path. Loading the engine and reading the
    # folders are the run's first step, off the loop; what fails there ends the run with one line.
    workflow.engines.preflight(run_options, api_keys)
    check_paths(run_options.sources)
    capture_loop()  # before anything is registered: fails with a clear message outside a running loop
    state = workflow.prepare(request.query, options=run_options, defer_checks=True)
    run = ResearchRun(state.request_id, widget=widget, api_keys=api_keys)
    run._submit(state)
    return run


class ResearchRun:
    """A research run going on in the background: awaitable, cancellable, displayable."""

    def __init__(self, request_id: str, *, widget: bool = True, api_keys: APIKeys | None = None) -> None:
        self.request_id = request_id
        self._show_widget = widget
        self._api_keys = api_keys  # kept for resuming; never shown, never put in widget state
        self._display: _LiveDisplay | None = None
        self._report_shown = False  # the report's output is in a cell: update it when the run ends

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def state(self) -> ResearchState:
        """The run's state as it is now (the live object: it changes while the run goes on)."""
        return workflow.require_state(self.request_id)

    @property
    def status(self) -> Status:
        state = self.state
        if state.awaiting_clarification:
            return "awaiting_clarification"
        if state.is_finished:
            return state.current_stage.value  # type: ignore[return-value]
        return "running" if self.running or workflow.driven_elsewhere(self.request_id) else "pending"

    @property
    def running(self) -> bool:
        task = task_manager.get_task(self.request_id)
        return task is not None and not task.done()

    @property
    def report(self) -> ResearchReport | None:
        """The report once the run ended (partial if it was cancelled or failed), else None."""
        return self.state.report

    @property
    def clarification(self) -> ClarificationRequest | None:
        """The questions the run waits on, if it does."""
        state = self.state
        return state.clarification if state.awaiting_clarification else None

    def markdown(self) -> Markdown:
        """The report as Markdown for display, citations linked to its Sources list."""
        report = self.report
        if report is None:
            raise InvalidStateError(
                f"run {self.request_id} has no report yet (status: {self.status}); `await` it first"
            )
        return report_display(report, sources=self.state.options.sources)

    def export(self, path: str | Path, format: str | None = None) -> Path:
        """Write the run to `path`: its report as Markdown (`.md`), self-contained HTML (`.html`) or PDF
        (`.pdf`, the `pdf-export` extra), or its whole state as JSON (`.json`); `format=` overrides the suffix.
        Returns the path written. A bad path or format raises a one-line `UserInputError`; nothing is lost."""
        return export_state(self.state, path, format)

    # -- waiting ------------------------------------------------------------------------------------------

    def __await__(self) -> Any:
        return self._until_stopped().__await__()

    async def _until_stopped(self) -> ResearchState:
        """Wait until no task drives the run (finished, or paused for answers). `asyncio.wait` never cancels
        the run: interrupting the waiting cell stops only the waiting."""
        while (task := task_manager.get_task(self.request_id)) is not None and not task.done():
            await asyncio.wait([task])
        # Again from the waiting cell: a front that runs cells one by one (nbclient) reads only the messages of the
        # cell it runs, and the widget's update came from the cell that showed the run.
        self._show_report()
        return self.state

    def wait(self) -> ResearchState:
        """Block until the run ends or pauses, for code that cannot `await` (prefer `await run`).

        Caveat: it nests the kernel's event loop (nest-asyncio, applied here on first use, patches the process),
        and ipykernel cannot deliver a message from the browser while a cell blocks this way: a Cancel click
        during the wait is lost (a note says so at once). `await run` has no such limit.
        """
        loop = capture_loop()
        nest_asyncio.apply(loop)
        with _LostMessages(loop):
            return loop.run_until_complete(self._until_stopped())

    # -- acting -------------------------------------------------------------------------------------------

    def cancel(self, reason: str = CANCELLED_BY_USER) -> bool:
        """Stop the run: it ends CANCELLED with a partial report of what it gathered. True if this call
        cancelled it; False if it had already stopped or was already being cancelled (idempotent)."""
        cancelled = task_manager.cancel_nowait(self.request_id, reason)
        if not cancelled and self.state.awaiting_clarification:  # no task drives a paused run
            cancelled = workflow.cancel_idle(self.request_id, reason)
        if cancelled and self._display is not None:
            self._display.widget.cancel_requested = True
        return cancelled

    def answer(self, answers: Answers = None) -> None:
        """Answer the run's clarifying questions and resume it; `None` skips them.

        `answers` maps question ids to text (a text question), a choice id (a choice question) or a list of
        choice ids (a multi-choice question); or it is a `ClarificationResponse` as the HTTP API takes.
        """
        state = self.state
        if not state.awaiting_clarification or state.clarification is None:
            raise InvalidStateError(f"run {self.request_id} is not waiting for answers (status: {self.status})")
        response = answers if not isinstance(answers, Mapping) else _response(state.clarification, answers)
        workflow.answer_clarification(self.request_id, response)
        self._submit(state)

    def resume(self) -> None:
        """Continue a cancelled or failed run from the stage where it stopped."""
        state = self.state
        if self.running:
            raise InvalidStateError(f"run {self.request_id} is still running")
        if state.awaiting_clarification:
            raise InvalidStateError(f"run {self.request_id} waits for answers: use run.answer(...)")
        if state.current_stage is not ResearchStage.COMPLETED:
            workflow.claim(state)  # refuses, in one line, a run that another live process drives
        if not state.is_finished or state.current_stage is ResearchStage.COMPLETED:
            raise InvalidStateError(f"run {self.request_id} is {state.current_stage.value}; only a stopped run resumes")
        self._submit(state)
        self._show_report()  # the stopped run's partial report gives way until the run ends again
        if self._display is not None:  # subscribed before the new leg's first step: it sees all of it
            self._display.follow(replay=False)

    def _submit(self, state: ResearchState) -> None:
        metadata: dict[str, Any] = {"query": state.user_query, "engine": state.options.engine, "front": "notebook"}
        task_manager.start(self.request_id, workflow.resume_research(state, api_keys=self._api_keys), metadata)

    # -- display ------------------------------------------------------------------------------------------

    @property
    def widget(self) -> ResearchWidget:
        """The live progress widget (made on first use)."""
        return self._live_display().widget

    def _live_display(self) -> _LiveDisplay:
        if self._display is None:
            self._display = _LiveDisplay(self)
        return self._display

    def _ipython_display_(self) -> None:
        """Two outputs: the widget (or, without one, the text line) and the report's Markdown under it."""
        display(self._repr_mimebundle_(), raw=True)  # type: ignore[no-untyped-call]
        self._show_report(new=True)

    def _show_report(self, *, new: bool = False) -> None:
        """Put the report (while there is none, an empty Markdown output) in the report's output: a new one under
        the widget, or every one shown before, wherever it is (a display id)."""
        if not new and not self._report_shown:
            return
        state = self.state
        marker = REPORT_MARKER.format(request_id=self.request_id)
        report = state.report if state.is_finished else None
        markdown = "" if report is None else report_markdown(report, place="w", sources=state.options.sources)
        # Markdown only: every front that saves or converts notebooks renders it; a terminal shows no widget either
        bundle = {"text/markdown": f"{marker}\n\n{markdown}" if markdown else marker}
        display_id = f"research-nb-report-{self.request_id}"
        if new:
            display(bundle, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]
            self._report_shown = True
        else:
            update_display(bundle, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {}
        if self._show_widget:
            shown = self._live_display().widget._repr_mimebundle_()  # anywidget's: (data, metadata)
            bundle = dict(shown[0] if isinstance(shown, tuple) else shown or {})
        bundle["text/plain"] = repr(self)  # what a terminal, nbconvert and a notebook without widget state show
        return bundle

    def __repr__(self) -> str:
        state = self.state
        return (
            f"ResearchRun({state.user_query!r}, id={self.request_id!r}, engine={state.options.engine!r}, "
            f"status={self.status!r})"
        )


#: Starts the report output's Markdown: the run it belongs to, invisible when rendered. The example notebooks'
#: nbval sanitizer (notebooks/sanitize.cfg) blanks an output that starts with it, since nbval never sees it filled.
REPORT_MARKER = "<!-- research-nb report of run {request_id} -->"


class _LiveDisplay:
    """The widget following the run; when the run ends, it has the report's output filled in."""

    def __init__(self, run: ResearchRun) -> None:
        self.run = run
        self.view = ProgressView(run.state)
        self.widget = ResearchWidget(self.view, self._on_action)
        self.feed = WidgetFeed(run.request_id, self.view, self.widget, self._finished)
        self.follow(replay=True)

    def follow(self, *, replay: bool) -> None:
        self.widget.cancel_requested = False
        self.feed.follow(replay=replay)

    def _finished(self) -> None:
        """The run ended: the widget counts what its report cites, and the report's output is filled in."""
        report = self.run.report
        if report is not None:
            self.view.show_report(report)
        self.run._show_report()

    def _on_action(self, message: dict[str, Any]) -> None:
        """A request from the browser; a mistake is shown in the widget, never raised into the kernel."""
        kind = message.get("type")
        try:
            if kind == "cancel":
                self.run.cancel()
            elif kind == "clarification":
                request = self.run.clarification
                if request is None:
                    raise InvalidStateError("the run is not waiting for answers")
                answers = ClarificationResponse(request_id=request.id, answers=message.get("answers") or [])
                self.run.answer(answers)
            elif kind == "skip":
                self.run.answer(None)
            elif kind == "resume":  # the Resume button of a stopped run: what `%research resume <id>` does
                self.run.resume()
            else:
                raise UserInputError(f"unknown widget action {kind!r}")
        except ValidationError as exc:
            self.widget.action_error = describe_validation_error(exc)
        except UserInputError as exc:
            self.widget.action_error = str(exc)
        else:
            self.widget.action_error = ""


class _LostMessages:
    """While `wait()` nests the loop, the kernel's handlers for browser messages cannot run ("cannot enter
    context": they were scheduled from the blocked cell's context) and asyncio would print a traceback for each.
    Say instead, once per message, what was lost and what to do; other errors pass through."""

    NOTE = (
        "research-nb: a message from the browser (a Cancel click?) arrived while run.wait() blocks the kernel and "
        "was lost; use `await run` to stay responsive, or run.cancel() after the wait"
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._previous: Any = None

    def __enter__(self) -> None:
        self._previous = self.loop.get_exception_handler()
        self.loop.set_exception_handler(self._handle)

    def __exit__(self, *exc_info: object) -> None:
        self.loop.set_exception_handler(self._previous)

    def _handle(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, RuntimeError) and "cannot enter context" in str(error):
            print(self.NOTE, file=sys.stderr, flush=True)
        elif self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)


def _response(request: ClarificationRequest, answers: Mapping[str, str | Sequence[str]]) -> ClarificationResponse:
    kinds = {q.id: q.question_type for q in request.questions}
    converted = []
    for question_id, value in answers.items():
        kind = kinds.get(question_id, "text")
        if kind == "text":
            converted.append(ClarificationAnswer(question_id=question_id, text=str(value)))
        elif kind == "choice":
            converted.append(ClarificationAnswer(question_id=question_id, selection=ChoiceSelection(id=str(value))))
        else:
            ids = [value] if isinstance(value, str) else list(value)
            converted.append(
                ClarificationAnswer(question_id=question_id, selections=[ChoiceSelection(id=i) for i in ids])
            )
    return ClarificationResponse(request_id=request.id, answers=converted)
