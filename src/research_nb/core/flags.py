"""The research options as command-line flags, declared once: `%research`'s parser and the `research-nb` CLI are
both built from `RESEARCH_FLAGS`, so a flag cannot mean one thing in a notebook and another in a terminal.

Each flag names the `ResearchOptions` field it sets; its help text is that field's description (with the default),
and `engines` says which engines read it. What a front adds of its own (`--no-widget`, `--batch`, `--json`) stays
in that front. Parsing leaves an option that was not given out of the result, so each front fills in its own
defaults (the magic's `%config`, the CLI's `ResearchOptions` defaults) and the engine's own defaults apply to the
rest.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from research_nb.core.errors import UserInputError
from research_nb.models.research import ResearchOptions, WebProvider

#: How a flag takes its value: one value, a repeatable value, a switch, or a pair `--x` / `--no-x`.
Action = Literal["value", "append", "store_true", "store_false", "store_empty", "optional_bool"]

#: The engine the model and web flags are for.
LLM = "llm"


def _names(value: str) -> list[str]:
    """`--web wikipedia,arxiv`: provider names, comma-separated."""
    return [name.strip() for name in value.split(",") if name.strip()]


def _budget(value: str) -> dict[str, int | float]:
    """`--budget 20000` (tokens) or `--budget '$0.05'` (estimated cost in US dollars)."""
    text = value.strip().lower().removesuffix("usd").strip()
    try:
        if text.startswith("$"):
            return {"budget_usd": float(text[1:])}
        return {"budget_tokens": int(text)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither a token count (20000) nor a cost ($0.05)") from None


@dataclass(frozen=True)
class ResearchFlag:
    """One flag: its spellings, the `ResearchOptions` field it sets and how it reads its value."""

    names: tuple[str, ...]
    field: str  # the ResearchOptions field; "budget" sets budget_tokens or budget_usd (`_budget` says which)
    action: Action = "value"
    metavar: str | None = None
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    engines: tuple[str, ...] = ()  # the engines that read it; () for every engine
    help: str | None = None  # None: the field's own description

    @property
    def flag(self) -> str:
        return self.names[0]

    @property
    def sets(self) -> tuple[str, ...]:
        """The `ResearchOptions` fields it may set."""
        return ("budget_tokens", "budget_usd") if self.field == "budget" else (self.field,)

    @property
    def spelling(self) -> str:
        """How `%research help` and the docs write it: `--budget TOKENS|$USD`, `--small-model|--no-small-model`."""
        if self.action == "optional_bool":
            return f"{self.flag}|--no-{self.flag.removeprefix('--')}"
        if self.action in ("store_true", "store_false", "store_empty"):
            return self.flag
        if self.action == "append":
            return f"{self.flag} {self.metavar} (repeatable)"
        return f"{self.flag} {self.metavar or '|'.join(self.choices or ()) or self.field.upper()}"

    def description(self) -> str:
        """The help text: the field's description, its default when it has a plain one, the engines it is for."""
        text = self.help
        if text is None:
            info = ResearchOptions.model_fields[self.field]
            text = info.description or self.field
            if self.action in ("value", "append") and info.default not in (None, [], ""):
                text += f" (default: {info.default})"
        if self.action == "append":
            text += " (repeatable)"
        if self.engines:
            text += f" [engine {', '.join(self.engines)}]"
        return text


RESEARCH_FLAGS: tuple[ResearchFlag, ...] = (
    ResearchFlag(("--sources", "--source"), "sources", "append", "PATH", help="File, folder or glob to research"),
    ResearchFlag(("--corpus",), "corpora", "append", "NAME", help="Built-in corpus to include"),
    ResearchFlag(("--engine",), "engine", metavar="NAME"),
    ResearchFlag(("--model",), "model", metavar="NAME"),
    ResearchFlag(("--max-results",), "max_search_results", metavar="N", parse=int),
    ResearchFlag(("--no-clarify",), "clarify", "store_false", help="Never pause to ask clarifying questions"),
    ResearchFlag(("--api-key-env",), "api_key_env", metavar="VAR", engines=(LLM,)),
    ResearchFlag(("--base-url",), "base_url", metavar="URL", engines=(LLM,)),
    ResearchFlag(
        ("--web",),
        "web",
        metavar=",".join(get_args(WebProvider)),
        parse=_names,
        engines=(LLM,),
        help="Web search providers, comma-separated (default: Wikipedia, plus Tavily with a key)",
    ),
    ResearchFlag(("--no-web",), "web", "store_empty", engines=(LLM,), help="No web search: local sources only"),
    ResearchFlag(("--local-only",), "local_only", "store_true", engines=(LLM,)),
    ResearchFlag(
        ("--budget",),
        "budget",
        metavar="TOKENS|$USD",
        parse=_budget,
        engines=(LLM,),
        help="Stop new model calls at this many tokens (20000) or this estimated cost ('$0.05')",
    ),
    ResearchFlag(("--record",), "record_to", metavar="PATH", engines=(LLM,)),
    ResearchFlag(("--replay",), "replay_from", metavar="PATH", engines=(LLM,)),
    ResearchFlag(("--model-timeout",), "model_timeout", metavar="SECONDS", parse=float, engines=(LLM,)),
    ResearchFlag(("--structured-output",), "structured_output", choices=("auto", "native", "tool"), engines=(LLM,)),
    ResearchFlag(("--small-model",), "small_model", "optional_bool", engines=(LLM,)),
)

#: The fields a flag may set (what `given_options` returns keys of).
FLAG_FIELDS = frozenset(field for flag in RESEARCH_FLAGS for field in flag.sets)


def add_research_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add every research flag to `parser`. Nothing has a default: an option not given is absent from
    `given_options`, so the front's and the engine's defaults apply."""
    for flag in RESEARCH_FLAGS:
        common: dict[str, Any] = {"dest": flag.field, "help": flag.description().replace("%", "%%")}
        if flag.action == "value" or flag.action == "append":
            parser.add_argument(
                *flag.names,
                action="append" if flag.action == "append" else "store",
                metavar=flag.metavar,
                type=flag.parse,
                choices=flag.choices,
                default=None,
                **common,
            )
        elif flag.action == "store_empty":
            parser.add_argument(*flag.names, action="store_const", const=[], default=None, **common)
        elif flag.action == "optional_bool":
            parser.add_argument(*flag.names, action=argparse.BooleanOptionalAction, default=None, **common)
        else:
            parser.add_argument(*flag.names, action=flag.action, default=None, **common)


def given_options(namespace: argparse.Namespace) -> dict[str, Any]:
    """The research options given on a parsed command line, keyed by `ResearchOptions` field (unset: absent)."""
    options: dict[str, Any] = {}
    for field in dict.fromkeys(flag.field for flag in RESEARCH_FLAGS):
        value = getattr(namespace, field, None)
        if value is None:
            continue
        if field == "budget":
            options.update(value)
        else:
            options[field] = value
    return options


def check_engine(engine: str, options: Iterable[str]) -> None:
    """Refuse, as one line, a flag for another engine (`--web` with the offline engine): it would be ignored
    silently, and the user would believe the run searched the web."""
    for flag in RESEARCH_FLAGS:
        if set(flag.sets) & set(options) and flag.engines and engine not in flag.engines:
            raise UserInputError(
                f"{flag.flag} is for the {' or '.join(flag.engines)} engine, not {engine!r}: add "
                f"--engine {flag.engines[0]}, or drop {flag.flag}"
            )


def flag_for(field: str) -> str | None:
    """The flag a user knows a `ResearchOptions` field by (`max_search_results` -> `--max-results`)."""
    for flag in RESEARCH_FLAGS:
        if field in flag.sets:
            return flag.flag
    return None


def in_flag_terms(message: str) -> str:
    """An error worded in `ResearchOptions` field names (`max_search_results: ...`, `record_to and replay_from
    exclude each other`), reworded in the flags a user of a front typed (`--max-results: ...`)."""
    message = message.removeprefix("query: ")
    field = message.partition(" ")[0]
    if (flag := flag_for(field.removesuffix(":"))) is not None:
        message = flag + message[len(field.removesuffix(":")) :]
    for name in sorted((f for f in FLAG_FIELDS if "_" in f), key=len, reverse=True):
        message = re.sub(rf"(?<![\w-]){name}\b", flag_for(name) or name, message)
    return message
