"""Every error leaves the server as an `ErrorResponse` (`detail` is what existing clients read) with the status
code its cause calls for: the user's mistakes are 4xx with a message that names the fix, never a 500."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from research_nb.core.errors import (
    ClarificationError,
    CorruptRunError,
    DuplicateRequestError,
    InvalidStateError,
    UnknownRequestError,
    UserInputError,
)
from research_nb.models.api_models import ErrorResponse

logger = logging.getLogger(__name__)

#: The project's own errors by status code; the first matching class wins (subclasses before their bases).
_STATUS_BY_ERROR: tuple[tuple[type[UserInputError], int], ...] = (
    (ClarificationError, 400),
    (UnknownRequestError, 404),
    (InvalidStateError, 409),
    (DuplicateRequestError, 409),
    (UserInputError, 422),
)


def error_response(
    status_code: int, detail: str | list[str], error: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorResponse(detail=detail, error=error)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status_code, headers=headers)


async def _user_input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UserInputError)
    code = next(code for kind, code in _STATUS_BY_ERROR if isinstance(exc, kind))
    detail: str | list[str] = exc.problems if isinstance(exc, ClarificationError) and exc.problems else str(exc)
    return error_response(code, detail, type(exc).__name__)


async def _corrupt_run(request: Request, exc: Exception) -> JSONResponse:
    # The run exists but its stored file cannot be read: not the client's typo (404) nor the server's bug (500).
    return error_response(422, str(exc), type(exc).__name__)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and what: FastAPI's own body would echo the input, and the input may hold API keys.
    problems = [_describe(error) for error in exc.errors()]
    return error_response(422, "; ".join(problems), "RequestValidationError")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = exc.headers
    allowed = _allowed_methods(request) if exc.status_code == 405 else []
    if allowed:
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return error_response(exc.status_code, str(exc.detail), "HTTPException", headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the published schema serves at this path. (Starlette names only the methods of the first
    route that matched the path, so `/research/{id}` would claim GET alone though DELETE is served too.)"""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(
        500,
        f"internal error ({type(exc).__name__}); the server log has the details",
        type(exc).__name__,
    )


def _describe(error: object) -> str:
    """One readable line for one pydantic error: `query: the research question is empty: ...`."""
    assert isinstance(error, dict)
    location = [str(part) for part in error.get("loc", ())]
    where = ".".join(location[1:]) if len(location) > 1 else ("request body" if location == ["body"] else "request")
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(UserInputError, _user_input_error)
    app.add_exception_handler(CorruptRunError, _corrupt_run)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
