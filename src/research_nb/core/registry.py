"""Engines by name.

The core never imports an engine: packages declare theirs under the `research_nb.engines` entry-point group
(research-nb's own offline engine included, in pyproject.toml), and tests or plugins may `register` more.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from research_nb.core.errors import MissingDependencyError, UnknownEngineError
from research_nb.core.protocols import Engine

ENTRY_POINT_GROUP = "research_nb.engines"

EngineFactory = Callable[[], Engine]


class EngineRegistry:
    """Maps names to engine factories; builds each engine once, on first use."""

    def __init__(self) -> None:
        self._factories: dict[str, EngineFactory] = {}
        self._engines: dict[str, Engine] = {}

    def register(self, name: str, factory: EngineFactory) -> None:
        """Add (or replace) an engine; a replaced engine's cached instance is dropped."""
        self._factories[name] = factory
        self._engines.pop(name, None)

    def unregister(self, name: str) -> None:
        self._factories.pop(name, None)
        self._engines.pop(name, None)

    def names(self) -> list[str]:
        return sorted(set(self._factories) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})

    def get(self, name: str) -> Engine:
        engine = self._engines.get(name)
        if engine is None:
            engine = self._engines[name] = self._factory(name)()
        return engine

    def _factory(self, name: str) -> EngineFactory:
        factory = self._factories.get(name)
        if factory is not None:
            return factory
        for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
            try:
                loaded: EngineFactory = ep.load()
            except ModuleNotFoundError as exc:  # an engine of an optional extra that is not installed
                raise MissingDependencyError(
                    f"the {name!r} engine needs {exc.name}, which is not installed: pip install 'research-nb[{name}]'"
                ) from None
            return loaded
        raise self._unknown(name)

    def _unknown(self, name: str) -> UnknownEngineError:
        return UnknownEngineError(f"unknown engine {name!r}; available: {', '.join(self.names()) or 'none'}")
