"""Offline engine benchmarks: multi-hop research on HotpotQA, and end-to-end time on the Factbook.

    .venv/bin/python bench/offline.py            # both parts (HotpotQA: 600 questions)
    .venv/bin/python bench/offline.py --limit 100 --skip-speed

Multi-hop: for each question of the HotpotQA distractor sample (corpus: the 10,785 paragraphs of
`../shared/data/hotpotqa_distractor_dev/beir`), a full offline research; we count the questions whose report
cites both gold paragraphs, and those whose report contains the gold answer string. The baseline, in the same
run, is single-shot BM25: the top 10 passages of the question on the same index.

Speed: one research on the Factbook, cold (a new process with an empty cache) and warm (the same process, the
second and later runs). Cold as after a new install (the index the package ships, copied into the cache) and,
in the same run, with the index built there (`RESEARCH_NB_PREBUILT=0`); both for the `research-nb` command and
a fresh kernel's first `%research` after `%load_ext research_nb` (at once, and after a pause as a user typing the
question would leave; loading the extension opens the corpus in the research worker). Prints tables, writes
bench/results/offline.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, median, p95, print_table, require, write_results
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.research import ResearchOptions, ResearchState
from research_nb.sources.corpus import Corpus

HOTPOT = SHARED_DATA / "hotpotqa_distractor_dev"
QUESTION = "How do the economies of Norway and Sweden differ?"


def load_questions(limit: int | None) -> list[dict[str, object]]:
    lines = require(HOTPOT / "hotpot_dev_distractor_sample600.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[:limit]]


def cited_titles(state: ResearchState) -> set[str]:
    assert state.report is not None
    return {r.title for r in state.report.references}


async def multihop(limit: int | None, cache: Path) -> dict[str, object]:
    corpus_path = require(HOTPOT / "beir" / "corpus.jsonl.gz")
    corpus = Corpus.open([corpus_path], builtins=(), cache_dir=cache)
    flow = ResearchWorkflow()
    options = ResearchOptions(sources=[str(corpus_path)], corpora=[], clarify=False)
    totals = {"engine_both": 0, "engine_answer": 0, "bm25_both": 0, "bm25_answer": 0, "up_front": 0}
    yes_no = [0, 0]  # questions whose answer is yes or no; of them, answered with that word up front
    bullets = [0, 0]  # Answer lines; of them, lines whose first quoted word is a pronoun with no subject named
    by_type: dict[str, list[int]] = {}
    seconds = []
    cited_counts = []
    questions = load_questions(limit)
    for record in questions:
        gold = set(record["supporting_facts"]["title"])  # type: ignore[index]
        answer = str(record["answer"]).lower()
        began = time.perf_counter()
        state = await flow.run(str(record["question"]), options=options)
        seconds.append(time.perf_counter() - began)
        report = state.report.markdown.lower() if state.report else ""
        cited_counts.append(len(cited_titles(state)))
        engine_both = gold <= cited_titles(state)
        top10 = corpus.search_sync(str(record["question"]), 10)
        bm25_both = gold <= {p.title for p in top10}
        totals["engine_both"] += engine_both
        totals["engine_answer"] += answer in report
        front = up_front(state.report.markdown if state.report else "")
        totals["up_front"] += answer in front.lower()
        if answer in ("yes", "no"):
            yes_no[0] += 1
            yes_no[1] += _word(front, answer) and not _word(front, "no" if answer == "yes" else "yes")
        lines = [line for line in front.splitlines() if line.strip()]
        bullets[0] += len(lines)
        bullets[1] += sum(1 for line in lines if _PRONOUN.match(line))
        totals["bm25_both"] += bm25_both
        totals["bm25_answer"] += answer in " ".join(p.text for p in top10).lower()
        by_type.setdefault(str(record["type"]), [0, 0, 0])
        by_type[str(record["type"])][0] += 1
        by_type[str(record["type"])][1] += engine_both
        by_type[str(record["type"])][2] += bm25_both
    n = len(questions)
    rows = [
        [
            "offline engine (report citations)",
            median(cited_counts),
            totals["engine_both"] / n,
            totals["engine_answer"] / n,
        ],
        ["BM25 top-10, single shot", 10, totals["bm25_both"] / n, totals["bm25_answer"] / n],
    ]
    print(f"\nMulti-hop research on HotpotQA ({n} questions, {corpus.num_documents:,} paragraphs)")
    print_table(["method", "paragraphs (median)", "both gold paragraphs", "answer string present"], rows)
    print_table(
        ["answer up front (Answer section)", "yes/no questions", "answered with the right word", "pronoun-led lines"],
        [[totals["up_front"] / n, yes_no[0], yes_no[1] / max(yes_no[0], 1), bullets[1] / max(bullets[0], 1)]],
    )
    print_table(
        ["question type", "questions", "engine: both gold cited", "BM25 top-10: both gold"],
        [[t, c[0], c[1] / c[0], c[2] / c[0]] for t, c in sorted(by_type.items())],
    )
    print(f"time per research: median {median(seconds) * 1000:.1f} ms, p95 {p95(seconds) * 1000:.1f} ms")
    return {
        "questions": n,
        "engine_both_gold_cited": totals["engine_both"] / n,
        "engine_answer_in_report": totals["engine_answer"] / n,
        "engine_answer_up_front": totals["up_front"] / n,
        "yes_no_questions": yes_no[0],
        "yes_no_right_word": yes_no[1] / max(yes_no[0], 1),
        "answer_lines_pronoun_led": bullets[1] / max(bullets[0], 1),
        "bm25_top10_both_gold": totals["bm25_both"] / n,
        "bm25_top10_answer_present": totals["bm25_answer"] / n,
        "by_type": {t: {"n": c[0], "engine_both": c[1] / c[0], "bm25_both": c[2] / c[0]} for t, c in by_type.items()},
        "engine_paragraphs_cited_median": median(cited_counts),
        "median_ms": median(seconds) * 1000,
        "p95_ms": p95(seconds) * 1000,
    }


_UP_FRONT = ("## Answer", "## Key findings", "## Summary")
#: An Answer line that opens with a pronoun (after any "- " and "**Label:** ") names no subject of its own.
_PRONOUN = re.compile(r"^(?:- )?(?:He|She|It|They|His|Her|Its|Their|This|These)\b")


def up_front(markdown: str) -> str:
    """The report's up-front sections (Answer, Key findings), as the analyst benchmark reads them."""
    out, keep = [], False
    for line in markdown.splitlines():
        if line.startswith("## "):
            keep = line.strip() in _UP_FRONT
            continue
        if keep:
            out.append(line)
    return "\n".join(out)


def _word(text: str, word: str) -> bool:
    return re.search(rf"\b{word}\b", text, re.IGNORECASE) is not None


def cold_env(cache: str, *, prebuilt: bool) -> dict[str, str]:
    """An empty cache; with `prebuilt`, the index the package ships (a new install), else built here."""
    env = {key: value for key, value in os.environ.items() if key != "RESEARCH_NB_PREBUILT"}
    return env | {"RESEARCH_NB_CACHE_DIR": cache} | ({} if prebuilt else {"RESEARCH_NB_PREBUILT": "0"})


def cold_seconds(repeat: int) -> dict[bool, list[float]]:
    """A new process with an empty cache each time (imports, the index copied from the package or built, the
    research), with the packaged index and without it, interleaved: {prebuilt: seconds}."""
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeat):
        for prebuilt in times:
            with tempfile.TemporaryDirectory() as cache:
                command = [sys.executable, "-m", "research_nb.cli", QUESTION, "--quiet"]
                began = time.perf_counter()
                subprocess.run(command, env=cold_env(cache, prebuilt=prebuilt), check=True, capture_output=True)
                times[prebuilt].append(time.perf_counter() - began)
    return times


#: A first `%research` after `%load_ext`, timed in the kernel: from the cell's start to the report.
_NOTEBOOK_RUN = f"""
import time
from research_nb import research
began = time.perf_counter()
state = await research({QUESTION!r})
print(round(time.perf_counter() - began, 3), state.current_stage.value, len(state.report.markdown))
"""


def notebook_cold_seconds(repeat: int, pause: float, *, prebuilt: bool = True) -> list[float]:
    """A fresh kernel with an empty cache each time: `%load_ext research_nb`, `pause` seconds (a user typing the
    question; 0: the question comes at once), then the first research, timed in the kernel."""
    sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests")]
    from kernel_session import kernel_session

    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache, kernel_session(env=cold_env(cache, prebuilt=prebuilt)) as kernel:
            kernel.run("%load_ext research_nb")
            time.sleep(pause)
            seconds, stage, _ = kernel.run(_NOTEBOOK_RUN, timeout=120).stdout.split()
            assert stage == "completed", stage
            times.append(float(seconds))
    return times


async def warm_seconds(repeat: int, cache: Path) -> list[float]:
    flow = ResearchWorkflow()
    os.environ["RESEARCH_NB_CACHE_DIR"] = str(cache)
    await flow.run(QUESTION)  # opens the corpus once
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await flow.run(QUESTION)
        times.append(time.perf_counter() - began)
    return times


async def speed(repeat: int, cache: Path) -> dict[str, object]:
    runs = max(3, repeat // 4)
    cold = cold_seconds(runs)
    at_once = notebook_cold_seconds(runs, pause=0)
    at_once_built = notebook_cold_seconds(runs, pause=0, prebuilt=False)
    typed = notebook_cold_seconds(runs, pause=_TYPING_PAUSE)
    warm = await warm_seconds(repeat, cache)
    rows = {
        "cold CLI, new install (the packaged index copied)": cold[True],
        "cold CLI, index built (RESEARCH_NB_PREBUILT=0)": cold[False],
        "cold notebook: %research right after %load_ext": at_once,
        "the same, index built (RESEARCH_NB_PREBUILT=0)": at_once_built,
        f"cold notebook: %research {_TYPING_PAUSE:g} s after %load_ext": typed,
        "warm (corpus open in the process)": warm,
    }
    print(f"\nOne offline research on the Factbook: {QUESTION!r}")
    print_table(["run", "runs", "median s", "p95 s"], [[name, len(t), median(t), p95(t)] for name, t in rows.items()])
    print(f"cold CLI, packaged index / built: {median(cold[True]) / median(cold[False]):.3f}")
    return {
        "cold_s": cold[True],
        "cold_built_s": cold[False],
        "notebook_cold_at_once_s": at_once,
        "notebook_cold_at_once_built_s": at_once_built,
        "notebook_cold_after_typing_s": typed,
        "typing_pause_s": _TYPING_PAUSE,
        "warm_s": warm,
        "cold_median_s": median(cold[True]),
        "cold_built_median_s": median(cold[False]),
        "notebook_cold_at_once_median_s": median(at_once),
        "notebook_cold_at_once_built_median_s": median(at_once_built),
        "notebook_cold_after_typing_median_s": median(typed),
        "warm_median_s": median(warm),
    }


#: Seconds between `%load_ext` and the first `%research` in the "typed" case: a user typing a question.
_TYPING_PAUSE = 5.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only the first N HotpotQA questions")
    parser.add_argument("--repeat", type=int, default=20, help="warm runs for the speed part")
    parser.add_argument("--skip-multihop", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as cache:
        if not args.skip_multihop:
            results["multihop"] = await multihop(args.limit, Path(cache))
        if not args.skip_speed:
            results["speed"] = await speed(args.repeat, Path(cache))
    write_results("offline", results)


if __name__ == "__main__":
    asyncio.run(main())
