"""The in-memory test engine, steered by words in the question, for a server running in another process.

The HTTP tests cannot reach into the server to open a `Gate`, so a run's question says what it should do:
- `[ask]`   the clarify stage asks three questions (a required text, a choice with an "other" that needs
            details, a multi-choice); the answers end up in the report's objective,
- `[hold]`  the research stage, after gathering its first passages, waits until the run is cancelled,
- `[hold:<stage>]` (a stage value such as `brief_generation`) that stage waits until the run is cancelled
            (research and later stages after something was gathered, the earlier ones before),
- `[fail]`  the research stage fails with an `OSError`; `[fail:<stage>]` that stage does,
- `[warn]`  the research stage raises a warning the run survives.
Every run reports token usage, so a stream carries every kind of event.
"""

from __future__ import annotations

import asyncio

from engines_for_tests import MemoryEngine
from research_nb.core.protocols import StageContext
from research_nb.models.clarification import ClarificationChoice, ClarificationQuestion, ClarificationRequest
from research_nb.models.research import Finding, ResearchBrief, ResearchReport, ResearchStage

ENGINE_NAME = "scripted"
HOLDING = "holding until cancelled"

QUESTIONS = [
    ClarificationQuestion(id="focus", question="Which country should the research focus on?", is_required=True),
    ClarificationQuestion(
        id="aspect",
        question="Which aspect matters most?",
        question_type="choice",
        choices=[
            ClarificationChoice(id="economy", label="the economy"),
            ClarificationChoice(id="other", label="something else", is_other=True, requires_details=True),
        ],
        order=1,
    ),
    ClarificationQuestion(
        id="extras",
        question="Anything else to cover?",
        question_type="multi_choice",
        choices=[ClarificationChoice(id="climate", label="climate"), ClarificationChoice(id="trade", label="trade")],
        order=2,
    ),
]


class ScriptedEngine(MemoryEngine):
    name = ENGINE_NAME

    async def clarify(self, ctx: StageContext) -> ClarificationRequest | None:
        await _obey(ctx, ResearchStage.CLARIFICATION)
        if "[ask]" not in ctx.state.user_query:
            return None
        return ClarificationRequest(questions=[q.model_copy(deep=True) for q in QUESTIONS], context="too vague")

    async def brief(self, ctx: StageContext) -> ResearchBrief:
        await _obey(ctx, ResearchStage.BRIEF_GENERATION)
        return await super().brief(ctx)

    async def research(self, ctx: StageContext) -> None:
        await super().research(ctx)
        query = ctx.state.user_query
        ctx.usage(input_tokens=120, output_tokens=30, requests=1, cost_usd=None)
        if "[warn]" in query:
            ctx.warn("one source could not be read")
        if "[fail]" in query:
            raise OSError("the corpus file is unreadable")
        if "[hold]" in query:
            ctx.log(HOLDING)
            await asyncio.Event().wait()
        await _obey(ctx, ResearchStage.RESEARCH_EXECUTION)

    async def compress(self, ctx: StageContext) -> list[Finding]:
        await _obey(ctx, ResearchStage.COMPRESSION)
        return await super().compress(ctx)

    async def report(self, ctx: StageContext) -> ResearchReport:
        await _obey(ctx, ResearchStage.REPORT_GENERATION)
        report = await super().report(ctx)
        brief = ctx.state.brief
        objective = brief.objective if brief else ctx.state.user_query
        conclusions = [f"The {len(ctx.state.findings)} findings rest on {len(report.references)} cited passages."]
        return report.model_copy(update={"introduction": f"Objective: {objective}", "conclusions": conclusions})


async def _obey(ctx: StageContext, stage: ResearchStage) -> None:
    """Fail or hold in `stage` when the question says so."""
    await asyncio.sleep(0)
    query = ctx.state.user_query
    if f"[fail:{stage.value}]" in query:
        raise OSError(f"the {stage.value} step broke")
    if f"[hold:{stage.value}]" in query:
        ctx.log(HOLDING)
        await asyncio.Event().wait()
