"""The model a run talks to: resolved from a pydantic-ai model string with the run's keys, over the project's HTTP
stack, wrapped so that every request is bounded, metered, budgeted and recorded (or replayed from a cassette).

    RunModel(ReplayModel(cassette))        replay: no key, no network
    RunModel(<provider model>)             live, recorded to a cassette when asked

An OpenAI-compatible server of one's own (`base_url`: Ollama, llama.cpp, LM Studio, vLLM) is spoken to over Chat
Completions, which they all serve, not the Responses API, which most serve partly or not at all (llama.cpp
answers a first request and rejects the retry with HTTP 400). Every response's text goes through `_repair` first:
weak models wrap their JSON in fences, write a tool call as text, or nest the fields under `arguments`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx2
from pydantic import JsonValue
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelServerError,
    ModelUnavailableError,
)
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, infer_model, infer_model_profile
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.providers import Provider, infer_provider
from pydantic_ai.settings import ModelSettings

from research_nb.core.cassette import Cassette
from research_nb.core.errors import ConfigurationError
from research_nb.core.retry import TRANSIENT_STATUSES, Transient
from research_nb.engines.llm._keys import KeyRing
from research_nb.engines.llm._repair import repair_response
from research_nb.engines.llm._usage import StageUsage, UsageMeter
from research_nb.sources._http import is_local_host

#: Message fields that differ between two runs of the same request; a cassette key ignores them.
_VOLATILE = frozenset({"timestamp", "run_id", "conversation_id", "tool_call_id", "provider_response_id", "id"})
_OLLAMA_DEFAULT = "http://localhost:11434/v1"

HTTPClientFactory = Callable[[], httpx2.AsyncClient]


def request_key(messages: list[ModelMessage], parameters: ModelRequestParameters) -> str:
    """A digest of what decides a model's answer: the conversation and the output schema, not ids or times."""
    conversation = _scrub(ModelMessagesTypeAdapter.dump_python(messages, mode="json"))
    schema: list[Any] = [(t.name, t.parameters_json_schema) for t in parameters.output_tools]
    if parameters.output_object is not None:  # native (JSON-schema) output: the schema is the request's too
        schema.append(parameters.output_object.json_schema)
    payload = json.dumps([conversation, schema], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


class ReplayModel(Model):
    """Answers every request from a cassette, as the recorded model did."""

    def __init__(self, cassette: Cassette, model: str) -> None:
        super().__init__(profile=infer_model_profile(model) if ":" in model else None)
        self._cassette = cassette
        self._model = model

    @property
    def model_name(self) -> str:
        return self._model.split(":", 1)[-1]

    @property
    def system(self) -> str:
        return "replay"

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        recorded = self._cassette.next_model(request_key(messages, model_request_parameters), "model")
        response = ModelMessagesTypeAdapter.validate_python([recorded])[0]
        assert isinstance(response, ModelResponse)
        return response


class ModelTimeout(Exception):
    """A request sent to the model had no answer in time (counted from when it was sent, not queued)."""


class RunModel(WrapperModel):
    """The model as one stage of one run sees it: at most `limit` requests at once, none once the budget is spent,
    each bounded by `timeout` seconds from when it is sent (the wait for a turn does not count: queued
    sub-questions must not time out together while one call runs), its text repaired (`_repair`), counted
    (`on_usage` gets the run's new total) and written to the cassette when recording."""

    def __init__(
        self,
        wrapped: Model,
        *,
        stage: str,
        meter: UsageMeter,
        limit: asyncio.Semaphore,
        on_usage: Callable[[StageUsage], None],
        recorder: Cassette | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(wrapped)
        self._timeout = timeout
        self._stage = stage
        self._meter = meter
        self._limit = limit
        self._on_usage = on_usage
        self._recorder = recorder

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        self._meter.check()
        async with self._limit:
            self._meter.check()  # the budget may have run out while this request waited for its turn
            try:
                async with asyncio.timeout(self._timeout):
                    response = await self.wrapped.request(messages, model_settings, model_request_parameters)
            except TimeoutError:
                raise ModelTimeout(f"no answer within {self._timeout:g} s of sending the request") from None
        response = repair_response(response, model_request_parameters)
        if self._recorder is not None:
            recorded: JsonValue = ModelMessagesTypeAdapter.dump_python([response], mode="json")[0]
            self._recorder.add_model(request_key(messages, model_request_parameters), self._stage, recorded)
        self._on_usage(self._meter.record(self._stage, response))
        return response


def resolve_model(
    spec: str,
    *,
    keys: KeyRing,
    base_url: str | None,
    api_key_env: str | None,
    local_only: bool,
    http_client: HTTPClientFactory,
) -> Model:
    """The pydantic-ai model for `spec` ("openai:gpt-4o-mini", "anthropic:...", "google-gla:...", "ollama:..."),
    with its key from `keys` and its HTTP over `http_client()`. Raises `ConfigurationError` when it cannot work:
    no key, an unknown model, or a remote model in local-only mode."""
    if ":" not in spec:
        raise ConfigurationError(f"model {spec!r} is not a pydantic-ai model string such as 'openai:gpt-4o-mini'")
    if local_only:
        check_local_model(spec, base_url)

    def provider(name: str) -> Provider[Any]:
        return _provider(name, spec, keys=keys, base_url=base_url, api_key_env=api_key_env, http_client=http_client)

    name, _, model_name = spec.partition(":")
    if base_url and name in ("openai", "openai-chat", "openai-responses"):
        from pydantic_ai.models.openai import OpenAIChatModel

        return OpenAIChatModel(model_name, provider=provider(name))
    try:
        return infer_model(spec, provider_factory=provider)
    except ConfigurationError:
        raise
    except Exception as exc:  # pydantic-ai's UserError for an unknown provider or model, a missing SDK
        raise ConfigurationError(f"cannot use the model {spec}: {keys.redact(str(exc))}") from None


def check_local_model(spec: str, base_url: str | None) -> None:
    """Raise `ConfigurationError` unless the model `spec` is served on this machine (local-only mode)."""
    endpoint = base_url or (_OLLAMA_DEFAULT if spec.startswith("ollama:") else None)
    if endpoint is None or not is_local_host(urlsplit(endpoint).hostname or ""):
        raise ConfigurationError(
            f"local_only: the model {spec} would send the research to another machine; use a model server on "
            f"this machine (e.g. model='ollama:llama3.2' or base_url='http://localhost:11434/v1')"
        )


def _provider(
    name: str,
    spec: str,
    *,
    keys: KeyRing,
    base_url: str | None,
    api_key_env: str | None,
    http_client: HTTPClientFactory,
) -> Provider[Any]:
    if name in ("openai", "openai-chat", "openai-responses"):
        from openai import AsyncOpenAI
        from pydantic_ai.providers.openai import OpenAIProvider

        # Another server gets a key only when one is given for it explicitly: OPENAI_API_KEY is never sent to a
        # base_url (which may come from a request) by default. A local server usually wants none.
        if base_url:
            key = keys.get("openai", api_key_env, usual_variables=False)
        else:
            key = keys.require("openai", spec, api_key_env)
        client = AsyncOpenAI(api_key=key or "none", base_url=base_url, http_client=http_client(), max_retries=0)
        return OpenAIProvider(openai_client=client)
    if name == "ollama":
        from pydantic_ai.providers.ollama import OllamaProvider

        return OllamaProvider(base_url=base_url or _OLLAMA_DEFAULT, api_key="none", http_client=http_client())
    if name == "anthropic":
        from anthropic import AsyncAnthropic
        from pydantic_ai.providers.anthropic import AnthropicProvider

        key = keys.require("anthropic", spec, api_key_env)
        return AnthropicProvider(
            anthropic_client=AsyncAnthropic(api_key=key, base_url=base_url, http_client=http_client(), max_retries=0)
        )
    if name in ("google-gla", "google"):
        from pydantic_ai.providers.google import GoogleProvider

        return GoogleProvider(api_key=keys.require("google", spec, api_key_env), http_client=http_client())
    if base_url or api_key_env:
        raise ConfigurationError(f"base_url and api_key_env work with openai, anthropic and google models, not {name}")
    return infer_provider(name)  # other providers read their own environment variables


def classify_model_error(error: BaseException) -> Transient | None:
    """Model failures worth another try: rate limits, overloaded or failing servers, dropped connections."""
    if isinstance(error, ModelTimeout):
        return Transient(str(error))
    retry_after = error.retry_after if isinstance(error, ModelAPIError) else None
    if isinstance(error, ModelRateLimitError | ModelUnavailableError | ModelServerError | ModelConnectionError):
        return Transient(f"the model answered {type(error).__name__}", retry_after)
    if isinstance(error, ModelHTTPError) and error.status_code in TRANSIENT_STATUSES:
        what = "rate limited (HTTP 429)" if error.status_code == 429 else f"HTTP {error.status_code}"
        return Transient(
            f"the model is {what}" if error.status_code == 429 else f"the model answered {what}", retry_after
        )
    if isinstance(error, httpx2.TransportError):
        return Transient(f"connection problem ({type(error).__name__})")
    return None


def describe_model_error(error: BaseException) -> str:
    """One line for a model call that failed for good; a server's refusal (4xx) says so and what it said, for it
    will refuse the same request again."""
    if isinstance(error, ModelHTTPError) and 400 <= error.status_code < 500:
        body = error.body if isinstance(error.body, str) else json.dumps(error.body, ensure_ascii=False)
        return f"the model server refused the request (HTTP {error.status_code}): {body[:300]}"
    return f"{type(error).__name__}: {error}"
