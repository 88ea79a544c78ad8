"""How a report lists a source from the user's files: the title once, the file, the page or heading."""

from __future__ import annotations

from pathlib import Path

import pytest

from research_nb.engines._report import ReportInput, write_report
from research_nb.export import linked_markdown, linker_from
from research_nb.models.research import (
    Finding,
    Passage,
    PassageLocation,
    ResearchBrief,
    ResearchState,
    Source,
    SubQuestion,
)

TITLE = "Microstructural imaging of the cortex."


def _sources_of(location: PassageLocation, title: str = TITLE) -> str:
    passage = Passage(
        id="p1", document_id="d1", title=title, text="Diffusion imaging resolves layers.", location=location
    )
    state = ResearchState(
        user_query="What does diffusion imaging resolve?",
        brief=ResearchBrief(objective="x", sub_questions=[SubQuestion(id="sq1", question="x")]),
        sources=[Source(id="d1", title=TITLE)],
        passages=[passage],
    )
    finding = Finding(sub_question_id="sq1", text="Diffusion imaging resolves layers.", passage_ids=["p1"])
    report = write_report(ReportInput(state=state, findings=[finding]))
    return report.markdown.split("## Sources\n\n")[1].splitlines()[0]


@pytest.mark.parametrize(
    ("location", "title", "line"),
    [
        (
            PassageLocation(path="papers/cortex.pdf", page=3, heading=TITLE),
            TITLE,
            f"1. {TITLE} (`papers/cortex.pdf`, p. 3)",
        ),
        (
            PassageLocation(path="notes/a.md", heading="Write-back"),
            "Caching notes — Write-back",
            "1. Caching notes — Write-back (`notes/a.md`)",
        ),
        (
            PassageLocation(path="notes/a.md", heading="Eviction"),
            "Caching notes",
            '1. Caching notes (`notes/a.md`, "Eviction")',
        ),
        (PassageLocation(heading="Economy"), "Norway", '1. Norway, "Economy"'),  # not a file: as before
    ],
)
def test_a_file_source_shows_its_path_and_place_and_its_title_once(
    location: PassageLocation, title: str, line: str
) -> None:
    assert _sources_of(location, title) == line


def test_the_path_is_linked_only_where_the_file_can_be_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "my cortex.pdf").write_bytes(b"%PDF-1.4")
    monkeypatch.chdir(tmp_path)
    passage = Passage(
        id="p1", document_id="d1", title=TITLE, text="t", location=PassageLocation(path="papers/my cortex.pdf", page=3)
    )
    missing = passage.model_copy(update={"id": "p2", "location": PassageLocation(path="papers/gone.pdf")})
    state = ResearchState(
        user_query="q",
        brief=ResearchBrief(objective="x", sub_questions=[SubQuestion(id="sq1", question="x")]),
        passages=[passage, missing],
    )
    findings = [Finding(sub_question_id="sq1", text=t, passage_ids=[p]) for t, p in (("a b", "p1"), ("c d", "p2"))]
    report = write_report(ReportInput(state=state, findings=findings))
    linked = linked_markdown(report, file_link=linker_from(tmp_path / "exports"))
    assert "[`papers/my cortex.pdf`](../papers/my%20cortex.pdf)" in linked  # relative to where it is read
    assert "(`papers/gone.pdf`)" in linked and "gone.pdf`](" not in linked  # no link to a file that is not there
