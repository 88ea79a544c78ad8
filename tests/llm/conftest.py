"""Fixtures for the LLM engine tests: real model requests are blocked, the web is a mock transport fed with
recorded payloads, and each test builds its engine with the stand-ins it needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import pytest
from pydantic_ai import models

from llm.scripted import FAST_RETRY, TIDES, ScriptedLLM, WebLog, web_handler
from research_nb.engines.llm import LLMEngine


@pytest.fixture(autouse=True)
def no_real_model_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", False)
    yield


@pytest.fixture
def web() -> WebLog:
    return WebLog()


@pytest.fixture
def brain() -> ScriptedLLM:
    return ScriptedLLM(list(TIDES))


EngineMaker = Callable[..., LLMEngine]


@pytest.fixture
def make_engine(web: WebLog, brain: ScriptedLLM) -> EngineMaker:
    """An engine over the scripted model and the recorded web; keys only from what a test passes."""

    def make(**overrides: object) -> LLMEngine:
        settings: dict[str, object] = {
            "model": brain.model(),
            "http_transport": lambda: httpx2.MockTransport(web_handler(web)),
            "retry": FAST_RETRY,
            "web_retry": FAST_RETRY,
            "environ": {},
            "dotenv": {},
        }
        settings.update(overrides)
        return LLMEngine(**settings)  # type: ignore[arg-type]

    return make
