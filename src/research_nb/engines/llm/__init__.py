"""The `llm` engine: pydantic-ai agents plan, take notes and write; every claim is verified (see `_engine`)."""

from research_nb.engines.llm._engine import LLMEngine

__all__ = ["LLMEngine"]
