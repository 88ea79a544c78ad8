"""Stand-ins at the edge of the network: a scripted language model and the web, fed with recorded payloads.

`ScriptedLLM` follows the engine's instructions literally — it plans the sub-questions it is given, takes notes by
quoting the first sentences of the passages it is shown, keeps every note, and writes the report from the
findings — so a run with it exercises every stage with real structured outputs. It answers as a pydantic-ai
`FunctionModel` or over HTTP in OpenAI's chat-completions format (for the real OpenAI model class).

`web_handler` answers Wikipedia, arXiv and Tavily requests, and page fetches, with the files in `fixtures/`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from research_nb.core.retry import RetryPolicy
from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.llm import LLMEngine

FIXTURES = Path(__file__).parent / "fixtures"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=10.0)
TIDES = [
    ("How do tides form?", ["tide formation"]),
    ("What role does the Moon play?", ["Moon gravity"]),
]

#: Stage of a request, from a property only that stage's output schema has.
_STAGE_BY_PROPERTY = {
    "needs_clarification": "clarify",
    "sub_questions": "brief",
    "follow_up_queries": "notes",
    "sentences": "picks",
    "keep": "select",
    "summary": "report",
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")

Hook = Callable[[str, dict[str, Any], str], Awaitable[None] | None]


def stage_of(schema: dict[str, Any]) -> str:
    properties = schema.get("properties", {})
    return next(stage for prop, stage in _STAGE_BY_PROPERTY.items() if prop in properties)


def _json_after(prompt: str, marker: str) -> Any:
    text = prompt.split(marker, 1)[1]
    return json.JSONDecoder().raw_decode(text.lstrip())[0]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in ("what", "does", "there", "research")}


@dataclass
class ScriptedLLM:
    sub_questions: list[tuple[str, list[str]]]
    claims_per_note: int = 2
    relevant: bool = False  # quote each passage's sentence that shares most words with the question, not its first
    follow_ups: list[str] = field(default_factory=list)  # asked for once, by the first notes call
    extra_claims: list[dict[str, str]] = field(default_factory=list)  # added to the first notes call's claims
    report_claims: list[dict[str, str]] = field(default_factory=list)  # added to the report's summary
    before: Hook | None = None  # called with (stage, args, prompt) before answering: may sleep, raise, wait
    calls: list[str] = field(default_factory=list)

    # -- the brain ----------------------------------------------------------------------------------------------

    def answer(self, stage: str, prompt: str) -> dict[str, Any]:
        self.calls.append(stage)
        if stage == "clarify":
            return {"needs_clarification": False, "reason": "", "questions": []}
        if stage == "brief":
            return {
                "objective": prompt.removeprefix("Research question: "),
                "comparison": False,
                "sub_questions": [{"question": q, "search_queries": qs} for q, qs in self.sub_questions],
            }
        if stage == "notes":
            passages = _json_after(prompt, "Passages (JSON):")
            asked = _words(prompt.split("Passages (JSON):")[0])
            claims = []
            for passage in passages[: self.claims_per_note]:
                sentences = _SENTENCE.split(passage["text"].strip())
                best = max(sentences, key=lambda s: len(_words(s) & asked)) if self.relevant else sentences[0]
                sentence = best
                claims.append({"text": sentence, "passage_id": passage["id"], "quote": sentence})
            first = self.calls.count("notes") == 1
            if first:
                claims += self.extra_claims
            return {"claims": claims, "follow_up_queries": self.follow_ups if first else []}
        if stage == "picks":  # a small model's notes: the first sentence of each passage it is shown
            passages = _json_after(prompt, "Passages (JSON):")
            firsts = [int(next(iter(p["sentences"]))) for p in passages[: self.claims_per_note]]
            return {"sentences": firsts}
        if stage == "select":
            notes = _json_after(prompt, "Notes (JSON):")
            return {"keep": [{"note": n["note"], "importance": 5 - min(i, 4)} for i, n in enumerate(notes)]}
        findings = _json_after(prompt, "Verified findings (JSON):")
        summary, sections, seen = [], {}, set()
        for f in findings:
            claim = {"text": f["finding"], "passage_id": f["passage_id"], "quote": f["quote"]}
            if f["sub_question_id"] not in seen:
                seen.add(f["sub_question_id"])
                summary.append(claim)
            else:
                sections.setdefault(f["sub_question_id"], []).append(claim)
        return {
            "summary": summary + self.report_claims,
            "sections": [{"sub_question_id": k, "claims": v} for k, v in sections.items()],
        }

    async def _answer(self, stage: str, prompt: str) -> dict[str, Any]:
        if self.before is not None:
            outcome = self.before(stage, {}, prompt)
            if outcome is not None:
                await outcome
        return self.answer(stage, prompt)

    # -- as a pydantic-ai FunctionModel -------------------------------------------------------------------------

    def model(self) -> FunctionModel:
        async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            tool = info.output_tools[0]
            prompt = _prompt_of(messages)
            args = await self._answer(stage_of(tool.parameters_json_schema), prompt)
            usage = RequestUsage(input_tokens=len(prompt.split()) + 40, output_tokens=len(json.dumps(args).split()))
            return ModelResponse(parts=[ToolCallPart(tool.name, args)], usage=usage)

        return FunctionModel(respond, model_name="scripted")

    # -- over HTTP, as OpenAI's chat completions ----------------------------------------------------------------

    def openai_handler(
        self, seen: list[httpx2.Request], dress: Callable[[str], str] | None = None
    ) -> Callable[[httpx2.Request], Awaitable[httpx2.Response]]:
        """An OpenAI-compatible server; `dress` rewrites a native answer's JSON text as a weak model writes it."""

        async def handle(request: httpx2.Request) -> httpx2.Response:
            seen.append(request)
            if request.method == "GET" and request.url.path.endswith("/models"):
                listing = {"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "scripted"}]}
                return httpx2.Response(200, json=listing)
            body = json.loads(request.content)
            prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
            if isinstance(prompt, list):
                prompt = "".join(part.get("text", "") for part in prompt)
            if "response_format" in body:  # native structured output: the answer is the message's JSON text
                schema = body["response_format"]["json_schema"]["schema"]
                args = await self._answer(stage_of(schema), prompt)
                text = json.dumps(args)
                message: dict[str, Any] = {"role": "assistant", "content": dress(text) if dress else text}
                finish = "stop"
            else:
                tool = body["tools"][0]["function"]
                args = await self._answer(stage_of(tool["parameters"]), prompt)
                call = {
                    "id": f"call_{len(seen)}",
                    "type": "function",
                    "function": {"name": tool["name"], "arguments": json.dumps(args)},
                }
                message = {"role": "assistant", "content": None, "tool_calls": [call]}
                finish = "tool_calls"
            return httpx2.Response(
                200,
                json={
                    "id": f"chatcmpl-{len(seen)}",
                    "object": "chat.completion",
                    "created": 1764300000,
                    "model": "gpt-4o-mini-2024-07-18",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": finish,
                            "message": message,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": len(prompt.split()) + 40,
                        "completion_tokens": 60,
                        "total_tokens": len(prompt.split()) + 100,
                    },
                },
            )

        return handle


def _prompt_of(messages: list[ModelMessage]) -> str:
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    raise AssertionError("no user prompt")


# -- the web ------------------------------------------------------------------------------------------------------


WIKIPEDIA_ANSWERS = {"moon": "wikipedia-moon.json", "tide": "wikipedia-tides.json", "tidal": "wikipedia-tides.json"}
EMPTY_WIKIPEDIA = {"batchcomplete": True}


@dataclass
class WebLog:
    requests: list[httpx2.Request] = field(default_factory=list)

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]


def web_handler(log: WebLog, *, tavily_key: str | None = None) -> Callable[[httpx2.Request], httpx2.Response]:
    """Answers like the real services, from recorded payloads. Searches no payload matches get an empty result,
    as the real APIs give."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        log.requests.append(request)
        host = request.url.host
        if host == "en.wikipedia.org":
            query = request.url.params["gsrsearch"].lower()
            name = next((f for word, f in WIKIPEDIA_ANSWERS.items() if word in query), None)
            payload = json.loads((FIXTURES / name).read_text()) if name else EMPTY_WIKIPEDIA
            return httpx2.Response(200, json=payload)
        if host == "export.arxiv.org":
            query = request.url.params["search_query"].lower()
            body = (FIXTURES / ("arxiv-tides.xml" if "dissipation" in query else "arxiv-empty.xml")).read_bytes()
            return httpx2.Response(200, content=body, headers={"content-type": "application/atom+xml; charset=utf-8"})
        if host == "api.tavily.com":
            if request.headers.get("authorization") != f"Bearer {tavily_key}":
                return httpx2.Response(401, json={"detail": {"error": "Unauthorized: missing or invalid API key."}})
            return httpx2.Response(200, json=json.loads((FIXTURES / "tavily-tides.json").read_text()))
        if request.url.path == "/facts/twotides.html":
            html = (FIXTURES / "twotides.html").read_bytes()
            return httpx2.Response(200, content=html, headers={"content-type": "text/html; charset=utf-8"})
        return httpx2.Response(404, text="not found")

    return handle


def sleeping(seconds: float) -> Hook:
    async def hook(stage: str, args: dict[str, Any], prompt: str) -> None:
        await asyncio.sleep(seconds)

    return hook


def flow_with(engine: LLMEngine) -> ResearchWorkflow:
    """A workflow of its own (own bus and states, no store) that knows `engine` as "llm"."""
    flow = ResearchWorkflow()
    flow.engines.register("llm", lambda: engine)
    return flow
