"""The server's settings, read from the environment once, when the app starts.

Where the server listens is uvicorn's business (`research-nb serve --host/--port`); these are the settings the
app itself needs.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette

TOKEN_ENV = "RESEARCH_NB_API_TOKEN"


class ServerSettings(BaseSettings):
    """`RESEARCH_NB_API_TOKEN`, `RESEARCH_NB_API_HEARTBEAT_SECONDS`, ... (no `.env` file is read)."""

    model_config = SettingsConfigDict(env_prefix="RESEARCH_NB_API_", extra="ignore")

    token: SecretStr | None = Field(
        None, description="When set, every endpoint but /health wants `Authorization: Bearer <token>`"
    )
    heartbeat_seconds: float = Field(
        15.0, gt=0, le=60, description="A `ping` frame after this much silence on an event stream"
    )
    shutdown_grace_seconds: float = Field(
        5.0, ge=0, le=60, description="On shutdown, how long an open stream may take to deliver its run's last frame"
    )
    body_timeout_seconds: float = Field(
        5.0, gt=0, le=600, description="A request body that takes longer than this to arrive is refused (408)"
    )
    log_level: str = Field("INFO", description="Level of the research_nb loggers")
    allow_server_paths: bool = Field(
        False,
        description="Let clients name files on the server: `sources` to research, `record_to`/`replay_from` cassettes",
    )

    def token_value(self) -> str | None:
        """The token, or None when the API is open (an empty variable counts as unset)."""
        value = self.token.get_secret_value() if self.token is not None else ""
        return value or None


def settings_of_app(app: Starlette) -> ServerSettings:
    """The settings the app read at startup (read now if it is used without its lifespan)."""
    settings: ServerSettings | None = getattr(app.state, "settings", None)
    if settings is None:
        settings = app.state.settings = ServerSettings()
    return settings
