"""Fixtures for the offline engine tests: a private corpus cache for the session, fixture folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def corpus_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every engine test builds corpora in a temporary cache, never in the user's."""
    path = tmp_path_factory.mktemp("engine-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESEARCH_NB_CACHE_DIR", str(path))
        yield path
