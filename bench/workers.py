"""Where a run's CPU work should go: this process (threads) or the research worker process, by corpus size.

    .venv/bin/python bench/workers.py            # a few minutes
    .venv/bin/python bench/workers.py --quick

For folders of the user's own files of growing size (3 small notes, then Factbook text written out as Markdown,
see `_corpus_folder.py`), one offline run each way, several times:
- `here_cold` / `here_warm`: in this process (`OfflineEngine(in_worker=False)`), the first run over a fresh index
  cache (the folder is read and indexed) and a second one (the corpus is open);
- `worker_cold` / `worker_warm`: the same through the worker process (already started: its start-up is measured
  apart, `worker_start`);
- `*_cpu`: the CPU time this process spent (all its threads): what a kernel's interpreter gives up to the run.
  In the worker that is only the messages; here it is all the work.
What a process costs: its start-up once per kernel, and per run the pickled messages (a few ms). What it saves:
the run's CPU time on the awaiting interpreter. Below the crossover a run here takes less interpreter time than
the worker's start-up and no more than a few tens of ms per stage: docs/workers.md has the figures and the choice.
Prints a table and writes bench/results/workers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, median, print_table, write_results
from _corpus_folder import write_folder
from research_nb.core.workers import workers
from research_nb.core.workflow import ResearchWorkflow
from research_nb.engines.offline import OfflineEngine
from research_nb.models.research import ResearchOptions

QUESTION = "What is the economy of Norway like?"
SIZES_KB = (64, 256, 1024, 4096)


async def one_run(folder: Path, cache: Path, in_worker: bool) -> tuple[float, float, int]:
    flow = ResearchWorkflow()
    engine = OfflineEngine(cache, in_worker=in_worker)
    flow.engines.register("offline", lambda: engine)
    began, cpu = time.perf_counter(), time.process_time()
    state = await flow.run(QUESTION, options=ResearchOptions(sources=[str(folder)]))
    assert state.report is not None, state.error_message
    return time.perf_counter() - began, time.process_time() - cpu, int(state.metadata.get("documents_searched", 0))


async def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    began = time.perf_counter()
    workers.shutdown()
    results: dict[str, Any] = {}
    folders = {"3 notes": ROOT / "notebooks" / "compost-notes"}
    for kb in SIZES_KB:
        folder = scratch / f"text-{kb}kb"
        write_folder(folder, copies=1, limit_bytes=kb * 1024)
        folders[f"{kb} KB"] = folder
    start_times = []
    for rep in range(args.repeat):
        workers.shutdown()
        t = time.perf_counter()
        await one_run(folders["3 notes"], scratch / f"warmup-{rep}", in_worker=True)
        start_times.append(time.perf_counter() - t)
        for label, folder in folders.items():
            entry = results.setdefault(label, {})
            for mode, in_worker in (("here", False), ("worker", True)):
                cache = scratch / f"cache-{label}-{mode}-{rep}".replace(" ", "")
                for phase in ("cold", "warm"):
                    wall, cpu, documents = await one_run(folder, cache, in_worker)
                    entry.setdefault(f"{mode}_{phase}", []).append(wall * 1000)
                    entry.setdefault(f"{mode}_{phase}_cpu", []).append(cpu * 1000)
                    entry["documents"] = documents
                shutil.rmtree(cache, ignore_errors=True)
        print(f"repetition {rep + 1} of {args.repeat} done ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    workers.shutdown()
    return {"worker_first_run_ms": [t * 1000 for t in start_times], "sizes": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1
    with tempfile.TemporaryDirectory() as scratch:
        found = asyncio.run(measure(args, Path(scratch)))
    rows = []
    for label, entry in found["sizes"].items():
        m = {k: median(v) for k, v in entry.items() if isinstance(v, list)}
        rows.append(
            [
                f"{label} ({entry['documents']} documents)",
                f"{m['here_cold']:.0f} / {m['here_warm']:.0f} ms (cpu here {m['here_cold_cpu']:.0f} / "
                f"{m['here_warm_cpu']:.0f})",
                f"{m['worker_cold']:.0f} / {m['worker_warm']:.0f} ms (cpu here {m['worker_cold_cpu']:.0f} / "
                f"{m['worker_warm_cpu']:.0f})",
            ]
        )
    print(
        f"worker start-up + first run over 3 notes: median {median(found['worker_first_run_ms']):.0f} ms "
        f"(n={len(found['worker_first_run_ms'])})\n"
    )
    print_table(["Folder", "In this process: cold / warm run", "In the worker: cold / warm run"], rows)
    write_results("workers", {"python": platform.python_version(), "args": vars(args), **found})


if __name__ == "__main__":
    main()
