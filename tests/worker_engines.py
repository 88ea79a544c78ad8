"""An engine for the worker-process tests, importable in the worker too (`tests/` is on the worker's path)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from research_nb.core.protocols import StageContext
from research_nb.core.workers import Recipe, workers
from research_nb.models.research import (
    Finding,
    Passage,
    ResearchBrief,
    ResearchReport,
    ResearchState,
    Source,
    SubQuestion,
)


class ScriptedEngine:
    """Each method is one "stage" doing something the protocol must carry back."""

    name = "scripted"

    async def research(self, ctx: StageContext) -> str:
        sq = SubQuestion(id="sq1", question="tides")
        ctx.log("first line")
        ctx.progress(sq, "searching")
        passages = [
            Passage(id=f"d{n}#0", document_id=f"d{n}", title=f"Document {n}", text=f"Tide fact {n}.") for n in range(3)
        ]
        ctx.add_passages(passages, "sq1", [Source(id="d0", title="Document zero", origin="test")])
        await asyncio.sleep(0)
        ctx.warn("one file could not be read")
        ctx.warn("one file could not be read")  # once per run
        ctx.progress(sq, "done", sources_found=3)
        ctx.state.metadata["documents_searched"] = 3
        ctx.log("last line")
        return "researched"

    async def revise(self, ctx: StageContext) -> str:
        """Change a passage the state already held (not through `add_passages`) and fill in the brief."""
        ctx.state.passages[0].score = 2.5
        ctx.state.brief = ResearchBrief(objective="tides", sub_questions=[SubQuestion(id="sq1", question="tides")])
        return "revised"

    async def seen(self, ctx: StageContext) -> tuple[list[tuple[str, list[str]]], str | None, int]:
        """What this stage got of the state: its passages (ids, sub-questions), brief objective, findings."""
        brief = ctx.state.brief.objective if ctx.state.brief else None
        return [(p.id, p.sub_question_ids) for p in ctx.state.passages], brief, len(ctx.state.findings)

    async def query_and_note(self, ctx: StageContext) -> tuple[str, int]:
        """The question this stage got, and the length of the note in its metadata (a state of any size)."""
        return ctx.state.user_query, len(str(ctx.state.metadata.get("note", "")))

    async def chatter(self, ctx: StageContext) -> str:
        """Bursts of log lines, from this loop and from a blocking thread, around a source found."""
        for n in range(300):
            ctx.log(f"line {n}")
        await asyncio.to_thread(lambda: [ctx.log(f"line {n}") for n in range(300, 600)])
        passage = Passage(id="d9#0", document_id="d9", title="Document 9", text="Tide fact 9.")
        ctx.add_passages([passage], "sq1")
        for n in range(600, 900):
            ctx.log(f"line {n}")
        return "chattered"

    async def unpicklable(self, ctx: StageContext) -> object:
        ctx.log("about to return what cannot be pickled")
        return lambda: None

    async def pid(self, ctx: StageContext) -> int:
        return os.getpid()

    async def warm_up(self) -> None:
        """What `WorkerPool.prepare` runs: no run, no context."""
        self.warmed_in = os.getpid()

    async def warmed_in_process(self, ctx: StageContext) -> int | None:
        return getattr(self, "warmed_in", None)

    async def fail(self, ctx: StageContext) -> None:
        raise ValueError("the corpus is upside down")

    async def hold(self, ctx: StageContext) -> None:
        """Say so, then wait until cancelled; on cancel, write the file named in the state's metadata."""
        ctx.log(f"holding in {os.getpid()}")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            Path(str(ctx.state.metadata["marker"])).write_text("cancelled in the worker")
            raise


class HeldInWorkerEngine:
    """A kernel-side engine whose research stage holds in the worker process (`ScriptedEngine.hold`), for kernel
    tests that kill the worker, cancel or shut down while a stage runs there."""

    name = "held-in-worker"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    async def clarify(self, ctx: StageContext) -> None:
        return None

    async def brief(self, ctx: StageContext) -> ResearchBrief:
        return ResearchBrief(objective=ctx.state.user_query, sub_questions=[SubQuestion(id="sq1", question="q")])

    async def research(self, ctx: StageContext) -> None:
        ctx.state.metadata["marker"] = self.marker
        await workers.call(Recipe(ScriptedEngine), "hold", ctx)

    async def compress(self, ctx: StageContext) -> list[Finding]:
        return []

    async def report(self, ctx: StageContext) -> ResearchReport:
        return ResearchReport(title=ctx.state.user_query, markdown="# done\n")

    def partial_report(self, state: ResearchState) -> ResearchReport | None:
        return None
