"""The damage a run store meets in the wild, made on purpose (shared by the store's fault tests and the CLI's).

`damage(folder, good)` fills a runs folder with one entry of each kind beside the good runs and returns, for each
damaged entry's file name, a fragment of the reason a listing must give for it.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Every kind of damaged entry, by file name; the reason a listing gives contains the fragment.
DAMAGE: dict[str, str] = {
    "broken-link.json": "a broken symbolic link",
    "link-loop.json": "a symbolic link loop",
    "latin1.json": "not UTF-8 text (byte 0xe9",
    "a-folder.json": "a directory, not a run file",
    "odd name!.json": "not a run file name ('odd name!.json')",
    ".json": "not a run file name ('.json')",
    "truncated.json": "not valid JSON",
    "foreign.json": "not a research run (",
    "pipe.json": "not a regular file",
    "huge.json": "too large for a run",
    "renamed.json": "holds run",
}


def damage(folder: Path, good: Path) -> dict[str, str]:
    """Add one damaged entry of each kind to `folder`; `good` is a good run file to copy under a wrong name."""
    (folder / "broken-link.json").symlink_to(folder / "gone-away.json")
    (folder / "link-loop.json").symlink_to(folder / "link-loop.json")
    (folder / "latin1.json").write_bytes(b'{"request_id": "latin1", "user_query": "caf\xe9 prices"}')
    (folder / "a-folder.json").mkdir()
    (folder / "odd name!.json").write_text(good.read_text())
    (folder / ".json").write_text("{}")
    (folder / "truncated.json").write_text('{"request_id": "truncated", "user_query": "Nor')
    (folder / "foreign.json").write_text('{"name": "not a run", "version": 3}')
    os.mkfifo(folder / "pipe.json")  # reading it would block for ever
    with open(folder / "huge.json", "wb") as sparse:
        sparse.truncate(65 * 2**20)  # sparse: no disk used
    (folder / "renamed.json").write_text(good.read_text())
    (folder / "notes.txt").write_text("not a run, not a .json file: not listed at all")
    return dict(DAMAGE)
