"""Property-based fuzzing of the OpenAPI schema (schemathesis, every check it has): no input makes the server
answer 500, every answer matches the schema it publishes (status codes, content types, bodies, headers such as
a 405's `Allow`), requests the schema calls valid are accepted and those it calls invalid refused — on a server
with a token (the fuzzer also checks that requests without it, or with a wrong one, are refused) and on one
without (whose schema must then advertise no authentication).

The fuzz servers serve the scripted test engine under every engine's name, so the many runs the fuzzer starts
finish in microseconds instead of each building the offline corpus.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import TOKEN
from .live_server import LiveServer


@pytest.fixture(scope="module", params=["with-token", "without-token"])
def fuzz_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    env = {"RESEARCH_NB_API_TOKEN": TOKEN} if request.param == "with-token" else {}
    live = LiveServer("--as-default", env=env)
    yield live
    live.stop(signal.SIGINT)


def test_no_input_breaks_the_server(fuzz_server: LiveServer, tmp_path: Path) -> None:
    """The schemathesis command line, every phase (coverage: each boundary and each undeclared method; fuzzing:
    valid and invalid data; stateful: POST then the run's own id) and every check but one: `use_after_free`
    expects a deleted resource to be gone, while here DELETE cancels a run, which stays readable (the contract)."""
    token = "RESEARCH_NB_API_TOKEN" in fuzz_server.env
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--no-color",
        "run",
        f"{fuzz_server.url}/openapi.json",
        "--checks=all",
        "--exclude-checks=use_after_free",
        "--max-examples=30",
        "--generation-deterministic",
        f"--report-dir={tmp_path}",
        *(["--header", f"Authorization: Bearer {TOKEN}"] if token else []),
    ]
    # in a folder of its own: schemathesis keeps its example database in the working directory
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    assert re.search(r"\d+ generated, (\d+) passed", summary), summary
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, summary
    assert "Traceback" not in fuzz_server.log


def test_the_schema_advertises_auth_only_when_there_is_a_token(fuzz_server: LiveServer) -> None:
    token = "RESEARCH_NB_API_TOKEN" in fuzz_server.env
    schema = httpx.get(f"{fuzz_server.url}/openapi.json", timeout=20).json()
    submit = schema["paths"]["/research"]["post"]
    assert ("securitySchemes" in schema.get("components", {})) is token
    assert ("security" in submit) is token and ("401" in submit["responses"]) is token
    request = schema["components"]["schemas"]["ResearchRequest"]["properties"]
    # refused over HTTP (always, or on a server that does not allow its files to be named): not offered
    assert not {"api_key_env", "base_url", "sources", "record_to", "replay_from"} & request.keys()
    assert {"offline", "llm", "scripted"} <= set(request["engine"]["enum"])
