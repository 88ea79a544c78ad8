"""Keys never leave the requests they authorise: a full research with canary keys, through the real OpenAI model
class and Tavily over a mock transport, then every artifact is scanned for them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx2
import pytest
from pydantic import SecretStr
from pydantic_ai.models import override_allow_model_requests

from llm.scripted import FAST_RETRY, TIDES, ScriptedLLM, WebLog, web_handler
from research_nb.core.events import ResearchEvent
from research_nb.core.store import RunStore
from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.llm import LLMEngine
from research_nb.models.api_models import APIKeys
from research_nb.models.research import ResearchOptions, ResearchStage

OPENAI_CANARY = "sk-canary-7f3a9c1e5b2d4f6a8c0e"
TAVILY_CANARY = "tvly-canary-0d9e8f7a6b5c4d3e"


def _key_echoing_refusal(request: httpx2.Request) -> httpx2.Response:
    """What OpenAI answers to a bad key: an error that quotes the key back."""
    key = request.headers["authorization"].removeprefix("Bearer ")
    return httpx2.Response(
        401,
        json={
            "error": {
                "message": f"Incorrect API key provided: {key}.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        },
    )


def _network(
    brain: ScriptedLLM, model_requests: list[httpx2.Request], web: WebLog, refuse: str
) -> httpx2.MockTransport:
    answer_model = brain.openai_handler(model_requests)
    answer_web = web_handler(web, tavily_key=TAVILY_CANARY)

    async def handle(request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "api.openai.com":
            if refuse and refuse in request.content.decode():
                model_requests.append(request)
                return _key_echoing_refusal(request)
            return await answer_model(request)
        return answer_web(request)

    return httpx2.MockTransport(handle)


def _engine(brain: ScriptedLLM, model_requests: list[httpx2.Request], web: WebLog, refuse: str = "") -> LLMEngine:
    return LLMEngine(
        http_transport=lambda: _network(brain, model_requests, web, refuse),
        retry=FAST_RETRY,
        web_retry=FAST_RETRY,
        environ={"TAVILY_API_KEY": TAVILY_CANARY},
        dotenv={},
    )


async def test_canary_keys_are_used_but_appear_in_no_artifact(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    brain, web, model_requests = ScriptedLLM(list(TIDES)), WebLog(), []
    # one sub-question's notes get OpenAI's answer to a bad key, which quotes the key back: it becomes a warning
    flow = ResearchWorkflow(store=RunStore(tmp_path / "runs"))
    flow.engines.register("llm", lambda: _engine(brain, model_requests, web, refuse="Sub-question sq-2"))
    keys = APIKeys(openai=SecretStr(OPENAI_CANARY))
    events: list[ResearchEvent] = []
    options = ResearchOptions(
        engine="llm",
        model="openai-chat:gpt-4o-mini",
        record_to=str(tmp_path / "cassette.json"),
        web=["wikipedia", "tavily"],
    )

    with override_allow_model_requests(True):  # the real OpenAI model class, over a mock transport
        state = await flow.run(
            "Why are there two high tides a day?", api_keys=keys, options=options, stream_callback=events.append
        )

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    # the keys were really used...
    assert {r.headers["authorization"] for r in model_requests} == {f"Bearer {OPENAI_CANARY}"}
    tavily = [r for r in web.requests if r.url.host == "api.tavily.com"]
    assert tavily and {r.headers["authorization"] for r in tavily} == {f"Bearer {TAVILY_CANARY}"}
    assert any("sq-2" in w and "401" in w for w in state.warnings)  # the refusal that quoted the key
    assert any("***" in w for w in state.warnings)
    assert state.report is not None and state.report.markdown
    assert state.metadata["usage"]["stages"]["report_generation"]["cost_usd"] > 0  # a priced model

    # ...and appear nowhere else
    artifacts = {
        "state": state.model_dump_json(),
        "report": state.report.markdown,
        "events": "\n".join(json.dumps(event.model_dump(mode="json")) for event in events),
        "logs": caplog.text,
        "reprs": repr(keys) + str(keys) + repr(options) + repr(state),
        "cassette": (tmp_path / "cassette.json").read_text(),
    }
    for path in (tmp_path / "runs").iterdir():
        artifacts[f"store:{path.name}"] = path.read_text()
    assert len(artifacts) > 6  # the run store holds the run
    for name, text in artifacts.items():
        for canary in (OPENAI_CANARY, TAVILY_CANARY, OPENAI_CANARY[10:], TAVILY_CANARY[12:]):
            assert canary not in text, f"a key leaked into {name}"


async def test_a_refused_key_fails_the_run_with_a_message_that_does_not_hold_it(tmp_path: Path) -> None:
    brain, web, model_requests = ScriptedLLM(list(TIDES)), WebLog(), []
    engine = LLMEngine(
        http_transport=lambda: _network(brain, model_requests, web, refuse="Research question"),
        retry=FAST_RETRY,
        environ={"MY_OPENAI_KEY": OPENAI_CANARY},  # the key in a variable the user names, as the magic passes it
        dotenv={},
    )
    flow = ResearchWorkflow(store=RunStore(tmp_path / "runs"))
    flow.engines.register("llm", lambda: engine)
    options = ResearchOptions(engine="llm", model="openai-chat:gpt-4o-mini", api_key_env="MY_OPENAI_KEY")

    with override_allow_model_requests(True):
        state = await flow.run("Why are there two high tides a day?", options=options)

    assert state.current_stage is ResearchStage.FAILED
    assert model_requests and model_requests[0].headers["authorization"] == f"Bearer {OPENAI_CANARY}"
    assert state.error_message is not None and "401" in state.error_message and "***" in state.error_message
    saved = next((tmp_path / "runs").iterdir()).read_text()
    assert OPENAI_CANARY not in state.error_message + saved + state.model_dump_json()


async def test_a_model_without_its_key_is_refused_before_any_request() -> None:
    engine = LLMEngine(environ={}, dotenv={}, retry=FAST_RETRY)
    flow = ResearchWorkflow()
    flow.engines.register("llm", lambda: engine)

    state = await flow.run(
        "Why are there two high tides a day?",
        options=ResearchOptions(engine="llm", model="anthropic:claude-sonnet-4-5", web=[]),
    )

    assert state.current_stage is ResearchStage.FAILED
    assert "needs an API key (anthropic): set ANTHROPIC_API_KEY" in (state.error_message or "")


async def test_the_usual_key_is_never_sent_to_another_base_url() -> None:
    seen: list[httpx2.Request] = []
    brain = ScriptedLLM(list(TIDES))
    answer = brain.openai_handler(seen)
    engine = LLMEngine(
        http_transport=lambda: httpx2.MockTransport(answer),
        retry=FAST_RETRY,
        environ={"OPENAI_API_KEY": OPENAI_CANARY},
        dotenv={},
    )
    flow = ResearchWorkflow()
    flow.engines.register("llm", lambda: engine)
    options = ResearchOptions(
        engine="llm", model="openai-chat:llama3.2", base_url="http://127.0.0.1:8080/v1", web=[], sources=[]
    )

    with override_allow_model_requests(True):
        state = await flow.run("Why are there two high tides a day?", options=options)

    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert seen and {r.url.host for r in seen} == {"127.0.0.1"}
    assert all(OPENAI_CANARY not in r.headers.get("authorization", "") for r in seen)
