"""`research-nb ... --format md|html|json|pdf --output FILE`: the run written as a file, in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

QUESTION = "What do write-back caches do with writes?"
NOTE = "# Caching notes\n\n## Write-back\n\nWrite-back caches delay writes to the backing store until eviction.\n"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESEARCH_NB_CACHE_DIR": str(cwd / "cache"), "RESEARCH_NB_DATA_DIR": str(cwd / "data")}
    command = [sys.executable, "-m", "research_nb.cli", QUESTION, "--sources", "notes", "--quiet", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_the_cli_writes_each_format_and_prints_the_text_ones(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "cache.md").write_text(NOTE)

    html = cli("--output", "report.html", cwd=tmp_path)
    assert html.returncode == 0 and html.stdout == "" and html.stderr == "research-nb: wrote report.html\n"
    page = (tmp_path / "report.html").read_text()
    assert "Write-back caches delay writes" in page and 'href="notes/cache.md"' in page and "Provenance" in page

    pdf = cli("--format", "pdf", "--output", "report.out", cwd=tmp_path)
    assert pdf.returncode == 0 and (tmp_path / "report.out").read_bytes().startswith(b"%PDF-")

    markdown = cli("--format", "md", cwd=tmp_path)
    assert markdown.returncode == 0 and "[`notes/cache.md`](notes/cache.md)" in markdown.stdout

    state = json.loads(cli("--format", "json", cwd=tmp_path).stdout)
    assert state["current_stage"] == "completed" and state["report"]["references"][0]["path"] == "notes/cache.md"


def test_bad_export_options_are_refused_before_the_research_starts(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "cache.md").write_text(NOTE)
    for args, message in [
        (["--output", "report.docx"], "cannot tell the export format of 'report.docx' from its suffix"),
        (["--output", "missing/report.md"], "--output missing/report.md: the folder 'missing' does not exist"),
        (["--format", "pdf"], "--format pdf writes a file: give it with --output report.pdf"),
    ]:
        refused = cli(*args, cwd=tmp_path)
        assert refused.returncode == 2 and refused.stdout == "", args
        assert refused.stderr.startswith(f"research-nb: {message}") and refused.stderr.count("\n") == 1, args
    assert not (tmp_path / "data").exists()  # no run was started for them
