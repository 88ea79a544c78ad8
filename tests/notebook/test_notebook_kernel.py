"""The magic and the run handle in a real kernel: returns at once, the kernel stays responsive, `await run`."""

from __future__ import annotations

import re

from kernel_session import KernelSession

QUESTION = "How do the economies of Norway and Sweden differ?"


def test_the_magic_returns_at_once_and_the_next_cell_runs_while_the_research_goes_on(kernel: KernelSession) -> None:
    started = kernel.run(
        f"""
import time
began = time.perf_counter()
run = %research --engine memory "{QUESTION}"
returned_after = time.perf_counter() - began
await gate.reached(1)  # the run is now held inside its research stage
returned_after
"""
    )
    assert float(started.text) < 0.1  # the magic did not wait for the run

    following = kernel.run("21 * 2, run.status, run.running")
    assert following.text == "(42, 'running', True)"

    kernel.run("gate.open()")
    finished = kernel.run("state = await run\nstate.current_stage.value, state.report is not None, run.status")
    assert finished.text == "('completed', True, 'completed')"


def test_the_handle_shows_a_widget_in_a_browser_and_a_line_with_its_id_elsewhere(kernel: KernelSession) -> None:
    shown = kernel.run(f'%research --engine memory "{QUESTION}"')
    widget_output, report_output = shown.displays
    run_id = kernel.eval("list(get_ipython().find_magic('research').__self__.runs)[-1]")
    assert widget_output["text/plain"] == f"ResearchRun({QUESTION!r}, id={run_id!r}, engine='memory', status='running')"
    widget = kernel.research_widget_id(shown)
    assert kernel.models[widget]["query"] == QUESTION
    assert report_output == {"text/markdown": f"<!-- research-nb report of run {run_id} -->"}  # filled in at the end

    plain = kernel.run(f'%research --engine memory --no-widget "{QUESTION}"')
    assert list(plain.displays[0]) == ["text/plain"] and plain.displays[0]["text/plain"].startswith("ResearchRun(")


def test_the_report_renders_under_the_widget_with_citations_linked_to_its_sources(kernel: KernelSession) -> None:
    kernel.run("gate.open()")
    shown = kernel.run(f'run = %research --engine memory "{QUESTION}"\nrun')
    widget = kernel.research_widget_id(shown)
    report_id = shown.display_ids[1]
    assert report_id is not None
    kernel.run("await run")
    kernel.wait_for_widget(widget, status="completed", has_report=True)
    markdown = kernel.updated_display(report_id, containing=f"# {QUESTION}")["text/markdown"]
    assert markdown.split("\n\n", 1)[1].startswith(f"# {QUESTION}")
    anchor = markdown.split('<a id="')[1].split('"')[0]
    assert f"[1](#{anchor})" in markdown  # the first citation links to the first source's anchor


def test_several_runs_at_once_all_finish(kernel: KernelSession) -> None:
    kernel.run(
        f"""
import research_nb
runs = [research_nb.research("{QUESTION}", engine="memory") for _ in range(3)]
await gate.reached(3)
"""
    )
    assert kernel.eval("[r.status for r in runs]") == ["running"] * 3
    kernel.run("gate.open()")
    states = kernel.eval("[(await r).current_stage.value for r in runs]")
    assert states == ["completed"] * 3
    assert len(set(kernel.eval("[r.request_id for r in runs]"))) == 3


def test_config_sets_defaults_and_flags_override_them(kernel: KernelSession) -> None:
    kernel.run("%config ResearchMagics.max_results = 3\n%config ResearchMagics.engine = 'memory'")
    kernel.run(f'a = %research "{QUESTION}"\nb = %research --max-results 7 "{QUESTION}"')
    options = kernel.eval("[(r.state.options.engine, r.state.options.max_search_results) for r in (a, b)]")
    assert options == [("memory", 3), ("memory", 7)]


def test_a_cell_magic_takes_the_question_from_the_cell_body(kernel: KernelSession) -> None:
    kernel.run(f"%%research --engine memory --no-widget\n{QUESTION}\n")
    assert kernel.eval("_.state.user_query") == QUESTION


def test_list_and_cancel_subcommands(kernel: KernelSession) -> None:
    kernel.run(f'run = %research --engine memory "{QUESTION}"\nawait gate.reached(1)')
    run_id = kernel.eval("run.request_id")
    listing = kernel.run("%research list")
    row = listing.row_of(run_id)
    assert re.search(re.escape(QUESTION) + r"\s+running\s+memory\s+\d{4}-", row)  # question, status, engine, started
    assert listing.result is not None and f"<td>{run_id}</td>" in listing.result["text/html"]  # a table

    assert kernel.run(f"%research cancel {run_id}").stdout == f"cancelling run {run_id}\n"
    assert kernel.eval("(await run).current_stage.value") == "cancelled"
    assert "is not running (status: cancelled)" in kernel.run(f"%research cancel {run_id}").stdout
    unknown = kernel.run("%research cancel nosuchrun")
    assert unknown.stderr == "%research: no research run with id 'nosuchrun'\n"
