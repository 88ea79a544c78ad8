"""Opening a corpus: caching (in-process and on disk), incremental updates, determinism, bad input, lookups."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from research_nb.core.errors import SourceError, UserInputError
from research_nb.sources import _loaders
from research_nb.sources.corpus import Corpus

from .conftest import write_pdf

QUERIES = ["tides moon", "sourdough starter", "volcano eruption airspace", "glacier ice"]


def _ranking(corpus: Corpus) -> list[list[tuple[str, float]]]:
    return [[(h.id, h.score) for h in corpus.search_sync(q, k=5)] for q in QUERIES]


def test_two_cold_opens_give_identical_ids_and_ranking(notes: Path, tmp_path: Path) -> None:
    first = Corpus.open([notes], builtins=(), cache_dir=tmp_path / "a")
    second = Corpus.open([notes], builtins=(), cache_dir=tmp_path / "b")

    assert first is not second
    assert first.stats.files_read == second.stats.files_read != ()
    assert _ranking(first) == _ranking(second)


def test_ranking_is_the_same_in_processes_with_different_hash_seeds(notes: Path, tmp_path: Path) -> None:
    script = (
        "import json, sys; from pathlib import Path; from research_nb.sources.corpus import Corpus\n"
        "c = Corpus.open([sys.argv[1]], builtins=(), cache_dir=Path(sys.argv[2]))\n"
        f"print(json.dumps([[(h.id, h.score) for h in c.search_sync(q, 5)] for q in {QUERIES!r}]))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        cache = tmp_path / f"cache-{seed}"
        result = subprocess.run(
            [sys.executable, "-c", script, str(notes), str(cache)], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    assert outputs[0] == json.loads(json.dumps(_ranking(Corpus.open([notes], builtins=(), cache_dir=tmp_path))))


def test_second_open_in_the_process_is_free_and_replays_warnings(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("Alpacas hum to communicate.\n")
    (tmp_path / "docs" / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    warnings: list[str] = []

    first = Corpus.open([tmp_path / "docs"], builtins=(), cache_dir=tmp_path / "cache", on_warning=warnings.append)
    second = Corpus.open([tmp_path / "docs"], builtins=(), cache_dir=tmp_path / "cache", on_warning=warnings.append)

    assert second is first
    assert len(warnings) == 2 and warnings[0] == warnings[1]
    assert warnings[0].startswith("skipped docs/broken.pdf: not a valid PDF")


def test_only_new_or_changed_files_are_read_again(notes: Path, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    shutil.copytree(notes, folder)
    cache = tmp_path / "cache"
    progress: list[str] = []

    first = Corpus.open([folder], builtins=(), cache_dir=cache)
    assert len(first.stats.files_read) == 4

    (folder / "tides.md").write_text("# Tides\n\nKing tides are the highest tides of the year.\n", encoding="utf-8")
    (folder / "new.txt").write_text("Axolotls regrow their limbs.\n", encoding="utf-8")
    second = Corpus.open([folder], builtins=(), cache_dir=cache, on_progress=progress.append)

    assert sorted(second.stats.files_read) == ["notes/new.txt", "notes/tides.md"]
    assert second.stats.inputs_from_cache == 3
    assert any(line.startswith("reading notes/tides.md") for line in progress)
    assert second.search_sync("king tides", k=1)[0].id == "file:notes/tides.md#1"
    assert second.search_sync("neap right angles") == []  # the old text is gone
    assert second.search_sync("axolotl limbs", k=1)[0].document_id == "file:notes/new.txt"


def test_a_touched_but_unchanged_file_is_not_read_again(notes: Path, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    shutil.copytree(notes, folder)
    cache = tmp_path / "cache"
    Corpus.open([folder], builtins=(), cache_dir=cache)

    bread = folder / "sub" / "bread.txt"
    os.utime(bread, ns=(bread.stat().st_atime_ns, bread.stat().st_mtime_ns + 5_000_000_000))
    again = Corpus.open([folder], builtins=(), cache_dir=cache)

    assert again.stats.files_read == ()  # new mtime, same content hash: taken from the cache
    assert again.stats.inputs_from_cache == 4


def test_bad_files_are_warnings_and_the_rest_is_indexed(
    notes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(notes, folder)
    (folder / "empty-folder").mkdir()
    (folder / "blob.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "latin1.md").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    (folder / "records.jsonl").write_text(
        '{"_id": "1", "text": "Narwhals have tusks."}\nnot json\n{"_id": 2}\n{"_id": "1", "text": "again"}\n'
    )
    (folder / "huge.txt").write_text("word " * 2000)
    write_pdf(folder / "scanned.pdf", [[]])
    monkeypatch.setattr(_loaders, "MAX_FILE_BYTES", 5000)
    warnings: list[str] = []

    corpus = Corpus.open([folder], builtins=(), cache_dir=tmp_path / "cache", on_warning=warnings.append)

    assert len(warnings) == 6
    assert sorted(warnings)[:2] + sorted(warnings)[3:] == [
        "mixed/records.jsonl: 3 bad line(s) skipped (first: line 2)",
        "skipped mixed/blob.txt: binary file, not text",
        "skipped mixed/huge.txt: too large (10 KB; the limit is 5 KB)",
        "skipped mixed/latin1.md: not UTF-8 text",
        "skipped mixed/scanned.pdf: no extractable text (a scanned PDF?)",
    ]
    assert sorted(warnings)[2].startswith("skipped mixed/corrupt.pdf: not a valid PDF")
    assert corpus.warnings == tuple(warnings)
    assert corpus.search_sync("narwhal tusks", k=1)[0].document_id == "file:mixed/records.jsonl:1"
    assert corpus.search_sync("sourdough", k=1)[0].document_id == "file:mixed/sub/bread.txt"


def test_an_empty_folder_is_a_warning_and_nothing_searchable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    warnings: list[str] = []

    with pytest.raises(SourceError, match="Nothing to search") as raised:
        Corpus.open([tmp_path / "empty"], builtins=(), cache_dir=tmp_path / "cache", on_warning=warnings.append)

    assert warnings == ["skipped empty/: no files of a supported type in this folder"]
    assert "no files of a supported type" in str(raised.value)
    assert isinstance(raised.value, UserInputError)


@pytest.mark.parametrize(
    ("path", "message"),
    [("no/such/folder", "No such file or folder: 'no/such/folder'"), ("nothing-*.md", "No file matches")],
)
def test_a_missing_path_is_a_source_error(tmp_path: Path, path: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        Corpus.open([path], builtins=(), cache_dir=tmp_path)


def test_an_unknown_builtin_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="Unknown built-in corpus 'encyclopedia'; known: factbook, wiki"):
        Corpus.open(builtins=("encyclopedia",), cache_dir=tmp_path)


def test_an_unwritable_cache_costs_speed_not_results(notes: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder should be")
    warnings: list[str] = []

    corpus = Corpus.open([notes], builtins=(), cache_dir=cache, on_warning=warnings.append)

    assert corpus.search_sync("sourdough", k=1)[0].document_id == "file:notes/sub/bread.txt"
    assert len(warnings) == 1 and warnings[0].startswith("cannot write the corpus cache")


def test_lookups_by_id(notes: Path, tmp_path: Path) -> None:
    corpus = Corpus.open([notes], builtins=(), cache_dir=tmp_path)
    hit = corpus.search_sync("spring tides", k=1)[0]

    again = corpus.passage(hit.id)
    assert again is not None and again.model_dump(exclude={"score"}) == hit.model_dump(exclude={"score"})
    assert [p.id for p in corpus.passages_of(hit.document_id)][1] == hit.id
    assert corpus.passage("file:notes/tides.md#99") is None
    assert corpus.passages_of("file:nope") == []
    assert corpus.source("file:nope") is None
    assert corpus.num_documents == 4
    assert corpus.num_passages == sum(len(corpus.passages_of(d)) for d in corpus.titles())


def test_a_file_of_an_unsupported_type_given_by_name_is_a_warning(notes: Path, tmp_path: Path) -> None:
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n")
    warnings: list[str] = []

    corpus = Corpus.open([table, notes / "tides.md"], builtins=(), cache_dir=tmp_path / "c", on_warning=warnings.append)

    assert warnings == ["skipped table.csv: unsupported file type '.csv'"]
    assert corpus.num_documents == 1


async def test_opening_the_same_new_corpus_in_two_threads_at_once(notes: Path, tmp_path: Path) -> None:
    class First(Corpus):  # two classes: neither open can be served by the other from the in-process cache
        pass

    class Second(Corpus):
        pass

    first, second = await asyncio.gather(
        asyncio.to_thread(First.open, [notes], builtins=(), cache_dir=tmp_path),
        asyncio.to_thread(Second.open, [notes], builtins=(), cache_dir=tmp_path),
    )

    assert _ranking(first) == _ranking(second)
    third = Corpus.open([notes], builtins=(), cache_dir=tmp_path)  # whatever was written is whole
    assert third.stats.files_read == () and _ranking(third) == _ranking(first)


def test_check_rejects_a_typo_without_reading_anything(notes: Path) -> None:
    Corpus.check([notes, notes / "*.md"], builtins=("factbook",))

    with pytest.raises(SourceError, match="No such file or folder"):
        Corpus.check([notes / "missing.md"])
    with pytest.raises(SourceError, match="Unknown built-in corpus"):
        Corpus.check(builtins=("factbok",))
