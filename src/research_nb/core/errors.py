"""One rooted exception hierarchy.

`UserInputError` is a mistake the user can fix (the fronts show its message as one line, no traceback);
`RunFailure` is a run that went wrong; cancellation is plain `asyncio.CancelledError`.
"""

from __future__ import annotations


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


class DuplicateRequestError(UserInputError):
    pass


class CorruptRunError(ResearchNBError):
    """A stored run cannot be read back (a damaged or foreign file); other runs are unaffected."""


class RunFailure(ResearchNBError):
    """A run failed for a reason other than user input (an engine error, a source that broke)."""


class EngineError(RunFailure):
    pass
