"""Run leases: which live process drives a stored run, known across processes and released by the OS.

A lease is an exclusive `flock` on a small file per run (`runs/.<id>.lock`) that the driving process holds
from the moment it accepts the run until the run stops or pauses. The kernel drops the lock when the process dies
in any way (SIGKILL, a crash, a power cut on a local disk), so a run whose lease can be taken has no owner left:
it is safe to mark it interrupted and to resume it. `flock` locks belong to an open file, so two workflows in one
process exclude each other as two processes do. The holder writes its pid and host into the file, so a refusal
can say who drives the run. Lock files are kept (deleting one while another process waits on it would let two
processes own the run) and go with the run when it is deleted.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError


class LeaseHolder(BaseModel):
    """Who holds a lease, as its holder wrote it (pid and host; unknown when the file says nothing readable)."""

    pid: int | None = None
    host: str | None = None

    def describe(self) -> str:
        if self.pid is None:
            return "another process"
        here = self.host in (None, socket.gethostname())
        return f"process {self.pid}" + ("" if here else f" on {self.host}")


class RunLease:
    """A held lease; `release()` (idempotent) gives it up. Dropped with the object, and by the OS at exit."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def try_acquire(cls, path: Path) -> RunLease | None:
        """The lease if no one else holds it, else None. Raises `OSError` when the lock file cannot be made
        (a read-only store: nothing can be saved there either)."""
        writable = True
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
        except OSError:
            # A folder made read-only after the run was leased there: the lock still works on the file as it is.
            fd, writable = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), False
        try:
            if not _lock(fd):
                os.close(fd)
                return None
        except BaseException:
            os.close(fd)
            raise
        if writable:
            record = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        return cls(path, fd)

    @classmethod
    def unguarded(cls, path: Path) -> RunLease:
        """A lease that holds nothing: for a store where no lock file can be made (and nothing saved)."""
        return cls(path, None)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor of the open file drops its lock

    def __del__(self) -> None:
        self.release()


def _lock(fd: int, attempts: int = 3) -> bool:
    """Take the exclusive lock without waiting for a holder; a few quick retries, because `holder_of` in another
    process takes a shared lock for an instant to look."""
    for attempt in range(attempts):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < attempts:
                time.sleep(0.005)
    return False


def holder_of(path: Path) -> LeaseHolder | None:
    """Who holds the lease at `path` now, or None when no live process does (nothing is held afterwards)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a named pipe must not block
    except OSError:
        return None  # never leased, or unreadable: no process can be shown to drive it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> LeaseHolder:
    try:
        return LeaseHolder.model_validate_json(os.pread(fd, 4096, 0))
    except (OSError, ValidationError):
        return LeaseHolder()
