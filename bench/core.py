"""Core benchmark: cancel latency, shutdown time, event bus throughput, memory over 1,000 runs.

    make bench                          # or: .venv/bin/python bench/core.py
    .venv/bin/python bench/core.py --quick   # fewer repetitions, for a smoke run

What is measured, each beside a baseline measured in the same run:
- cancel latency: from the cancel request (`task_manager.cancel_nowait`) to the run's final `RunFinished` event
  reaching a subscriber, for a run held inside each stage (in-memory test engine, `--runs` runs per stage; median
  and p95). Baseline: cancelling a bare asyncio task that waits on an event. The offline engine is measured too
  (cancel requested when a subscriber sees the stage start), since its own awaits decide where a cancel lands.
- shutdown: `task_manager.shutdown()` with 10 and 100 runs held in the research stage (median of `--repeat`).
  Baseline: cancel + gather of as many bare tasks.
- event bus: events/s emitted to 1 and 10 subscribers that read concurrently, every event delivered to every
  subscriber. Baseline: one `asyncio.Queue` per subscriber.
- memory: RSS (psutil) before and after 1,000 sequential runs with the default bounds of the workflow (finished
  states kept), the bus (finished channels kept) and the task manager (finished records kept), after a warm-up;
  then a second 1,000 runs, where every bound is already full, shows the steady state. Records left in the task
  manager after `cleanup_completed(0)`.

Targets (issue 2): cancel p95 < 50 ms, shutdown of 100 tasks < 1 s, memory growth < 10 MB per 1,000 runs.
Prints a Markdown table and writes bench/results/core.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the in-memory test engine lives with the tests

from engines_for_tests import ENGINE_NAME, MemoryEngine  # noqa: E402
from research_nb.core.events import LogMessage, ResearchEventBus, RunFinished, StageStarted  # noqa: E402
from research_nb.core.task_manager import BackgroundTaskManager  # noqa: E402
from research_nb.core.workflow import ResearchWorkflow  # noqa: E402
from research_nb.models.research import PIPELINE, ResearchOptions, ResearchStage  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "core.json"
QUESTION = "How do the economies of Norway and Sweden differ?"
TARGETS = {"cancel_p95_ms": 50.0, "shutdown_100_s": 1.0, "memory_mb_per_1000_runs": 10.0}


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary_ms(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"median_ms": None, "p95_ms": None, "n": 0}
    return {"median_ms": statistics.median(samples) * 1e3, "p95_ms": p95(samples) * 1e3, "n": len(samples)}


def memory_workflow() -> tuple[ResearchWorkflow, MemoryEngine]:
    engine = MemoryEngine()
    flow = ResearchWorkflow()
    flow.engines.register(ENGINE_NAME, lambda: engine)
    return flow, engine


# -- cancel latency ---------------------------------------------------------------------------------------


async def _cancel_and_time(
    flow: ResearchWorkflow, manager: BackgroundTaskManager, rid: str, ready: Awaitable[None]
) -> float | None:
    """Wait for `ready`, cancel the run and return the seconds until its final event reaches a subscriber;
    None when the run completed before the cancel landed."""
    events = flow.events.subscribe(rid, replay=False)
    await ready
    began = time.perf_counter()
    manager.cancel_nowait(rid)
    elapsed: float | None = None
    async for event in events:
        if isinstance(event, RunFinished):
            elapsed = time.perf_counter() - began if event.status == "cancelled" else None
    await manager.wait(rid)
    return elapsed


async def cancel_latency_memory_engine(stage: ResearchStage, runs: int) -> list[float]:
    flow, engine = memory_workflow()
    manager = BackgroundTaskManager()
    options = ResearchOptions(engine=ENGINE_NAME)
    samples = []
    for i in range(runs):
        gate = engine.hold(stage)
        rid = f"cancel-{stage.value}-{i}"
        state = flow.prepare(QUESTION, options=options, request_id=rid)
        manager.start(rid, flow.resume_research(state))
        elapsed = await _cancel_and_time(flow, manager, rid, gate.reached())
        assert elapsed is not None, "a run held in a stage cannot complete"
        samples.append(elapsed)
    return samples


async def cancel_latency_offline_engine(stage: ResearchStage, runs: int) -> tuple[list[float], int]:
    """Cancel when a subscriber sees `stage` start; returns the latencies and how many runs completed first."""
    flow = ResearchWorkflow()
    manager = BackgroundTaskManager()
    options = ResearchOptions(engine="offline")
    await flow.run(QUESTION, options=options)  # warm: open the corpus and its index once
    samples = []
    for i in range(runs):
        rid = f"offline-{stage.value}-{i}"
        started = asyncio.Event()
        watcher = flow.events.subscribe(rid, replay=False)

        async def watch(watcher: Any = watcher, started: asyncio.Event = started) -> None:
            async for event in watcher:
                if isinstance(event, StageStarted) and event.stage is stage:
                    started.set()
                    return

        watching = asyncio.create_task(watch())
        state = flow.prepare(QUESTION, options=options, request_id=rid)
        manager.start(rid, flow.resume_research(state))
        elapsed = await _cancel_and_time(flow, manager, rid, started.wait())
        if elapsed is not None:
            samples.append(elapsed)
        watcher.close()
        await watching
    return samples, runs - len(samples)


async def cancel_latency_bare_task(runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        running = asyncio.Event()

        async def forever(running: asyncio.Event = running) -> None:
            running.set()
            await asyncio.Event().wait()

        task = asyncio.create_task(forever())
        await running.wait()
        began = time.perf_counter()
        task.cancel()
        await asyncio.wait([task])
        samples.append(time.perf_counter() - began)
    return samples


# -- shutdown ---------------------------------------------------------------------------------------------


async def shutdown_seconds(count: int) -> tuple[float, int]:
    """`shutdown()` of `count` runs held in the research stage; returns (seconds, still running)."""
    flow, engine = memory_workflow()
    manager = BackgroundTaskManager()
    options = ResearchOptions(engine=ENGINE_NAME)
    gate = engine.hold(ResearchStage.RESEARCH_EXECUTION)
    for i in range(count):
        manager.start(f"held-{i}", flow.run(QUESTION, request_id=f"held-{i}", options=options))
    await gate.reached(count)
    began = time.perf_counter()
    report = await manager.shutdown(timeout=5)
    seconds = time.perf_counter() - began
    assert all(s.current_stage is ResearchStage.CANCELLED for s in flow.list_states())
    return seconds, report.still_running


async def bare_shutdown_seconds(count: int) -> float:
    tasks = [asyncio.create_task(asyncio.Event().wait()) for _ in range(count)]
    await asyncio.sleep(0)  # let them start
    began = time.perf_counter()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return time.perf_counter() - began


# -- event bus ----------------------------------------------------------------------------------------------

BATCH = 500  # the producer yields after each batch, below the subscriber queue size, so nothing is dropped


async def bus_events_per_second(events: int, subscribers: int) -> tuple[float, int]:
    bus = ResearchEventBus()  # default bounds: the replay keeps the last 5,000 events, as in a real run
    subscriptions = [bus.subscribe("bus", replay=False) for _ in range(subscribers)]

    async def read(subscription: Any) -> int:
        return sum([1 async for _ in subscription])

    readers = [asyncio.create_task(read(s)) for s in subscriptions]
    message = LogMessage(request_id="bus", message="x")
    began = time.perf_counter()
    for i in range(events):
        bus.emit(message)
        if i % BATCH == BATCH - 1:
            await asyncio.sleep(0)
    bus.emit(RunFinished(request_id="bus", status="completed", stage=ResearchStage.COMPLETED))
    counts = await asyncio.gather(*readers)
    seconds = time.perf_counter() - began
    dropped = sum(s.dropped for s in subscriptions)
    assert all(c == events + 1 for c in counts) and dropped == 0, (counts, dropped)
    return events / seconds, dropped


async def queue_events_per_second(events: int, subscribers: int) -> float:
    queues: list[asyncio.Queue[object]] = [asyncio.Queue() for _ in range(subscribers)]
    done = object()

    async def read(queue: asyncio.Queue[object]) -> int:
        n = 0
        while await queue.get() is not done:
            n += 1
        return n + 1

    readers = [asyncio.create_task(read(q)) for q in queues]
    message = LogMessage(request_id="bus", message="x")
    began = time.perf_counter()
    for i in range(events):
        for queue in queues:
            queue.put_nowait(message)
        if i % BATCH == BATCH - 1:
            await asyncio.sleep(0)
    for queue in queues:
        queue.put_nowait(done)
    await asyncio.gather(*readers)
    return events / (time.perf_counter() - began)


# -- memory -------------------------------------------------------------------------------------------------


def rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


async def memory_growth(runs: int, warmup: int, engine_name: str) -> dict[str, float]:
    """RSS growth over `runs` sequential runs, twice: the first fills every bounded cache, the second is the
    steady state. Runs go through a task manager like a front's."""
    if engine_name == ENGINE_NAME:
        flow, _ = memory_workflow()
    else:
        flow = ResearchWorkflow()
    manager = BackgroundTaskManager()
    options = ResearchOptions(engine=engine_name)

    async def batch(prefix: str, count: int) -> None:
        for i in range(count):
            rid = f"{prefix}-{i}"
            manager.start(rid, flow.run(QUESTION, request_id=rid, options=options))
            await manager.wait(rid)

    await batch("warm", warmup)
    start = rss_mb()
    await batch("first", runs)
    after_first = rss_mb()
    await batch("second", runs)
    after_second = rss_mb()
    records_before_cleanup = len(manager)
    kept = flow.list_states()
    state_json_kb = statistics.mean(len(s.model_dump_json()) for s in kept) / 1024 if kept else 0.0
    await manager.cleanup_completed(0)
    return {
        "rss_start_mb": start,
        "growth_first_mb": after_first - start,
        "growth_second_mb": after_second - after_first,
        "states_kept": len(kept),
        "state_json_kb": state_json_kb,
        "task_records_before_cleanup": records_before_cleanup,
        "task_records_after_cleanup": len(manager),
    }


def measure_memory_in_child(engine: str, runs: int) -> dict[str, float]:
    """In a fresh process, so that memory freed by the other measures cannot hide growth."""
    began = time.perf_counter()
    command = [sys.executable, __file__, "--memory-child", engine, "--memory-runs", str(runs)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    print(f"  memory, {engine} engine: {time.perf_counter() - began:.1f} s", file=sys.stderr)
    measured: dict[str, float] = json.loads(output)
    return measured


# -- main ---------------------------------------------------------------------------------------------------


def offline_available() -> bool:
    try:
        ResearchWorkflow().engines.get("offline")
    except Exception as exc:  # the benchmark of the core does not depend on it
        print(f"(offline engine not available, skipped: {exc})")
        return False
    return True


async def timed(label: str, coro: Awaitable[Any]) -> Any:
    began = time.perf_counter()
    result = await coro
    print(f"  {label}: {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "targets": TARGETS,
    }
    cancel: dict[str, Any] = {}
    for stage in PIPELINE:
        cancel[stage.value] = summary_ms(
            await timed(f"cancel {stage.value}", cancel_latency_memory_engine(stage, args.runs))
        )
    cancel["baseline_bare_task"] = summary_ms(await cancel_latency_bare_task(args.runs))
    results["cancel_latency_memory_engine"] = cancel
    if offline_available():
        offline = {}
        for stage in PIPELINE:
            samples, missed = await timed(
                f"offline cancel {stage.value}", cancel_latency_offline_engine(stage, args.offline_runs)
            )
            offline[stage.value] = {**summary_ms(samples), "completed_before_cancel": missed}
        results["cancel_latency_offline_engine"] = offline

    shutdown: dict[str, Any] = {}
    for count in (10, 100):
        measured = [await shutdown_seconds(count) for _ in range(args.repeat)]
        baseline = [await bare_shutdown_seconds(count) for _ in range(args.repeat)]
        shutdown[str(count)] = {
            "median_s": statistics.median(s for s, _ in measured),
            "max_still_running": max(r for _, r in measured),
            "baseline_median_s": statistics.median(baseline),
        }
    results["shutdown"] = shutdown

    bus: dict[str, Any] = {}
    for subscribers in (1, 10):
        rates = [await bus_events_per_second(args.events, subscribers) for _ in range(args.repeat)]
        baseline = [await queue_events_per_second(args.events, subscribers) for _ in range(args.repeat)]
        bus[str(subscribers)] = {
            "events_per_s": statistics.median(r for r, _ in rates),
            "dropped": max(d for _, d in rates),
            "baseline_events_per_s": statistics.median(baseline),
        }
    results["event_bus"] = bus

    engines = [ENGINE_NAME, "offline"] if offline_available() else [ENGINE_NAME]
    results["memory"] = {engine: measure_memory_in_child(engine, args.memory_runs) for engine in engines}
    results["runs"] = {"per_stage": args.runs, "offline_per_stage": args.offline_runs, "memory": args.memory_runs}
    return results


def verdict(value: float, target: float) -> str:
    return "yes" if value < target else "NO"


def table(results: dict[str, Any]) -> str:
    rows = ["| Measure | Result | Baseline (same run) | Target met |", "|---|---|---|---|"]
    cancel = results["cancel_latency_memory_engine"]
    base = cancel["baseline_bare_task"]
    for stage in PIPELINE:
        c = cancel[stage.value]
        rows.append(
            f"| Cancel → final event, {stage.value} (test engine, n={c['n']}) | median {c['median_ms']:.2f} ms, "
            f"p95 {c['p95_ms']:.2f} ms | bare task: median {base['median_ms']:.3f} ms | "
            f"{verdict(c['p95_ms'], TARGETS['cancel_p95_ms'])} (p95 < 50 ms) |"
        )
    for stage, c in results.get("cancel_latency_offline_engine", {}).items():
        runs = c["n"] + c["completed_before_cancel"]
        if not c["n"]:
            rows.append(
                f"| Cancel at the start of {stage} (offline engine) | all {runs} runs completed first: "
                "the stage never yields to the loop | | |"
            )
            continue
        late = f", {c['completed_before_cancel']} completed first" if c["completed_before_cancel"] else ""
        rows.append(
            f"| Cancel → final event, {stage} (offline engine, n={c['n']}{late}) | median {c['median_ms']:.2f} ms, "
            f"p95 {c['p95_ms']:.2f} ms | | {verdict(c['p95_ms'], TARGETS['cancel_p95_ms'])} (p95 < 50 ms) |"
        )
    for count, s in results["shutdown"].items():
        target = f"{verdict(s['median_s'], TARGETS['shutdown_100_s'])} (< 1 s)" if count == "100" else ""
        rows.append(
            f"| `shutdown()` with {count} running runs | median {s['median_s'] * 1e3:.1f} ms, "
            f"{s['max_still_running']} left running | bare tasks: {s['baseline_median_s'] * 1e3:.2f} ms | {target} |"
        )
    for subscribers, b in results["event_bus"].items():
        ratio = b["events_per_s"] / b["baseline_events_per_s"]
        rows.append(
            f"| Event bus, {subscribers} subscriber(s), all delivered | {b['events_per_s']:,.0f} events/s, "
            f"{b['dropped']} dropped | asyncio.Queue: {b['baseline_events_per_s']:,.0f} events/s ({ratio:.2f}×) | |"
        )
    runs = results["runs"]["memory"]
    for engine, m in results["memory"].items():
        for phase, label in (("first", f"first {runs} runs"), ("second", f"next {runs} runs")):
            growth = m[f"growth_{phase}_mb"]
            rows.append(
                f"| RSS growth, {label}, {engine} engine | {growth:+.1f} MB | "
                f"| {verdict(growth, TARGETS['memory_mb_per_1000_runs'])} (< 10 MB) |"
            )
        rows.append(
            f"| Kept at the end, {engine} engine | {m['states_kept']:.0f} finished states "
            f"(~{m['state_json_kb']:.0f} KB of JSON each), {m['task_records_before_cleanup']:.0f} task records; "
            f"{m['task_records_after_cleanup']:.0f} after `cleanup_completed(0)` | | |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="cancelled runs per stage (test engine)")
    parser.add_argument("--offline-runs", type=int, default=20, help="cancelled runs per stage (offline engine)")
    parser.add_argument("--repeat", type=int, default=7, help="repetitions of the shutdown and bus measures")
    parser.add_argument("--events", type=int, default=20_000, help="events per bus measure")
    parser.add_argument("--memory-runs", type=int, default=1000, help="sequential runs per memory phase")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--memory-child", metavar="ENGINE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.runs, args.offline_runs, args.repeat, args.events, args.memory_runs = 5, 3, 2, 2_000, 50
    if args.memory_child:
        warmup = 100 if args.memory_child == ENGINE_NAME else 20
        print(json.dumps(asyncio.run(memory_growth(args.memory_runs, warmup, args.memory_child))))
        return

    results = asyncio.run(run(args))
    print(table(results))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
