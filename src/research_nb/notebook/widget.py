"""The live progress widget (anywidget) and the feed that drives it from a run's events.

The widget is a view: every shown value is a synced trait (`ProgressView.traits()`), and the browser asks for
actions with custom messages: `{"type": "cancel"}`, `{"type": "clarification", "answers": [...]}` (answers in
the HTTP contract's shape), `{"type": "skip"}` and `{"type": "resume"}` (the Resume button of a stopped run).
The feed coalesces trait updates to at most `MAX_UPDATES_PER_S` (JupyterLab drops a kernel's output above about
1000 messages/s), and always delivers the final state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from research_nb.core.events import ResearchEvent, RunFinished
from research_nb.core.workflow import workflow
from research_nb.notebook.progress import ProgressView
from research_nb.notebook.static_files import STYLES, widget_module

logger = logging.getLogger(__name__)

MAX_UPDATES_PER_S = 20

ActionHandler = Callable[[dict[str, Any]], None]


class ResearchWidget(anywidget.AnyWidget):
    """Live progress of one research run, with Cancel and clarifying questions."""

    _esm = widget_module("widget.js")
    _css = STYLES

    request_id = traitlets.Unicode("").tag(sync=True)
    query = traitlets.Unicode("").tag(sync=True)
    engine = traitlets.Unicode("").tag(sync=True)
    model_name = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("pending").tag(sync=True)
    stage = traitlets.Unicode("pending").tag(sync=True)
    stages = traitlets.List(traitlets.Dict()).tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    activity = traitlets.Dict().tag(sync=True)
    sub_questions = traitlets.List(traitlets.Dict()).tag(sync=True)
    total_sources = traitlets.Int(0).tag(sync=True)
    sources = traitlets.List(traitlets.Dict()).tag(sync=True)
    cited = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    elapsed = traitlets.Float(0.0).tag(sync=True)
    elapsed_before = traitlets.Float(0.0).tag(sync=True)
    clock_running = traitlets.Bool(False).tag(sync=True)
    log = traitlets.List(traitlets.Unicode()).tag(sync=True)
    usage = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    cancel_reason = traitlets.Unicode("").tag(sync=True)
    clarification = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    has_report = traitlets.Bool(False).tag(sync=True)
    # set by the kernel when it acts on a request from the browser
    cancel_requested = traitlets.Bool(False).tag(sync=True)
    action_error = traitlets.Unicode("").tag(sync=True)
    # the widget's own id in the browser's widget manager: the view asks it whether the model's comm is live (a
    # model restored from a saved notebook has none: its kernel is gone)
    comm_model_id = traitlets.Unicode("").tag(sync=True)

    def __init__(self, view: ProgressView, on_action: ActionHandler) -> None:
        super().__init__(**view.traits())
        self.comm_model_id = self.model_id
        self._on_action = on_action
        self.on_msg(self._handle_message)

    def __repr__(self) -> str:
        # anywidget's repr holds a memory address; nbval compares text/plain
        return f"ResearchWidget(query={self.query!r})"

    def _handle_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and isinstance(content.get("type"), str):
            self._on_action(content)

    def show(self, view: ProgressView) -> None:
        """Send what changed in one message."""
        with self.hold_sync():
            for name, value in view.traits().items():
                if getattr(self, name) != value:
                    self.set_trait(name, value)


class WidgetFeed:
    """Follows a run's events into a widget: one subscription task per leg of the run, coalesced updates."""

    def __init__(
        self,
        request_id: str,
        view: ProgressView,
        widget: ResearchWidget,
        on_finished: Callable[[], None],
        *,
        max_rate: float = MAX_UPDATES_PER_S,
    ) -> None:
        self.request_id = request_id
        self.view = view
        self.widget = widget
        self._on_finished = on_finished
        self._interval = 1.0 / max_rate
        self._last_flush = 0.0
        self._pending: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def follow(self, *, replay: bool) -> None:
        """Start reading the run's events on the running loop (replaying its past ones first if `replay`)."""
        self.stop()
        subscription = workflow.events.subscribe(self.request_id, replay=replay)
        task = asyncio.get_running_loop().create_task(
            self._read(subscription), name=f"research-widget-{self.request_id}"
        )
        _live_feeds[task] = self
        task.add_done_callback(lambda t: _live_feeds.pop(t, None))
        self._task = task

    async def _read(self, subscription: Any) -> None:
        try:
            async with subscription:
                async for event in subscription:
                    self._apply(event)
        except Exception:  # a broken display must never take the kernel down
            logger.exception("progress widget for %s stopped", self.request_id)

    def _apply(self, event: ResearchEvent) -> None:
        if event.seq and event.seq <= self.view.last_seq:
            return  # already shown (a replay overlapping what the previous leg saw)
        self.view.apply(event)
        if isinstance(event, RunFinished) or event.type in ("run_paused", "clarification", "run_started"):
            if isinstance(event, RunFinished):
                self._on_finished()  # first: it may add the report's figures to the view
            self.flush()
        elif time.monotonic() - self._last_flush >= self._interval:
            self.flush()
        elif self._pending is None:
            delay = self._interval - (time.monotonic() - self._last_flush)
            self._pending = asyncio.get_running_loop().call_later(delay, self.flush)

    def flush(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._last_flush = time.monotonic()
        self.widget.show(self.view)

    async def closed(self) -> None:
        """Wait until the feed has shown the run's final event (or was stopped)."""
        if self._task is not None:
            await asyncio.wait([self._task])

    def stop(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._task is not None and not self._task.done():
            self._task.cancel()


# Strong references to the reading tasks (asyncio keeps only weak ones), each with its feed.
_live_feeds: dict[asyncio.Task[None], WidgetFeed] = {}


def stop_all_feeds() -> None:
    """Stop every widget feed (on unloading the extension)."""
    for feed in list(_live_feeds.values()):
        feed.stop()
