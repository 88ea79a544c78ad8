"""Retrieval benchmark: quality on SciFact, and speed of the corpus index against bm25s and rank_bm25.

    .venv/bin/python bench/retrieval.py            # quality + speed (a few minutes on 2 cores)
    .venv/bin/python bench/retrieval.py --quality  # SciFact nDCG@10 / Recall@100 only
    .venv/bin/python bench/retrieval.py --speed    # build time, peak memory, query latency only

Quality: the 809 train claims of SciFact (BEIR format, read in place from ../shared/data/scifact_beir; the
held-out test split is not in that folder, so these are development figures). Our corpus search (BM25F over
passages, a document ranked by its best passage) is compared in the same run with plain bm25s (k1 0.9, b 0.4,
English stop words, Snowball stemmer, title + text) and rank_bm25 (BM25Okapi, same tokens and k1/b), plus an
ablation of ours without the title field. The BEIR paper's BM25 figure (0.665, test split) is printed as a
reference line, not measured.

Speed: index build wall and CPU time (median of --repeat builds) and peak traced memory (tracemalloc, one more
build) for SciFact and the Factbook; ours starts from the files (reading, converting and analysing them, writing
the cache), the baselines from texts already in memory. Query latency (median and p95 over every query) for the
three indexes; and a cold and warm `Corpus.open` + one search of the Factbook in a fresh process (the warm one
reads the disk cache).

Prints tables and writes bench/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN
from rank_bm25 import BM25Okapi

from _common import RESULTS, SHARED_DATA, median, p95, print_table, require, write_results
from research_nb.sources._index import BM25FParams
from research_nb.sources.corpus import Corpus

SCIFACT = SHARED_DATA / "scifact_beir"
RESULTS_FILE = RESULTS / "retrieval.json"
BEIR_PAPER_BM25 = 0.665  # Thakur et al. 2021, Table 2, SciFact test split
K1, B = 0.9, 0.4  # the plain bm25s baseline's parameters (as in SOURCE.md / the issue)

_STEMMER = Stemmer.Stemmer("english")


# -- data -------------------------------------------------------------------------------------------------------


@dataclass
class SciFact:
    doc_ids: list[str]
    doc_titles: list[str]
    doc_bodies: list[str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @classmethod
    def load(cls, folder: Path) -> SciFact:
        doc_ids, doc_titles, doc_bodies = [], [], []
        with (folder / "corpus.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                doc_ids.append(str(record["_id"]))
                doc_titles.append(str(record.get("title", "")))
                doc_bodies.append(str(record["text"]))
        qrels: dict[str, dict[str, int]] = {}
        for row in (folder / "qrels" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]:
            query_id, doc_id, score = row.split("\t")
            qrels.setdefault(query_id, {})[doc_id] = int(score)
        queries = {}
        with (folder / "queries.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                if record["_id"] in qrels:
                    queries[record["_id"]] = record["text"]
        return cls(doc_ids, doc_titles, doc_bodies, queries, qrels)

    @property
    def doc_texts(self) -> list[str]:
        """Title + text: the usual BEIR input for single-field lexical baselines."""
        return [f"{title} {body}" for title, body in zip(self.doc_titles, self.doc_bodies, strict=True)]


def evaluate(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10 (graded gains, log2 discount, as pytrec_eval) and Recall@100 over the judged queries."""
    ndcg, recall = [], []
    for query_id, relevant in qrels.items():
        ranked = runs.get(query_id, [])
        dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(relevant.values(), reverse=True)[:10]))
        ndcg.append(dcg / ideal)
        recall.append(sum(1 for d in ranked[:100] if d in relevant) / len(relevant))
    return {"ndcg@10": float(np.mean(ndcg)), "recall@100": float(np.mean(recall))}


# -- the three indexes behind one interface ------------------------------------------------------------------------


class Retriever:
    def search(self, query: str, k: int) -> list[str]:
        raise NotImplementedError


class OurCorpus(Retriever):
    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def search(self, query: str, k: int) -> list[str]:
        # Documents ranked by their best passage: fetch enough passages to fill k distinct documents.
        ranked: dict[str, None] = {}
        for passage in self.corpus.search_sync(query, k * 3):
            ranked.setdefault(passage.document_id.rsplit(":", 1)[-1], None)
        return list(ranked)[:k]


def _tokens(texts: Sequence[str]) -> list[list[str]]:
    tokenized = bm25s.tokenize(list(texts), stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False)
    return [list(t) for t in tokenized]


class PlainBM25s(Retriever):
    def __init__(self, doc_ids: list[str], texts: Sequence[str]) -> None:
        self.doc_ids = doc_ids
        self.model = bm25s.BM25(k1=K1, b=B)
        self.model.index(
            bm25s.tokenize(list(texts), stopwords="en", stemmer=_STEMMER, show_progress=False), show_progress=False
        )

    def search(self, query: str, k: int) -> list[str]:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False)
        scores = self.model.get_scores(list(tokens[0]))
        return [self.doc_ids[i] for i in _top(scores, k)]


class RankBM25(Retriever):
    def __init__(self, doc_ids: list[str], texts: Sequence[str]) -> None:
        self.doc_ids = doc_ids
        self.model = BM25Okapi(_tokens(texts), k1=K1, b=B)

    def search(self, query: str, k: int) -> list[str]:
        scores = self.model.get_scores(_tokens([query])[0])
        return [self.doc_ids[i] for i in _top(np.asarray(scores), k)]


class SqliteFTS5(Retriever):
    """SQLite's full-text index: two columns (title weighted 2, like ours), its porter stemmer, OR queries."""

    def __init__(self, doc_ids: list[str], titles: Sequence[str], bodies: Sequence[str]) -> None:
        self.doc_ids = doc_ids
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize='porter unicode61')")
        rows = ((i, title, body) for i, (title, body) in enumerate(zip(titles, bodies, strict=True)))
        self.db.executemany("INSERT INTO docs(rowid, title, body) VALUES (?, ?, ?)", rows)

    def search(self, query: str, k: int) -> list[str]:
        words = dict.fromkeys(w for w in re.findall(r"\w\w+", query.lower()) if w not in STOPWORDS_EN)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        sql = "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 2.0, 1.0), rowid LIMIT ?"
        return [self.doc_ids[row] for (row,) in self.db.execute(sql, (match, k))]


def _top(scores: np.ndarray, k: int) -> list[int]:
    positive = np.flatnonzero(scores > 0)
    order = positive[np.lexsort((positive, -scores[positive]))]
    return [int(i) for i in order[:k]]


class BodyOnlyCorpus(Corpus):
    """Ablation: no title field."""

    index_params = BM25FParams(title_weight=0.0)


# -- measurements ---------------------------------------------------------------------------------------------------


def measure_build(corpus: str, index: str, build: Callable[[], Any], repeat: int) -> tuple[Any, dict[str, Any]]:
    """The last build and a row: median wall and CPU seconds of `repeat` builds, then peak memory of one more
    (None for SQLite: its memory is its own, invisible to tracemalloc).

    CPU time is reported next to wall time because the machine is shared: other work stretches wall time,
    hardly CPU time (every build here is single-threaded).
    """
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = build()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    row = {"corpus": corpus, "index": index, "build_s": median(walls), "cpu_s": median(cpus)}
    return result, {**row, "peak_mb": None if index == "sqlite_fts5" else peak_memory_mb(build)}


def peak_memory_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def latency_ms(retriever: Retriever, queries: Sequence[str], k: int = 10) -> dict[str, float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        retriever.search(query, k)
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": median(times), "p95_ms": p95(times)}


def open_fresh(corpus_class: type[Corpus], paths: Sequence[Path], builtins: Sequence[str]) -> Corpus:
    """A cold build: a new cache directory, so every input is read and analysed."""
    with tempfile.TemporaryDirectory() as cache:
        return corpus_class.open(paths, builtins=builtins, cache_dir=Path(cache))


def factbook_queries(corpus: Corpus) -> list[str]:
    fields = ["unemployment rate", "real GDP per capita", "population", "capital", "exports", "climate"]
    countries = sorted(corpus.titles().values())[::4]  # every fourth country: about 64
    return [f"{country} {field}" for country in countries for field in fields]


def process_open_seconds(cache_dir: Path, repeat: int) -> dict[str, float]:
    """Medians over `repeat` new Python processes: importing the corpus module, then opening the Factbook and
    searching it once (reported apart: on a busy machine the import varies most)."""
    code = (
        "import json, time; t0 = time.perf_counter()\n"
        "from pathlib import Path\n"
        "from research_nb.sources.corpus import Corpus\n"
        "t1 = time.perf_counter()\n"
        f"c = Corpus.open(cache_dir=Path({str(cache_dir)!r}))\n"
        "c.search_sync('Norway unemployment rate', 10)\n"
        "t2 = time.perf_counter()\n"
        "print(json.dumps({'import_s': t1 - t0, 'open_search_s': t2 - t1, 'total_s': t2 - t0}))\n"
    )
    runs = [json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(repeat)]
    return {key: median([run[key] for run in runs]) for key in runs[0]}


# -- the benchmark -----------------------------------------------------------------------------------------------


def quality(data: SciFact) -> list[dict[str, Any]]:
    corpus_path = [SCIFACT / "corpus.jsonl"]
    retrievers: list[tuple[str, Retriever]] = [
        ("research-nb corpus (BM25F, title field)", OurCorpus(open_fresh(Corpus, corpus_path, ()))),
        ("  ablation: no title field", OurCorpus(open_fresh(BodyOnlyCorpus, corpus_path, ()))),
        ("bm25s (k1 0.9, b 0.4)", PlainBM25s(data.doc_ids, data.doc_texts)),
        ("rank_bm25 BM25Okapi (k1 0.9, b 0.4)", RankBM25(data.doc_ids, data.doc_texts)),
        ("SQLite FTS5 bm25 (title weight 2, porter)", SqliteFTS5(data.doc_ids, data.doc_titles, data.doc_bodies)),
    ]
    rows = []
    for label, retriever in retrievers:
        runs = {qid: retriever.search(text, 100) for qid, text in data.queries.items()}
        rows.append({"index": label, **evaluate(runs, data.qrels)})
    rows.append(
        {
            "index": "BEIR paper BM25 (test split, reference)",
            "ndcg@10": BEIR_PAPER_BM25,
            "recall@100": None,
        }
    )
    return rows


def speed(data: SciFact, repeat: int) -> dict[str, Any]:
    corpus_path = [SCIFACT / "corpus.jsonl"]
    builds: list[dict[str, Any]] = []
    built: dict[str, Any] = {}
    scifact_builders: list[tuple[str, Callable[[], Any]]] = [
        ("ours", lambda: open_fresh(Corpus, corpus_path, ())),
        ("bm25s", lambda: PlainBM25s(data.doc_ids, data.doc_texts)),
        ("rank_bm25", lambda: RankBM25(data.doc_ids, data.doc_texts)),
        ("sqlite_fts5", lambda: SqliteFTS5(data.doc_ids, data.doc_titles, data.doc_bodies)),
    ]
    for key, build in scifact_builders:
        built[key], row = measure_build("SciFact", key, build, repeat)
        builds.append(row)

    factbook, row = measure_build("Factbook", "ours", lambda: open_fresh(Corpus, (), ("factbook",)), repeat)
    builds.append(row)
    passages = [p for doc in factbook.titles() for p in factbook.passages_of(doc)]
    texts = [f"{p.title} {p.text}" for p in passages]  # the baselines get the title as part of the text
    ids = [p.id for p in passages]
    fb_baselines: dict[str, Any] = {}
    for key, cls in (("bm25s", PlainBM25s), ("rank_bm25", RankBM25)):
        fb_baselines[key], row = measure_build("Factbook", key, lambda cls=cls: cls(ids, texts), repeat)
        builds.append(row)
    titles, bodies = [p.title for p in passages], [p.text for p in passages]
    fb_baselines["sqlite_fts5"], row = measure_build(
        "Factbook", "sqlite_fts5", lambda: SqliteFTS5(ids, titles, bodies), repeat
    )
    builds.append(row)

    latencies = []
    scifact_queries = list(data.queries.values())
    fb_queries = factbook_queries(factbook)
    for key, retriever in (
        ("ours", OurCorpus(built["ours"])),
        ("bm25s", built["bm25s"]),
        ("rank_bm25", built["rank_bm25"]),
        ("sqlite_fts5", built["sqlite_fts5"]),
    ):
        latencies.append({"corpus": "SciFact", "index": key, **latency_ms(retriever, scifact_queries)})
    for key, retriever in (
        ("ours", OurCorpus(factbook)),
        ("bm25s", fb_baselines["bm25s"]),
        ("rank_bm25", fb_baselines["rank_bm25"]),
        ("sqlite_fts5", fb_baselines["sqlite_fts5"]),
    ):
        latencies.append({"corpus": "Factbook", "index": key, **latency_ms(retriever, fb_queries)})

    with tempfile.TemporaryDirectory() as cache:
        cold = process_open_seconds(Path(cache), 1)
        warm = process_open_seconds(Path(cache), repeat)
    return {
        "builds": builds,
        "latency": latencies,
        "factbook_process_open_search_s": {"cold": cold, "warm": warm},
        "sizes": {
            "scifact_passages": built["ours"].num_passages,
            "factbook_passages": factbook.num_passages,
            "factbook_documents": factbook.num_documents,
        },
    }


def print_quality(rows: list[dict[str, Any]]) -> None:
    print("\nSciFact, train split (809 claims)")
    print_table(
        ["index", "nDCG@10", "Recall@100"],
        [[r["index"], r["ndcg@10"], "-" if r["recall@100"] is None else r["recall@100"]] for r in rows],
    )


def print_speed(result: dict[str, Any]) -> None:
    print("\nIndex build (median of runs; ours reads and converts its input and writes the cache) and peak memory")
    print_table(
        ["corpus", "index", "build s (wall)", "build s (CPU)", "peak MB"],
        [[r["corpus"], r["index"], r["build_s"], r["cpu_s"], r["peak_mb"] or "not traced"] for r in result["builds"]],
    )
    print("\nQuery latency, top 10 (every query once)")
    base = {r["corpus"]: r["median_ms"] for r in result["latency"] if r["index"] == "bm25s"}
    print_table(
        ["corpus", "index", "median ms", "p95 ms", "median / bm25s"],
        [
            [r["corpus"], r["index"], r["median_ms"], r["p95_ms"], f"{r['median_ms'] / base[r['corpus']]:.2f}x"]
            for r in result["latency"]
        ],
    )
    print("\nFactbook in a new process: import, then Corpus.open + 1 search (cold: empty cache; warm: median)")
    opened = result["factbook_process_open_search_s"]
    print_table(
        ["run", "import s", "open + search s", "total s"],
        [[run, t["import_s"], t["open_search_s"], t["total_s"]] for run, t in opened.items()],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quality", action="store_true", help="only the SciFact quality table")
    parser.add_argument("--speed", action="store_true", help="only the speed tables")
    parser.add_argument("--repeat", type=int, default=3, help="builds and process starts per median")
    args = parser.parse_args(argv)
    both = not (args.quality or args.speed)
    data = SciFact.load(require(SCIFACT))
    previous = RESULTS_FILE.read_text() if RESULTS_FILE.exists() else "{}"
    result: dict[str, Any] = {**json.loads(previous), "machine": {"python": platform.python_version(), "cpus": _cpus()}}
    if args.quality or both:
        result["quality"] = quality(data)
        print_quality(result["quality"])
    if args.speed or both:
        result["speed"] = speed(data, args.repeat)
        print_speed(result["speed"])
    write_results("retrieval", result)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    main()
