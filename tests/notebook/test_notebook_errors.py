"""A user's mistake prints one line, no traceback; nothing starts, and the kernel and other runs go on."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from kernel_session import MEMORY_ENGINE_SETUP, KernelSession, kernel_session

QUESTION = "How do the economies of Norway and Sweden differ?"


@pytest.fixture(scope="module")
def shared_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelSession]:
    """One kernel for all the one-line mistakes (each is checked to start nothing). It has no model keys in its
    environment and runs in a folder of its own, so "missing key" is what it sees whatever the machine has."""
    workdir = tmp_path_factory.mktemp("mistakes")
    (workdir / "empty").mkdir()
    (workdir / "empty" / ".hidden").write_text("a hidden file does not make a folder non-empty")
    env = {k: "" for k in os.environ if k.endswith("_API_KEY")} | {"RESEARCH_NB_MODEL": ""}
    with kernel_session(env=env, cwd=workdir) as session:
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
            "%research: --local-only forbids web search; drop web=['wikipedia'] or --local-only",
        ),
        (
            f'%research --web wikipedia "{QUESTION}"',
            "%research: --web is for the llm engine, not 'offline': add --engine llm, or drop --web",
        ),
        (
            '%research "unclosed',
            "%research: cannot read the line: No closing quotation (close the quote around the question)",
        ),
        (
            "%research cancel",
            "%research: cancel needs a run id: %research cancel ID (ids: %research list); to research a question "
            'that starts with "cancel", quote it: %research "cancel"',
        ),
        (
            "%research open has space",
            "%research: open takes one run id, not 'has space' (ids: %research list); to research a question that "
            'starts with "open", quote it: %research "open has space"',
        ),
        (
            f'%research --engine llm --model anthropic:claude-sonnet-4-5 "{QUESTION}"',
            "%research: anthropic:claude-sonnet-4-5 needs an API key (anthropic): set ANTHROPIC_API_KEY in the "
            "environment or a .env file, or name the variable that holds it with --api-key-env (never paste a key "
            "into a notebook)",
        ),
        (
            f'%research --engine llm --model openai:gpt-4o-mini --api-key-env MY_MISSING_KEY "{QUESTION}"',
            "%research: --api-key-env names MY_MISSING_KEY, but no such environment variable is set (nor in a .env "
            "file)",
        ),
        (
            f'%research --engine llm --model gpt-4o "{QUESTION}"',
            "%research: unknown model 'gpt-4o': write provider:model, e.g. 'openai:gpt-4o-mini', "
            "'anthropic:claude-sonnet-4-5', 'google-gla:gemini-2.5-flash' or 'ollama:llama3.2'",
        ),
        (
            f'%research --engine llm --model nosuchprovider:big-model "{QUESTION}"',
            "%research: unknown model 'nosuchprovider:big-model': write provider:model, e.g. 'openai:gpt-4o-mini', "
            "'anthropic:claude-sonnet-4-5', 'google-gla:gemini-2.5-flash' or 'ollama:llama3.2'",
        ),
        (  # typed characters that a cell cannot hold literally reach the magic through run_line_magic
            "get_ipython().run_line_magic('research', '--engine memory \"\\x00\\x00\"')",
            "%research: the research question holds a NUL character (at character 1); remove it",
        ),
        (
            "get_ipython().run_line_magic('research', '--engine memory \"caf\\udce9\"')",
            "%research: the research question holds text that cannot be encoded as UTF-8 (a lone surrogate at "
            "character 4); retype it",
        ),
        (
            f'%research --engine memory --sources empty "{QUESTION}"',
            "%research: 'empty' is an empty folder: put documents in it, or name another folder",
        ),
        (
            f"%research --engine memory {'$' * 45000}",  # IPython's $-expansion took minutes on such a line
            "%research: the line has 45,016 characters; a question has at most 5,000 (a longer text belongs in a "
            "file: research it with --sources)",
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


def test_questions_are_not_expanded_by_ipython(shared_kernel: KernelSession) -> None:
    """`$name` and `{expr}` stay as typed (IPython would substitute them, and took 50 s doing so on a 45 KB line);
    interpolation on purpose is an f-string through research_nb.research()."""
    shared_kernel.run('name = "Sweden"')
    typed = shared_kernel.run('run = %research --engine memory --no-widget "Is $name {2+2} a ${name}?"\nrun.cancel()')
    assert typed.stderr == ""
    assert shared_kernel.eval("run.state.user_query") == "Is $name {2+2} a ${name}?"
    shared_kernel.run(
        "import research_nb\n"
        'run = research_nb.research(f"Is {name} {2+2}?", engine="memory", widget=False)\nrun.cancel()'
    )
    assert shared_kernel.eval("run.state.user_query") == "Is Sweden 4?"


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
