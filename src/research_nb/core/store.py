"""The run store: every run's state on disk, so a kernel restart, a crash or a killed process costs nothing
finished and at most the stage that was running.

One JSON file per run (`<request_id>.json`, the whole `ResearchState`, report included), written after every
completed stage and when a run stops, pauses or finishes. Writes are atomic: the state goes to a temporary file
in the same folder, then `os.replace` puts it in place, so a reader sees the old or the new state, never half of
one. No secret can be written: keys live in `APIKeys`, which is never part of a state. A damaged file is
reported for that run alone (`CorruptRunError`); listing goes on with the others.

Where: `$RESEARCH_NB_DATA_DIR`, else `$XDG_DATA_HOME/research-nb`, else `~/.local/share/research-nb`, with runs
in its `runs/` folder. The folder is made on the first write, not when the store is built.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from research_nb.core.errors import CorruptRunError, UnknownRequestError
from research_nb.models.research import ResearchStage, ResearchState, utcnow

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def default_data_dir() -> Path:
    configured = os.environ.get("RESEARCH_NB_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "research-nb"


class StoredRun(BaseModel):
    """One line of `RunStore.list_runs()`: enough to choose a run to open or resume."""

    request_id: str
    question: str = ""
    stage: ResearchStage | None = None
    updated_at: datetime | None = None
    size_bytes: int = 0
    status: Literal["ok", "damaged"] = "ok"
    problem: str | None = None


class RunStore:
    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory

    @property
    def directory(self) -> Path:
        """The runs folder (resolved on each use, so the environment variable may be set after import)."""
        return (self._directory or default_data_dir() / "runs").expanduser()

    def save(self, state: ResearchState) -> Path:
        """Write `state` atomically; returns its file."""
        folder = self.directory
        folder.mkdir(parents=True, exist_ok=True)
        target = self._path(state.request_id)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{state.request_id}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(state.model_dump_json())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def load(self, request_id: str) -> ResearchState:
        path = self._path(request_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UnknownRequestError(f"no stored research run with id {request_id!r} in {self.directory}") from None
        try:
            return ResearchState.model_validate_json(text)
        except ValidationError as exc:
            raise CorruptRunError(
                f"the stored run {request_id!r} is damaged ({path}): {exc.error_count()} problem(s), first: "
                f"{exc.errors()[0]['msg']}; delete it with `research-nb runs --delete {request_id}`"
            ) from None

    def exists(self, request_id: str) -> bool:
        return self._path(request_id).exists()

    def list_runs(self) -> list[StoredRun]:
        """Every stored run, newest first; a damaged file is listed as such instead of stopping the listing."""
        folder = self.directory
        if not folder.is_dir():
            return []
        runs = []
        for path in folder.glob("*.json"):
            request_id = path.stem
            size = path.stat().st_size
            try:
                state = self.load(request_id)
            except CorruptRunError as exc:
                runs.append(StoredRun(request_id=request_id, size_bytes=size, status="damaged", problem=str(exc)))
                continue
            runs.append(
                StoredRun(
                    request_id=request_id,
                    question=state.user_query,
                    stage=state.current_stage,
                    updated_at=state.updated_at,
                    size_bytes=size,
                )
            )
        return sorted(
            runs, key=lambda r: (r.updated_at or datetime.min.replace(tzinfo=UTC), r.request_id), reverse=True
        )

    def delete(self, request_id: str) -> bool:
        path = self._path(request_id)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def delete_older_than(self, age: timedelta) -> list[str]:
        """Delete runs not updated for `age` (a damaged file: not modified for `age`); returns their ids."""
        cutoff = utcnow() - age
        deleted = []
        for run in self.list_runs():
            touched = run.updated_at or datetime.fromtimestamp(self._path(run.request_id).stat().st_mtime, UTC)
            if touched < cutoff and self.delete(run.request_id):
                deleted.append(run.request_id)
        return deleted

    def _path(self, request_id: str) -> Path:
        if not request_id or not set(request_id) <= _ID_CHARS or request_id.startswith("."):
            raise UnknownRequestError(f"{request_id!r} is not a research run id")
        return self.directory / f"{request_id}.json"
