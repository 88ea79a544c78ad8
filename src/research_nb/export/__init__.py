"""Exporting a run: its report as Markdown, self-contained HTML or PDF, or its whole final state as JSON.

    from research_nb.export import export_state
    export_state(state, "report.html")              # the format from the suffix
    export_state(state, "out/report", format="md")

Every front uses this: `run.export(path)` and `%research export ID PATH` in a notebook, `--format` with
`--output` on the command line. A file is written whole or not at all (a temporary file beside it, renamed), so
a failed export never damages one that was there; a bad path or format is one line that says what to fix.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

from research_nb.core.errors import InvalidStateError, UserInputError
from research_nb.export._links import FileLinker, cited_numbers, linked_markdown, linker_from
from research_nb.export._provenance import Provenance, provenance
from research_nb.models.research import ResearchReport, ResearchState

ExportFormat = Literal["md", "html", "json", "pdf"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)
_SUFFIXES: dict[str, ExportFormat] = {
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".pdf": "pdf",
}

__all__ = [
    "EXPORT_FORMATS",
    "ExportFormat",
    "FileLinker",
    "Provenance",
    "cited_numbers",
    "export_state",
    "export_text",
    "format_of",
    "linked_markdown",
    "linker_from",
    "provenance",
]


def format_of(path: str | Path, format: str | None = None) -> ExportFormat:
    """The export format: `format` if given, else the one the path's suffix names."""
    if format is not None:
        name = format.lower().lstrip(".")
        name = "md" if name == "markdown" else name
        for known in EXPORT_FORMATS:
            if name == known:
                return known
        raise UserInputError(f"unknown export format {format!r}; use one of {', '.join(EXPORT_FORMATS)}")
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise UserInputError(
            f"cannot tell the export format of {str(path)!r} from its suffix: end it in .md, .html, .json or .pdf, "
            "or name the format (md, html, json or pdf)"
        )
    return _SUFFIXES[suffix]


def export_text(state: ResearchState, format: ExportFormat, directory: Path | None = None) -> str:
    """The export as text (Markdown, HTML or JSON); files are linked relative to `directory` (default: here)."""
    if format == "json":
        return state.model_dump_json(indent=2) + "\n"
    from research_nb.export._html import report_html  # markdown-it: imported when an export needs it

    report = _report_of(state)
    linker = linker_from(directory or Path.cwd(), state.options.sources)
    if format == "html":
        return report_html(state, report, linker)
    if format == "md":
        return _markdown(state, report, linker)
    raise UserInputError(f"{format} is not a text format; write it to a file with export_state")


def export_state(state: ResearchState, path: str | Path, format: str | None = None) -> Path:
    """Write `state`'s export to `path` (format from the suffix unless given); returns the path written."""
    kind = format_of(path, format)
    target = Path(path).expanduser()
    folder = target.parent
    if target.is_dir():
        raise UserInputError(
            f"cannot export to {str(path)!r}: it is a folder; give a file name, e.g. {target}/report.{kind}"
        )
    if not folder.is_dir():
        raise UserInputError(f"cannot export to {str(path)!r}: the folder {str(folder)!r} does not exist")
    absolute = Path(os.path.abspath(target))
    try:
        if kind == "pdf":
            from research_nb.export._html import report_html
            from research_nb.export._pdf import write_pdf

            html = report_html(state, _report_of(state), linker_from(absolute.parent, state.options.sources))
            _atomically(absolute, lambda temporary: write_pdf(html, temporary))
        else:
            data = export_text(state, kind, absolute.parent).encode("utf-8")
            _atomically(absolute, lambda temporary: temporary.write_bytes(data))
    except OSError as exc:
        raise UserInputError(f"cannot export to {str(path)!r}: {exc.strerror or exc}") from None
    return target


def _report_of(state: ResearchState) -> ResearchReport:
    if state.report is None:
        raise InvalidStateError(
            f"run {state.request_id} has no report yet (status: {state.current_stage.value}); wait for it to end, "
            "or export its state as JSON"
        )
    return state.report


def _markdown(state: ResearchState, report: ResearchReport, linker: FileLinker) -> str:
    text = linked_markdown(report, file_link=linker, escape_dollars=False).rstrip()
    rows = ["| " + label + " | " + value.replace("|", "\\|") + " |" for label, value in provenance(state).rows()]
    return f"{text}\n\n## Provenance\n\n| | |\n|---|---|\n" + "\n".join(rows) + "\n"


def _atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file beside `path`, renamed over it once complete."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
