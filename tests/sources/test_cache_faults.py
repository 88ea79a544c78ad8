"""Fault injection into the real on-disk corpus cache: every kind of damage heals in one run, with one warning.

Each test builds a real cache (the fixture notes, or the Factbook), damages its files the way a crash, a full disk,
a foreign tool or a user would, opens the corpus again and checks that the results are those of an undamaged cache,
that exactly one warning names the damage, and that the open after that finds a whole cache again (nothing read,
no warning).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from research_nb.sources._cache import FORMAT_VERSION, default_cache_dir
from research_nb.sources.corpus import Corpus

Damage = Callable[[Path], None]


def fresh_open(paths: list[Path], cache: Path, builtins: tuple[str, ...] = ()) -> tuple[Corpus, list[str]]:
    """Open as a new process would: a new subclass is never served from the in-process cache of open corpora."""

    class Fresh(Corpus):
        pass

    warnings: list[str] = []
    return Fresh.open(paths, builtins=builtins, cache_dir=cache, on_warning=warnings.append), warnings


def ranking(corpus: Corpus) -> list[str]:
    return [p.id for p in corpus.search_sync("spring tides sourdough", k=5)]


def entry_files(cache: Path, kind: str) -> list[Path]:
    root = cache / f"corpus-v{FORMAT_VERSION}"
    if kind == "manifest":
        return [root / "manifest.json"]
    pattern = {
        "segment-json": "segments/*.json",
        "segment-npz": "segments/*.npz",
        "index-header": "indexes/*/header.json",
        "index-postings": "indexes/*/rows.npy",
        "index-texts": "indexes/*/p_text.blob.npy",
    }[kind]
    files = sorted(root.glob(pattern))
    assert files, f"no {kind} file in the cache"
    return files


def forget_indexes(cache: Path) -> None:
    """Delete the built stores: the next open builds them again, from the cached segments."""
    shutil.rmtree(cache / f"corpus-v{FORMAT_VERSION}" / "indexes")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(0, len(data), 7):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def zero_length(path: Path) -> None:
    path.write_bytes(b"")


def foreign_format(path: Path) -> None:
    """What another version of research-nb (or another tool) might have left: valid, but not this format."""
    if path.suffix == ".npz":
        import numpy as np

        with path.open("wb") as stream:
            np.savez(stream, version=np.asarray(FORMAT_VERSION - 1), rows=np.arange(3))
    else:
        path.write_text(json.dumps({"format": FORMAT_VERSION - 1, "documents": {"a": 1}, "passages": []}))


def folder_in_place(path: Path) -> None:
    path.unlink()
    (path / "inner").mkdir(parents=True)


DAMAGES: dict[str, Damage] = {
    "truncated": truncate,
    "garbage bytes": garble,
    "zero-length": zero_length,
    "wrong format version": foreign_format,
    "a folder where the file should be": folder_in_place,
}


@pytest.mark.parametrize("kind", ["segment-json", "segment-npz", "index-header", "index-postings", "index-texts"])
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_entry_is_discarded_rebuilt_and_warned_about_once(
    notes: Path, tmp_path: Path, kind: str, damage: str
) -> None:
    cache = tmp_path / "cache"
    healthy, _ = fresh_open([notes], cache)
    expected = ranking(healthy)  # before the damage: an open corpus reads its (memory-mapped) files as they are
    target = entry_files(cache, kind)[0]
    DAMAGES[damage](target)
    if kind.startswith("segment"):
        forget_indexes(cache)  # segments are read when an index is built from them

    healed, warnings = fresh_open([notes], cache)

    assert ranking(healed) == expected
    assert healed.num_passages == healthy.num_passages
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("the corpus cache entry for ")
    assert "discarded it and rebuilt it" in warnings[0]
    if kind.startswith("index"):
        assert "the search index" in warnings[0] and healed.stats.files_read == ()
    else:
        assert len(healed.stats.files_read) == 1  # that one input was read again, the others came from the cache
        assert healed.stats.files_read[0] in warnings[0]
    again, warnings_after = fresh_open([notes], cache)
    assert warnings_after == [] and again.stats.files_read == () and again.stats.index_from_cache
    assert ranking(again) == expected


@pytest.mark.parametrize("damage", ["truncated", "garbage bytes", "zero-length", "wrong format version"])
def test_a_damaged_manifest_costs_one_rehash_and_one_warning(notes: Path, tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    healthy, _ = fresh_open([notes], cache)
    manifest = entry_files(cache, "manifest")[0]
    if damage == "wrong format version":
        manifest.write_text(json.dumps({str(notes / "tides.md"): 12, "other": ["a", "b", 3]}))
    else:
        DAMAGES[damage](manifest)

    healed, warnings = fresh_open([notes], cache)

    assert ranking(healed) == ranking(healthy) and healed.stats.files_read == ()  # re-hashed, never re-read
    if damage == "wrong format version":  # a JSON object of foreign entries: those entries are dropped quietly
        assert warnings == []
    else:
        assert len(warnings) == 1 and warnings[0].startswith("the corpus cache entry for the manifest was damaged")
    assert fresh_open([notes], cache)[1] == []


def test_every_entry_truncated_at_once_heals_in_one_run(notes: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    healthy, _ = fresh_open([notes], cache)
    expected = ranking(healthy)
    for file in (cache / f"corpus-v{FORMAT_VERSION}").rglob("*.*"):
        truncate(file)

    healed, warnings = fresh_open([notes], cache)

    assert ranking(healed) == expected
    assert len(warnings) == len(set(warnings)) == 4 + 1 + 1  # 4 inputs, the index, the manifest
    assert fresh_open([notes], cache)[1] == []


def test_a_truncated_factbook_cache_is_rebuilt_not_a_failure_of_every_later_run(tmp_path: Path) -> None:
    """The reported case: BadZipFile / EOFError from the Factbook's cached arrays failed every run after it."""
    cache = tmp_path / "cache"
    healthy, _ = fresh_open([], cache, builtins=("factbook",))
    query = "Norway unemployment rate"
    expected = [p.id for p in healthy.search_sync(query, k=5)]
    for file in entry_files(cache, "segment-npz") + entry_files(cache, "index-header"):
        truncate(file)

    healed, warnings = fresh_open([], cache, builtins=("factbook",))

    assert healed.stats.files_read == ("builtin:factbook",)
    assert [p.id for p in healed.search_sync(query, k=5)] == expected
    assert sorted(w.split(" was damaged")[0] for w in warnings) == [
        "the corpus cache entry for factbook",
        "the corpus cache entry for the search index",
    ]
    assert fresh_open([], cache, builtins=("factbook",))[1] == []


def test_an_unreadable_entry(notes: Path, tmp_path: Path) -> None:
    """chmod 000 on a cached segment. Root reads it anyway (root ignores file permissions): the cache then just
    works; anyone else gets the entry rebuilt with one warning."""
    cache = tmp_path / "cache"
    healthy, _ = fresh_open([notes], cache)
    target = entry_files(cache, "segment-npz")[0]
    forget_indexes(cache)
    target.chmod(0)
    try:
        healed, warnings = fresh_open([notes], cache)
    finally:
        target.chmod(0o644)

    assert ranking(healed) == ranking(healthy)
    if os.geteuid() == 0:
        assert warnings == [] and healed.stats.files_read == ()
    else:
        assert len(warnings) == 1 and "(PermissionError)" in warnings[0]


# -- a read-only cache folder: a real read-only file system (a bind mount in a user namespace) when root --------

_OPEN_SCRIPT = """
import json, sys
from pathlib import Path
from research_nb.sources.corpus import Corpus
warnings = []
corpus = Corpus.open([Path(sys.argv[1])], builtins=(), cache_dir=Path(sys.argv[2]), on_warning=warnings.append)
hits = [p.id for p in corpus.search_sync("spring tides sourdough", k=5)]
print(json.dumps({"warnings": warnings, "hits": hits, "read": list(corpus.stats.files_read)}))
"""


def open_in_read_only_cache(notes: Path, cache: Path) -> dict[str, list[str]]:
    """Open the corpus in a child process that sees `cache` read-only: with chmod for a user, with a read-only
    bind mount in a private user and mount namespace for root (for whom permissions do not apply)."""
    command = [sys.executable, "-c", _OPEN_SCRIPT, str(notes), str(cache)]
    if os.geteuid() == 0:
        assert shutil.which("unshare"), "root needs unshare (util-linux) to make a read-only mount"
        mount = f'mount --bind {cache} {cache} && mount -o remount,bind,ro {cache} && exec "$@"'
        command = ["unshare", "--map-root-user", "--mount", "sh", "-c", mount, "sh", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    else:
        for folder in [cache, *(p for p in cache.rglob("*") if p.is_dir())]:
            folder.chmod(0o555)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        finally:
            for folder in [cache, *(p for p in cache.rglob("*") if p.is_dir())]:
                folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, list[str]] = json.loads(result.stdout)
    return loaded


def test_a_read_only_empty_cache_costs_speed_with_one_warning(notes: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    healthy, _ = fresh_open([notes], tmp_path / "writable")

    seen = open_in_read_only_cache(notes, cache)

    assert seen["hits"] == ranking(healthy)
    assert len(seen["warnings"]) == 1 and seen["warnings"][0].startswith(
        f"cannot write the corpus cache in {cache.resolve()}"
    )
    assert "Read-only file system" in seen["warnings"][0] or "Permission denied" in seen["warnings"][0]


def test_a_damaged_entry_in_a_read_only_cache_is_rebuilt_in_memory_and_said_once(notes: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    healthy, _ = fresh_open([notes], cache)
    truncate(entry_files(cache, "segment-npz")[0])
    forget_indexes(cache)

    seen = open_in_read_only_cache(notes, cache)

    assert seen["hits"] == ranking(healthy)
    damaged = [w for w in seen["warnings"] if "was damaged" in w]
    assert len(damaged) == 1, seen["warnings"]
    assert damaged[0].endswith(f"rebuilt it, but cannot delete it in {cache.resolve() / f'corpus-v{FORMAT_VERSION}'}")
    assert len(seen["read"]) == 1


# -- where the cache lives ----------------------------------------------------------------------------------------


def test_the_cache_follows_xdg_cache_home_when_no_research_nb_folder_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESEARCH_NB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "research-nb"

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/folder")  # ignored, as the XDG spec says
    assert default_cache_dir() == Path.home() / ".cache" / "research-nb"

    monkeypatch.setenv("RESEARCH_NB_CACHE_DIR", str(tmp_path / "own"))
    assert default_cache_dir() == tmp_path / "own"


def test_a_child_process_builds_its_cache_under_xdg_cache_home(notes: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from research_nb.sources.corpus import Corpus
        Corpus.open([Path(sys.argv[1])], builtins=())
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "RESEARCH_NB_CACHE_DIR"} | {"XDG_CACHE_HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script, str(notes)], env=env, check=True, timeout=120)

    assert (tmp_path / "research-nb" / f"corpus-v{FORMAT_VERSION}" / "manifest.json").is_file()
