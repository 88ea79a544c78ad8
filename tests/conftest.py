"""Shared fixtures: a fresh workflow with the in-memory test engine, a fresh task manager.

Subfolders may add their own conftest for their own fixtures. `tests/` is on sys.path (pytest puts a rootdir
conftest's folder there), so test modules can `from engines_for_tests import MemoryEngine`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from engines_for_tests import ENGINE_NAME, MemoryEngine
from research_nb.core.task_manager import BackgroundTaskManager
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions


@pytest.fixture
def engine() -> MemoryEngine:
    return MemoryEngine()


@pytest.fixture
def flow(engine: MemoryEngine) -> ResearchWorkflow:
    """A workflow of its own (own event bus, own states) that knows the `engine` fixture as "memory"."""
    fresh = ResearchWorkflow()
    fresh.engines.register(ENGINE_NAME, lambda: engine)
    return fresh


@pytest.fixture
def options() -> ResearchOptions:
    return ResearchOptions(engine=ENGINE_NAME)


@pytest.fixture
async def manager() -> AsyncIterator[BackgroundTaskManager]:
    """A task manager of its own; whatever a test leaves running is cancelled and awaited afterwards."""
    fresh = BackgroundTaskManager()
    yield fresh
    await fresh.shutdown(timeout=5)


@pytest.fixture(scope="session", autouse=True)
def private_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Runs and corpus indexes go to temporary folders for the session (kernels and servers started by tests
    inherit them), never to the user's data or cache folder. The index the package ships is off: the tests
    measure what a build does (tests/sources/test_prebuilt.py turns it on)."""
    root = tmp_path_factory.mktemp("research-nb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESEARCH_NB_PREBUILT", "0")
        patch.setenv("RESEARCH_NB_DATA_DIR", str(root / "data"))
        patch.setenv("RESEARCH_NB_CACHE_DIR", str(root / "cache"))
        yield root
