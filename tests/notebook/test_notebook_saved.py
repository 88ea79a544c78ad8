"""A notebook keeps its reports: executed in a real kernel (nbclient, as nbval and CI run notebooks), saved, and
read back without a kernel or widget state, it holds each report as Markdown; nbconvert's Markdown has it too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

QUESTION = "What do write-back caches do with writes?"
ANSWER = "Write-back caches delay writes to the backing store"
NOTE = "# Caching notes\n\n## Write-back\n\nWrite-back caches delay writes to the backing store until eviction.\n"


def test_a_saved_notebook_shows_the_report_without_a_kernel_and_in_nbconvert(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "cache.md").write_text(NOTE)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext research_nb"),
        nbformat.v4.new_code_cell(f'run = %research --no-clarify --sources notes "{QUESTION}"\nrun'),
        nbformat.v4.new_code_cell("state = await run\nstate.current_stage.value"),
    ]
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    saved = tmp_path / "saved.ipynb"
    nbformat.write(notebook, saved)

    cell = json.loads(saved.read_text())["cells"][1]  # read as a viewer does: JSON, no kernel, no widget state
    widget_output, report_output = cell["outputs"]
    run_id = _run_id(widget_output)
    assert "".join(widget_output["data"]["text/plain"]) == (
        f"ResearchRun({QUESTION!r}, id={run_id!r}, engine='offline', status='running')"
    )
    report = "".join(report_output["data"]["text/markdown"])
    assert report.startswith(f"<!-- research-nb report of run {run_id} -->")
    assert "## Answer" in report and ANSWER in report
    assert "## Sources" in report and "[`notes/cache.md`](notes/cache.md)" in report  # opens beside the notebook

    converted = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "markdown", "--stdout", str(saved)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ANSWER in converted and "## Sources" in converted and "notes/cache.md" in converted
    assert f"id={run_id!r}" in converted  # the widget's place names the run


def _run_id(output: dict[str, Any]) -> str:
    text = "".join(output["data"]["text/plain"])  # saved notebooks keep multi-line text as a list of lines
    return str(text.split("id='")[1].split("'")[0])
