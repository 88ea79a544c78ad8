"""The corpus store: BM25F scores as defined, built input by input, opened warm without its inputs, progress."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from research_nb.sources._cache import FORMAT_VERSION
from research_nb.sources._index import BM25FParams
from research_nb.sources._text import analyze
from research_nb.sources.corpus import Corpus, IndexingStatus

RECORDS = [
    ("tides", "Spring tides", "Spring tides happen at new and full moon, when sun and moon pull together."),
    ("neap", "Neap tides", "Neap tides are the weakest tides; the moon pulls at right angles to the sun."),
    ("bread", "Sourdough bread", "Sourdough bread rises with wild yeast. Bread needs flour, water and salt."),
    ("yeast", "Yeast", "Yeast is a fungus; bakers use it so that bread rises."),
    ("moon", "The Moon", "The Moon orbits the Earth and raises the tides of its oceans."),
]


def fresh(corpus_class: type[Corpus] = Corpus) -> type[Corpus]:
    """A new subclass: never served from the in-process cache of open corpora (as in a new process)."""
    return type("Fresh", (corpus_class,), {})


def write_records(folder: Path, records: list[tuple[str, str, str]], per_file: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, len(records), per_file):
        path = folder / f"part-{start // per_file}.jsonl"
        lines = [json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in records[start : start + per_file]]
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    return files


def bm25f(records: list[tuple[str, str, str]], query: str, params: BM25FParams) -> dict[str, float]:
    """BM25F as `_index` defines it, computed the slow, obvious way (title field: title plus nothing else)."""
    bodies = [Counter(analyze(text)) for _, _, text in records]
    titles = [Counter(analyze(title)) for _, title, _ in records]
    average_body = sum(sum(b.values()) for b in bodies) / len(records)
    average_title = sum(sum(t.values()) for t in titles) / len(records)
    scores = {}
    for (rid, _, _), body, title in zip(records, bodies, titles, strict=True):
        body_norm = 1 - params.b + params.b * sum(body.values()) / average_body
        title_norm = 1 - params.title_b + params.title_b * sum(title.values()) / average_title
        score = 0.0
        for term in dict.fromkeys(analyze(query)):
            df = sum(1 for b, t in zip(bodies, titles, strict=True) if term in b or term in t)
            if not df:
                continue
            tf = body[term] / body_norm + params.title_weight * title[term] / title_norm
            score += tf / (params.k1 + tf) * math.log1p((len(records) - df + 0.5) / (df + 0.5))
        if score > 0:
            scores[rid] = score
    return scores


@pytest.mark.parametrize("per_file", [1, 2, 5])
def test_scores_are_bm25f_whatever_the_inputs_are_split_into(tmp_path: Path, per_file: int) -> None:
    files = write_records(tmp_path / "docs", RECORDS, per_file)
    corpus = fresh().open(files, builtins=(), cache_dir=tmp_path / "cache")
    expected = bm25f(RECORDS, "moon tides bread", Corpus.index_params)

    hits = corpus.search_sync("moon tides bread", k=10)

    assert {h.id.split(":")[-1].removesuffix("#1"): h.score for h in hits} == pytest.approx(expected, rel=1e-6)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_rank_and_search_return_the_same_passages_in_the_same_order(tmp_path: Path) -> None:
    files = write_records(tmp_path / "docs", RECORDS, 2)
    corpus = fresh().open(files, builtins=(), cache_dir=tmp_path / "cache")
    for k in (1, 3, 10):
        rows, scores = corpus.rank("the moon pulls the tides", k)
        hits = corpus.search_sync("the moon pulls the tides", k)
        assert [corpus.passage_id(int(i)) for i in rows] == [h.id for h in hits]
        assert scores.tolist() == [h.score for h in hits]
        assert [corpus.passage(h.id) for h in hits] == [h.model_copy(update={"score": 0.0}) for h in hits]


def test_a_warm_open_needs_neither_the_analysed_inputs_nor_reading_any_file(tmp_path: Path) -> None:
    files = write_records(tmp_path / "docs", RECORDS, 2)
    cache = tmp_path / "cache"
    built = fresh().open(files, builtins=(), cache_dir=cache)
    expected = [(h.id, h.score, h.text) for h in built.search_sync("yeast bread", 5)]
    shutil.rmtree(cache / f"corpus-v{FORMAT_VERSION}" / "segments")  # the store alone must be enough

    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from research_nb.sources.corpus import Corpus\n"
        "c = Corpus.open([Path(p) for p in sys.argv[2:]], builtins=(), cache_dir=Path(sys.argv[1]))\n"
        "print(json.dumps({'read': list(c.stats.files_read), 'from_cache': c.stats.index_from_cache,\n"
        "  'hits': [[h.id, h.score, h.text] for h in c.search_sync('yeast bread', 5)]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(cache), *map(str, files)], capture_output=True, text=True, check=True
    )
    seen = json.loads(result.stdout)

    assert seen["read"] == [] and seen["from_cache"] is True
    assert [tuple(h) for h in seen["hits"]] == expected


def test_a_build_reports_files_passages_and_time_left_then_finished(tmp_path: Path) -> None:
    files = write_records(tmp_path / "docs", RECORDS, 1)
    statuses: list[IndexingStatus] = []

    corpus = fresh().open(
        [tmp_path / "docs"], builtins=("factbook",), cache_dir=tmp_path / "cache", on_indexing=statuses.append
    )

    assert statuses[0] == IndexingStatus("the World Factbook, " + str(tmp_path / "docs"), 0, 6, 0, None)
    assert statuses[-1].finished and statuses[-1].files_done == 6 and statuses[-1].passages == corpus.num_passages
    assert [s.finished for s in statuses].count(True) == 1
    done = [s.files_done for s in statuses]
    assert done == sorted(done) and all(s.files_total == len(files) + 1 for s in statuses)
    assert all(s.seconds_left is not None and s.seconds_left >= 0 for s in statuses[1:])

    again: list[IndexingStatus] = []
    fresh().open([tmp_path / "docs"], builtins=("factbook",), cache_dir=tmp_path / "cache", on_indexing=again.append)
    assert again == []  # nothing to index: the store was in the cache


def test_an_input_that_changes_rebuilds_the_index_from_the_other_inputs_cached_segments(tmp_path: Path) -> None:
    files = write_records(tmp_path / "docs", RECORDS, 1)
    cache = tmp_path / "cache"
    fresh().open(files, builtins=(), cache_dir=cache)
    files[2].write_text(json.dumps({"_id": "bread", "title": "Rye bread", "text": "Rye bread is dense."}) + "\n")

    changed = fresh().open(files, builtins=(), cache_dir=cache)

    assert changed.stats.files_read == (files[2].name,) and not changed.stats.index_from_cache
    assert [h.title for h in changed.search_sync("rye", 3)] == ["Rye bread"]
    assert changed.search_sync("sourdough", 3) == []
