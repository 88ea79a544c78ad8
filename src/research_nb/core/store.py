"""The run store: every run's state on disk from the moment it is accepted, so a kernel restart, a crash or a
killed process costs nothing finished and at most the stage that was running.

One JSON file per run (`<request_id>.json`, the whole `ResearchState`, report included), written when the run is
accepted (PENDING), after every completed stage and when it stops, pauses or finishes. Writes are atomic: the
state goes to a temporary file in the same folder, then `os.replace` puts it in place, so a reader sees the old or
the new state, never half of one. An interim save (after a stage, the run going on: the next save replaces it) is
swapped into place instead, where Linux can (`renameat2` with RENAME_EXCHANGE; the old state then goes with the
temporary file): ext4 writes out a file renamed over another at once (its `auto_da_alloc` guard against losing
both to a power cut), which made a save cost 0.24-0.35 ms of the writing thread, against 0.035 ms swapped. That
guard matters for the save a run ends with, which is renamed as before; a killed process loses nothing either way
(what it wrote is in the page cache). No secret can be written: keys live in `APIKeys`, which is never part of a
state.

The store degrades per file: a damaged entry (a broken link, bytes that are not UTF-8, an unreadable file, a
folder, an odd name, JSON that is not a run) is skipped by a listing and reported on its own line, and reading
that run raises `CorruptRunError` (one line: which file, why, how to fix it); every other run stays readable.
Listing goes through an index (`run_index.py`), so thousands of runs list in milliseconds. Which live process
drives a run is known through its lease (`leases.py`).

Where: `$RESEARCH_NB_DATA_DIR`, else `$XDG_DATA_HOME/research-nb`, else `~/.local/share/research-nb`, with runs
in its `runs/` folder. The folder is made on the first write, not when the store is built.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from research_nb.core.errors import CorruptRunError, RunOwnedElsewhereError, UnknownRequestError
from research_nb.core.leases import LeaseHolder, RunLease, holder_of
from research_nb.core.run_index import IndexLine, RunIndex, StoredRun, file_key
from research_nb.models.research import ResearchState, utcnow

__all__ = ["DamagedFile", "RunListing", "RunStore", "StoredRun", "default_data_dir"]

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
MAX_ID_CHARS = 128
#: A run is some 50 KB; anything far larger is not one of ours (and must not be read into memory whole).
MAX_RUN_BYTES = 64 * 1024 * 1024
_INDEX_NAME = ".index.jsonl"
_SURROGATE = re.compile("[\ud800-\udfff]")  # in a Python str a surrogate is always a lone one
#: A temporary file older than this was left by a process killed mid-save (a save takes milliseconds).
_STALE_TEMPORARY_SECONDS = 600


def default_data_dir() -> Path:
    configured = os.environ.get("RESEARCH_NB_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "research-nb"


class DamagedFile(BaseModel):
    """An entry of the runs folder that is not a readable run, and why."""

    path: str
    problem: str

    def line(self) -> str:
        return f"skipped {self.path}: {self.problem}"


class RunListing(BaseModel):
    """The readable runs, newest first, and the damaged entries that were skipped."""

    runs: list[StoredRun]
    damaged: list[DamagedFile]
    #: runs driven right now by a live process (their lease is held), by id
    live: dict[str, LeaseHolder]

    def status_of(self, run: StoredRun) -> str:
        """A few words on where the run is: its end, its pause, who drives it, or where it was interrupted."""
        holder = self.live.get(run.request_id)
        if run.stage is None:
            return "?"
        if run.stage.is_terminal:
            return run.stage.value
        if run.awaiting_clarification:
            return "awaiting answers"
        if holder is not None:
            return f"running in {holder.describe()}"
        return f"interrupted at {run.stage.value}"


@dataclass(frozen=True)
class Snapshot:
    """A run's state serialised at one moment, ready to be written (`RunStore.write`)."""

    request_id: str
    data: bytes
    summary: StoredRun
    interim: bool = False  # a later save of the run replaces it (swapped into place: see the module's docstring)


class _Damage(Exception):
    """Why one file is not a readable run (internal: surfaces as `CorruptRunError` or a `DamagedFile`)."""


class RunStore:
    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory

    @property
    def directory(self) -> Path:
        """The runs folder (resolved on each use, so the environment variable may be set after import)."""
        return (self._directory or default_data_dir() / "runs").expanduser()

    # -- writing ------------------------------------------------------------------------------------------

    def save(self, state: ResearchState) -> Path:
        """Write `state` atomically; returns its file. Raises `OSError` when the folder cannot take it."""
        return self.write(self.snapshot(state))

    def snapshot(self, state: ResearchState, *, interim: bool = False) -> Snapshot:
        """The state as it will be written, taken now (cheap: the state serialised once). `write` it later, from
        any thread: the file I/O, most of a save's time, then need not hold the event loop. `interim`: the run goes
        on and a later save will replace this one."""
        data = _state_json(state).encode("utf-8")
        return Snapshot(state.request_id, data, _summary(state, len(data)), interim)

    def write(self, snapshot: Snapshot) -> Path:
        """Write a snapshot atomically; returns its file. Raises `OSError` when the folder cannot take it."""
        folder = self.directory  # resolved once: a save is on the loop's critical path several times a run
        folder.mkdir(parents=True, exist_ok=True)
        target = self._path(snapshot.request_id, folder)
        data = snapshot.data
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{snapshot.request_id}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                info = os.fstat(out.fileno())  # the file's identity after the rename, for the index
            _into_place(temporary, target, interim=snapshot.interim)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        RunIndex(folder / _INDEX_NAME).append(IndexLine(run=snapshot.summary, key=file_key(info)))
        return target

    def delete(self, request_id: str) -> bool:
        """Delete a run's file (and its lease); False if there was none. A run that a live process
        drives is refused (`RunOwnedElsewhereError`): its next save would bring it back."""
        path = self._path(request_id)
        holder = holder_of(self._lease_path(request_id))
        if holder is not None:
            raise RunOwnedElsewhereError(
                f"run {request_id} is being run by {holder.describe()}; cancel it there before deleting it"
            )
        existed = path.is_symlink() or path.exists()
        if path.is_dir() and not path.is_symlink():
            raise CorruptRunError(f"{path} is a directory, not a run file: remove it by hand if it is not needed")
        path.unlink(missing_ok=True)
        self._lease_path(request_id).unlink(missing_ok=True)
        return existed  # a temporary file a killed save left goes with the next listing (`scan`)

    def delete_older_than(self, age: timedelta) -> list[str]:
        """Delete runs not updated for `age` (runs a live process drives are kept); returns their ids. Damaged
        entries are left alone: the listing names them for a person to look at."""
        cutoff = utcnow() - age
        listing = self.scan()
        deleted = []
        for run in listing.runs:
            if run.request_id in listing.live or (run.updated_at and run.updated_at >= cutoff):
                continue
            if self.delete(run.request_id):
                deleted.append(run.request_id)
        if deleted:
            self.scan()  # compacts the index
        return deleted

    # -- reading ------------------------------------------------------------------------------------------

    def find(self, request_id: str) -> ResearchState | None:
        """The stored run, or None if there is none. Raises `CorruptRunError` (one line: which file, why) when
        its entry is damaged, `UnknownRequestError` when `request_id` cannot be a run id."""
        path = self._path(request_id)
        try:
            _, state = _read_run(path, request_id)
        except FileNotFoundError:
            return None
        except _Damage as damage:
            raise CorruptRunError(
                f"the stored run {request_id} cannot be read ({path}): {damage}; "
                f"delete it with `research-nb runs --delete {request_id}`"
            ) from None
        return state

    def load(self, request_id: str) -> ResearchState:
        state = self.find(request_id)
        if state is None:
            raise UnknownRequestError(f"no stored research run with id {request_id!r} in {self.directory}")
        return state

    def list_runs(self) -> list[StoredRun]:
        """The readable runs, newest first (`scan()` also tells the damaged entries and the live runs)."""
        return self.scan().runs

    def scan(self) -> RunListing:
        """Every run in the folder from the index, reading in full only the files the index does not know;
        damaged entries are skipped and named. Keeps the index in step with the folder."""
        folder = self.directory
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return RunListing(runs=[], damaged=[], live={})
        except OSError as exc:
            problem = f"the runs folder cannot be listed ({exc.strerror or exc})"
            return RunListing(runs=[], damaged=[DamagedFile(path=str(folder), problem=problem)], live={})
        indexed, line_count = self._index.read()
        current: dict[str, IndexLine] = {}
        damaged: list[DamagedFile] = []
        changed = False
        for entry in entries:
            name = entry.name
            if not name.endswith(".json"):
                _drop_if_stale_temporary(entry)
                continue
            request_id = name.removesuffix(".json")
            try:
                if not _is_run_id(request_id):
                    raise _Damage(_odd_name(name))
                line = indexed.get(request_id)
                if line is None or line.key != _entry_key(entry):
                    info, state = _read_run(Path(entry.path), request_id)
                    line = IndexLine(run=_summary(state, info.st_size), key=file_key(info))
                    changed = True
                current[request_id] = line
            except FileNotFoundError:
                continue  # deleted while we listed
            except _Damage as damage:
                damaged.append(DamagedFile(path=entry.path, problem=str(damage)))
        if changed or set(indexed) - set(current) or line_count > 2 * len(current) + 64:
            self._index.rewrite(list(current.values()))  # in step with the folder, one line per run
        runs = sorted(
            (line.run for line in current.values()),
            key=lambda r: (r.updated_at or datetime.min.replace(tzinfo=UTC), r.request_id),
            reverse=True,
        )
        live = {
            run.request_id: holder
            for run in runs
            if run.stage is not None and not run.stage.is_terminal and not run.awaiting_clarification
            if (holder := holder_of(self._lease_path(run.request_id))) is not None
        }
        return RunListing(runs=runs, damaged=sorted(damaged, key=lambda d: d.path), live=live)

    # -- leases -------------------------------------------------------------------------------------------

    def try_lease(self, request_id: str) -> RunLease | None:
        """The run's lease for this process, or None while another live process holds it. A store whose folder
        cannot take the lock file (read-only) gives a lease that guards nothing: nothing can be saved there."""
        path = self._lease_path(request_id)
        try:
            return RunLease.try_acquire(path)
        except OSError:
            return RunLease.unguarded(path)

    def holder(self, request_id: str) -> LeaseHolder | None:
        """The live process driving the run, if one is."""
        return holder_of(self._lease_path(request_id))

    # -- paths --------------------------------------------------------------------------------------------

    @property
    def _index(self) -> RunIndex:
        return RunIndex(self.directory / _INDEX_NAME)

    def _lease_path(self, request_id: str) -> Path:
        return (
            self.directory / f".{self._path(request_id).stem}.lock"
        )  # a file beside the run: the folder holds files only

    def _path(self, request_id: str, folder: Path | None = None) -> Path:
        """The run's file in `folder` (default: this store's runs folder)."""
        if not isinstance(request_id, str) or not _is_run_id(request_id):
            text = str(request_id)
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise UnknownRequestError(f"{shown!r} is not a research run id")
        return (folder or self.directory) / f"{request_id}.json"


def _into_place(temporary: str, target: Path, *, interim: bool) -> None:
    """Put the written file at `target` in one step: swapped in for an interim save where the system can, else
    renamed over what was there."""
    if interim:
        try:
            _exchange(temporary, target)
        except OSError:
            pass  # not Linux, a file system without it, or no file at `target` yet: rename as always
        else:
            with contextlib.suppress(OSError):  # else the stale-temporary sweep of a listing takes it
                os.unlink(temporary)  # it holds the state just replaced
            return
    os.replace(temporary, target)


_RENAME_EXCHANGE = 2  # <linux/fs.h>
_AT_FDCWD = -100
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _exchange(first: str, second: Path) -> None:
    """Swap two paths atomically (Linux's `renameat2(..., RENAME_EXCHANGE)`, through the C library: the PyPI
    wrapper is a compiled, Linux-only package for this one call)."""
    call = getattr(_LIBC, "renameat2", None)
    if call is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available here")
    if call(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(second))


def _is_run_id(text: str) -> bool:
    return 0 < len(text) <= MAX_ID_CHARS and set(text) <= _ID_CHARS and not text.startswith(".")


def _odd_name(name: str) -> str:
    return (
        f"not a run file name ({name!r}): run ids are 1..{MAX_ID_CHARS} letters, digits, '-', '_' or '.' "
        "and do not start with '.'"
    )


def _entry_key(entry: os.DirEntry[str]) -> tuple[int, int, int] | None:
    try:
        return file_key(entry.stat())  # follows a symbolic link, as reading does
    except OSError:
        return None


def _read_run(path: Path, request_id: str) -> tuple[os.stat_result, ResearchState]:
    """Read and check one run file. Raises `FileNotFoundError` when there is none, `_Damage` saying why when
    the entry is not a readable run. Opened without blocking and checked before reading: a named pipe or a
    device in the folder cannot hang a listing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if path.is_symlink():
            raise _Damage(f"a broken symbolic link (to {os.readlink(path)})") from None
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Damage("a symbolic link loop") from None
        raise _Damage(f"unreadable ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _Damage("a directory, not a run file")
        if not stat.S_ISREG(info.st_mode):
            raise _Damage("not a regular file (a named pipe, socket or device)")
        if info.st_size > MAX_RUN_BYTES:
            raise _Damage(f"too large for a run ({info.st_size / 2**20:.0f} MiB)")
        try:
            data = _read_all(fd, info.st_size)
        except OSError as exc:
            raise _Damage(f"unreadable ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    try:
        state = ResearchState.model_validate_json(data)
    except ValidationError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise _Damage(f"not UTF-8 text (byte 0x{data[bad.start]:02x} at offset {bad.start})") from None
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise _Damage(f"not valid JSON ({first['msg'].removeprefix('Invalid JSON: ')})") from None
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        message = first["msg"].removeprefix("Value error, ")
        raise _Damage(f"not a research run ({exc.error_count()} problem(s); first: {where}: {message})") from None
    if state.request_id != request_id:
        raise _Damage(f"holds run {state.request_id!r}, not {request_id!r} (a renamed or copied file)")
    return info, state


def _read_all(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_RUN_BYTES:
        chunk = os.read(fd, max(size - total, 0) + 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    raise OSError(errno.EFBIG, "it grew past the size limit while being read")


def _state_json(state: ResearchState) -> str:
    """The state as JSON. Text that cannot be encoded as UTF-8 (a lone surrogate from a mis-decoded file name
    in a passage, say) is written with U+FFFD in its place rather than losing the run."""
    try:
        return state.model_dump_json()
    except PydanticSerializationError:
        return json.dumps(_encodable(state.model_dump(mode="json")), ensure_ascii=False)


def _encodable(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_encodable(item) for item in value]
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    return value


def _summary(state: ResearchState, size: int) -> StoredRun:
    return StoredRun(
        request_id=state.request_id,
        question=state.user_query,
        stage=state.current_stage,
        updated_at=state.updated_at,
        size_bytes=size,
        awaiting_clarification=state.awaiting_clarification,
    )


def _drop_if_stale_temporary(entry: os.DirEntry[str]) -> None:
    """Remove a temporary file that a process killed mid-save left behind (never a fresh one: it may be a
    save in progress in another process)."""
    if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
        return
    try:
        if time.time() - entry.stat(follow_symlinks=False).st_mtime > _STALE_TEMPORARY_SECONDS:
            os.unlink(entry.path)
    except OSError:
        pass
