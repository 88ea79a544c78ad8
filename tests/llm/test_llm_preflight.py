"""The llm engine's up-front checks: instant to import, and in step with the installed pydantic-ai."""

from __future__ import annotations

import subprocess
import sys
import typing

import pytest
from pydantic import SecretStr
from pydantic_ai.models import KnownModelName
from pydantic_ai.providers import infer_provider_class

from research_nb.core.errors import ConfigurationError
from research_nb.core.registry import EngineRegistry
from research_nb.engines.llm._preflight import KEYED_PROVIDERS, KNOWN_PROVIDERS, check_options
from research_nb.models.api_models import APIKeys
from research_nb.models.research import ResearchOptions


def _names(annotation: object) -> list[str]:
    found: list[str] = []
    for arg in typing.get_args(getattr(annotation, "__value__", annotation)):
        found.extend([arg] if isinstance(arg, str) else _names(arg))
    return found


def test_every_provider_pydantic_ai_names_is_known() -> None:
    prefixes = {name.split(":")[0] for name in _names(KnownModelName) if ":" in name}
    assert prefixes, "KnownModelName lists no model"
    assert sorted(p for p in prefixes if p not in KNOWN_PROVIDERS and not p.startswith("gateway/")) == []


@pytest.mark.parametrize("provider", sorted(KNOWN_PROVIDERS - set(KEYED_PROVIDERS)))
def test_every_known_provider_is_one_pydantic_ai_resolves(provider: str) -> None:
    try:
        infer_provider_class(provider)
    except ImportError:  # its SDK is an extra of pydantic-ai that is not installed here: still a real provider
        pass
    except ValueError:
        assert provider in {n.split(":")[0] for n in _names(KnownModelName)}, f"pydantic-ai knows no {provider!r}"


def test_importing_the_checks_does_not_import_the_engine_or_pydantic_ai() -> None:
    code = (
        "import sys\n"
        "from research_nb.core.workflow import workflow\n"
        "from research_nb.models.research import ResearchOptions\n"
        "workflow.engines.preflight(ResearchOptions(engine='llm', model='ollama:llama3.2'))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic_ai', 'research_nb.engines.llm._engine'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "options",
    [
        ResearchOptions(engine="llm", model="openai:gpt-4o-mini", base_url="http://127.0.0.1:8080/v1"),
        ResearchOptions(engine="llm", model="anthropic:claude-sonnet-4-5", replay_from="run.json"),
        ResearchOptions(engine="llm", model="ollama:llama3.2"),
        ResearchOptions(engine="llm", model="groq:llama-3.3-70b-versatile"),  # groq reads its own variables
        ResearchOptions(engine="llm"),  # no model at all: the engine names the ways to choose one at the start
    ],
)
def test_options_that_need_no_key_here_pass(options: ResearchOptions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESEARCH_NB_MODEL", raising=False)
    check_options(options)


def test_a_key_in_the_request_satisfies_the_check(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(str(tmp_path))  # no .env file above
    options = ResearchOptions(engine="llm", model="openai:gpt-4o-mini")
    with pytest.raises(ConfigurationError, match=r"needs an API key \(openai\): set OPENAI_API_KEY"):
        check_options(options)

    check_options(options, APIKeys(openai=SecretStr("sk-test")))


def test_a_registered_engine_replaces_the_declared_checks() -> None:
    registry = EngineRegistry()
    options = ResearchOptions(engine="llm", model="nosuch:model")
    with pytest.raises(ConfigurationError, match="unknown model 'nosuch:model'"):
        registry.preflight(options)

    registry.register("llm", lambda: None)  # type: ignore[arg-type,return-value]
    registry.preflight(options)
