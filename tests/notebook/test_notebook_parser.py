"""The magic's grammar, apart from the magic."""

from __future__ import annotations

import shlex

import pytest

from research_nb.notebook.parser import (
    HelpCommand,
    ListCommand,
    MagicUsageError,
    RunCommand,
    StartCommand,
    parse_magic,
)


def test_a_quoted_question_with_options() -> None:
    command = parse_magic('"How do Norway and Sweden differ?" --sources notes/ --source a.md --max-results 5')
    assert command == StartCommand(
        query="How do Norway and Sweden differ?", options={"sources": ["notes/", "a.md"], "max_search_results": 5}
    )


def test_an_unquoted_question_is_the_words_joined() -> None:
    command = parse_magic("--engine offline How do  Norway and Sweden differ?")
    assert command == StartCommand(query="How do Norway and Sweden differ?", options={"engine": "offline"})


def test_unset_options_stay_unset_so_the_config_defaults_apply() -> None:
    command = parse_magic("'q'")
    assert isinstance(command, StartCommand)
    assert command.options == {} and command.widget is None
    flags = parse_magic("'q' --no-clarify --no-widget --model openai:gpt-4o")
    assert isinstance(flags, StartCommand)
    assert flags.options == {"clarify": False, "model": "openai:gpt-4o"} and flags.widget is False


def test_a_cell_magic_takes_the_question_from_the_body() -> None:
    command = parse_magic("--engine offline", "\n  How do Norway and Sweden differ?\n\n")
    assert command == StartCommand(query="How do Norway and Sweden differ?", options={"engine": "offline"})


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("list", ListCommand()),
        ("  list  ", ListCommand()),
        ("help", HelpCommand()),
        ("--help", HelpCommand()),
        ("cancel 3f9a0c2d41b7e8aa", RunCommand(kind="cancel", request_id="3f9a0c2d41b7e8aa")),
        ("open 3f9a0c2d41b7e8aa", RunCommand(kind="open", request_id="3f9a0c2d41b7e8aa")),
        ("resume 3f9a0c2d41b7e8aa", RunCommand(kind="resume", request_id="3f9a0c2d41b7e8aa")),
    ],
)
def test_subcommands(line: str, expected: object) -> None:
    assert parse_magic(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        '"list"',
        "list the main exports of Norway",
        '"cancel culture in Sweden"',
        "help me compare Norway",
        "'resume writing tips'",
        '"open" source licences',
    ],
)
def test_a_subcommand_word_that_starts_a_question_is_a_question(line: str) -> None:
    command = parse_magic(line)
    assert isinstance(command, StartCommand) and command.query == " ".join(shlex.split(line))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "cancel",
            "cancel needs a run id: %research cancel ID (ids: %research list); to research a question that starts "
            'with "cancel", quote it: %research "cancel"',
        ),
        (
            "open has space",
            "open takes one run id, not 'has space' (ids: %research list); to research a question that starts with "
            '"open", quote it: %research "open has space"',
        ),
        ("resume", "resume needs a run id"),
        ("cancel culture in Sweden", "cancel takes one run id, not 'culture in Sweden'"),
        ("resume 3f9a0c2d41b7e8aa --now", "resume takes one run id, not '3f9a0c2d41b7e8aa --now'"),
        ("open --help", "open takes one run id, not '--help'"),
    ],
)
def test_a_run_command_without_exactly_one_id_is_refused_not_researched(line: str, problem: str) -> None:
    with pytest.raises(MagicUsageError) as raised:
        parse_magic(line)
    assert str(raised.value).startswith(problem)


def test_in_a_cell_magic_list_is_a_question() -> None:
    assert parse_magic("", "list") == StartCommand(query="list")


@pytest.mark.parametrize(
    ("line", "cell", "problem"),
    [
        ("", None, "no question given"),
        ('"  "', None, "no question given"),
        ("--engine offline", "   \n", "no question given"),
        ('"q" --depth 3', None, "unrecognized arguments: --depth"),
        ('"q" --max-results many', None, "argument --max-results: invalid int value: 'many'"),
        ('"q" --engine', None, "argument --engine: expected one argument"),
        ('"unclosed', None, "cannot read the line: No closing quotation"),
        ('"q" --sources', None, "argument --sources/--source: expected one argument"),
        ("question on the line", "and in the body", "the question goes in the cell body"),
        ("'q' --max", None, "unrecognized arguments: --max"),  # no abbreviations: a typo is not a guess
        ("'q' --budget lots", None, "'lots' is neither a token count (20000) nor a cost ($0.05)"),
    ],
)
def test_mistakes_raise_a_usage_error_that_says_what_is_wrong(line: str, cell: str | None, problem: str) -> None:
    with pytest.raises(MagicUsageError) as caught:
        parse_magic(line, cell)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_model_and_web_flags() -> None:
    command = parse_magic(
        '"q" --engine llm --model openai:gpt-5-mini --api-key-env MY_KEY --base-url http://localhost:11434/v1 '
        "--web wikipedia,arxiv --budget '$0.05' --record run.json"
    )
    assert isinstance(command, StartCommand)
    assert command.options == {
        "engine": "llm",
        "model": "openai:gpt-5-mini",
        "api_key_env": "MY_KEY",
        "base_url": "http://localhost:11434/v1",
        "web": ["wikipedia", "arxiv"],
        "budget_usd": 0.05,
        "record_to": "run.json",
    }
    assert parse_magic('"q" --no-web --local-only --budget 20000 --replay c.json') == StartCommand(
        query="q", options={"web": [], "local_only": True, "budget_tokens": 20000, "replay_from": "c.json"}
    )


def test_a_line_far_beyond_the_longest_question_is_refused_before_it_is_split() -> None:
    longest = "w" * 5000
    assert parse_magic(f'"{longest}" --sources notes/ --max-results 5').query == longest

    with pytest.raises(MagicUsageError, match=r"^the line has 45,001 characters; a question has at most 5,000"):
        parse_magic("$" * 45001)


def test_batch_forms() -> None:
    from_file = parse_magic("batch questions.csv --column claim --engine offline")
    assert isinstance(from_file, StartCommand)
    assert (from_file.batch, from_file.batch_file, from_file.column) == (True, "questions.csv", "claim")
    cell = parse_magic("--batch --no-clarify", "Norway?\nSweden?\n")
    assert isinstance(cell, StartCommand) and cell.batch and cell.query == "Norway?\nSweden?"
    question = parse_magic("batch processing in Norway")  # more than one word after `batch`: a question
    assert (
        isinstance(question, StartCommand) and question.batch is None and question.query == "batch processing in Norway"
    )


def test_weak_model_flags() -> None:
    command = parse_magic('"q" --engine llm --model-timeout 600 --structured-output native --small-model')
    assert command == StartCommand(
        query="q",
        options={"engine": "llm", "model_timeout": 600.0, "structured_output": "native", "small_model": True},
    )
    assert parse_magic('"q" --no-small-model') == StartCommand(query="q", options={"small_model": False})
    assert parse_magic('"q"') == StartCommand(query="q")  # unset: the engine detects and defaults


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("'q' --structured-output json", "argument --structured-output: invalid choice: 'json'"),
        ("'q' --model-timeout soon", "argument --model-timeout: invalid float value: 'soon'"),
    ],
)
def test_weak_model_flag_mistakes_say_what_is_wrong(line: str, problem: str) -> None:
    with pytest.raises(MagicUsageError) as caught:
        parse_magic(line)
    assert problem in str(caught.value)
