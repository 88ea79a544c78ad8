"""One declaration of the research flags (`research_nb.core.flags`): `%research` and `research-nb` accept the same
flags and turn them into the same `ResearchOptions`, so the two fronts cannot drift apart."""

from __future__ import annotations

import argparse
import shlex

import pytest

from research_nb.cli import parse_request, research_parser
from research_nb.core.errors import UserInputError
from research_nb.core.flags import RESEARCH_FLAGS, check_engine, in_flag_terms
from research_nb.models.research import ResearchOptions
from research_nb.notebook.parser import StartCommand, _start_parser, parse_magic

#: Every research flag at least once, each with a value other than the default (so a flag both fronts dropped
#: would show as options equal to the defaults).
EXAMPLES = [
    ["--sources", "notes/", "--source", "a.md"],
    ["--corpus", "factbook", "--corpus", "wiki"],
    ["--engine", "llm"],
    ["--model", "openai:gpt-4o-mini"],
    ["--max-results", "5"],
    ["--no-clarify"],
    ["--engine", "llm", "--api-key-env", "MY_KEY"],
    ["--engine", "llm", "--base-url", "http://127.0.0.1:8080/v1"],
    ["--engine", "llm", "--web", "wikipedia,arxiv"],
    ["--engine", "llm", "--no-web"],
    ["--engine", "llm", "--local-only"],
    ["--engine", "llm", "--budget", "20000"],
    ["--engine", "llm", "--budget", "$0.05"],
    ["--engine", "llm", "--record", "run.json"],
    ["--engine", "llm", "--replay", "cassettes/two-tides.json"],
    ["--engine", "llm", "--model-timeout", "600"],
    ["--engine", "llm", "--structured-output", "native"],
    ["--engine", "llm", "--small-model"],
    ["--engine", "llm", "--no-small-model"],
    ["--engine", "llm", "--model", "ollama:llama3.2", "--local-only", "--no-web", "--budget", "500", "--no-clarify"],
]


def research_option_strings(parser: argparse.ArgumentParser) -> set[str]:
    fields = {flag.field for flag in RESEARCH_FLAGS}
    return {name for action in parser._actions if action.dest in fields for name in action.option_strings}


def magic_options(args: list[str]) -> ResearchOptions:
    command = parse_magic(shlex.join(["a question", *args]))
    assert isinstance(command, StartCommand)
    return ResearchOptions(**command.options)


def cli_options(args: list[str]) -> ResearchOptions:
    request, _ = parse_request(["a question", *args])
    return request.options()


def test_both_fronts_offer_exactly_the_declared_research_flags() -> None:
    declared = research_option_strings(research_parser())
    assert declared == research_option_strings(_start_parser())
    assert {"--model", "--api-key-env", "--base-url", "--web", "--no-web", "--local-only"} <= declared
    assert {"--budget", "--record", "--replay", "--no-small-model"} <= declared
    assert declared == {name for example in EXAMPLES for name in example if name.startswith("--")}


@pytest.mark.parametrize("args", EXAMPLES, ids=" ".join)
def test_a_flag_means_the_same_in_the_magic_and_the_cli(args: list[str]) -> None:
    options = magic_options(args)
    assert options == cli_options(args)
    assert options != ResearchOptions()


def test_what_the_flags_set() -> None:
    options = cli_options(["--engine", "llm", "--web", "wikipedia,arxiv", "--budget", "$0.05", "--replay", "c.json"])
    assert (options.web, options.budget_usd, options.budget_tokens, options.replay_from) == (
        ["wikipedia", "arxiv"],
        0.05,
        None,
        "c.json",
    )
    assert cli_options([]) == magic_options([]) == ResearchOptions()  # unset flags leave the defaults


def test_help_text_comes_from_the_options_model() -> None:
    help_text = " ".join(research_parser().format_help().split())
    for field in ("api_key_env", "replay_from", "max_search_results"):
        description = ResearchOptions.model_fields[field].description
        assert description is not None and description in help_text
    assert "Passages kept per search (default: 10)" in help_text
    assert "[engine llm]" in help_text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--web", "wikipedia"], "--web is for the llm engine, not 'offline': add --engine llm, or drop --web"),
        (["--engine", "offline", "--budget", "100"], "--budget is for the llm engine, not 'offline'"),
        (["--engine", "llm", "--record", "a.json", "--replay", "b.json"], "--record and --replay exclude each other"),
        (["--engine", "llm", "--local-only", "--web", "arxiv"], "--local-only forbids web search"),
        (["--max-results", "500"], "--max-results: Input should be less than or equal to 100"),
        (["--engine", "llm", "--api-key-env", "not a name"], "--api-key-env: String should match pattern"),
    ],
)
def test_a_bad_combination_is_one_line_in_flag_terms(args: list[str], message: str) -> None:
    with pytest.raises(UserInputError) as raised:
        cli_options(args)
    worded = in_flag_terms(str(raised.value))
    assert worded.startswith(message) and "\n" not in worded


def test_the_engine_check_reads_the_declaration() -> None:
    check_engine("llm", {"web", "budget_usd", "sources"})
    check_engine("offline", {"sources", "corpora", "max_search_results", "clarify", "model"})
    with pytest.raises(UserInputError, match=r"^--small-model is for the llm engine, not 'memory'"):
        check_engine("memory", {"small_model"})
