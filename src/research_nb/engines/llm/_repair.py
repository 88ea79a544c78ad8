"""Mending the structured answers weak and local models give, before pydantic-ai validates them.

What small models served by llama.cpp, Ollama or LM Studio write instead of the JSON asked for, seen on this
project's runs: the JSON in a Markdown fence, or after a sentence of prose; a tool call written as text
(`{"name": "final_result", "arguments": {...}}`) instead of made; the fields nested under `arguments`,
`parameters` or `properties` (an echo of the schema) instead of at the top. Each is unwrapped to the object the
schema describes when that is unambiguous; anything else is left as it is, for validation to reject and the agent
to retry. Nothing is invented: only the model's own JSON is moved.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from pydantic_ai.messages import ModelResponse, ModelResponsePart, TextPart, ToolCallPart
from pydantic_ai.models import ModelRequestParameters

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_WRAPPERS = ("arguments", "parameters", "args", "input", "properties", "output", "result", "data")


def repair_response(response: ModelResponse, parameters: ModelRequestParameters) -> ModelResponse:
    """`response` with its structured output in the shape the request's schema asks for, where it can be mended."""
    schema, tool_name = _output_schema(parameters)
    if schema is None:
        return response
    parts: list[ModelResponsePart] = []
    changed = False
    has_tool_call = any(isinstance(p, ToolCallPart) for p in response.parts)
    for part in response.parts:
        new = part
        if isinstance(part, TextPart) and parameters.output_mode in ("native", "prompted"):
            obj = extract_json(part.content)
            if obj is not None:
                text = json.dumps(unwrap(obj, schema), ensure_ascii=False)
                if text != part.content:
                    new = replace(part, content=text)
        elif isinstance(part, TextPart) and tool_name and not has_tool_call:
            obj = extract_json(part.content)  # a tool call written as text: make it the call it describes
            if obj is not None and _fits(unwrap(obj, schema), schema):
                new = ToolCallPart(tool_name=tool_name, args=unwrap(obj, schema))
                has_tool_call = True
        elif isinstance(part, ToolCallPart) and part.tool_name == tool_name:
            args = part.args_as_dict() if _parses(part) else None
            if args is not None:
                fixed = unwrap(args, schema)
                if fixed != args:
                    new = ToolCallPart(tool_name=part.tool_name, args=fixed, tool_call_id=part.tool_call_id)
        changed = changed or new is not part
        parts.append(new)
    return replace(response, parts=parts) if changed else response


def extract_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text`: itself, inside a Markdown fence, or after some prose."""
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        start = candidate.find("{")
        while start >= 0:
            try:
                value, _ = json.JSONDecoder().raw_decode(candidate[start:])
            except ValueError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            break
    return None


def unwrap(obj: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`obj`, or the object nested in it under a wrapper key (`arguments`, `parameters`, ...) when the schema's
    fields are there and not at the top; a wrapped value that is a JSON string is read too."""
    properties = set(schema.get("properties", {}))
    if not properties or properties & set(obj):
        return obj
    for key in _WRAPPERS:
        inner = obj.get(key)
        if isinstance(inner, str):
            inner = extract_json(inner)
        if isinstance(inner, dict) and properties & set(inner):
            return unwrap(inner, schema)
    return obj


def _fits(obj: dict[str, Any], schema: dict[str, Any]) -> bool:
    required = set(schema.get("required", []))
    return bool(required) and required <= set(obj)


def _parses(part: ToolCallPart) -> bool:
    try:
        part.args_as_dict()
    except ValueError:
        return False
    return True


def _output_schema(parameters: ModelRequestParameters) -> tuple[dict[str, Any] | None, str | None]:
    if parameters.output_object is not None:
        return parameters.output_object.json_schema, None
    if parameters.output_tools:
        tool = parameters.output_tools[0]
        return tool.parameters_json_schema, tool.name
    return None, None
