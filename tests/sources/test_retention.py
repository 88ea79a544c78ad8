"""Retention: the cache stays under its cap by evicting what was used longest ago, never an index in use."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from research_nb.core.errors import UserInputError
from research_nb.sources import _retention
from research_nb.sources._retention import parse_size
from research_nb.sources.cache import cache_summary, clear_cache
from research_nb.sources.corpus import Corpus


def open_fresh(path: Path, cache: Path) -> Corpus:
    fresh: type[Corpus] = type("Fresh", (Corpus,), {})
    return fresh.open([path], builtins=(), cache_dir=cache)


def library(tmp_path: Path, name: str, words: int = 400) -> Path:
    path = tmp_path / f"{name}.txt"
    path.write_text(" ".join(f"{name}{i % 97} word{i}" for i in range(words)))
    return path


def close_all() -> None:
    """Close every corpus of this process (as a kernel restart would): nothing here holds a store then."""
    Corpus.close_open()
    gc.collect()


def described(cache: Path) -> list[str]:
    return [entry.description for entry in cache_summary(cache).indexes]


def age(cache: Path, description: str, seconds: float) -> None:
    """Pretend an index was last used `seconds` ago."""
    entry = next(e for e in cache_summary(cache).indexes if e.description == description)
    used = cache / "corpus-v4" / "indexes" / entry.key / "used"
    stamp = time.time() - seconds
    os.utime(used, (stamp, stamp))


def test_the_least_recently_used_index_is_evicted_when_the_cap_is_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first, second, third = (library(tmp_path, n) for n in ("alpha", "beta", "gamma"))
    open_fresh(first, cache)
    open_fresh(second, cache)
    close_all()
    age(cache, str(first), 300)
    age(cache, str(second), 100)
    one_index = max(e.size for e in cache_summary(cache).indexes)
    segment = max(e.size for e in _retention.entries(cache / "corpus-v4") if e.kind == "segment")
    # Room for two indexes and three analysed inputs: the third index pushes exactly one index out.
    monkeypatch.setenv("RESEARCH_NB_CACHE_MAX_SIZE", str(2 * one_index + 3 * segment + one_index // 2))

    open_fresh(third, cache)

    assert sorted(described(cache)) == sorted([str(second), str(third)])  # alpha, used longest ago, went


def test_an_index_a_live_corpus_holds_is_never_evicted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first, second = library(tmp_path, "alpha"), library(tmp_path, "beta")
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from research_nb.sources.corpus import Corpus\n"
        "c = Corpus.open([Path(sys.argv[1])], builtins=(), cache_dir=Path(sys.argv[2]))\n"
        "print('open', flush=True)\n"
        "sys.stdin.readline()\n"
        "print(len(c.search_sync('alpha1', 3)), flush=True)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(first), str(cache)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "open"
        age(cache, str(first), 10_000)
        monkeypatch.setenv("RESEARCH_NB_CACHE_MAX_SIZE", "1")  # everything is over the cap

        open_fresh(second, cache)

        listed = {e.description: e for e in cache_summary(cache).indexes}
        assert listed[str(first)].in_use and str(second) in listed
        with pytest.raises(UserInputError, match="in use"):
            clear_cache(listed[str(first)].key[:8], cache)
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "1"  # the holder still searches its store
    finally:
        holder.communicate(timeout=30)
    close_all()
    assert not any(e.in_use for e in cache_summary(cache).indexes)


def test_clear_deletes_one_index_by_key_prefix_or_everything(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    open_fresh(library(tmp_path, "alpha"), cache)
    open_fresh(library(tmp_path, "beta"), cache)
    close_all()
    alpha = next(e for e in cache_summary(cache).indexes if e.description.endswith("alpha.txt"))

    assert clear_cache(alpha.key[:6], cache) == (1, 0)
    assert [d.endswith("beta.txt") for d in described(cache)] == [True]
    with pytest.raises(UserInputError, match="no cached index"):
        clear_cache("ffffffffff", cache)

    removed, kept = clear_cache(None, cache)
    assert removed == 3 and kept == 0  # beta's index and both analysed inputs
    assert cache_summary(cache).indexes == [] and cache_summary(cache).segments == 0
    assert open_fresh(library(tmp_path, "beta"), cache).search_sync("beta1", 1)  # rebuilt on demand


def test_sizes_are_read_with_their_units() -> None:
    assert parse_size("4GiB") == 4 * 2**30
    assert parse_size("500 MB") == 500 * 10**6
    assert parse_size("123") == 123
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


def test_a_cap_that_is_not_a_size_is_one_warning_and_the_corpus_still_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESEARCH_NB_CACHE_MAX_SIZE", "lots")
    warnings: list[str] = []
    corpus = type("Fresh", (Corpus,), {}).open(
        [library(tmp_path, "alpha")], builtins=(), cache_dir=tmp_path / "cache", on_warning=warnings.append
    )
    assert corpus.search_sync("alpha1", 1)
    assert len(warnings) == 1 and "not a size: 'lots'" in warnings[0]
