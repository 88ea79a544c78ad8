"""`research-nb --engine llm` in a real subprocess: the llm engine's flags at parity with `%research`'s, a cassette
replayed with no key and no network, one clear line for what cannot work, and keys never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchStage
from test_cli import cli

CASSETTE = Path(__file__).resolve().parents[1] / "notebooks" / "cassettes" / "two-tides.json"
QUESTION = "Why are there two high tides a day?"
#: How notebooks/05-llm-replay.ipynb recorded the cassette (its model is the test suite's scripted stand-in).
REPLAY = ["--engine", "llm", "--model", "scripted:tides-demo", "--web", "wikipedia,arxiv", "--max-results", "6"]


async def test_a_replayed_cassette_prints_the_report_the_python_api_writes(tmp_path: Path) -> None:
    result = cli(QUESTION, *REPLAY, "--replay", str(CASSETTE), cache=tmp_path, env={"OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    options = ResearchOptions(
        engine="llm", model="scripted:tides-demo", web=["wikipedia", "arxiv"], max_search_results=6
    ).model_copy(update={"replay_from": str(CASSETTE)})
    state = await ResearchWorkflow().run(QUESTION, options=options)
    assert state.current_stage is ResearchStage.COMPLETED and state.report is not None
    assert result.stdout == state.report.markdown
    assert "engine: llm" in result.stdout and "https://en.wikipedia.org/wiki/Tide" in result.stdout
    assert "research execution" in result.stderr  # progress on stderr, the report alone on stdout


def test_json_output_keeps_the_options_as_given(tmp_path: Path) -> None:
    result = cli(QUESTION, *REPLAY, "--replay", str(CASSETTE), "--budget", "50000", "--json", "--quiet", cache=tmp_path)
    state = json.loads(result.stdout)
    assert state["current_stage"] == "completed", result.stderr
    assert {key: state["options"][key] for key in ("engine", "model", "web", "budget_tokens", "replay_from")} == {
        "engine": "llm",
        "model": "scripted:tides-demo",
        "web": ["wikipedia", "arxiv"],
        "budget_tokens": 50000,
        "replay_from": str(CASSETTE),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--web", "wikipedia"], "--web is for the llm engine, not 'offline': add --engine llm, or drop --web"),
        (["--replay", "c.json"], "--replay is for the llm engine, not 'offline'"),
        (
            ["--engine", "llm", "--record", "a.json", "--replay", "b.json"],
            "--record and --replay exclude each other: record once, then replay",
        ),
        (["--engine", "llm", "--local-only", "--web", "arxiv"], "--local-only forbids web search"),
        (["--engine", "llm", "--budget", "lots"], "argument --budget: 'lots' is neither a token count (20000) nor"),
        (["--engine", "llm", "--replay", "no/such/cassette.json"], "no/such/cassette.json"),
        (
            ["--engine", "llm", "--model", "openai:gpt-4o-mini", "--api-key-env", "MY_MISSING_KEY"],
            "--api-key-env names MY_MISSING_KEY, but no such environment variable is set",
        ),
        (["--engine", "llm", "--model", "gpt-4o"], "unknown model 'gpt-4o': write provider:model"),
    ],
)
def test_what_cannot_work_is_one_line_and_exit_code_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = cli(QUESTION, *args, cache=tmp_path, env={"MY_MISSING_KEY": ""})
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_a_key_is_read_from_the_named_variable_and_never_printed(tmp_path: Path) -> None:
    secret = "sk-test-never-print-me-4242"
    # a model server that does not answer (nothing listens on port 9): the run fails after the key was read
    args = ["--engine", "llm", "--model", "openai:gpt-4o-mini", "--api-key-env", "MY_KEY", "--no-web", "--no-clarify"]
    env = {"MY_KEY": secret, "RESEARCH_NB_DATA_DIR": str(tmp_path / "data")}
    result = cli(QUESTION, *args, "--base-url", "http://127.0.0.1:9/v1", "--json", cache=tmp_path, env=env)
    assert result.returncode == 1
    state = json.loads(result.stdout)
    assert state["current_stage"] == "failed" and "does not answer" in state["error_message"]
    assert state["options"]["api_key_env"] == "MY_KEY"
    assert secret not in result.stdout + result.stderr
    stored = "".join(p.read_text() for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert stored and secret not in stored
