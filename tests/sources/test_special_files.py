"""Only regular files are read: pipes, devices, symlink loops and folder cycles are one warning each, never a hang.

Every entry here is real: a FIFO made with os.mkfifo (opening it for reading would block until a writer comes),
/dev/zero behind a link named like a text file (reading it never ends), a symlink loop, a link back to an
ancestor folder. Each open runs in a worker thread with a deadline, so a regression fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest

from research_nb.core.blocking import Stopped, run_blocking
from research_nb.core.errors import SourceError
from research_nb.sources import _loaders
from research_nb.sources.corpus import Corpus
from special_files import add_special_entries, expected_warnings

DEADLINE = 60.0  # seconds; a healthy open of these folders takes well under one


def open_within_deadline(paths: list[Path], cache: Path) -> tuple[Corpus, list[str]]:
    outcome: dict[str, object] = {}

    def target() -> None:
        class Fresh(Corpus):
            pass

        warnings: list[str] = []
        try:
            outcome["corpus"] = Fresh.open(paths, builtins=(), cache_dir=cache, on_warning=warnings.append)
        except Exception as exc:
            outcome["error"] = exc
        outcome["warnings"] = warnings

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), "Corpus.open hung on a special file"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["corpus"], outcome["warnings"]  # type: ignore[return-value]


@pytest.fixture
def hostile(notes: Path, tmp_path: Path) -> Path:
    """The fixture notes plus one of every entry that must not be read."""
    folder = tmp_path / "hostile"
    shutil.copytree(notes, folder)
    return add_special_entries(folder)


def test_special_entries_in_a_folder_are_one_warning_each(hostile: Path, tmp_path: Path) -> None:
    corpus, warnings = open_within_deadline([hostile], tmp_path / "cache")

    assert sorted(warnings) == expected_warnings("hostile")
    assert corpus.num_documents == 4
    assert corpus.search_sync("sourdough", k=1)[0].document_id == "file:hostile/sub/bread.txt"
    again, warnings_again = open_within_deadline([hostile], tmp_path / "cache")  # the same, from the cache
    assert sorted(warnings_again) == sorted(warnings) and again.stats.files_read == ()


def test_special_files_given_by_name_are_warnings_too(hostile: Path, tmp_path: Path) -> None:
    corpus, warnings = open_within_deadline(
        [hostile / "pipe.md", hostile / "zero.txt", Path("/dev/zero"), hostile / "tides.md"], tmp_path / "cache"
    )

    assert warnings == [
        "skipped pipe.md: not a regular file (a named pipe)",
        "skipped zero.txt: not a regular file (a device)",
        "skipped zero: not a regular file (a device)",
    ]
    assert corpus.num_documents == 1


def test_only_special_files_is_nothing_to_search(hostile: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"Nothing to search: skipped pipe\.md: not a regular file"):
        open_within_deadline([hostile / "pipe.md"], tmp_path / "cache")


def test_a_symlink_loop_given_by_name_is_a_one_line_source_error(hostile: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a broken link or a symlink loop"):
        open_within_deadline([hostile / "loop-a.md"], tmp_path / "cache")


def test_a_glob_skips_special_files(hostile: Path, tmp_path: Path) -> None:
    corpus, warnings = open_within_deadline([hostile / "*.md"], tmp_path / "cache")

    assert corpus.num_documents == 1  # tides.md; not the pipe, not the loops
    assert sorted(warnings) == [
        "skipped hostile/loop-a.md: a symlink loop",
        "skipped hostile/loop-b.md: a symlink loop",
        "skipped hostile/pipe.md: not a regular file (a named pipe)",
    ]


def test_a_recursive_glob_through_a_folder_cycle_ends(hostile: Path, tmp_path: Path) -> None:
    corpus, _ = open_within_deadline([hostile / "**" / "*.txt"], tmp_path / "cache")

    assert corpus.search_sync("sourdough", k=1)[0].document_id == "file:hostile/sub/bread.txt"


def test_a_linked_folder_outside_is_followed_once(notes: Path, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes").symlink_to(notes)
    (folder / "again").symlink_to(notes)

    corpus, warnings = open_within_deadline([folder], tmp_path / "cache")

    assert corpus.num_documents == 4
    assert warnings == ["skipped project/notes/: a link back to a folder already included (a symlink cycle)"]


def test_a_file_that_grows_past_the_cap_while_read_is_too_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size is checked again while reading in blocks: a file is never read past the cap, whatever stat said."""
    monkeypatch.setattr(_loaders, "MAX_FILE_BYTES", 4096)
    monkeypatch.setattr(_loaders, "READ_BLOCK_BYTES", 1024)
    big = tmp_path / "big.txt"
    big.write_text("word " * 2000)

    with pytest.raises(_loaders.LoadError, match="too large"):
        b"".join(_loaders.read_blocks(big))


async def test_a_cancelled_open_stops_its_worker_thread_between_files(tmp_path: Path) -> None:
    """Cancel lands in the thread too: the worker stops within a file or two, it does not read the whole folder
    (a folder of thousands of files would otherwise hold a worker of the default executor for minutes)."""
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(400):
        (folder / f"note-{n:03}.md").write_text(f"# Note {n}\n\nFact number {n} about tides and bread.\n")
    reading = threading.Event()
    progress: list[str] = []
    ended: dict[str, BaseException | None] = {}
    done = threading.Event()

    def open_folder() -> Corpus:
        def on_progress(line: str) -> None:
            progress.append(line)
            if len(progress) >= 5:
                reading.set()

        try:
            corpus = Corpus.open([folder], builtins=(), cache_dir=tmp_path / "cache", on_progress=on_progress)
        except BaseException as exc:
            ended["error"] = exc
            raise
        else:
            ended["error"] = None
            return corpus
        finally:
            done.set()

    task = asyncio.get_running_loop().create_task(run_blocking(open_folder))
    assert await asyncio.to_thread(reading.wait, DEADLINE)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await asyncio.to_thread(done.wait, DEADLINE)
    assert isinstance(ended["error"], Stopped)
    read = [line for line in progress if line.startswith("reading ")]
    assert len(read) < 100, f"the thread read {len(read)} of 400 files after the cancel"
