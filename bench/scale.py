"""Scale benchmark: the corpus index at 10k, 100k and 1M passages, against bm25s and SQLite FTS5 in the same run.

    .venv/bin/python bench/scale.py                       # 10k, 100k, 1M (about 15 minutes on 2 cores)
    .venv/bin/python bench/scale.py --sizes 10000,100000  # a quicker run
    .venv/bin/python bench/scale.py --sizes 1000000 --skip fts5

The corpora: real passages, then copies of them. The pool is every passage of SciFact (`../shared/data/
scifact_beir`), the HotpotQA distractor paragraphs (`../shared/data/hotpotqa_distractor_dev`), the World
Factbook and the Wikipedia pack (`wiki`, when installed), about 60,000 passages, taken in turn from each source.
Passage i of a corpus is pool passage i mod |pool|, written as one JSONL record (`_id` = "<copy>-<source id>",
title "<title> (copy <copy>)" from the second copy on), so ids are unique, the text is real, and every copy adds
a few terms (its copy number). Records go into files of 10,000 (a 1M corpus is 100 files), which is how a big
library arrives: many files, built input by input with progress.

Each measurement runs in a fresh process (so peak RSS is its own): the build (wall and CPU seconds, the seconds
it was ready to run but waited for a CPU, which is most of the rest on a shared machine; peak RSS), the warm
open of the built index (seconds, peak RSS after opening and after the queries), the index size on disk, and
query latency (p50 / p95 over 300 real questions: SciFact claims and HotpotQA questions) at k = 10
and k = 100. For ours, latency is given twice: `rank` (passage numbers and scores, what bm25s and FTS5 return)
and `search_sync` (the `Passage` objects a run uses). bm25s: its default BM25 over title + text with the same
stop words and stemmer, saved and loaded with `mmap=True`; scores by `get_scores` and a top-k partition.
SQLite FTS5: title and body columns (title weighted 2), porter stemmer, OR queries, `ORDER BY bm25 LIMIT k`.

Prints a table and writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import SHARED_DATA, median, p95, print_table, require, write_results

FILE_RECORDS = 10_000
QUERIES = 300
INDEXES = ("ours", "bm25s", "fts5")


# -- the corpora ------------------------------------------------------------------------------------------------


def pool() -> list[tuple[str, str, str]]:
    """(id, title, text) of every real passage, interleaved across the sources."""
    from research_nb.sources.builtin import BUILTINS
    from research_nb.sources.corpus import Corpus

    sources: list[list[tuple[str, str, str]]] = []
    with tempfile.TemporaryDirectory() as cache:
        inputs: list[tuple[list[Path], tuple[str, ...]]] = [
            ([require(SHARED_DATA / "scifact_beir" / "corpus.jsonl")], ()),
            ([require(SHARED_DATA / "hotpotqa_distractor_dev" / "beir" / "corpus.jsonl.gz")], ()),
            ([], ("factbook",)),
        ]
        try:
            BUILTINS["wiki"].version()
            inputs.append(([], ("wiki",)))
        except Exception:
            print("(the wiki pack is not installed: the pool has no Wikipedia passages)")
        for paths, builtins in inputs:
            corpus = Corpus.open(paths, builtins=builtins, cache_dir=Path(cache))
            passages = []
            for document_id in corpus.titles():
                for passage in corpus.passages_of(document_id):
                    passages.append((passage.id, passage.title, passage.text))
            sources.append(passages)
    interleaved = []
    for i in range(max(len(s) for s in sources)):
        interleaved.extend(s[i] for s in sources if i < len(s))
    return interleaved


def write_corpus(folder: Path, size: int, passages: list[tuple[str, str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, size, FILE_RECORDS):
        with gzip.open(
            folder / f"part-{start // FILE_RECORDS:04d}.jsonl.gz", "wt", encoding="utf-8", compresslevel=1
        ) as out:
            for i in range(start, min(size, start + FILE_RECORDS)):
                copy, (pid, title, text) = divmod(i, len(passages))[0], passages[i % len(passages)]
                record = {
                    "_id": f"{copy}-{pid}",
                    "title": title if copy == 0 else f"{title} (copy {copy})",
                    "text": text,
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")


def records(folder: Path) -> Iterator[dict[str, str]]:
    for part in sorted(folder.glob("part-*.jsonl.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)


def queries() -> list[str]:
    found = []
    for path in (
        SHARED_DATA / "scifact_beir" / "queries.jsonl",
        SHARED_DATA / "hotpotqa_distractor_dev" / "beir" / "queries_dev.jsonl",
    ):
        found += [json.loads(line)["text"] for line in require(path).read_text().splitlines()[: QUERIES // 2]]
    return found


# -- children: each measurement in its own process ---------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent across exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_wait_s() -> float:
    """Seconds this process has been ready to run but waiting for a CPU (the run queue; /proc/self/schedstat)."""
    with open("/proc/self/schedstat") as schedstat:
        return int(schedstat.read().split()[1]) / 1e9


def child_build(index: str, corpus: Path, work: Path) -> dict[str, Any]:
    wall, cpu, waited = time.perf_counter(), time.process_time(), cpu_wait_s()
    if index == "ours":
        from research_nb.sources.corpus import Corpus

        built = Corpus.open([corpus], builtins=(), cache_dir=work)
        passages = built.num_passages
    elif index == "bm25s":
        import bm25s
        import Stemmer

        texts = [f"{r['title']} {r['text']}" for r in records(corpus)]
        model = bm25s.BM25()
        model.index(
            bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False),
            show_progress=False,
        )
        model.save(str(work / "bm25s"))
        passages = len(texts)
    else:
        db = sqlite3.connect(work / "fts5.sqlite")
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize='porter unicode61')")
        db.executemany(
            "INSERT INTO docs(title, body) VALUES (?, ?)", ((r["title"], r["text"]) for r in records(corpus))
        )
        db.commit()
        passages = db.execute("SELECT count(*) FROM docs").fetchone()[0]
        db.close()
    return {
        "build_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "cpu_wait_s": cpu_wait_s() - waited,
        "build_peak_rss_mb": peak_rss_mb(),
        "passages": passages,
    }


def child_query(index: str, corpus: Path, work: Path) -> dict[str, Any]:
    import bm25s
    import numpy as np
    import Stemmer

    from research_nb.sources.corpus import Corpus

    asked = queries()
    base_rss = current_rss_mb()
    started = time.perf_counter()  # imports done: the open alone is timed
    runs: dict[str, Any] = {}
    if index == "ours":
        opened = Corpus.open([corpus], builtins=(), cache_dir=work)
        open_s = time.perf_counter() - started
        assert opened.stats.index_from_cache, "the warm open rebuilt the index"
        runs = {"rank": lambda q, k: opened.rank(q, k), "search_sync": lambda q, k: opened.search_sync(q, k)}
    elif index == "bm25s":
        model = bm25s.BM25.load(str(work / "bm25s"), mmap=True)
        open_s = time.perf_counter() - started
        stemmer = Stemmer.Stemmer("english")

        def bm25s_top(q: str, k: int) -> object:
            tokens = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
            scores = model.get_scores(list(tokens[0]))
            top = np.argpartition(-scores, k)[:k] if len(scores) > k else np.arange(len(scores))
            return top[np.argsort(-scores[top], kind="stable")]

        runs = {"rank": bm25s_top}
    else:
        import re

        from bm25s.stopwords import STOPWORDS_EN

        db = sqlite3.connect(work / "fts5.sqlite")
        db.execute("SELECT count(*) FROM docs").fetchone()
        open_s = time.perf_counter() - started
        sql = "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 2.0, 1.0) LIMIT ?"

        def fts5_top(q: str, k: int) -> object:
            words = dict.fromkeys(w for w in re.findall(r"\w\w+", q.lower()) if w not in STOPWORDS_EN)
            return db.execute(sql, (" OR ".join(f'"{w}"' for w in words), k)).fetchall() if words else []

        runs = {"rank": fts5_top}
    open_rss = current_rss_mb() - base_rss
    result: dict[str, Any] = {"open_s": open_s, "open_rss_mb": open_rss}
    for name, run in runs.items():
        for k in (10, 100):
            run(asked[0], k)  # the first query pays for page faults of the vocabulary: counted in p95 below anyway
            times = []
            for q in asked:
                began = time.perf_counter()
                run(q, k)
                times.append((time.perf_counter() - began) * 1000)
            result[f"{name}_k{k}_p50_ms"] = median(times)
            result[f"{name}_k{k}_p95_ms"] = p95(times)
    result["rss_after_queries_mb"] = current_rss_mb() - base_rss
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_child(task: str, index: str, corpus: Path, work: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", task, index, str(corpus), str(work)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def disk_mb(index: str, work: Path) -> float:
    if index == "ours":
        targets = list(work.glob("corpus-v*/indexes/*"))
    else:
        targets = [work / ("bm25s" if index == "bm25s" else "fts5.sqlite")]
    total = 0
    for target in targets:
        files = [target] if target.is_file() else [f for f in target.rglob("*") if f.is_file()]
        total += sum(f.stat().st_size for f in files)
    return total / 2**20


# -- the benchmark -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated passage counts")
    parser.add_argument("--skip", default="", help="comma-separated indexes not to measure: bm25s, fts5")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, deleted after)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, index, corpus, work = args.child
        measure = child_build if task == "build" else child_query
        print(json.dumps(measure(index, Path(corpus), Path(work))))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    indexes = [i for i in INDEXES if i not in args.skip.split(",")]
    scratch = args.work or Path(tempfile.mkdtemp(prefix="research-nb-scale-"))
    rows: list[dict[str, Any]] = []
    try:
        passages = pool()
        print(f"pool: {len(passages):,} real passages")
        for size in sizes:
            corpus = scratch / f"corpus-{size}"
            write_corpus(corpus, size, passages)
            for index in indexes:
                work = scratch / f"{index}-{size}"
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
                print(f"{size:,} passages: {index} ...", flush=True)
                row: dict[str, Any] = {"size": size, "index": index}
                row |= run_child("build", index, corpus, work)
                row["disk_mb"] = disk_mb(index, work)
                row |= run_child("query", index, corpus, work)
                rows.append(row)
                shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(corpus, ignore_errors=True)
    finally:
        if args.work is None:
            shutil.rmtree(scratch, ignore_errors=True)
    headers = [
        *("passages", "index", "build s", "CPU s", "CPU wait s", "build RSS MB", "disk MB", "open s", "open RSS MB"),
        *("k10 p50", "k10 p95", "k100 p50", "k100 p95", "objects k10 p95", "objects k100 p95", "RSS after MB"),
    ]
    print_table(
        headers,
        [
            [r["passages"], r["index"], r["build_s"], r["cpu_s"], r["cpu_wait_s"], r["build_peak_rss_mb"], r["disk_mb"],
             r["open_s"], r["open_rss_mb"], r["rank_k10_p50_ms"], r["rank_k10_p95_ms"], r["rank_k100_p50_ms"],
             r["rank_k100_p95_ms"], r.get("search_sync_k10_p95_ms", "-"), r.get("search_sync_k100_p95_ms", "-"),
             r["rss_after_queries_mb"]]
            for r in rows
        ],
    )  # fmt: skip
    print("latencies in ms; 'objects' = ours with Passage objects built (search_sync); RSS of the open is its growth")
    for size in sizes:
        ours = next((r for r in rows if r["size"] == size and r["index"] == "ours"), None)
        bm25 = next((r for r in rows if r["size"] == size and r["index"] == "bm25s"), None)
        if ours and bm25:
            ratios = [ours[f"rank_k{k}_p50_ms"] / bm25[f"rank_k{k}_p50_ms"] for k in (10, 100)]
            print(f"{size:,}: ours / bm25s query p50 at k=10 {ratios[0]:.2f}x, at k=100 {ratios[1]:.2f}x")
    write_results("scale", {"cpus": os.cpu_count(), "pool_passages": len(passages), "rows": rows})


if __name__ == "__main__":
    main()
