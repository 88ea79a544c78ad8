"""Up-front checks of the paths a run will read, cheap enough for a front to make before it starts the run.

One `stat` per path and at most one directory entry read per folder: no walking, so a folder of thousands of
files costs the same as an empty one. A glob is not expanded here; the run expands it in its first step (off
the event loop) and reports a pattern that matches nothing there, as one line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from research_nb.core.errors import SourceError

GLOB_CHARS = frozenset("*?[")


def check_paths(paths: Sequence[str | Path]) -> None:
    """Raise `SourceError` for a path that does not exist, a broken link, or a folder with nothing in it."""
    for raw in paths:
        if GLOB_CHARS & set(str(raw)):
            continue
        path = existing_path(raw)
        if path.is_dir() and not _has_visible_entry(path):
            raise SourceError(f"{str(raw)!r} is an empty folder: put documents in it, or name another folder")


def existing_path(raw: str | Path) -> Path:
    """`raw` with `~` expanded; `SourceError` (a typo the user must see at once) when nothing is there."""
    path = Path(os.path.expanduser(str(raw)))
    if not path.exists():
        if os.path.lexists(path):
            raise SourceError(f"{str(raw)!r} is a broken link or a symlink loop")
        raise SourceError(f"No such file or folder: {str(raw)!r}")
    return path


def _has_visible_entry(folder: Path) -> bool:
    """Whether the folder holds anything but hidden entries (it reads entries only until the first one)."""
    try:
        with os.scandir(folder) as entries:
            return any(not entry.name.startswith(".") for entry in entries)
    except OSError:
        return True  # unreadable: the run says why when it reads it
