"""Real entries a corpus must never read, for the sources and notebook tests (`tests/` is on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path


def expected_warnings(name: str) -> list[str]:
    """The warnings, sorted, of a corpus over a folder `name` that `add_special_entries` filled."""
    return [
        f"skipped {name}/gone.txt: a broken link",
        f"skipped {name}/loop-a.md: a symlink loop",
        f"skipped {name}/loop-b.md: a symlink loop",
        f"skipped {name}/pipe.md: not a regular file (a named pipe)",
        f"skipped {name}/sub/back-up/: a link back to a folder already included (a symlink cycle)",
        f"skipped {name}/zero.txt: not a regular file (a device)",
    ]


def add_special_entries(folder: Path) -> Path:
    """Add to `folder` (which has a `sub/` folder) a FIFO (opening it for reading blocks until a writer comes),
    /dev/zero behind a link named like a text file (reading never ends), a symlink loop, a broken link, and a
    link back to `folder` (a folder cycle)."""
    os.mkfifo(folder / "pipe.md")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "loop-a.md").symlink_to(folder / "loop-b.md")
    (folder / "loop-b.md").symlink_to(folder / "loop-a.md")
    (folder / "gone.txt").symlink_to(folder / "never-existed.txt")
    (folder / "sub" / "back-up").symlink_to(folder)
    return folder
