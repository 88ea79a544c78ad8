"""Mending a weak model's structured answer in tool-call mode (native mode is exercised over HTTP in
test_weak_models): a tool call written as text becomes the call, fields nested under `arguments` come up."""

from __future__ import annotations

import json

from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import ToolDefinition

from research_nb.engines.llm._repair import repair_response

SCHEMA = {"type": "object", "properties": {"claims": {"type": "array"}}, "required": ["claims"]}
TOOLS = ModelRequestParameters(
    output_mode="tool", output_tools=[ToolDefinition(name="final_result", parameters_json_schema=SCHEMA)]
)


def test_a_tool_call_written_as_text_becomes_the_call() -> None:
    text = 'I will call the tool.\n```json\n{"name": "final_result", "arguments": {"claims": []}}\n```'
    repaired = repair_response(ModelResponse(parts=[TextPart(text)]), TOOLS)
    call = repaired.parts[0]
    assert isinstance(call, ToolCallPart) and call.tool_name == "final_result" and call.args_as_dict() == {"claims": []}


def test_fields_under_arguments_come_up_and_a_good_call_is_left_alone() -> None:
    nested = ToolCallPart("final_result", json.dumps({"arguments": json.dumps({"claims": [1]})}), "c1")
    call = repair_response(ModelResponse(parts=[nested]), TOOLS).parts[0]
    assert isinstance(call, ToolCallPart) and call.args_as_dict() == {"claims": [1]} and call.tool_call_id == "c1"

    good = ModelResponse(parts=[ToolCallPart("final_result", {"claims": [2]}, "c2")])
    assert repair_response(good, TOOLS) is good


def test_text_that_is_no_call_is_left_for_validation_to_reject() -> None:
    prose = ModelResponse(parts=[TextPart("The passages do not say.")])
    assert repair_response(prose, TOOLS) is prose
