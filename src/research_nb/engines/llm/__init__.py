"""The `llm` engine: pydantic-ai agents plan, take notes and write; every claim is verified (see `_engine`).

`LLMEngine` is imported on first use: the engine pulls in pydantic-ai and the model SDKs (seconds on a cold
start), while the fronts' up-front checks (`_preflight`) must stay instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from research_nb.engines.llm._engine import LLMEngine

__all__ = ["LLMEngine"]


def __getattr__(name: str) -> Any:
    if name == "LLMEngine":
        from research_nb.engines.llm._engine import LLMEngine

        return LLMEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
