"""The run store's index: one line per saved run, so listing thousands of runs reads one small file instead of
parsing every run's JSON.

The index is a cache, never the truth. Each save appends one line (`O_APPEND`, one `write`, so lines from several
processes do not interleave): the run's summary and the identity of the file it describes (inode, size and
modification time in ns; every save writes a new inode). A listing trusts a line only while its file still has
that identity; any other file is read in full and re-indexed. So a lost, stale, damaged or half-written index
costs time, never a wrong listing, and the store heals it by rewriting it (atomically) when it drifts.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

from research_nb.models.research import ResearchStage

FileKey = tuple[int, int, int]  # inode, size, mtime in ns
#: Some 250 bytes per run: an index far larger than this was not written by the store.
MAX_INDEX_BYTES = 256 * 2**20


class StoredRun(BaseModel):
    """One run of a listing: enough to choose a run to open or resume."""

    request_id: str
    question: str = ""
    stage: ResearchStage | None = None
    updated_at: datetime | None = None
    size_bytes: int = 0
    awaiting_clarification: bool = False


class IndexLine(BaseModel):
    run: StoredRun
    key: FileKey


def file_key(info: os.stat_result) -> FileKey:
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class RunIndex:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, line: IndexLine) -> None:
        """Record a save; a failure is ignored (the next listing reads that run's file instead)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
        except OSError:
            return
        try:
            os.write(fd, line.model_dump_json().encode() + b"\n")
        except OSError:
            pass
        finally:
            os.close(fd)

    def read(self) -> tuple[dict[str, IndexLine], int]:
        """The latest line per run id, and how many lines the file holds (to tell when to compact it). Lines
        that do not parse (a torn write, a foreign edit) are skipped."""
        data = self._read_bytes()
        if data is None:
            return {}, 0
        latest: dict[str, bytes] = {}
        lines = data.splitlines()
        for raw in lines:
            try:
                request_id = json.loads(raw)["run"]["request_id"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(request_id, str):
                latest[request_id] = raw
        entries = {}
        for request_id, raw in latest.items():  # validate only the lines that count
            try:
                entries[request_id] = IndexLine.model_validate_json(raw)
            except ValidationError:
                continue
        return entries, len(lines)

    def _read_bytes(self) -> bytes | None:
        """The index file's bytes, or None when there is no usable one (missing, unreadable, not a regular file,
        absurdly large): the listing then reads the run files and writes a new index."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_INDEX_BYTES:
                return None
            with os.fdopen(os.dup(fd), "rb") as source:
                return source.read(MAX_INDEX_BYTES)
        except OSError:
            return None
        finally:
            os.close(fd)

    def rewrite(self, lines: list[IndexLine]) -> None:
        """Replace the index with exactly `lines`, atomically; a failure is ignored (a read-only store)."""
        try:
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".index.", suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(handle, "wb") as out:
                out.writelines(line.model_dump_json().encode() + b"\n" for line in lines)
            os.replace(temporary, self.path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
