"""Parsing the `%research` / `%%research` line into a command, apart from the magic that runs it.

    %research "How do Norway and Sweden differ?" --sources notes/ --max-results 5
    %%research --engine offline            (the question is the cell body)
    %research list
    %research cancel 3f9a0c2d41b7e8aa
    %research open 3f9a0c2d41b7e8aa       (a run of this kernel or a stored one: its widget and report)
    %research resume 3f9a0c2d41b7e8aa     (continue a stopped run, e.g. one cancelled by a kernel restart)
    %research export 3f9a0c2d41b7e8aa report.html   (or .md, .json, .pdf: see docs/export.md)
    %research batch questions.txt --sources notes/   (one question per line, or a CSV/JSONL column: --column)
    %%research --batch                      (one question per line of the cell)
    %research resume batch-1a2b3c4d5e6f   (continue a batch: only its unfinished questions run)

The parser only knows the command line's grammar; what the options mean (an engine exists, a path exists) is
checked where the run is started, so the Python API checks the same things.
"""

from __future__ import annotations

import argparse
import functools
import shlex
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, Field

from research_nb.core.errors import UserInputError
from research_nb.core.flags import add_research_flags, given_options
from research_nb.models.research import MAX_QUERY_CHARS

#: The longest `%research` line: a question of the longest kind plus room for options and paths.
MAX_LINE_CHARS = MAX_QUERY_CHARS + 3000

SUBCOMMANDS = ("list", "cancel", "open", "resume", "export", "help")  # bare words only: a quoted "list" is a question


class MagicUsageError(UserInputError):
    """The magic's line does not parse: an unknown option, a missing value, no question."""


class StartCommand(BaseModel):
    """`%research QUESTION [options]`: start a run. Unset options fall back to the `%config` defaults."""

    kind: Literal["start"] = "start"
    query: str
    #: the research options given on the line, keyed by `ResearchOptions` field (`research_nb.core.flags`)
    options: dict[str, Any] = Field(default_factory=dict)
    widget: bool | None = None
    # a batch: `%%research --batch` (a question per line of `query`) or `%research batch FILE`
    batch: bool | None = Field(None, description="Research each line of the cell as a question of its own")
    batch_file: str | None = None  # None: not a batch (left out of dumps, like the unset options)
    column: str | None = Field(None, description="The column of a CSV or JSONL batch file that holds the questions")


class ListCommand(BaseModel):
    kind: Literal["list"] = "list"


class RunCommand(BaseModel):
    """A command on one run: `cancel`, `open` or `resume` it."""

    kind: Literal["cancel", "open", "resume"]
    request_id: str


class ExportCommand(BaseModel):
    """`%research export ID PATH`: write a run's report (or state) to a file; the format from the suffix."""

    kind: Literal["export"] = "export"
    request_id: str
    path: str


class HelpCommand(BaseModel):
    kind: Literal["help"] = "help"


MagicCommand = StartCommand | ListCommand | RunCommand | ExportCommand | HelpCommand


class _Parser(argparse.ArgumentParser):
    """argparse that raises `MagicUsageError` instead of printing usage and exiting the kernel's process."""

    def error(self, message: str) -> NoReturn:
        raise MagicUsageError(f"{message} (try %research help)")


def start_parser() -> argparse.ArgumentParser:
    """The options of `%research QUESTION` (read by `%research help`)."""
    return _start_parser()


@functools.cache  # built once: argparse parsers keep no state between parses (every default is None)
def _start_parser() -> _Parser:
    parser = _Parser(prog="%research", add_help=False, allow_abbrev=False)
    parser.add_argument("words", nargs="*")
    add_research_flags(parser)
    parser.add_argument("--no-widget", action="store_false", dest="widget", default=None)
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--column", metavar="NAME")
    parser.add_argument("-h", "--help", action="store_true")
    return parser


def parse_magic(line: str, cell: str | None = None) -> MagicCommand:
    """Parse a `%research` line (and, for `%%research`, the cell body that holds the question)."""
    if len(line) > MAX_LINE_CHARS:  # before shlex, which takes milliseconds per kilobyte
        raise MagicUsageError(
            f"the line has {len(line):,} characters; a question has at most {MAX_QUERY_CHARS:,} (a longer text "
            "belongs in a file: research it with --sources)"
        )
    try:
        tokens = shlex.split(line, posix=True)
    except ValueError as exc:  # an unclosed quote
        raise MagicUsageError(f"cannot read the line: {exc} (close the quote around the question)") from None

    if cell is None and (command := _subcommand(line, tokens)) is not None:
        return command

    args = _start_parser().parse_args(tokens)
    if args.help:
        return HelpCommand()
    line_query = " ".join(args.words).strip()
    batch_file = None
    if cell is None and args.words[:1] == ["batch"] and len(args.words) == 2 and line.split(maxsplit=1)[0] == "batch":
        batch_file, line_query = args.words[1], args.words[1]  # `%research batch FILE`; longer: a question
    if cell is not None:
        if line_query:
            raise MagicUsageError(
                f"the question goes in the cell body; the first line takes only options (found {line_query!r})"
            )
        query = cell.strip()
    else:
        query = line_query
    if not query:
        raise MagicUsageError(
            'no question given; write it after the magic, e.g. %research "How do Norway and Sweden differ?"'
        )
    return StartCommand(
        query=query,
        options=given_options(args),
        widget=args.widget,
        batch=True if args.batch or batch_file is not None else None,
        batch_file=batch_file,
        column=args.column,
    )


def _subcommand(line: str, tokens: list[str]) -> MagicCommand | None:
    """`list`, `help`, `cancel ID`, `open ID` and `resume ID` as bare words. `list` and `help` followed by more
    words (or quoted) are a question, so that `%research list the exports of Norway` still researches; `cancel`,
    `open` and `resume` take exactly one run id, and anything else after them is refused rather than researched
    (a question that starts with one of these words is quoted)."""
    bare_first = line.split(maxsplit=1)[0] if line.strip() else ""
    if bare_first not in SUBCOMMANDS:
        return None
    if tokens == ["list"]:
        return ListCommand()
    if tokens == ["help"]:
        return HelpCommand()
    if bare_first in ("list", "help"):
        return None
    kind, arguments = tokens[0], tokens[1:]
    quote_hint = f'to research a question that starts with "{kind}", quote it: %research "{line.strip()}"'
    if kind == "export":
        if len(arguments) != 2 or arguments[0].startswith("-"):
            raise MagicUsageError(
                f"export takes a run id and a file: %research export ID report.html (ids: %research list); {quote_hint}"
            )
        return ExportCommand(request_id=arguments[0], path=arguments[1])
    if not arguments:
        raise MagicUsageError(f"{kind} needs a run id: %research {kind} ID (ids: %research list); {quote_hint}")
    if len(arguments) > 1 or arguments[0].startswith("-"):
        raise MagicUsageError(
            f"{kind} takes one run id, not {' '.join(arguments)!r} (ids: %research list); {quote_hint}"
        )
    return RunCommand(kind=kind, request_id=arguments[0])
