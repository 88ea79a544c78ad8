"""Record and replay: every model and web exchange of a run in one JSON file, so the run can be replayed later
with no keys and no network and give the same report, byte for byte.

The cassette only stores; what a "request" is belongs to the adapters that use it (a pydantic-ai model wrapper in
`engines`, an HTTP transport in `sources`). Each adapter turns its request into a key (a digest of what decides
the answer, never a secret) and asks for the next recorded answer under that key: the same request made twice gets
its two answers in the order they were recorded.

No secret is written: adapters record answers and digests, never request headers; the file is written atomically,
entries sorted by key, so recording the same run twice gives the same file.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, JsonValue, ValidationError

from research_nb.core.errors import ConfigurationError, RunFailure

CASSETTE_VERSION = 1

_E = TypeVar("_E", "ModelExchange", "HttpExchange")


class CassetteMissError(RunFailure):
    """A replayed run asked for something the cassette does not hold (the question or options differ)."""


class ModelExchange(BaseModel):
    key: str
    label: str = Field("", description="What asked (a stage), for people reading the file")
    response: JsonValue


class HttpExchange(BaseModel):
    key: str
    method: str
    url: str
    status: int
    content_type: str = ""
    body: str = ""
    body_encoding: Literal["text", "base64"] = "text"

    def content(self) -> bytes:
        return base64.b64decode(self.body) if self.body_encoding == "base64" else self.body.encode("utf-8")


class CassetteFile(BaseModel):
    version: int = CASSETTE_VERSION
    model_exchanges: list[ModelExchange] = Field(default_factory=list)
    http_exchanges: list[HttpExchange] = Field(default_factory=list)


class Cassette:
    """One run's recorded exchanges, in `record` or `replay` mode."""

    def __init__(self, path: Path, mode: Literal["record", "replay"], data: CassetteFile | None = None) -> None:
        self.path = path
        self.mode = mode
        self._data = data or CassetteFile()
        self._served: defaultdict[tuple[str, str], int] = defaultdict(int)

    @classmethod
    def replay(cls, path: str | Path) -> Cassette:
        """Open a recorded cassette; raises `ConfigurationError` when it is missing or not a cassette."""
        return cls(Path(path), "replay", read_cassette(Path(path)))

    @classmethod
    def record(cls, path: str | Path, *, keep: bool = False) -> Cassette:
        """A cassette to record into; `keep` appends to what the file holds (a run resumed after a pause)."""
        target = Path(path)
        data = read_cassette(target) if keep and target.exists() else None
        return cls(target, "record", data)

    # -- model exchanges ----------------------------------------------------------------------------------------

    def add_model(self, key: str, label: str, response: JsonValue) -> None:
        self._data.model_exchanges.append(ModelExchange(key=key, label=label, response=response))

    def next_model(self, key: str, label: str) -> JsonValue:
        found = self._next("model", key, [e for e in self._data.model_exchanges if e.key == key])
        if found is None:
            raise CassetteMissError(
                f"the cassette {self.path.name} holds no model answer for this {label} request: replay the same "
                "question with the same options it was recorded with, or record it again"
            )
        return found.response

    # -- HTTP exchanges -----------------------------------------------------------------------------------------

    def add_http(self, key: str, method: str, url: str, status: int, content_type: str, content: bytes) -> None:
        try:
            body, encoding = content.decode("utf-8"), "text"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(content).decode("ascii"), "base64"
        self._data.http_exchanges.append(
            HttpExchange(
                key=key,
                method=method,
                url=url,
                status=status,
                content_type=content_type,
                body=body,
                body_encoding=encoding,
            )
        )

    def next_http(self, key: str, method: str, url: str) -> HttpExchange:
        found = self._next("http", key, [e for e in self._data.http_exchanges if e.key == key])
        if found is None:
            raise CassetteMissError(
                f"the cassette {self.path.name} holds no answer for {method} {url}: replay the same question with "
                "the same options it was recorded with, or record it again"
            )
        return found

    # -- file ---------------------------------------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        """(model exchanges, HTTP exchanges) held."""
        return len(self._data.model_exchanges), len(self._data.http_exchanges)

    def save(self) -> None:
        """Write a recording atomically (a replayed cassette is never rewritten)."""
        if self.mode != "record":
            return
        ordered = CassetteFile(
            model_exchanges=sorted(self._data.model_exchanges, key=lambda e: e.key),  # stable: keeps repeats' order
            http_exchanges=sorted(self._data.http_exchanges, key=lambda e: e.key),
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(ordered.model_dump_json(indent=1))
                out.write("\n")
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _next(self, kind: str, key: str, candidates: list[_E]) -> _E | None:
        served = self._served[(kind, key)]
        if served >= len(candidates):
            return None
        self._served[(kind, key)] = served + 1
        return candidates[served]


def read_cassette(path: Path) -> CassetteFile:
    """The cassette at `path`; `ConfigurationError` (one line) for anything that is not one."""
    try:
        if path.exists() and not path.is_file():  # a folder, a pipe, a device: never opened (a pipe would block)
            raise ConfigurationError(f"cannot read the cassette {path}: not a regular file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"no cassette at {path}: record one first with record_to={str(path)!r}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read the cassette {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path} is not a research-nb cassette (not UTF-8 text)") from None
    try:
        data = CassetteFile.model_validate_json(text)
    except ValidationError as exc:
        raise ConfigurationError(f"{path} is not a research-nb cassette ({exc.error_count()} problem(s))") from None
    if data.version != CASSETTE_VERSION:
        raise ConfigurationError(f"{path} is a version {data.version} cassette; this research-nb reads version 1")
    return data


def check_cassette_paths(record_to: str | None, replay_from: str | None) -> None:
    """Reject a cassette setting that cannot work before a run starts."""
    if replay_from:
        read_cassette(Path(replay_from).expanduser())
    if record_to:
        folder = Path(record_to).expanduser().parent
        if folder.exists() and not folder.is_dir():
            raise ConfigurationError(f"cannot record to {record_to}: {folder} is not a folder")
