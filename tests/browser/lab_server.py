"""A real JupyterLab server for browser tests: started on 127.0.0.1 with a token in a temporary root folder,
ready once its REST API answers, stopped by its PID.

Everything the server and its kernels write goes under one temporary folder: notebooks (the root), Jupyter's
config, runtime and settings folders, research-nb's run store and corpus cache. Kernels inherit the server's
environment, so `tests/` is on their `PYTHONPATH` (a notebook can `from engines_for_tests import MemoryEngine`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Literal

TESTS_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 15

# JupyterLab's own settings for an unattended browser: no news or update toasts over the notebook, and every cell
# kept in the DOM (windowed rendering would leave cells out of view out of the page).
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


class JupyterLab:
    """One JupyterLab process (or, with `app="notebook"`, Notebook 7: the same server and widget manager, another
    page). `start()` returns once `/api/status` answers; `stop()` ends it, kernels included."""

    def __init__(self, base_dir: Path, app: Literal["lab", "notebook"] = "lab") -> None:
        self.app = app
        self.base_dir = base_dir
        self.root = base_dir / "root"
        self.data_dir = base_dir / "research-nb-data"
        self.log_path = base_dir / "jupyterlab.log"
        self.token = secrets.token_hex(16)
        self.url = ""  # known once the server listens
        self.process: subprocess.Popen[bytes] | None = None

    # -- starting and stopping ----------------------------------------------------------------------------

    def start(self) -> None:
        settings = self.base_dir / "lab-settings"
        for plugin, values in LAB_SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        for folder in (self.root, self.data_dir, self.base_dir / "jupyter-config", self.base_dir / "runtime"):
            folder.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.base_dir / "jupyter-config"),
            "JUPYTER_RUNTIME_DIR": str(self.base_dir / "runtime"),
            "JUPYTER_DATA_DIR": str(self.base_dir / "jupyter-data"),
            "RESEARCH_NB_DATA_DIR": str(self.data_dir),
            "RESEARCH_NB_CACHE_DIR": str(self.base_dir / "research-nb-cache"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])),
        }
        app_class = "LabApp" if self.app == "lab" else "JupyterNotebookApp"
        command = [
            sys.executable,
            "-m",
            "jupyterlab" if self.app == "lab" else "notebook",
            "--no-browser",
            "--allow-root",  # CI runs as root; harmless otherwise
            "--ip=127.0.0.1",
            f"--port={_free_port()}",
            "--ServerApp.port_retries=50",  # the port may be taken by the time it binds: it then tries others
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--{app_class}.user_settings_dir={settings}",
            f"--{app_class}.workspaces_dir={self.base_dir / 'workspaces'}",
            *(["--LabApp.news_url="] if self.app == "lab" else []),
        ]
        with open(self.log_path, "wb") as log:
            # a session of its own: if the server does not stop on SIGTERM, its kernels go with the group
            self.process = subprocess.Popen(
                command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        """Until the server wrote its info file (which says the port it listens on) and its REST API answers."""
        assert self.process is not None
        info_file = self.base_dir / "runtime" / f"jpserver-{self.process.pid}.json"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if not self.url:
                    self.url = f"http://127.0.0.1:{json.loads(info_file.read_text())['port']}"
                self.api("GET", "/api/status", timeout=2)
                return
            except (FileNotFoundError, json.JSONDecodeError, urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)  # polling until the server listens
        raise RuntimeError(f"JupyterLab did not answer within {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to the server's PID (it shuts its kernels down), SIGKILL if it hangs; then whatever is left
        of its process group."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):  # a kernel the server could not stop must not outlive us
            os.killpg(process.pid, signal.SIGKILL)

    # -- REST API -----------------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"token {self.token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def put_notebook(self, name: str, notebook: dict[str, Any]) -> None:
        """Save a notebook in the root folder through the contents API, as JupyterLab would."""
        self.api("PUT", f"/api/contents/{name}", {"type": "notebook", "format": "json", "content": notebook})

    def wait_for_kernel(self, path: str, timeout: float = 60) -> dict[str, Any]:
        """The kernel of the notebook at `path`, once it is idle with a browser connected to it."""
        deadline = time.monotonic() + timeout
        kernel: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            sessions = [s for s in self.api("GET", "/api/sessions") if s["path"] == path]
            kernel = sessions[0]["kernel"] if sessions else None
            if kernel and kernel["execution_state"] == "idle" and kernel["connections"] > 0:
                return kernel
            time.sleep(0.1)  # polling the REST API until the condition holds
        raise AssertionError(f"no idle kernel with a browser connected for {path} within {timeout} s: {kernel}")

    def lab_url(self, path: str, workspace: str) -> str:
        """JupyterLab opening `path` in a workspace of its own (no tabs left over from another test); Notebook 7
        opening it in its one-notebook page."""
        if self.app == "notebook":
            return f"{self.url}/notebooks/{path}?token={self.token}"
        return f"{self.url}/lab/workspaces/{workspace}/tree/{path}?token={self.token}"

    def set_theme(self, theme: str) -> None:
        """The theme the next page load shows ("JupyterLab Light", "JupyterLab Dark"), as a user who picked it."""
        self.set_settings("@jupyterlab/apputils-extension/themes", {"theme": theme})

    def set_settings(self, plugin: str, values: dict[str, Any]) -> None:
        """A plugin's user settings, as the Settings editor saves them; pages loaded from now on read them."""
        path = self.base_dir / "lab-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    def shut_down_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def log(self) -> str:
        """Everything the server and its kernels wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
