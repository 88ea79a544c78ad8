"""HTTP benchmark: 50 concurrent research requests on the offline engine against one uvicorn on loopback, then
200 sequential ones with the server's memory before and after.

    .venv/bin/python bench/http.py              # 3 rounds of 50 concurrent requests, then 200 one after another
    .venv/bin/python bench/http.py --quick      # 1 round of 10, 20 sequential, for a smoke run

The server is the real app (`uvicorn research_nb.api.main:app`, what `research-nb serve` runs) in a child
process. Each client does what a seed client does: POST /research, follow the SSE stream to its `complete`
frame, GET the report. "Time to report" runs from the POST to the report in hand.

Checked for every request: the stream's events are numbered 1..n with none missing, the last is a successful
`complete`, and the report is there (so: all complete, none lost).

Baselines measured in the same run:
- one request at a time over HTTP (`--solo` requests): what concurrency costs (ratio of medians);
- the same questions run in this process with `workflow.run` (no HTTP, no SSE): what the HTTP front costs.
Server RSS (psutil) right after startup, after one warm-up request (corpus loaded), after all rounds, and before
and after the `--sequential` runs (a leak shows as growth per run once the workflow's bounded history of finished
runs is full); server CPU time per request (user + system) one at a time and concurrently.
Prints a Markdown table and writes bench/results/http.json.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# ruff: noqa: E402 (the imports below must come after these two settings)
# This script shares its name with the standard library's `http` package, which httpx imports: move its own folder
# (first on sys.path when run as a script) behind the standard library, where `_common` is still found.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]
# Runs the store saves go where the benchmark throws them away (the server it starts inherits the variable), not
# among the user's runs. Set before research_nb is imported, so no part of it can have read the variable yet.
_DATA_DIR = tempfile.TemporaryDirectory(prefix="research-nb-bench-http-")
os.environ["RESEARCH_NB_DATA_DIR"] = _DATA_DIR.name

import argparse
import asyncio
import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass

import httpx
import psutil
from httpx_sse import aconnect_sse

from _common import median, p95, print_table, write_results
from research_nb.core.workflow import workflow

QUESTIONS = (
    "How do the economies of Norway and Sweden differ?",
    "What is the climate of Chile like?",
    "How large is the population of Japan?",
    "What are the main exports of Brazil?",
    "How is Canada governed?",
)
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class Server:
    """`uvicorn research_nb.api.main:app` on a port the OS picks; the port is read from uvicorn's log."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "research_nb.api.main:app", "--host", "127.0.0.1", "--port", "0"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self._port: int | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self._ready.wait(60) or self._port is None:
            self.process.kill()
            raise SystemExit("the server did not start")
        self.url = f"http://127.0.0.1:{self._port}"

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.send_signal(2)  # Ctrl+C: the graceful path
        self.process.wait(30)

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:  # keep draining, so the server never blocks on a full pipe
            if self._port is None and (match := _RUNNING.search(line)):
                self._port = int(match.group(1))
                self._ready.set()
        self._ready.set()


@dataclass
class Outcome:
    seconds: float
    complete: bool
    reason: str = ""


async def one_request(client: httpx.AsyncClient, question: str) -> Outcome:
    began = time.perf_counter()
    reply = await client.post("/research", json={"query": question})
    if reply.status_code != 202:
        return Outcome(time.perf_counter() - began, False, f"POST {reply.status_code}")
    rid = reply.json()["request_id"]
    ids: list[int] = []
    last: dict[str, object] = {}
    async with aconnect_sse(client, "GET", f"/research/{rid}/stream") as source:
        async for sse in source.aiter_sse():
            if sse.event not in ("connection", "ping"):
                ids.append(int(sse.id))
                last = {"event": sse.event, **json.loads(sse.data)}
    report = await client.get(f"/research/{rid}/report")
    elapsed = time.perf_counter() - began
    if ids != list(range(1, len(ids) + 1)):
        return Outcome(elapsed, False, "events missing or out of order")
    if last.get("event") != "complete" or last.get("success") is not True:
        return Outcome(elapsed, False, f"ended with {last.get('event')} {last.get('status')}")
    if report.status_code != 200 or not report.json().get("references"):
        return Outcome(elapsed, False, f"report {report.status_code}")
    return Outcome(elapsed, True)


async def concurrent_round(url: str, n: int) -> tuple[list[Outcome], float]:
    limits = httpx.Limits(max_connections=2 * n + 10)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        began = time.perf_counter()
        outcomes = await asyncio.gather(*(one_request(client, QUESTIONS[i % len(QUESTIONS)]) for i in range(n)))
        return list(outcomes), time.perf_counter() - began


async def solo_requests(url: str, n: int) -> list[Outcome]:
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        return [await one_request(client, QUESTIONS[i % len(QUESTIONS)]) for i in range(n)]


async def in_process(n: int) -> list[float]:
    await workflow.run(QUESTIONS[0])  # warm: the corpus and its index, as the server's warm-up request does
    samples = []
    for i in range(n):
        began = time.perf_counter()
        state = await workflow.run(QUESTIONS[i % len(QUESTIONS)])
        assert state.report is not None and state.current_stage.value == "completed", state.error_message
        samples.append(time.perf_counter() - began)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=50, help="requests per round, all at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--solo", type=int, default=10, help="one-at-a-time requests for the baseline")
    parser.add_argument("--sequential", type=int, default=200, help="runs one after another, for memory")
    parser.add_argument("--quick", action="store_true", help="1 round of 10, 5 solo, 20 sequential")
    args = parser.parse_args()
    if args.quick:
        args.concurrent, args.rounds, args.solo, args.sequential = 10, 1, 5, 20

    server = Server()
    try:
        rss_start = server.rss_mb()
        warm = asyncio.run(solo_requests(server.url, 1))[0]
        assert warm.complete, warm.reason
        rss_warm = server.rss_mb()
        cpu = server.cpu_seconds()
        solo = asyncio.run(solo_requests(server.url, args.solo))
        cpu_solo, cpu = server.cpu_seconds() - cpu, server.cpu_seconds()
        rounds = [asyncio.run(concurrent_round(server.url, args.concurrent)) for _ in range(args.rounds)]
        cpu_concurrent = server.cpu_seconds() - cpu
        rss_end = server.rss_mb()
        sequential = asyncio.run(solo_requests(server.url, args.sequential))
        rss_sequential = server.rss_mb()
    finally:
        server.stop()
    local = asyncio.run(in_process(args.solo))

    concurrent = [o for outcomes, _ in rounds for o in outcomes]
    completed = [o.seconds for o in concurrent if o.complete]
    lost = [o.reason for o in concurrent + sequential if not o.complete]
    sequential_times = [o.seconds for o in sequential if o.complete]
    solo_times = [o.seconds for o in solo if o.complete]
    walls = [wall for _, wall in rounds]
    rows = [
        ["in-process workflow.run (baseline)", len(local), len(local), median(local), p95(local), 1.0, "-"],
        ["HTTP, one at a time", len(solo), len(solo_times), median(solo_times), p95(solo_times),
         median(solo_times) / median(local), 1000 * cpu_solo / len(solo)],
        [f"HTTP, {args.concurrent} concurrent x {args.rounds} rounds", len(concurrent), len(completed),
         median(completed), p95(completed), median(completed) / median(local), 1000 * cpu_concurrent / len(concurrent)],
        [f"HTTP, {args.sequential} sequential", len(sequential), len(sequential_times), median(sequential_times),
         p95(sequential_times), median(sequential_times) / median(local), "-"],
    ]  # fmt: skip
    print(f"\nTime to report (s), offline engine; {len(QUESTIONS)} questions in turn\n")
    headers = ["mode", "requests", "complete", "median s", "p95 s", "x in-process median", "server CPU ms/request"]
    print_table(headers, rows)
    print(f"\nconcurrent round wall time: median {median(walls):.2f} s ({args.concurrent / median(walls):.1f} runs/s)")
    print(f"lost or failed: {len(lost)}" + (f" {lost[:5]}" if lost else ""))
    print(f"server RSS: {rss_start:.0f} MB at start, {rss_warm:.0f} MB after warm-up, {rss_end:.0f} MB after rounds")
    growth = rss_sequential - rss_end
    print(
        f"server RSS around {args.sequential} sequential runs: {rss_end:.0f} MB before, {rss_sequential:.0f} MB after "
        f"({growth:+.0f} MB, {1024 * growth / args.sequential:+.0f} KB per run)"
    )
    write_results(
        "http",
        {
            "concurrent": args.concurrent,
            "rounds": args.rounds,
            "requests": len(concurrent),
            "complete": len(completed),
            "lost": lost,
            "time_to_report_s": {"median": median(completed), "p95": p95(completed)},
            "solo_time_to_report_s": {"median": median(solo_times), "p95": p95(solo_times)},
            "in_process_s": {"median": median(local), "p95": p95(local)},
            "round_wall_s": walls,
            "server_rss_mb": {"start": rss_start, "after_warmup": rss_warm, "end": rss_end},
            "sequential": {
                "runs": len(sequential),
                "complete": len(sequential_times),
                "time_to_report_s": {"median": median(sequential_times), "p95": p95(sequential_times)},
                "server_rss_mb": {"before": rss_end, "after": rss_sequential},
            },
            "server_cpu_ms_per_request": {
                "solo": 1000 * cpu_solo / len(solo),
                "concurrent": 1000 * cpu_concurrent / len(concurrent),
            },
        },
    )
    if lost:
        raise SystemExit(f"{len(lost)} requests did not complete")


if __name__ == "__main__":
    main()
