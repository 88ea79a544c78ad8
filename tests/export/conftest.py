from __future__ import annotations

from pathlib import Path

import pytest

from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState

NOTES = {
    "cache_notes.md": "# Caching notes\n\nCaching reduces latency by keeping hot data in memory.\n\n"
    "## Write-back\n\nWrite-back caches delay writes to the backing store until an entry is evicted.\n",
    "queues.md": "# Queue notes\n\nA bounded queue applies back-pressure: producers wait when it is full.\n",
}
QUESTION = "What do write-back caches do with writes?"


@pytest.fixture
def notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of the user's notes, given as `notes` from the working folder (as in a notebook)."""
    folder = tmp_path / "work" / "notes"
    folder.mkdir(parents=True)
    for name, text in NOTES.items():
        (folder / name).write_text(text)
    monkeypatch.chdir(folder.parent)
    return folder


@pytest.fixture
async def finished(notes: Path) -> ResearchState:
    """A real offline run over the notes, to its end."""
    flow = ResearchWorkflow()
    state = flow.prepare(QUESTION, options=ResearchOptions(sources=["notes"], clarify=False))
    state = await flow.resume_research(state)
    assert state.current_stage is ResearchStage.COMPLETED and state.report is not None
    return state
