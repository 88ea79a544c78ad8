"""Batch benchmark: 500 HotpotQA questions through `research_many`, in this process and on a Dask cluster.

    .venv/bin/python bench/batch.py                 # 500 questions, 3 repeats
    .venv/bin/python bench/batch.py --limit 100 --repeat 1

Modes, in one run and on the same warm corpus (the 10,785 paragraphs of
`../shared/data/hotpotqa_distractor_dev/beir`, read in place): in-process one at a time
(`max_concurrency=1`, the baseline), in-process concurrent (`max_concurrency=4`), and Dask `LocalCluster`s of 1
and 2 worker processes (one thread each). Every run is saved to a run store, as a real batch is. Wall time and
questions/s are medians over the repeats; the Dask clusters are started and warmed (each worker opened the
corpus) before timing, and their start-up is reported apart. Peak RSS: the driver sampled during each mode, each
worker's own peak at the end. Prints a table, writes bench/results/batch.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's `http` (dask.distributed imports it): this folder goes last.
_HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import psutil  # noqa: E402

from _common import SHARED_DATA, median, print_table, require, write_results  # noqa: E402

HOTPOT = SHARED_DATA / "hotpotqa_distractor_dev"


class PeakRSS:
    """Samples this process's resident memory every 20 ms while a mode runs."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.end = self.process.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)


def worker_peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


async def timed(questions: list[str], options: dict[str, Any], **batch: Any) -> dict[str, Any]:
    from research_nb.batch import research_many

    with PeakRSS() as rss:
        began = time.perf_counter()
        run = research_many(questions, **options, **batch)
        await run
        wall = time.perf_counter() - began
    progress = run.progress()
    assert progress.completed == len(questions), run
    research = median([i.seconds for i in run.items if i.seconds is not None])
    return {
        "wall": wall,
        "research": research,
        "driver_peak": rss.peak,
        "driver_start": rss.start,
        "driver_end": rss.end,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lines = require(HOTPOT / "hotpot_dev_distractor_sample600.jsonl").read_text().splitlines()[: args.limit]
    questions = [str(json.loads(line)["question"]) for line in lines]
    corpus = require(HOTPOT / "beir" / "corpus.jsonl.gz")
    options: dict[str, Any] = {"sources": [str(corpus)], "corpora": [], "clarify": False}
    n = len(questions)

    from distributed import Client, LocalCluster

    from research_nb.batch import research_many

    await research_many(questions[:2], **options)  # build the index once (cached on disk) and open it here
    results: dict[str, list[dict[str, Any]]] = {}
    modes: list[tuple[str, dict[str, Any]]] = [
        ("in-process, one at a time", {"max_concurrency": 1}),
        ("in-process, 4 at once", {"max_concurrency": 4}),
    ]
    for name, batch in modes:
        results[name] = [await timed(questions, options, **batch) for _ in range(args.repeat)]
    workers_rss: dict[str, list[int]] = {}
    startup: dict[str, float] = {}
    for workers in (1, 2):
        name = f"Dask, {workers} worker process{'es' if workers > 1 else ''}"
        began = time.perf_counter()
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
        )
        client = Client(cluster)
        try:
            await research_many(questions[: 2 * workers], client=client, **options)  # each worker opens the corpus
            startup[name] = time.perf_counter() - began
            results[name] = [await timed(questions, options, client=client) for _ in range(args.repeat)]
            workers_rss[name] = sorted(client.run(worker_peak_rss).values())
        finally:
            client.close()
            cluster.close()

    baseline = median([r["wall"] for r in results["in-process, one at a time"]])
    dask1 = median([r["wall"] for r in results["Dask, 1 worker process"]])
    rows = []
    summary: dict[str, Any] = {"questions": n, "repeats": args.repeat, "cpus": os.cpu_count(), "modes": {}}
    for name, runs in results.items():
        wall = median([r["wall"] for r in runs])
        peak = max(r["driver_peak"] for r in runs) / 2**20
        drift = (runs[-1]["driver_end"] - runs[0]["driver_start"]) / 2**20
        workers = workers_rss.get(name, [])
        rows.append(
            [
                name,
                wall,
                n / wall,
                baseline / wall,
                f"{peak:.0f}",
                f"{drift:+.0f}",
                ", ".join(f"{w / 2**20:.0f}" for w in workers) or "-",
            ]
        )
        summary["modes"][name] = {
            "wall_seconds_median": wall,
            "wall_seconds": [r["wall"] for r in runs],
            "questions_per_second": n / wall,
            "speedup_vs_sequential": baseline / wall,
            "driver_peak_rss_mib": peak,
            "driver_rss_change_mib": drift,
            "worker_peak_rss_mib": [w / 2**20 for w in workers],
            "startup_seconds": startup.get(name),
        }
    summary["dask_overhead_ms_per_question"] = (dask1 - baseline) / n * 1000
    # one worker, one thread: what a question costs beyond its research (scheduling, transfer, the driver's save)
    dask1_research = median([r["research"] for r in results["Dask, 1 worker process"]])
    summary["dask_path_ms_per_question_beyond_research"] = (dask1 / n - dask1_research) * 1000
    summary["target_dask2_vs_sequential"] = 1.7
    summary["dask2_speedup"] = baseline / median([r["wall"] for r in results["Dask, 2 worker processes"]])
    print(f"\nresearch_many over {n} HotpotQA questions, {args.repeat} repeat(s), {os.cpu_count()} CPUs (medians)")
    print_table(
        ["mode", "wall s", "questions/s", "× sequential", "driver peak MiB", "driver Δ MiB", "worker peak MiB"], rows
    )
    print(
        f"Dask path overhead: {summary['dask_overhead_ms_per_question']:+.1f} ms per question (1 worker vs in-process);"
        f" cluster start + warm-up: " + ", ".join(f"{k}: {v:.1f} s" for k, v in startup.items())
    )
    print(
        "Dask, 1 worker: wall time per question minus its research time on the worker: "
        f"{summary['dask_path_ms_per_question_beyond_research']:.1f} ms"
    )
    print(f"Dask 2 workers: {summary['dask2_speedup']:.2f}× in-process sequential (target ≥ 1.7×)")
    write_results("batch", summary)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as data:
        os.environ["RESEARCH_NB_DATA_DIR"] = data  # the benchmark's runs go to a store of their own
        asyncio.run(main())
