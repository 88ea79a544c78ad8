from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from engines_for_tests import ENGINE_NAME, MemoryEngine
from kernel_session import MEMORY_ENGINE_SETUP, KernelSession, kernel_session
from research_nb.core.task_manager import task_manager
from research_nb.core.workflow import workflow


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelSession]:
    """A real kernel with the extension loaded and the in-memory test engine registered as "memory"."""
    with kernel_session(stderr_path=tmp_path / "kernel-stderr.txt") as session:
        session.run("%load_ext research_nb")
        session.run(MEMORY_ENGINE_SETUP)
        yield session


@pytest.fixture
async def memory_engine() -> AsyncIterator[MemoryEngine]:
    """A MemoryEngine registered as "memory" on the `workflow` singleton (what the notebook front uses), for
    tests without a kernel; runs left going are cancelled afterwards."""
    engine = MemoryEngine()
    workflow.engines.register(ENGINE_NAME, lambda: engine)
    yield engine
    await task_manager.shutdown(timeout=5)
    workflow.engines.unregister(ENGINE_NAME)
