"""Pydantic values as JSON inside the worker protocol's pickles: what crosses the pipe to and from a worker.

Why: the awaiting process (a kernel) pays, on its own interpreter, for every state it sends and every result,
passage and event it receives. A pydantic object pickles through Python-level `__getstate__` / `__setstate__`,
one call per object and nested object; pydantic's own JSON is written and read in Rust. For a Factbook run's state
(about 50 KB) that is 0.14 ms to write as JSON against 0.51 ms to pickle, and 0.16 ms against 0.25 ms to read its
passages back (`docs/workers.md`).

`pack` wraps a pydantic model, or a list of models of one class, in a `Packed` that pickles as its class (by
reference) and its JSON; `unpack` rebuilds the value. Anything else goes as itself (pickling it is what happened
before): a value whose JSON cannot be written (text with a lone surrogate, an object in a metadata dict), and a
model with a field left out of its JSON (an event's `routine` flag), which JSON would not bring back. Reading
JSON back runs the model's validation again, so only models whose JSON round-trips exactly may cross; the store
relies on that already (a run saved as JSON resumes to the same report), and the worker tests check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticSerializationError


@dataclass(frozen=True)
class Packed:
    """A model (`many=False`) or a list of models of one class (`many=True`) as JSON."""

    model: type[BaseModel]
    many: bool
    data: bytes


def pack(value: Any) -> Any:
    """`value` as a `Packed` when it is a model or a non-empty list of models of one class, else `value`."""
    try:
        if isinstance(value, BaseModel) and _whole_in_json(type(value)):
            return Packed(type(value), False, value.model_dump_json().encode())
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            model = type(value[0])
            if _whole_in_json(model) and all(type(item) is model for item in value):
                return Packed(model, True, _list_of(model).dump_json(value))
    except PydanticSerializationError:
        pass  # text JSON cannot hold (a lone surrogate): pickled as it is, unchanged
    return value


def unpack(value: Any) -> Any:
    """The value `pack` was given."""
    if not isinstance(value, Packed):
        return value
    if value.many:
        return _list_of(value.model).validate_json(value.data)
    return value.model.model_validate_json(value.data)


@cache
def _whole_in_json(model: type[BaseModel]) -> bool:
    """Whether every field of `model` is written to its JSON (its nested models' fields are not checked: none of
    the models that cross leaves a field out)."""
    return not any(info.exclude for info in model.model_fields.values())


@cache
def _list_of(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]
