"""The published OpenAPI schema, made to say what this server accepts (a fuzzer holds it to its word).

FastAPI's schema is built from the code alone; what a request may hold also depends on how the server was
started. So, once, on the first request for the schema:
- no bearer auth (nor its 401) is advertised when the server has no token;
- `engine` lists the engines the server has; options naming the server's files (`sources`, `record_to`,
  `replay_from`) are left out unless the server allows them;
- the options that exclude each other are written down as such (`local_only` and `web`; `record_to` and
  `replay_from`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from research_nb.api.runs import SERVER_PATH_OPTIONS
from research_nb.api.settings import ServerSettings
from research_nb.core.workflow import workflow

_REQUEST_SCHEMA = "ResearchRequest"


def install_openapi(app: FastAPI, settings: Callable[[], ServerSettings]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)  # builds and caches app.openapi_schema
            _fit_to(schema, settings())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _fit_to(schema: dict[str, Any], settings: ServerSettings) -> None:
    if settings.token_value() is None:
        schema.get("components", {}).pop("securitySchemes", None)
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation.pop("security", None)
                operation.get("responses", {}).pop("401", None)
    request = schema["components"]["schemas"][_REQUEST_SCHEMA]
    properties: dict[str, Any] = request["properties"]
    properties["engine"]["enum"] = workflow.engines.names()
    # the options that exclude each other, as `if`/`then`: one of them set, the other must be absent or empty
    rules = [_excludes("local_only", {"const": True}, "web", {"anyOf": [{"type": "null"}, {"maxItems": 0}]})]
    if settings.allow_server_paths:
        rules.append(
            _excludes(
                "record_to",
                {"type": "string", "minLength": 1},
                "replay_from",
                {"anyOf": [{"type": "null"}, {"maxLength": 0}]},
            )
        )
    else:
        for name in SERVER_PATH_OPTIONS:
            properties.pop(name, None)
    request["allOf"] = rules


def _excludes(name: str, when: dict[str, Any], other: str, then: dict[str, Any]) -> dict[str, Any]:
    return {
        "if": {"properties": {name: when}, "required": [name]},
        "then": {"properties": {other: then}},
    }
