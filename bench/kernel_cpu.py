"""The awaiting process's CPU per offline run, by thread: what a kernel's interpreter gives up to runs back to back.

    .venv/bin/python bench/kernel_cpu.py              # 100 Factbook runs, 5 at a time; about 10 s
    .venv/bin/python bench/kernel_cpu.py --runs 300

A kernel-like process (an asyncio loop, `research_nb.research(..., widget=False)` as in bench/kernel.py's offline
load) keeps `--concurrent` runs going back to back over the Factbook until `--runs` have started, after one warm
run (the worker started, the corpus open). It reads each of its threads' CPU time from /proc before and after:
the main thread is the kernel's (its loop: workflow, events, checkpoints' serialisation, writing the stages'
calls), the worker reader reads what the worker sends, the checkpoint writers (research-nb-save threads) write the
run store's files, the asyncio threads check a run's engine at its start. All but the writers' file system calls
hold the interpreter lock, so it competes with the kernel's messages. CPU time is the signal to compare code by on
a shared machine: wall-clock round trips (bench/kernel.py) are far noisier.
Linux only. Prints a table and writes bench/results/kernel-cpu.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FACTBOOK_QUESTIONS as QUESTIONS
from _common import print_table, write_results


def thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by native thread id."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds[int(tid)] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


async def measure(runs: int, concurrent: int) -> dict[str, object]:
    import research_nb

    await research_nb.research(QUESTIONS[0], widget=False)  # the worker started, the Factbook open
    started = 0

    async def keep_busy(slot: int) -> None:
        nonlocal started
        k = slot
        while started < runs:
            started += 1
            await research_nb.research(QUESTIONS[k % len(QUESTIONS)], widget=False)
            k += 1

    before = thread_cpu()
    began = time.perf_counter()
    await asyncio.gather(*(keep_busy(i) for i in range(concurrent)))
    wall = time.perf_counter() - began
    after = thread_cpu()
    names = {t.native_id: t.name for t in threading.enumerate()}
    per_group: dict[str, float] = {}
    for tid, seconds in after.items():
        name = names.get(tid, "ended thread")
        group = "asyncio threads" if name.startswith("asyncio_") else name
        group = "checkpoint writers" if name.startswith("research-nb-save") else group
        per_group[group] = per_group.get(group, 0.0) + seconds - before.get(tid, 0.0)
    return {
        "runs": started,
        "wall_ms_per_run": wall / started * 1000,
        "cpu_ms_per_run": {group: seconds / started * 1000 for group, seconds in sorted(per_group.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("RESEARCH_NB_DATA_DIR", tempfile.mkdtemp(prefix="kernel-cpu-"))  # not the user's runs
    result = asyncio.run(measure(args.runs, args.concurrent))
    cpu: dict[str, float] = result["cpu_ms_per_run"]  # type: ignore[assignment]
    rows: list[list[object]] = [[group, f"{ms:.2f} ms"] for group, ms in cpu.items() if ms > 0]
    rows.append(["all threads", f"{sum(cpu.values()):.2f} ms"])
    print(f"{result['runs']} runs, {args.concurrent} at a time: {result['wall_ms_per_run']:.1f} ms wall per run")
    print_table(["Thread", "CPU per run"], rows)
    write_results("kernel-cpu", {"python": platform.python_version(), "args": vars(args), **result})


if __name__ == "__main__":
    main()
