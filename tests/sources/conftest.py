"""Fixtures for the corpus tests: the Factbook corpus built once per session in a temporary cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from research_nb.sources.corpus import Corpus

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def factbook_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("factbook-cache")


@pytest.fixture(scope="session")
def factbook(factbook_cache: Path) -> Corpus:
    return Corpus.open(builtins=("factbook",), cache_dir=factbook_cache)


@pytest.fixture
def notes() -> Path:
    return FIXTURES / "notes"
