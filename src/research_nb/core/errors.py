"""One rooted exception hierarchy.

`UserInputError` is a mistake the user can fix (the fronts show its message as one line, no traceback);
`RunFailure` is a run that went wrong; cancellation is plain `asyncio.CancelledError`.
"""

from __future__ import annotations

from pydantic import ValidationError


class ResearchNBError(Exception):
    """Root of every error research-nb raises on purpose."""


class UserInputError(ResearchNBError, ValueError):
    """Bad input: the message says what is wrong and how to fix it."""


class InvalidQueryError(UserInputError):
    pass


class UnknownEngineError(UserInputError):
    pass


class UnknownRequestError(UserInputError, KeyError):
    """No run with that request id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown request id"


class ClarificationError(UserInputError):
    """Answers that do not fit the pending clarifying questions."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class SourceError(UserInputError):
    """A corpus cannot be built: a given path does not exist, a built-in corpus is unknown or not installed, or
    nothing at all is searchable."""


class MissingDependencyError(UserInputError):
    """An optional part is not installed (the message names the extra to install, e.g. `research-nb[llm]`)."""


class ConfigurationError(UserInputError):
    """A setting cannot work as given: a model without its key, a cassette file that is missing."""


class InvalidStateError(UserInputError):
    """The run is not in a state that allows the operation (e.g. resuming a completed run)."""


class RunOwnedElsewhereError(InvalidStateError):
    """Another live process drives the run (it holds the run's lease): it cannot be resumed or answered here.
    The HTTP API answers 409, like any `InvalidStateError`."""


class DuplicateRequestError(UserInputError):
    pass


class CorruptRunError(UserInputError):
    """A stored run cannot be read back: its file is damaged, foreign, unreadable or not a file. The message is
    one line naming the file, why, and the fix (delete it); other runs are unaffected. The HTTP API answers 422
    (a `UserInputError` that is neither unknown nor a state conflict)."""


class RunFailure(ResearchNBError):
    """A run failed for a reason other than user input (an engine error, a source that broke)."""


class EngineError(RunFailure):
    pass


def describe_validation_error(exc: ValidationError) -> str:
    """A pydantic error as one line: `field: problem; field: problem` (a user mistake's message)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
