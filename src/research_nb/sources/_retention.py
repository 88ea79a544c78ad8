"""Retention of the corpus cache: a size cap with least-recently-used eviction, and what `research-nb cache` shows.

Each combination of inputs gets its own index store (`indexes/<key>/`), and each version of each input its own
segment (`segments/<key>.json` + `.npz`): both pile up as files change and corpora come and go. After every
build the cache is brought under its cap (`RESEARCH_NB_CACHE_MAX_SIZE`, default 4 GiB; "0" turns eviction off)
by deleting the entries used longest ago. "Used" is the mtime of a store's `used` file (touched at every open)
and of a segment's files (touched when a build reads them).

An open store holds a shared `flock` on its `lock` file for as long as a corpus uses it, in any process;
eviction and `clear` take the lock exclusively without waiting, and skip a store they cannot lock: an index a
live run holds is never deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BYTES = 4 * 2**30
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def max_cache_bytes() -> int:
    """The cap from `RESEARCH_NB_CACHE_MAX_SIZE` ("4GiB", "500MB", or bytes without a unit; "0": no cap)."""
    configured = os.environ.get("RESEARCH_NB_CACHE_MAX_SIZE", "").strip()
    if not configured:
        return DEFAULT_MAX_BYTES
    return parse_size(configured)


def parse_size(text: str) -> int:
    """Bytes in '4GiB', '500 MB', '1g', '123'; ValueError with the accepted forms otherwise."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (say for example 4GiB, 500MB or a number of bytes)")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    binary = "i" in unit
    base = unit[:1] if unit[:1] in "kmgt" and unit else ""
    factor = 1024 ** ("kmgt".index(base) + 1) if binary and base else _UNITS[base]
    return int(number * factor)


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One evictable thing in the cache: an index store, or one input's segment."""

    kind: str  # "index" or "segment"
    key: str
    size: int
    last_used: float  # seconds since the epoch
    paths: tuple[Path, ...]


def entries(root: Path) -> list[CacheEntry]:
    """Every index store and segment under the cache root `corpus-v<N>/`, least recently used first."""
    found: list[CacheEntry] = []
    indexes = root / "indexes"
    for folder in sorted(indexes.iterdir()) if indexes.is_dir() else []:
        if folder.is_dir() and (folder / "header.json").is_file():
            used = folder / "used"
            stamp = (used if used.exists() else folder / "header.json").stat().st_mtime
            found.append(CacheEntry("index", folder.name, _tree_size(folder), stamp, (folder,)))
    segments = root / "segments"
    for meta in sorted(segments.glob("*.json")) if segments.is_dir() else []:
        files = (meta, meta.with_suffix(".npz"))
        existing = [f for f in files if f.exists()]
        size = sum(f.stat().st_size for f in existing)
        found.append(CacheEntry("segment", meta.stem, size, max(f.stat().st_mtime for f in existing), files))
    return sorted(found, key=lambda e: (e.last_used, e.kind, e.key))


def enforce(root: Path, max_bytes: int, keep: frozenset[str] = frozenset()) -> list[CacheEntry]:
    """Delete least-recently-used entries until the cache is at most `max_bytes`; returns what was deleted.

    Entries whose key is in `keep` (what the current open uses) and stores held open anywhere are never deleted.
    """
    if max_bytes <= 0:
        return []
    listed = entries(root)
    total = sum(e.size for e in listed)
    deleted: list[CacheEntry] = []
    for entry in listed:
        if total <= max_bytes:
            break
        if entry.key in keep or not remove(entry):
            continue
        total -= entry.size
        deleted.append(entry)
    return deleted


def remove(entry: CacheEntry) -> bool:
    """Delete one entry; False when it is an index some process holds open (or cannot be deleted)."""
    if entry.kind == "index":
        folder = entry.paths[0]
        try:
            with _exclusive(folder / "lock"):
                # Renamed first, deleted after: a process opening it meanwhile finds no store and rebuilds it.
                doomed = folder.with_name(f".{folder.name}.deleted.{os.getpid()}")
                os.rename(folder, doomed)
        except (BlockingIOError, OSError):
            return False
        shutil.rmtree(doomed, ignore_errors=True)
        return True
    try:
        for path in entry.paths:
            path.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def in_use(folder: Path) -> bool:
    try:
        with _exclusive(folder / "lock"):
            return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def touch(paths: tuple[Path, ...]) -> None:
    """Mark entries as used now (a read-only cache just keeps its old times)."""
    now = time.time()
    for path in paths:
        with contextlib.suppress(OSError):
            os.utime(path, (now, now))


class Hold:
    """A shared lock on a store for the life of the object that uses it (released when that is collected)."""

    def __init__(self, folder: Path, owner: object) -> None:
        try:
            fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return  # a read-only cache: nothing there can evict it either
        fcntl.flock(fd, fcntl.LOCK_SH)
        weakref.finalize(owner, os.close, fd)
        with contextlib.suppress(OSError):
            (folder / "used").touch()  # used now: eviction takes the least recently used first


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError when some process holds it
        yield
    finally:
        os.close(fd)


def _tree_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
