"""`research-nb cache`: what the corpus cache holds, and clearing one index or all of it."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from research_nb.cli import main
from research_nb.sources.corpus import Corpus


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("RESEARCH_NB_CACHE_DIR", str(folder))
    for name in ("alpha", "beta"):
        path = tmp_path / f"{name}.txt"
        path.write_text(f"{name} notes about {name} things")
        type("Fresh", (Corpus,), {}).open([path], builtins=())
    Corpus.close_open()
    gc.collect()
    return folder


def listed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["cache"]) == 0
    return capsys.readouterr().out.splitlines()


def test_the_listing_shows_each_index_with_size_last_use_and_contents(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = listed(capsys)
    assert len(lines) == 3
    assert lines[0].endswith("alpha.txt") and lines[1].endswith("beta.txt")  # least recently used first
    assert all(" MB " in line and " ago " in line and "1 passages" in line for line in lines[:2])
    assert lines[2].startswith("2 index(es); 2 analysed input(s)") and lines[2].endswith("cap 4.0 GiB")


def test_clear_one_by_key_then_everything(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = listed(capsys)[0].split()[0]
    assert main(["cache", "clear", key]) == 0
    assert capsys.readouterr().out == "deleted 1 cache entry\n"
    assert [line.endswith("beta.txt") for line in listed(capsys)[:-1]] == [True]

    assert main(["cache", "clear", "0000000000"]) == 2
    assert "no cached index '0000000000'" in capsys.readouterr().err

    assert main(["cache", "clear"]) == 0
    assert capsys.readouterr().out == "deleted 3 cache entries\n"
    assert listed(capsys) == ["0 index(es); 0 analysed input(s), 0.0 MB; cap 4.0 GiB"]
