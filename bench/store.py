"""Run-store benchmark: listing and retention with thousands of stored runs.

    .venv/bin/python bench/store.py                 # 5,000 runs, median of 5
    .venv/bin/python bench/store.py --runs 500 --repeat 3

A store is filled with `--runs` copies of a real offline run (the Factbook's Norway/Sweden question, about 47 KB
each, every copy its own id and time). Measured, median of `--repeat` (interleaved):
- baseline: reading and validating every run file, which is what listing did before the index (issue 13: 7.6 s
  for 5,000 runs in `%research list`);
- listing without an index (the first listing after an upgrade, or after the index was lost): every file is
  read once and the index is rebuilt;
- listing with the index (every later `%research list` / `research-nb runs`);
- retention: `delete_older_than(0)` over the whole store (once: it empties the store; issue 13: 29 s), beside a
  baseline in the same run on a copy of the store: every file read and validated, then deleted (deleting is
  disk-bound: on a busy disk both are slow alike).
Prints a Markdown table and writes bench/results/store.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from _common import median, print_table, write_results
from research_nb.core.store import RunStore
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchState, new_request_id, utcnow

QUESTION = "How do the economies of Norway and Sweden differ?"


def fill(store: RunStore, runs: int) -> int:
    template = asyncio.run(ResearchWorkflow().run(QUESTION))
    now = utcnow()
    for n in range(runs):
        copy = template.model_copy(update={"request_id": new_request_id(), "updated_at": now - timedelta(minutes=n)})
        store.save(copy)
    return len(template.model_dump_json())


def every_file_parsed(store: RunStore) -> int:
    return sum(1 for path in store.directory.glob("*.json") if ResearchState.model_validate_json(path.read_bytes()))


def every_file_parsed_then_deleted(store: RunStore) -> None:
    """Retention as it was before the index: read and validate every run, then delete it."""
    for path in store.directory.glob("*.json"):
        if ResearchState.model_validate_json(path.read_bytes()).updated_at <= utcnow():
            path.unlink()


def timed(action: object) -> float:
    assert callable(action)
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rnb-bench-store-") as folder:
        store = RunStore(Path(folder) / "runs")
        start = time.perf_counter()
        run_bytes = fill(store, args.runs)
        fill_seconds = time.perf_counter() - start
        os.sync()
        index = store.directory / ".index.jsonl"

        def cold() -> None:
            index.unlink(missing_ok=True)
            assert len(store.scan().runs) == args.runs

        def warm() -> None:
            assert len(store.scan().runs) == args.runs

        baseline: list[float] = []
        without_index: list[float] = []
        with_index: list[float] = []
        for _ in range(args.repeat):  # interleaved, so that a busy machine slows all three alike
            baseline.append(timed(lambda: every_file_parsed(store)))
            without_index.append(timed(cold))
            with_index.append(timed(warm))
        index_bytes = index.stat().st_size
        copy = RunStore(Path(folder) / "copy")
        shutil.copytree(store.directory, copy.directory)
        os.sync()  # no write-back of the copy under the timings that follow
        retention_baseline = timed(lambda: every_file_parsed_then_deleted(copy))
        retention = timed(lambda: store.delete_older_than(timedelta(0)))
        assert store.scan().runs == [] and copy.scan().runs == []

    rows = [
        ("baseline: every file read and validated", median(baseline), 1.0),
        ("listing, no index (rebuilds it)", median(without_index), median(without_index) / median(baseline)),
        ("listing, with the index", median(with_index), median(with_index) / median(baseline)),
        ("baseline: retention, every file read then deleted", retention_baseline, 1.0),
        ("delete_older_than(0), whole store", retention, retention / retention_baseline),
    ]
    print(
        f"{args.runs:,} stored runs of {run_bytes / 1024:.0f} KB (filled in {fill_seconds:.1f} s); "
        f"index {index_bytes / 1024:.0f} KB; median of {args.repeat}\n"
    )
    print_table(["operation", "seconds", "ratio to baseline"], rows)
    write_results(
        "store",
        {
            "runs": args.runs,
            "repeat": args.repeat,
            "run_bytes": run_bytes,
            "index_bytes": index_bytes,
            "python": platform.python_version(),
            "seconds": {
                "baseline_every_file": baseline,
                "listing_without_index": without_index,
                "listing_with_index": with_index,
                "baseline_retention": retention_baseline,
                "delete_older_than_0": retention,
            },
            "median_seconds": {name: value for name, value, _ in rows},
        },
    )


if __name__ == "__main__":
    main()
