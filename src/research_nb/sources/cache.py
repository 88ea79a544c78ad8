"""What the corpus cache holds, and clearing it: the functions behind `research-nb cache`.

for entry in cached_indexes():            # one per combination of inputs, least recently used first
    print(entry.key, entry.size, entry.last_used, entry.description)
clear_cache(key="3f2a")                   # one index (a unique key prefix), or everything when key is None
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from research_nb.core.errors import UserInputError
from research_nb.sources import _retention
from research_nb.sources._cache import SegmentCache, default_cache_dir


@dataclass(frozen=True, slots=True)
class CachedIndex:
    key: str
    size: int  # bytes on disk
    last_used: datetime
    description: str  # what it holds: "the World Factbook", "papers/"
    passages: int
    inputs: int
    in_use: bool  # held open by a live corpus (in some process): never evicted or cleared


@dataclass(frozen=True, slots=True)
class CacheSummary:
    folder: Path
    indexes: list[CachedIndex]
    segments: int  # analysed inputs kept to rebuild indexes without reading files again
    segments_size: int
    max_size: int  # the cap (0: no cap)


def cache_summary(cache_dir: Path | None = None) -> CacheSummary:
    root = _root(cache_dir)
    indexes, segments, segments_size = [], 0, 0
    for entry in _retention.entries(root):
        if entry.kind == "segment":
            segments += 1
            segments_size += entry.size
            continue
        folder = entry.paths[0]
        try:
            header = json.loads((folder / "header.json").read_text(encoding="utf-8"))
            description, passages, inputs = (
                str(header["description"]),
                int(header["num_passages"]),
                len(header["inputs"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            description, passages, inputs = "(damaged: rebuilt when next used)", 0, 0
        indexes.append(
            CachedIndex(
                entry.key,
                entry.size,
                datetime.fromtimestamp(entry.last_used, UTC),
                description,
                passages,
                inputs,
                _retention.in_use(folder),
            )
        )
    return CacheSummary(root.parent, indexes, segments, segments_size, _retention.max_cache_bytes())


def clear_cache(key: str | None = None, cache_dir: Path | None = None) -> tuple[int, int]:
    """Delete one index (`key`: a unique prefix of its key) or everything (None); returns (entries deleted,
    entries kept because a live corpus holds them). Raises `UserInputError` for an unknown or ambiguous key,
    or for an index in use."""
    root = _root(cache_dir)
    listed = _retention.entries(root)
    if key is None:
        removed = sum(_retention.remove(e) for e in listed)
        return removed, len(listed) - removed
    matches = [e for e in listed if e.kind == "index" and e.key.startswith(key.strip())]
    if not key.strip() or not matches:
        raise UserInputError(f"no cached index {key!r}; `research-nb cache` lists them")
    if len(matches) > 1:
        raise UserInputError(f"{key!r} names {len(matches)} cached indexes; give more of the key")
    if not _retention.remove(matches[0]):
        raise UserInputError(f"the index {matches[0].key} is in use by a running corpus; stop that run first")
    return 1, 0


def _root(cache_dir: Path | None) -> Path:
    return SegmentCache((cache_dir or default_cache_dir()).expanduser()).root
