"""A big input's analysis on two cores (`_parallel`): the same analysis, the same index, and no process left."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from research_nb.sources import _parallel, corpus
from research_nb.sources._parallel import AnalysisHelper, merge
from research_nb.sources._text import analyze_many
from research_nb.sources.corpus import Corpus

TEXTS = [
    "Norway's economy: petroleum, fishing and shipping.",
    "",
    "The unemployment rate was 3.6% (2023 est.)",
    "Côte d'Ivoire — Economy: cocoa and coffee; the Ivory Coast",
    "a of the and to",  # only stop words
    "Sweden: export-oriented manufacturing, timber and hydropower",
    "x y z",  # one-character words only
    "Petroleum exports and shipping: Norway, Sweden and Denmark",
]


def children() -> list[int]:
    """The ids of this process's child processes that still exist (zombies included)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if int(fields.get("PPid", "0")) == os.getpid():
            found.append(int(status.parent.name))
    return found


@pytest.fixture
def earlier_children() -> set[int]:
    """This process's children before the test: the research worker or servers that other tests left running."""
    return set(children())


def same(a: tuple[list[str], np.ndarray, np.ndarray], b: tuple[list[str], np.ndarray, np.ndarray]) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])


@pytest.mark.parametrize("cut", range(len(TEXTS) + 1))
def test_two_parts_analysed_apart_and_merged_are_the_analysis_of_the_whole(cut: int) -> None:
    merged = merge(analyze_many(TEXTS[:cut]), analyze_many(TEXTS[cut:]))

    assert same(merged, analyze_many(TEXTS))


def test_the_helper_analyses_part_of_a_big_input_and_gives_what_one_process_gives(
    monkeypatch: pytest.MonkeyPatch, earlier_children: set[int]
) -> None:
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_CHARS", 0)
    here: list[int] = []  # the texts this process analysed itself

    def counted(texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        here.append(len(texts))
        return analyze_many(texts)

    monkeypatch.setattr(_parallel, "analyze_many", counted)
    helper = AnalysisHelper()
    try:
        analysed = helper.analyze_many(TEXTS * 50)
    finally:
        helper.close()

    assert same(analysed, analyze_many(TEXTS * 50))
    assert len(here) == 1 and 0 < here[0] < len(TEXTS) * 50  # one part here, the rest in the helper
    assert set(children()) - earlier_children == set()  # the helper is gone


def test_a_helper_that_died_only_means_this_process_analyses_everything(
    monkeypatch: pytest.MonkeyPatch, earlier_children: set[int]
) -> None:
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_CHARS", 0)
    helper = AnalysisHelper()
    os.kill(helper._process.pid, 9)
    try:
        analysed = helper.analyze_many(TEXTS)
    finally:
        helper.close()

    assert same(analysed, analyze_many(TEXTS))
    assert set(children()) - earlier_children == set()  # the helper is gone


def test_a_factbook_built_on_two_cores_is_the_one_built_on_one_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier_children: set[int]
) -> None:
    Corpus.open([], builtins=("factbook",), cache_dir=tmp_path / "two")
    assert set(children()) - earlier_children == set()  # the helper is gone
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_CHARS", 10**12)  # the helper is never asked
    Corpus.open([], builtins=("factbook",), cache_dir=tmp_path / "one")

    for kind in ("indexes", "segments"):
        one, two = (sorted((tmp_path / k / "corpus-v4" / kind).rglob("*")) for k in ("one", "two"))
        names = [p.relative_to(tmp_path / "one") for p in one if p.is_file() and p.name not in ("used", "lock")]
        assert names == [p.relative_to(tmp_path / "two") for p in two if p.is_file() and p.name not in ("used", "lock")]
        for name in names:
            assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_a_corpus_of_a_users_files_starts_no_helper(
    tmp_path: Path, notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> AnalysisHelper:
        raise AssertionError("a helper process started for a user's files")

    monkeypatch.setattr(corpus, "AnalysisHelper", refuse)

    opened = Corpus.open([notes], builtins=(), cache_dir=tmp_path)

    assert opened.num_passages > 0


def test_a_helper_that_dies_before_writing_the_store_leaves_it_to_this_process_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier_children: set[int]
) -> None:
    start_store = AnalysisHelper.start_store

    def die_first(helper: AnalysisHelper, *args: object) -> None:
        os.kill(helper._process.pid, 9)
        helper._process.wait()
        start_store(helper, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(AnalysisHelper, "start_store", die_first)
    written_here = Corpus.open([], builtins=("factbook",), cache_dir=tmp_path / "here")
    monkeypatch.undo()
    written_apart = Corpus.open([], builtins=("factbook",), cache_dir=tmp_path / "apart")

    assert set(children()) - earlier_children == set()  # the helper is gone
    assert written_here.num_passages == written_apart.num_passages > 30_000
    for query in ("Norway unemployment rate", "landlocked South American country"):
        assert written_here.search_sync(query, 10) == written_apart.search_sync(query, 10)
