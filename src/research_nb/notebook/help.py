"""`%research help`: usage, every option with what it does, and examples, in lines short enough that no notebook
or terminal wraps them mid-word.

The options are read from the magic's parser, which is built from the one declaration of the research flags
(`research_nb.core.flags`, shared with the CLI), so the help cannot drift from them.
"""

from __future__ import annotations

import argparse
import re
import textwrap
from collections.abc import Iterator, Mapping

from research_nb.notebook.parser import StartCommand, start_parser

WIDTH = 88
_FLAG_COLUMN = 30

USAGE_LINES = (
    "%research [options] QUESTION          research a question in the background",
    "%%research [options]                  the question is the cell's body",
    "%research list                        this kernel's runs and the stored ones, as a table",
    "%research open|resume|cancel ID       show, continue or stop a run",
    "%research export ID FILE              write a run as .md, .html, .json or .pdf",
    "%research batch FILE [--column NAME]  one question per line (or a CSV/JSONL column)",
    "%research help                        this help",
)

EXAMPLES = (
    ('%research "How do the economies of Norway and Sweden differ?"', "the bundled Factbook, offline"),
    ('run = %research --sources notes/ --no-clarify "What do my notes say about caching?"', "your files"),
    ("%research --engine llm --model openai:gpt-4o-mini --budget '$0.05' \"...\"", "a model, with a cost cap"),
    ("%research export 3f9a0c2d41b7e8aa report.html", "a self-contained HTML file"),
    ('%config ResearchMagics.sources = ["notes/"]', "a default the flags override"),
)


def help_text() -> str:
    lines = ["%research: deep research in the background of this kernel, with cited Markdown reports", "", "Usage:"]
    lines += [f"  {line}" for line in USAGE_LINES]
    lines += ["", "Options:"]
    for flags, description in _options():
        lines += _entry(flags, description)
    lines += ["", "Examples:"]
    for example, what in EXAMPLES:
        lines += [f"  {example}", *textwrap.wrap(what, WIDTH, initial_indent="      # ", subsequent_indent="      # ")]
    lines += [
        "",
        "Defaults: %config ResearchMagics.<name> = ... (engine, model, max_results, sources,",
        "clarify, widget); the flags override them. Saved notebooks and exports: docs/export.md.",
    ]
    return "\n".join(lines)


def _options() -> Iterator[tuple[str, str]]:
    from research_nb.notebook.magic import ResearchMagics  # the traits' help texts (magic imports this module)

    traits = ResearchMagics.class_traits()
    for action in start_parser()._actions:
        if not action.option_strings or action.dest in ("help", "words"):
            continue
        flags = ", ".join(action.option_strings)
        if action.nargs != 0:
            flags += f" {_metavar(action)}"
        yield flags, _describe(action, traits)


def _describe(action: argparse.Action, traits: Mapping[str, object]) -> str:
    """The research flags carry their help (`research_nb.core.flags`); the magic's own flags say it in the
    field or `%config` trait they set."""
    if action.help:
        return action.help
    field = StartCommand.model_fields.get(action.dest)
    description = field.description if field is not None else None
    trait = traits.get(action.dest)
    description = description or (str(getattr(trait, "help", "")) or None)
    description = re.sub(r"\s*\(--[^)]*\)", "", description) if description else None
    if isinstance(action, argparse._StoreFalseAction) and description:
        return f"Don't {description[0].lower()}{description[1:]}"
    return description or ""


def _entry(flags: str, description: str) -> list[str]:
    text = description.rstrip(".")
    if len(flags) + 2 >= _FLAG_COLUMN:
        head = [f"  {flags}"]
        rest = textwrap.wrap(text, WIDTH, initial_indent=" " * _FLAG_COLUMN, subsequent_indent=" " * _FLAG_COLUMN)
        return head + rest
    first = f"  {flags}".ljust(_FLAG_COLUMN)
    return textwrap.wrap(
        text or "", WIDTH, initial_indent=first, subsequent_indent=" " * _FLAG_COLUMN, break_long_words=False
    ) or [first.rstrip()]


def _metavar(action: argparse.Action) -> str:
    if action.metavar:
        return str(action.metavar)
    if action.choices:
        return "|".join(map(str, action.choices))
    return "N" if action.type in (int, float) else action.dest.upper()
