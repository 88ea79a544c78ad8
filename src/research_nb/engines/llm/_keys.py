"""Where the keys of a run come from, read in one place: the request's `APIKeys`, then the environment variable the
user named (`api_key_env`), then the usual variables (`OPENAI_API_KEY`, ...), then a `.env` file.

A `.env` file is read, never loaded into `os.environ` (other code in the kernel must not see keys appear). The ring
remembers every key it hands out so that any text leaving the engine (a warning, an error) can be redacted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from research_nb.core.errors import ConfigurationError
from research_nb.models.api_models import APIKeys

#: Key of each service: the `APIKeys` field and the environment variables that may hold it, most usual first.
SERVICE_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "openai": ("openai", ("OPENAI_API_KEY",)),
    "anthropic": ("anthropic", ("ANTHROPIC_API_KEY",)),
    "google": ("google", ("GOOGLE_API_KEY", "GEMINI_API_KEY")),
    "tavily": ("tavily", ("TAVILY_API_KEY",)),
}


class KeyRing:
    def __init__(
        self,
        api_keys: APIKeys | None = None,
        environ: Mapping[str, str] | None = None,
        dotenv: Mapping[str, str | None] | None = None,
    ) -> None:
        self._api_keys = api_keys or APIKeys()
        self._environ = os.environ if environ is None else environ
        self._dotenv = dotenv
        self._handed_out: set[str] = {
            value.get_secret_value() for _, value in self._api_keys if value is not None and value.get_secret_value()
        }

    def get(self, service: str, named_env: str | None = None, *, usual_variables: bool = True) -> str | None:
        """The key for `service` (a `SERVICE_KEYS` name), or None. `named_env` is a variable the user named for
        this key: it must exist. Without `usual_variables`, only a key given explicitly (the request's, or the
        named variable's) is used."""
        field, variables = SERVICE_KEYS[service]
        secret = getattr(self._api_keys, field)
        key = secret.get_secret_value() if secret is not None else ""
        if not key and named_env:
            key = self._environ.get(named_env) or self._dotenv_values().get(named_env) or ""
            if not key:
                raise ConfigurationError(
                    f"api_key_env names {named_env}, but no such environment variable is set (nor in a .env file)"
                )
        for variable in variables if usual_variables else ():
            key = key or self._environ.get(variable) or self._dotenv_values().get(variable) or ""
        if key:
            self._handed_out.add(key)
        return key or None

    def require(self, service: str, model: str, named_env: str | None = None) -> str:
        key = self.get(service, named_env)
        if key is None:
            variables = " or ".join(SERVICE_KEYS[service][1])
            raise ConfigurationError(
                f"{model} needs an API key ({service}): set {variables} in the environment or a .env file, "
                "or name the variable that holds it with api_key_env (never paste a key into a notebook)"
            )
        return key

    def redact(self, text: str) -> str:
        """`text` with every key this ring knows replaced by `***`."""
        for key in sorted(self._handed_out, key=len, reverse=True):
            text = text.replace(key, "***")
        return text

    def _dotenv_values(self) -> Mapping[str, str | None]:
        if self._dotenv is None:
            self._dotenv = read_dotenv()
        return self._dotenv


def read_dotenv(start: Path | None = None) -> dict[str, str | None]:
    """The variables of the nearest `.env` file (the working folder or a parent), without loading them."""
    from dotenv import dotenv_values, find_dotenv

    if start is None:
        path = find_dotenv(usecwd=True)
    else:
        candidates = [folder / ".env" for folder in (start, *start.parents)]
        path = next((str(c) for c in candidates if c.is_file()), "")
    return dict(dotenv_values(path)) if path else {}
