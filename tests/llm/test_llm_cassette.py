"""Record and replay: a recorded run replays with no key and no network into the same report, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from llm.conftest import EngineMaker
from llm.scripted import FAST_RETRY, ScriptedLLM, flow_with
from research_nb.core.errors import ConfigurationError
from research_nb.engines.llm import LLMEngine
from research_nb.models.research import ResearchOptions, ResearchStage

QUESTION = "Why are there two high tides a day?"


def tripwire(sent: list[str]) -> httpx2.MockTransport:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        sent.append(str(request.url))
        raise AssertionError(f"a replay sent a request to {request.url}")

    return httpx2.MockTransport(refuse)


def replayer(sent: list[str]) -> LLMEngine:
    """An engine with no model, no key and no network: all it has is the cassette."""
    return LLMEngine(
        http_transport=lambda: tripwire(sent), retry=FAST_RETRY, web_retry=FAST_RETRY, environ={}, dotenv={}
    )


async def test_a_recorded_run_replays_byte_for_byte_without_keys_or_network(
    tmp_path: Path, make_engine: EngineMaker, brain: ScriptedLLM
) -> None:
    cassette = tmp_path / "tides.json"
    web = ["wikipedia", "arxiv"]
    recorded = await flow_with(make_engine()).run(
        QUESTION, options=ResearchOptions(engine="llm", model="openai:gpt-4o-mini", web=web, record_to=str(cassette))
    )
    assert recorded.current_stage is ResearchStage.COMPLETED, recorded.error_message
    calls = list(brain.calls)
    saved = json.loads(cassette.read_text())
    assert len(saved["model_exchanges"]) == len(calls) == 6
    assert {e["url"].split("/")[2] for e in saved["http_exchanges"]} == {"en.wikipedia.org", "export.arxiv.org"}

    sent: list[str] = []
    replayed = await flow_with(replayer(sent)).run(
        QUESTION, options=ResearchOptions(engine="llm", model="openai:gpt-4o-mini", web=web, replay_from=str(cassette))
    )

    assert replayed.current_stage is ResearchStage.COMPLETED, replayed.error_message
    assert sent == [] and brain.calls == calls  # neither the network nor the model was asked
    assert recorded.report is not None and replayed.report is not None
    assert replayed.report.markdown == recorded.report.markdown
    assert replayed.metadata["usage"] == recorded.metadata["usage"]
    assert [p.id for p in replayed.passages] == [p.id for p in recorded.passages]


async def test_replaying_another_question_fails_and_says_why(tmp_path: Path, make_engine: EngineMaker) -> None:
    cassette = tmp_path / "tides.json"
    await flow_with(make_engine()).run(
        QUESTION, options=ResearchOptions(engine="llm", model="openai:gpt-4o-mini", record_to=str(cassette))
    )

    sent: list[str] = []
    state = await flow_with(replayer(sent)).run(
        "What causes earthquakes?",
        options=ResearchOptions(engine="llm", model="openai:gpt-4o-mini", replay_from=str(cassette)),
    )

    assert state.current_stage is ResearchStage.FAILED
    assert "tides.json holds no model answer" in (state.error_message or "")
    assert sent == []


def test_a_missing_cassette_is_refused_before_the_run_starts(tmp_path: Path) -> None:
    flow = flow_with(replayer([]))
    missing = tmp_path / "nowhere.json"
    with pytest.raises(ConfigurationError, match=r"no cassette at .*nowhere\.json: record one first"):
        flow.prepare(QUESTION, options=ResearchOptions(engine="llm", replay_from=str(missing)))
