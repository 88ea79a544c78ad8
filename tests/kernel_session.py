"""A real IPython kernel for tests and benchmarks, driven over jupyter_client as a notebook front end drives it.

`KernelSession` runs cells, reads their outputs, and talks to widgets the way a browser does: it learns widget
models from the kernel's `comm_open` messages and sends custom messages to a model's comm on the shell channel.
Everything waits on kernel messages (with a generous timeout only to fail instead of hanging), never on sleeps.
"""

from __future__ import annotations

import ast
import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

TESTS_DIR = Path(__file__).resolve().parent
ANYWIDGET_ID = "research_nb.notebook.widget.ResearchWidget"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Registers the shared in-memory test engine in the kernel, held at its research stage until `gate.open()`.
MEMORY_ENGINE_SETUP = """
from engines_for_tests import MemoryEngine
from research_nb import workflow
from research_nb.models.research import ResearchStage
engine = MemoryEngine()
gate = engine.hold(ResearchStage.RESEARCH_EXECUTION)
workflow.engines.register("memory", lambda: engine)
"""


class CellError(AssertionError):
    pass


@dataclass
class CellResult:
    stdout: str = ""
    stderr: str = ""
    result: dict[str, Any] | None = None  # execute_result data by MIME type
    displays: list[dict[str, Any]] = field(default_factory=list)
    display_ids: list[str | None] = field(default_factory=list)  # each display's id, if it has one
    error: dict[str, Any] | None = None  # ename, evalue, traceback

    @property
    def text(self) -> str:
        return "" if self.result is None else str(self.result.get("text/plain", ""))

    def row_of(self, request_id: str) -> str:
        """The line of `%research list`'s table (the result's text) for a run."""
        return next(line for line in self.text.splitlines() if line.startswith(request_id))

    def shown(self, mime: str) -> dict[str, Any] | None:
        """The first output (the result or a display) that has `mime`: what a front end shows."""
        return next((data for data in [self.result, *self.displays] if data is not None and mime in data), None)


class KernelSession:
    def __init__(self, *, env: dict[str, str] | None = None, cwd: Path | None = None, stderr_path: Path | None = None):
        self.km = KernelManager(kernel_name="python3")
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "w") if stderr_path else None  # noqa: SIM115 - closed in stop()
        kernel_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}
        kernel_env.update(env or {})
        self.km.start_kernel(env=kernel_env, cwd=str(cwd or TESTS_DIR.parent), stderr=self._stderr)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.messages: list[dict[str, Any]] = []  # every IOPub message read so far
        self.models: dict[str, dict[str, Any]] = {}  # comm id -> synced state of each widget model
        self.widget_updates: list[dict[str, Any]] = []

    # -- cells --------------------------------------------------------------------------------------------

    def submit(self, code: str) -> str:
        return str(self.kc.execute(code))

    def collect(self, msg_id: str, timeout: float = 60) -> CellResult:
        """The cell's outputs, once the kernel went idle for it."""
        cell = CellResult()
        for msg in self._replies(msg_id, timeout):
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                return cell
            if kind == "stream":
                if content["name"] == "stdout":
                    cell.stdout += content["text"]
                else:
                    cell.stderr += content["text"]
            elif kind == "execute_result":
                cell.result = content["data"]
            elif kind == "display_data":
                cell.displays.append(content["data"])
                cell.display_ids.append(content.get("transient", {}).get("display_id"))
            elif kind == "error":
                cell.error = content
        raise AssertionError("unreachable")

    def run(self, code: str, timeout: float = 60, *, allow_error: bool = False) -> CellResult:
        cell = self.collect(self.submit(code), timeout)
        if cell.error is not None and not allow_error:
            raise CellError(f"{cell.error['ename']}: {cell.error['evalue']}\n" + "\n".join(cell.error["traceback"]))
        return cell

    def eval(self, expression: str) -> Any:
        """The value of a Python literal expression evaluated in the kernel."""
        return ast.literal_eval(self.run(expression).text)

    def wait_for_output(self, msg_id: str, marker: str, timeout: float = 60) -> None:
        """Wait until the (still running) cell `msg_id` printed `marker`."""
        printed = ""
        for msg in self._replies(msg_id, timeout):
            if msg["msg_type"] == "stream":
                printed += msg["content"]["text"]
                if marker in printed:
                    return

    # -- widgets, as the browser sees them -------------------------------------------------------------------

    def research_widget_id(self, cell: CellResult) -> str:
        """The comm id of the ResearchWidget a cell displayed (itself, or among the displayed box's children)."""
        shown = cell.shown(WIDGET_VIEW)
        assert shown is not None, f"no widget in {cell.result} or {cell.displays}"
        model_id = shown[WIDGET_VIEW]["model_id"]
        box = self.models[model_id]
        if box.get("_anywidget_id") == ANYWIDGET_ID:
            return str(model_id)
        for child in box["children"]:
            child_id = child.removeprefix("IPY_MODEL_")
            if self.models.get(child_id, {}).get("_anywidget_id") == ANYWIDGET_ID:
                return str(child_id)
        raise AssertionError(f"no ResearchWidget among {box['children']}")

    def send_to_widget(self, comm_id: str, content: dict[str, Any]) -> None:
        """What `model.send(content)` in the widget's JavaScript sends."""
        data = {"method": "custom", "content": content}
        self.kc.shell_channel.send(self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))

    def wait_for_widget(self, comm_id: str, timeout: float = 60, **expected: Any) -> dict[str, Any]:
        """Read kernel messages until the widget's synced state has all `expected` values; return the state."""
        while not all(self.models.get(comm_id, {}).get(k) == v for k, v in expected.items()):
            self._read(timeout)
        return self.models[comm_id]

    def updated_display(self, display_id: str, timeout: float = 60, *, containing: str = "") -> dict[str, Any]:
        """The data of the latest `update_display_data` for `display_id` (from any cell), once one whose
        Markdown contains `containing` arrived."""
        seen = 0
        while True:
            for msg in self.messages[seen:]:
                content = msg["content"]
                if (
                    msg["msg_type"] == "update_display_data"
                    and content.get("transient", {}).get("display_id") == display_id
                    and containing in content["data"].get("text/markdown", "")
                ):
                    return dict(content["data"])
            seen = len(self.messages)
            self._read(timeout)

    def wait_for_widget_field(self, comm_id: str, name: str, timeout: float = 60) -> Any:
        """A widget's synced value `name`, once it is set (not empty)."""
        while not self.models.get(comm_id, {}).get(name):
            self._read(timeout)
        return self.models[comm_id][name]

    # -- plumbing -----------------------------------------------------------------------------------------

    def _replies(self, msg_id: str, timeout: float) -> Iterator[dict[str, Any]]:
        """Every IOPub message caused by request `msg_id`, from the first (kept), waiting for more."""
        seen = 0
        while True:
            while seen < len(self.messages):
                msg = self.messages[seen]
                seen += 1
                if msg["parent_header"].get("msg_id") == msg_id:
                    yield msg
            self._read(timeout)

    def _read(self, timeout: float) -> None:
        try:
            msg: dict[str, Any] = self.kc.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the kernel sent nothing for {timeout} s") from None
        self.messages.append(msg)
        kind, content = msg["msg_type"], msg["content"]
        if kind == "comm_open":
            self.models[content["comm_id"]] = dict(content["data"].get("state", {}))
        elif kind == "comm_msg" and content["data"].get("method") == "update":
            self.widget_updates.append(msg)
            self.models.setdefault(content["comm_id"], {}).update(content["data"].get("state", {}))

    # -- ending -------------------------------------------------------------------------------------------

    def stop(self) -> None:
        self.kc.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        if self._stderr is not None:
            self._stderr.close()

    def kernel_stderr(self) -> str:
        assert self.stderr_path is not None
        return self.stderr_path.read_text()


@contextmanager
def kernel_session(**kwargs: Any) -> Iterator[KernelSession]:
    session = KernelSession(**kwargs)
    try:
        yield session
    finally:
        session.stop()
