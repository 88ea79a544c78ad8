"""A batch on disk: its questions, their run ids and the options, written once when the batch starts.

The results are not here: every finished run is in the run store under its own id (`<batch_id>-<position>`),
saved as it finishes. So a batch whose driver died is resumed from these two places alone: the manifest says
what was asked, the store says what is done (`resume_batch`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal
from uuid import uuid4

from pydantic import BaseModel, Field, ValidationError

from research_nb.core.errors import CorruptRunError, UnknownRequestError
from research_nb.core.store import default_data_dir
from research_nb.models.research import ResearchOptions, utcnow
from research_nb.sources._atomic import atomic_write

ItemStatus = Literal["pending", "running", "completed", "failed", "cancelled"]


class BatchEntry(BaseModel):
    """One question as the manifest keeps it."""

    id: str
    question: str
    request_id: str


class BatchManifest(BaseModel):
    batch_id: str
    created_at: datetime = Field(default_factory=utcnow)
    options: ResearchOptions
    entries: list[BatchEntry]


class BatchItem(BaseModel):
    """What a batch keeps in memory per question: a summary, never the run's full state (that is in the store)."""

    position: int
    id: str
    question: str
    request_id: str
    status: ItemStatus = "pending"
    error: str | None = None
    seconds: float | None = None
    worker: str | None = None
    #: the finished run was already in the store when the batch was resumed (it did not run again)
    reused: bool = False


def new_batch_id() -> str:
    return f"batch-{uuid4().hex[:12]}"


def batches_dir() -> Path:
    return default_data_dir() / "batches"


def save_manifest(manifest: BatchManifest) -> Path:
    path = _path(manifest.batch_id)
    with atomic_write(path) as scratch:
        scratch.write_text(manifest.model_dump_json(), encoding="utf-8")
    return path


def load_manifest(batch_id: str) -> BatchManifest:
    path = _path(batch_id)
    try:
        return BatchManifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise UnknownRequestError(f"no batch with id {batch_id!r} in {path.parent}") from None
    except (OSError, ValidationError) as exc:
        raise CorruptRunError(f"the batch {batch_id} cannot be read ({path}): {type(exc).__name__}") from None


def _path(batch_id: str) -> Path:
    if not batch_id or not set(batch_id) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_") or len(batch_id) > 64:
        raise UnknownRequestError(f"{batch_id[:40]!r} is not a batch id (batch ids look like batch-1a2b3c4d5e6f)")
    return batches_dir() / f"{batch_id}.json"
