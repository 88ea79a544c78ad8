"""Showing a report in a notebook: its Markdown with each citation `[n]` linked to the n-th item of its Sources,
and the user's files linked relative to the notebook (see `research_nb.export` for how links are made).

The kernel's working folder is the notebook's in Jupyter, so a file link relative to it opens the file there.
"""

from __future__ import annotations

from pathlib import Path

from IPython.display import Markdown

from research_nb.export import linked_markdown, linker_from
from research_nb.models.research import ResearchReport


def report_markdown(report: ResearchReport, place: str = "", sources: list[str] | None = None) -> str:
    """The report's Markdown as a notebook shows it: citations and files linked, dollars escaped (not math)."""
    return linked_markdown(report, place, file_link=linker_from(Path.cwd(), sources or []))


def report_display(report: ResearchReport, place: str = "", sources: list[str] | None = None) -> Markdown:
    """An IPython display object for the report (rendered as Markdown by Jupyter); `place` tells apart the ids
    of copies of one report shown in different places; `sources` are the folders the run was given."""
    return Markdown(report_markdown(report, place, sources))  # type: ignore[no-untyped-call]
