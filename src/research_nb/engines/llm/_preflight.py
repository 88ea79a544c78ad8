"""The llm engine's up-front checks: a model string with a provider pydantic-ai knows, and that provider's key.

Declared under the `research_nb.preflight` entry-point group so that a front can refuse a run that cannot work
as one line before anything starts, without importing the engine (pydantic-ai takes seconds to import): this
module imports only the key ring. What needs the disk or the network (sources, a local model server) is
checked by the engine when the run starts.
"""

from __future__ import annotations

import os

from research_nb.core.errors import ConfigurationError
from research_nb.engines.llm._keys import KeyRing
from research_nb.models.api_models import APIKeys
from research_nb.models.research import ResearchOptions

#: Providers whose key the engine looks up itself (`_models._provider`), by the `SERVICE_KEYS` service.
KEYED_PROVIDERS = {
    "openai": "openai",
    "openai-chat": "openai",
    "openai-responses": "openai",
    "anthropic": "anthropic",
    "google-gla": "google",
    "google": "google",
}

#: Model-string prefixes pydantic-ai resolves (its `KnownModelName` prefixes and the OpenAI-compatible
#: providers of `infer_provider`); a test pins this list against the installed pydantic-ai.
KNOWN_PROVIDERS = frozenset(
    {
        *KEYED_PROVIDERS,
        "alibaba",
        "azure",
        "bedrock",
        "bedrock-mantle",
        "cerebras",
        "cohere",
        "crusoe",
        "deepseek",
        "fireworks",
        "github",
        "google-cloud",
        "google-decisions",
        "groq",
        "heroku",
        "huggingface",
        "litellm",
        "meta",
        "mistral",
        "moonshotai",
        "nebius",
        "ollama",
        "openai-decisions",
        "openrouter",
        "ovhcloud",
        "sambanova",
        "snowflake",
        "together",
        "typesafe",
        "vercel",
        "xai",
        "zai",
    }
)


def check_options(options: ResearchOptions, api_keys: APIKeys | None = None) -> None:
    """Raise `ConfigurationError` for a model that cannot work: an unknown provider prefix, or a provider whose
    key is in neither the request, the named variable, the usual variables nor a `.env` file. A replayed run
    needs neither (its cassette answers)."""
    if options.replay_from:
        return
    spec = options.model or os.environ.get("RESEARCH_NB_MODEL")
    if not spec:
        return  # the engine names the ways to choose a model when the run starts
    provider, colon, _ = spec.partition(":")
    if not colon or not (provider in KNOWN_PROVIDERS or provider.startswith("gateway/")):
        raise ConfigurationError(
            f"unknown model {spec!r}: write provider:model, e.g. 'openai:gpt-4o-mini', 'anthropic:claude-sonnet-4-5',"
            " 'google-gla:gemini-2.5-flash' or 'ollama:llama3.2'"
        )
    service = KEYED_PROVIDERS.get(provider)
    if service is None:
        return  # other providers read their own environment variables
    keys = KeyRing(api_keys)
    if service == "openai" and options.base_url:
        keys.get(service, options.api_key_env, usual_variables=False)  # a named variable must exist
    else:
        keys.require(service, spec, options.api_key_env)
