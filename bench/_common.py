"""Shared bits of the benchmark scripts: where the evaluation data lives, timing statistics, result files."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"
#: The Factbook questions the kernel benchmarks research back to back (bench/kernel.py, bench/kernel_cpu.py).
FACTBOOK_QUESTIONS = [
    "How do the economies of Norway and Sweden differ?",
    "What is the population of Japan?",
    "How do the economies of Denmark and Finland differ?",
    "Compare the climate of Chile and Peru",
    "How does the economy of Germany compare with that of France?",
]


def require(path: Path) -> Path:
    if not path.exists():
        raise SystemExit(f"benchmark data not found: {path} (the evaluation sets live in ../shared/data)")
    return path


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: Sequence[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers], *[[_fmt(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def write_results(name: str, data: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")
    return path


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:,.1f}"
    return str(value)
