"""What a run's model server supports, found once per run before the first model call (or said by the user).

A `base_url` server is asked for its models (`GET /models`, which Ollama, llama.cpp, LM Studio and vLLM serve).
A server that does not answer at all fails the run at once, with its address, instead of every sub-question
failing later. llama.cpp reports its model's parameter count: under `SMALL_MODEL_PARAMETERS` the model is small,
and the engine plans the searches itself and asks the model only for notes from trimmed passages. The answer is
kept in the run's state (a resumed run does not ask again) and in its cassette (a replay decides the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import httpx2
from pydantic import BaseModel

from research_nb.core.errors import ConfigurationError
from research_nb.models.research import ResearchOptions

SMALL_MODEL_PARAMETERS = 4_000_000_000
PROBE_TIMEOUT = httpx2.Timeout(20.0, connect=5.0)
STATE_KEY = "model_server"


class ServerProfile(BaseModel):
    """What the engine knows of the model server; kept in `state.metadata["model_server"]`."""

    local: bool = False  # a server of one's own (base_url, Ollama) rather than a hosted provider
    output: Literal["native", "tool"] = "tool"
    small: bool = False
    server: str | None = None  # who serves it, as the server says ("llamacpp", "library" for Ollama)
    parameters: int | None = None  # the model's parameter count, when the server says


def decide(options: ResearchOptions, spec: str, listing: Mapping[str, object] | None) -> ServerProfile:
    """The run's profile from its options and, for a server of one's own, what its model listing says."""
    local = bool(options.base_url) or spec.startswith("ollama:")
    owner, parameters = _read_listing(listing or {})
    if options.structured_output != "auto":
        output: Literal["native", "tool"] = options.structured_output
    else:
        # Servers of one's own may ignore `tool_choice: required` (llama.cpp does): a weak model then writes the
        # call as text and rambles to the token cap. A JSON-schema response format is enforced by the grammar.
        output = "native" if local else "tool"
    if options.small_model is not None:
        small = options.small_model
    else:
        small = parameters is not None and parameters < SMALL_MODEL_PARAMETERS
    return ServerProfile(local=local, output=output, small=small, server=owner, parameters=parameters)


async def list_models(client: httpx2.AsyncClient, base_url: str) -> dict[str, object] | None:
    """The server's `GET /models` answer; None when it has no such endpoint. Raises `ConfigurationError` when
    nothing answers at `base_url`."""
    url = base_url.rstrip("/") + "/models"
    try:
        response = await client.get(url, timeout=PROBE_TIMEOUT)
    except httpx2.TransportError as exc:
        raise ConfigurationError(
            f"the model server at {base_url} does not answer ({type(exc).__name__}): start it, or check base_url"
        ) from None
    if response.status_code >= 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _read_listing(listing: Mapping[str, object]) -> tuple[str | None, int | None]:
    data = listing.get("data")
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    owner = first.get("owned_by")
    meta = first.get("meta")
    parameters = meta.get("n_params") if isinstance(meta, dict) else None
    return (
        owner if isinstance(owner, str) else None,
        parameters if isinstance(parameters, int) and parameters > 0 else None,
    )
