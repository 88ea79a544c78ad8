"""Engines by name.

The core never imports an engine: packages declare theirs under the `research_nb.engines` entry-point group
(research-nb's own offline engine included, in pyproject.toml), and tests or plugins may `register` more.

An engine may also declare, under `research_nb.preflight`, a check of a run's options that is cheap to import
and needs neither the disk nor the network (a model name, whether its key is set): fronts call it before a run
starts, while the engine itself (which may take seconds to import) is loaded off the event loop by the run.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from research_nb.core.errors import MissingDependencyError, UnknownEngineError
from research_nb.core.protocols import Engine
from research_nb.models.api_models import APIKeys
from research_nb.models.research import ResearchOptions

ENTRY_POINT_GROUP = "research_nb.engines"
PREFLIGHT_GROUP = "research_nb.preflight"

EngineFactory = Callable[[], Engine]
#: Raises a `UserInputError` (one line) for options that cannot work; must not import the engine.
Preflight = Callable[[ResearchOptions, APIKeys | None], None]


class EngineRegistry:
    """Maps names to engine factories; builds each engine once, on first use."""

    def __init__(self) -> None:
        self._factories: dict[str, EngineFactory] = {}
        self._engines: dict[str, Engine] = {}
        self._entry_points: dict[str, dict[str, EntryPoint]] = {}  # per group, read once (it scans every package)

    def register(self, name: str, factory: EngineFactory) -> None:
        """Add (or replace) an engine; a replaced engine's cached instance is dropped."""
        self._factories[name] = factory
        self._engines.pop(name, None)

    def unregister(self, name: str) -> None:
        self._factories.pop(name, None)
        self._engines.pop(name, None)

    def names(self) -> list[str]:
        return sorted(set(self._factories) | set(self._declared(ENTRY_POINT_GROUP)))

    def require_known(self, name: str) -> None:
        """Raise `UnknownEngineError` unless an engine of that name exists (imports nothing)."""
        if name not in self._factories and name not in self._declared(ENTRY_POINT_GROUP):
            raise self._unknown(name)

    def preflight(self, options: ResearchOptions, api_keys: APIKeys | None = None) -> None:
        """The engine's cheap checks of `options`, if it declares any (a registered engine replaces the declared
        one, checks included)."""
        if options.engine in self._factories:
            return
        declared = self._declared(PREFLIGHT_GROUP).get(options.engine)
        if declared is None:
            return
        try:
            check: Preflight = declared.load()
        except ModuleNotFoundError:  # an optional extra is missing: loading the engine itself will say which
            return
        check(options, api_keys)

    def _declared(self, group: str) -> dict[str, EntryPoint]:
        if not self._entry_points:  # one scan of the installed packages for both groups
            declared = entry_points()
            for name in (ENTRY_POINT_GROUP, PREFLIGHT_GROUP):
                self._entry_points[name] = {ep.name: ep for ep in declared.select(group=name)}
        return self._entry_points[group]

    def get(self, name: str) -> Engine:
        engine = self._engines.get(name)
        if engine is None:
            engine = self._engines[name] = self._factory(name)()
        return engine

    def _factory(self, name: str) -> EngineFactory:
        factory = self._factories.get(name)
        if factory is not None:
            return factory
        ep = self._declared(ENTRY_POINT_GROUP).get(name)
        if ep is not None:
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
