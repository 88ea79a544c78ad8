"""The magic's `export`, `list` and `help` in a real kernel, as a user types them."""

from __future__ import annotations

import re
from pathlib import Path

from kernel_session import KernelSession
from research_nb.notebook.help import WIDTH, help_text
from research_nb.notebook.parser import start_parser

QUESTION = "How do the economies of Norway and Sweden differ?"


def test_export_writes_the_report_and_refuses_a_bad_path_in_one_line(kernel: KernelSession, tmp_path: Path) -> None:
    kernel.run(f'gate.open()\nrun = %research --engine memory "{QUESTION}"\nstate = await run')
    run_id = kernel.eval("run.request_id")

    written = kernel.run(f"%research export {run_id} {tmp_path}/report.html")
    assert written.stdout == f"exported run {run_id} to {tmp_path}/report.html\n" and written.stderr == ""
    page = (tmp_path / "report.html").read_text()
    assert QUESTION in page and re.search(r'href="#(rnb-[0-9a-f]+-1)"', page) and 'id="rnb-' in page
    kernel.run(f"run.export('{tmp_path}/state.json')")
    assert f'"request_id": "{run_id}"' in (tmp_path / "state.json").read_text()

    for line, message in [
        (f"{run_id} {tmp_path}/report.docx", "report.docx' from its suffix: end it in .md, .html, .json or .pdf"),
        (f"{run_id} {tmp_path}/no/such/folder/r.md", "does not exist"),
        (f"nosuchrun {tmp_path}/r.md", "no research run with id 'nosuchrun'"),
        (f"{run_id}", "export takes a run id and a file: %research export ID report.html"),
    ]:
        refused = kernel.run(f"%research export {line}")
        assert refused.error is None and refused.stderr.count("\n") == 1 and message in refused.stderr, line
    assert kernel.eval("run.status") == "completed"  # the kernel and the run are as they were
    assert (tmp_path / "report.html").read_text() == page


def test_list_tells_two_runs_of_one_question_apart(kernel: KernelSession) -> None:
    kernel.run(
        f'gate.open()\nfirst = %research --engine memory "{QUESTION}"\nawait first\n'
        f'second = %research --engine memory --no-widget "{QUESTION}"\nawait second'
    )
    first, second = kernel.eval("first.request_id, second.request_id")
    listing = kernel.run("%research list")
    header = listing.text.splitlines()[0].split()
    assert header == ["Run", "id", "Question", "Status", "Engine", "Started", "Duration"]
    rows = [listing.row_of(first), listing.row_of(second)]
    started = [re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row) for row in rows]
    assert all(len(s) == 1 for s in started)  # each row has its own start time, and a duration in seconds
    assert all(re.search(r"completed\s+memory\s+\S+ \S+\s+\d+\.\d s$", row) for row in rows)
    html = listing.result["text/html"] if listing.result else ""
    assert f"<td>{first}</td>" in html and f"<td>{second}</td>" in html  # (runs of earlier tests are stored too)
    assert "<th>Started</th>" in html and "<th>Duration</th>" in html


def test_help_has_every_option_with_what_it_does_and_no_line_a_notebook_would_wrap() -> None:
    text = help_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= WIDTH + 2
    for action in start_parser()._actions:
        if not action.option_strings or action.dest == "help":
            continue
        entry = next(i for i, line in enumerate(lines) if line.startswith(f"  {', '.join(action.option_strings)}"))
        same_line = re.match(r"^  \S.*?(?:\s{2,}(.*))?$", lines[entry])
        described = (same_line.group(1) if same_line else None) or lines[entry + 1].strip()
        assert len(described) > 10, action.option_strings  # a description, not just the flag
    assert "Examples:" in text and '%research "How do the economies of Norway and Sweden differ?"' in text


def test_help_in_the_kernel_is_the_same_text(kernel: KernelSession) -> None:
    assert kernel.run("%research help").stdout == help_text() + "\n"
