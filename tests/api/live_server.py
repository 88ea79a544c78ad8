"""A real uvicorn serving the app in a child process, on a port the OS picked, with its log at hand."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

LAUNCHER = Path(__file__).with_name("http_server.py")
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class LiveServer:
    """Starts on construction and returns once uvicorn listens (it logs its port); `stop` signals it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, startup_timeout: float = 60) -> None:
        # the server's settings come from the test alone, not from whoever runs the tests; its runs are saved
        # in a folder of its own, never in the user's data folder
        self._data_dir = tempfile.TemporaryDirectory(prefix="research-nb-api-test-")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("RESEARCH_NB_API_")}
        full_env.update(
            {
                "RESEARCH_NB_API_HEARTBEAT_SECONDS": "0.5",
                "RESEARCH_NB_DATA_DIR": self._data_dir.name,
                **(env or {}),
            }
        )
        self.env = full_env
        self.process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._closed = False
        self.port: int | None = None
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self.wait_for_log(_RUNNING, startup_timeout) or self.port is None:
            self.process.kill()
            raise RuntimeError(f"the test server did not start:\n{self.log}")

    @property
    def data_dir(self) -> Path:
        """The server's data folder (`RESEARCH_NB_DATA_DIR`): its run store is `runs/` in it."""
        return Path(self._data_dir.name)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def wait_for_log(self, pattern: str | re.Pattern[str], timeout: float = 30) -> bool:
        """Wait until a log line matches `pattern` (or the log ends); True if one did."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        with self._changed:
            return self._changed.wait_for(
                lambda: any(regex.search(line) for line in self._lines) or self._closed, timeout
            ) and any(regex.search(line) for line in self._lines)

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 30) -> int:
        """Send `sig` (unless the process already ended) and wait for it to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit (killing it after `timeout`); returns its exit code."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self._reader.join(timeout)
        self._data_dir.cleanup()
        return code

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self._lines.append(line)
                if self.port is None and (match := _RUNNING.search(line)):
                    self.port = int(match.group(1))
                self._changed.notify_all()
        self.process.stderr.close()
        with self._changed:
            self._closed = True
            self._changed.notify_all()
