"""The optional bearer token: when `RESEARCH_NB_API_TOKEN` is set, every endpoint but /health wants it."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from research_nb.api.settings import TOKEN_ENV, ServerSettings, settings_of_app

_bearer = HTTPBearer(auto_error=False, description=f"The value of {TOKEN_ENV}, when the server has one")


def settings_of(request: Request) -> ServerSettings:
    return settings_of_app(request.app)


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    expected = settings_of(request).token_value()
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    # compare_digest: the time taken must not tell how much of a guessed token was right
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"missing or wrong bearer token: send 'Authorization: Bearer <the server's {TOKEN_ENV}>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
