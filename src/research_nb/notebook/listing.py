"""`%research list`: the runs as a table, HTML in a notebook and aligned text in a terminal.

One row per run: its id (what `open`, `resume`, `cancel` and `export` take), the question shortened, its status,
engine, when it started and how long it took, so that two runs of one question can be told apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from pydantic import BaseModel

from research_nb.models.research import shorten

COLUMNS = ("Run id", "Question", "Status", "Engine", "Started", "Duration")
QUESTION_WIDTH = 60


class RunRow(BaseModel):
    request_id: str
    question: str
    status: str
    engine: str = "–"
    started: datetime | None = None
    duration_seconds: float | None = None
    stored: bool = False  # a run of an earlier kernel or process, known from the run store only

    def cells(self) -> tuple[str, ...]:
        when = "–" if self.started is None else self.started.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        if self.stored and self.started is not None:
            when += " (saved)"
        status = f"{self.status} (stored)" if self.stored else self.status
        question = shorten(self.question, QUESTION_WIDTH)
        return (self.request_id, question, status, self.engine, when, _duration(self.duration_seconds))


class RunTable:
    """The rows `%research list` shows; displayed as an HTML table in a notebook, as text elsewhere."""

    def __init__(self, rows: Sequence[RunRow]) -> None:
        self.rows = list(rows)

    def __repr__(self) -> str:
        if not self.rows:
            return "no research runs yet"
        table = [COLUMNS, *(row.cells() for row in self.rows)]
        widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in table]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        if not self.rows:
            return "<p>No research runs yet.</p>"
        head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
        body = "".join(
            "<tr>"
            + "".join(
                f'<td title="{escape(row.question)}">{escape(cell)}</td>' if n == 1 else f"<td>{escape(cell)}</td>"
                for n, cell in enumerate(row.cells())
            )
            + "</tr>"
            for row in self.rows
        )
        return f'<table class="rnb-runs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
