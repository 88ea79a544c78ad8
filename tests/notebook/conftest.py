from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_session import MEMORY_ENGINE_SETUP, KernelSession, kernel_session


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelSession]:
    """A real kernel with the extension loaded and the in-memory test engine registered as "memory"."""
    with kernel_session(stderr_path=tmp_path / "kernel-stderr.txt") as session:
        session.run("%load_ext research_nb")
        session.run(MEMORY_ENGINE_SETUP)
        yield session
