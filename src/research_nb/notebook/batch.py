"""The batch widget: done / failed / cancelled / remaining, throughput, time left, the slowest runs, the last
errors, a Cancel-all button, and every finished run openable (its report appears under the widget).

Like the run widget it is a view over synced traits, fed from the batch's change notifications and coalesced to
at most `MAX_UPDATES_PER_S` (a batch may finish hundreds of runs a second); the final state is always shown.
Browser actions are custom messages: `{"type": "cancel"}` and `{"type": "open", "position": n}`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anywidget
import ipywidgets
import traitlets

from research_nb.batch import BatchRun
from research_nb.notebook.kernel import capture_loop
from research_nb.notebook.report import report_display
from research_nb.notebook.static_files import STYLES, widget_module

MAX_UPDATES_PER_S = 10
#: Finished runs listed (the most recent); the others stay openable with `%research open ID`.
LISTED_RUNS = 50


class BatchWidget(anywidget.AnyWidget):
    _esm = widget_module("batch_widget.js")
    _css = STYLES

    batch_id = traitlets.Unicode("").tag(sync=True)
    backend = traitlets.Unicode("").tag(sync=True)
    counts = traitlets.Dict().tag(sync=True)  # total, completed, failed, cancelled, remaining
    per_second = traitlets.Float(0.0).tag(sync=True)
    eta_seconds = traitlets.Float(None, allow_none=True).tag(sync=True)
    elapsed = traitlets.Float(0.0).tag(sync=True)
    slowest = traitlets.List(traitlets.Dict()).tag(sync=True)
    errors = traitlets.List(traitlets.Dict()).tag(sync=True)
    runs = traitlets.List(traitlets.Dict()).tag(sync=True)
    finished = traitlets.Bool(False).tag(sync=True)
    cancel_requested = traitlets.Bool(False).tag(sync=True)
    opened = traitlets.Unicode("").tag(sync=True)  # the id of the question whose report is shown
    action_error = traitlets.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        return f"BatchWidget(batch_id={self.batch_id!r})"  # stable for nbval (anywidget's has an address)


class BatchDisplay:
    """The widget over an output area for the opened run's report, following one batch."""

    def __init__(self, batch: BatchRun) -> None:
        self.batch = batch
        self.widget = BatchWidget(batch_id=batch.batch_id, backend=batch.backend.name)
        self.report_area = ipywidgets.Output()
        self.box = ipywidgets.VBox([self.widget, self.report_area])
        self.widget.on_msg(self._on_message)
        self._interval = 1.0 / MAX_UPDATES_PER_S
        self._last = 0.0
        self._pending: asyncio.TimerHandle | None = None
        self.flush()
        batch.subscribe(self._changed)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.box._repr_mimebundle_(**kwargs)
        return bundle

    def _changed(self) -> None:
        if self.batch.done or time.monotonic() - self._last >= self._interval:
            self.flush()
        elif self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(self._interval, self.flush)

    def flush(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._last = time.monotonic()
        p = self.batch.progress()
        finished = [i for i in self.batch.items if i.status != "pending"]
        with self.widget.hold_sync():
            self.widget.counts = {
                "total": p.total,
                "completed": p.completed,
                "failed": p.failed,
                "cancelled": p.cancelled,
                "remaining": p.remaining,
            }
            self.widget.per_second = p.per_second
            self.widget.eta_seconds = p.eta_seconds
            self.widget.elapsed = p.elapsed_seconds
            self.widget.slowest = [{"id": key, "seconds": seconds} for key, seconds in p.slowest]
            self.widget.errors = [{"id": key, "message": message} for key, message in p.errors]
            self.widget.runs = [
                {"position": i.position, "id": i.id, "question": i.question, "status": i.status, "seconds": i.seconds}
                for i in finished[-LISTED_RUNS:]
            ]
            self.widget.finished = p.finished

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A request from the browser; a mistake is shown in the widget, never raised into the kernel."""
        kind = content.get("type") if isinstance(content, dict) else None
        self.widget.action_error = ""
        if kind == "cancel":
            self.widget.cancel_requested = self.batch.cancel() or self.widget.cancel_requested
        elif kind == "open" and isinstance(content.get("position"), int):
            self._open(content["position"])
        else:
            self.widget.action_error = f"unknown widget action {kind!r}"

    def _open(self, position: int) -> None:
        if not 0 <= position < len(self.batch.items):
            self.widget.action_error = f"no question at position {position}"
            return
        item = self.batch.items[position]
        state = self.batch.state(position)
        self.report_area.outputs = ()
        if state is None or state.report is None:
            self.widget.action_error = f"{item.id}: no report ({item.error or item.status})"
            return
        self.report_area.append_display_data(report_display(state.report, place=f"b{position}"))
        self.widget.opened = item.id


def install() -> None:
    """Make every batch show this widget under the cell that displays it."""
    BatchRun.display_factory = BatchDisplay


def start_batch(questions: Any, **options: Any) -> BatchRun:
    """`research_nb.research_many` from a notebook: the batch, with its widget when displayed."""
    from research_nb.batch import research_many

    install()
    capture_loop()  # fails with a clear message outside a running loop
    return research_many(questions, **options)


def resume(batch_id: str, **options: Any) -> BatchRun:
    from research_nb.batch import resume_batch

    install()
    capture_loop()
    return resume_batch(batch_id, **options)
