"""A user's mistake prints one line, no traceback; nothing starts, and the kernel and other runs go on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kernel_session import MEMORY_ENGINE_SETUP, KernelSession, kernel_session

QUESTION = "How do the economies of Norway and Sweden differ?"


@pytest.fixture(scope="module")
def shared_kernel() -> Iterator[KernelSession]:
    """One kernel for all the one-line mistakes (each is checked to start nothing)."""
    with kernel_session() as session:
        session.run("%load_ext research_nb")
        session.run(MEMORY_ENGINE_SETUP)
        yield session


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            "%research",
            '%research: no question given; write it after the magic, e.g. %research "How do Norway and Sweden differ?"',
        ),
        (
            '%research "   "',
            '%research: no question given; write it after the magic, e.g. %research "How do Norway and Sweden differ?"',
        ),
        (f'%research --depth 3 "{QUESTION}"', "%research: unrecognized arguments: --depth (try %research help)"),
        (
            f'%research --max-results "{QUESTION}"',
            f"%research: argument --max-results: invalid int value: {QUESTION!r} (try %research help)",
        ),
        (
            f'%research --max-results 500 "{QUESTION}"',
            "%research: --max-results: Input should be less than or equal to 100",
        ),
        (
            f'%research --engine llm --model-timeout 0 "{QUESTION}"',
            "%research: --model-timeout: Input should be greater than 0",
        ),
        (f'%research --engine nosuch "{QUESTION}"', "%research: unknown engine 'nosuch'; available: {engines}"),
        (f'%research --sources no/such/folder "{QUESTION}"', "%research: No such file or folder: 'no/such/folder'"),
        (
            f'%research --engine llm --local-only --web wikipedia "{QUESTION}"',
            "%research: local_only forbids web search; drop web=['wikipedia'] or local_only",
        ),
        (
            '%research "unclosed',
            "%research: cannot read the line: No closing quotation (close the quote around the question)",
        ),
        (
            f"%%research --engine memory {QUESTION}\nand a body",
            f"%research: the question goes in the cell body; the first line takes only options (found {QUESTION!r})",
        ),
    ],
)
def test_a_mistake_prints_one_clear_line(shared_kernel: KernelSession, cell: str, message: str) -> None:
    runs_before = shared_kernel.eval("len(workflow.list_states())")
    engines = shared_kernel.eval("', '.join(workflow.engines.names())")  # the test engine "memory" among them
    result = shared_kernel.run(cell)
    assert result.error is None and result.result is None and result.stdout == ""
    assert result.stderr == message.format(engines=engines) + "\n"
    assert shared_kernel.eval("len(workflow.list_states())") == runs_before  # nothing was started


def test_mistakes_leave_other_runs_going(kernel: KernelSession) -> None:
    kernel.run(f'run = %research --engine memory "{QUESTION}"\nawait gate.reached(1)')
    for bad in ("%research", "%research --engine nosuch x", "%research --bogus"):
        assert kernel.run(bad).stderr.count("\n") == 1
    assert kernel.eval("run.status") == "running"
    kernel.run("gate.open()")
    assert kernel.eval("(await run).current_stage.value") == "completed"


def test_the_python_api_raises_the_same_errors(kernel: KernelSession) -> None:
    failed = kernel.run('import research_nb\nresearch_nb.research("q", engine="memory", depth=3)', allow_error=True)
    assert failed.error is not None and failed.error["ename"] == "UserInputError"
    assert failed.error["evalue"].startswith("unknown option 'depth'; known: ")
