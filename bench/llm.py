"""LLM engine benchmark: concurrency of the research stage, and what the engine adds to each model call.

1. A scripted model (pydantic-ai `FunctionModel`) that sleeps a fixed latency per call stands in for a provider;
   the research stage of a run with 8 sub-questions is timed at `max_concurrency` 8 and 1, against a run with 1
   sub-question (the target: 8 sub-questions at once take at most 1.3x one sub-question's time, not 8x). Searches
   run on the bundled Factbook corpus in local-only mode, so no request leaves the machine.
2. The cost of one model call with zero latency: pydantic-ai's `Agent.run` alone, then through the engine's call
   path (bounded, metered, budgeted, retried), then also recorded to a cassette.

    .venv/bin/python bench/llm.py [--latency 1.0] [--repeats 5] [--calls 300]

Prints tables; writes bench/results/llm.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

# The repository root instead of bench/ (whose http.py would shadow the standard library's http for httpx2), and
# tests/ for the scripted model.
sys.path[0] = str(Path(__file__).resolve().parent.parent)
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))

from bench._common import median, print_table, write_results  # noqa: E402
from pydantic_ai import Agent  # noqa: E402

from llm.scripted import ScriptedLLM, sleeping  # noqa: E402  (the tests' scripted model)
from research_nb.core.cassette import Cassette  # noqa: E402
from research_nb.core.events import ResearchEventBus, StageFinished, StageStarted  # noqa: E402
from research_nb.core.protocols import StageContext  # noqa: E402
from research_nb.core.workflow import ResearchWorkflow  # noqa: E402
from research_nb.engines.llm import LLMEngine  # noqa: E402
from research_nb.engines.llm._agents import NotesDraft  # noqa: E402
from research_nb.engines.llm._keys import KeyRing  # noqa: E402
from research_nb.engines.llm._session import EngineConfig, RunMemory, Session  # noqa: E402
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState  # noqa: E402

COUNTRIES = ["Norway", "Sweden", "Denmark", "Finland", "Iceland", "Estonia", "Latvia", "Lithuania"]
QUESTION = "How do the economies of the Nordic and Baltic countries differ?"
NOTES_PROMPT = (
    'Sub-question sq-1: x\nPassages (JSON):\n[{"id": "p#0", "title": "P", "text": "Tides rise twice a day."}]'
)


async def research_seconds(sub_questions: int, concurrency: int, latency: float) -> float:
    """Wall time of the research stage (from its start event to its end event)."""
    brain = ScriptedLLM([(f"What is the economy of {c}?", [f"{c} economy"]) for c in COUNTRIES[:sub_questions]])
    brain.before = sleeping(latency)
    flow = ResearchWorkflow()
    flow.engines.register("llm", lambda: LLMEngine(model=brain.model(), environ={}, dotenv={}))
    marks: dict[str, float] = {}

    def mark(event: object) -> None:
        if isinstance(event, StageStarted | StageFinished) and event.stage is ResearchStage.RESEARCH_EXECUTION:
            marks[type(event).__name__] = event.timestamp.timestamp()

    options = ResearchOptions(engine="llm", local_only=True, max_concurrency=concurrency, max_hops=0, clarify=False)
    state = await flow.run(QUESTION, options=options, stream_callback=mark)
    assert state.current_stage is ResearchStage.COMPLETED, state.error_message
    assert brain.calls.count("notes") == sub_questions
    return marks["StageFinished"] - marks["StageStarted"]


async def per_call_microseconds(calls: int, batch: int = 20) -> dict[str, float]:
    """Microseconds per zero-latency call on each call path. The paths take turns a batch at a time, so that a
    noisy neighbour on the machine slows them all alike."""
    brain = ScriptedLLM([("q", ["q"])])
    model = brain.model()
    agent = Agent(output_type=NotesDraft, defer_model_check=True)

    def session(cassette: Cassette | None) -> Session:
        ctx = StageContext(ResearchState(user_query="q", options=ResearchOptions(engine="llm")), ResearchEventBus())
        config = EngineConfig(model=model)
        return Session(ctx, "bench", config, RunMemory(cassette), KeyRing(environ={}, dotenv={}), "bench")

    with TemporaryDirectory() as folder:
        plain, recording = session(None), session(Cassette.record(Path(folder) / "c.json"))
        paths: dict[str, Callable[[], Awaitable[object]]] = {
            "pydantic-ai Agent.run": lambda: agent.run(NOTES_PROMPT, model=model),
            "engine call path": lambda: plain.ask(agent, NOTES_PROMPT),
            "engine call path, recording": lambda: recording.ask(agent, NOTES_PROMPT),
        }
        for call in paths.values():  # warm-up: the price tables and schemas load on first use
            await call()
        spent = dict.fromkeys(paths, 0.0)
        for _ in range(calls // batch):
            for label, call in paths.items():
                started = time.perf_counter()
                for _ in range(batch):
                    await call()
                spent[label] += time.perf_counter() - started
    return {label: seconds / (calls // batch * batch) * 1e6 for label, seconds in spent.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the scripted model takes per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300, help="zero-latency calls timed per call path")
    args = parser.parse_args()

    await research_seconds(1, 1, 0.0)  # opens (and caches) the Factbook corpus: not part of any timing
    runs = {
        "1 sub-question": (1, 1),
        "8 sub-questions, concurrency 8": (8, 8),
        "8 sub-questions, concurrency 1": (8, 1),
    }
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (subs, concurrency) in runs.items():
            seconds[name].append(await research_seconds(subs, concurrency, args.latency))
    one = median(seconds["1 sub-question"])
    rows = [[name, median(v), min(v), max(v), median(v) / one] for name, v in seconds.items()]
    print(f"\nResearch stage wall time, scripted model at {args.latency:g} s per call, {args.repeats} runs each\n")
    print_table(["run", "median s", "min s", "max s", "x one sub-question"], rows)

    samples = [await per_call_microseconds(args.calls) for _ in range(args.repeats)]
    per_call = {label: median([s[label] for s in samples]) for label in samples[0]}
    base = per_call["pydantic-ai Agent.run"]
    print(f"\nOne model call at zero latency, median of {args.repeats} x {args.calls} calls\n")
    print_table(
        ["call path", "µs per call", "added by the engine, µs"], [[k, v, v - base] for k, v in per_call.items()]
    )

    write_results(
        "llm",
        {
            "latency_s": args.latency,
            "repeats": args.repeats,
            "research_stage_s": seconds,
            "ratio_8_concurrent_to_1": median(seconds["8 sub-questions, concurrency 8"]) / one,
            "ratio_8_sequential_to_1": median(seconds["8 sub-questions, concurrency 1"]) / one,
            "per_call_us": per_call,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
