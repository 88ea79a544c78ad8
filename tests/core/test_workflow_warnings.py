"""Warnings once per run: a bad file that every stage meets again is one warning, not one per stage."""

from __future__ import annotations

from pathlib import Path

from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchStage


async def test_a_bad_file_is_one_warning_in_the_state_and_in_the_events(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "norway.md").write_text("# Norway\n\nNorway's economy rests on oil and gas exports.\n")
    (notes / "broken.pdf").write_bytes(b"%PDF-1.4 this file ends before its first object")
    flow = ResearchWorkflow()
    state = await flow.run("How does Norway's economy work?", options=ResearchOptions(sources=[str(notes)], corpora=[]))
    assert state.current_stage is ResearchStage.COMPLETED
    about_the_pdf = [w for w in state.warnings if "broken.pdf" in w]
    assert len(about_the_pdf) == 1 and about_the_pdf[0].startswith("skipped notes/broken.pdf: not a valid PDF")
    sent = [e.message for e in flow.events.history(state.request_id) if e.type == "warning"]
    assert sent == state.warnings

    stopped = state.model_copy(deep=True)
    stopped.cancel("stopped")
    stopped.completed_stages = stopped.completed_stages[:2]
    again = await flow.resume_research(stopped)  # a resumed run meets the file again
    assert [w for w in again.warnings if "broken.pdf" in w] == about_the_pdf
