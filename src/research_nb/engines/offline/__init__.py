"""The offline engine: deterministic, extractive research with no keys and no network (see `_engine`)."""

from research_nb.engines.offline._engine import OfflineEngine, question_of

__all__ = ["OfflineEngine", "question_of"]
