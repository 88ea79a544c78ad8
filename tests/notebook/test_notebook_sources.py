"""Sources, engines and caches as a notebook user meets them, in real kernels and through the real CLI.

- the magic returns before the engine is imported; the import and the option checks that read the disk are the
  run's first step, off the kernel's loop, and what fails there is one line in the run and its widget;
- folders holding a named pipe, /dev/zero behind a link, symlink loops and a folder cycle are researched with one
  warning per bad entry, by many runs at once, and the kernel takes more runs afterwards;
- a cassette that is not UTF-8 is one clear error;
- a corpus cache truncated on disk heals in the next command; `--corpus factbook` twice counts documents once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel_session import MEMORY_ENGINE_SETUP, KernelSession, kernel_session
from special_files import add_special_entries, expected_warnings

FIXTURE_NOTES = Path(__file__).resolve().parents[1] / "sources" / "fixtures" / "notes"
QUESTION = "Why are there spring tides?"


@pytest.fixture
def hostile_notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    shutil.copytree(FIXTURE_NOTES, folder)
    return add_special_entries(folder)


@pytest.fixture
def own_cache_kernel(tmp_path: Path) -> Iterator[KernelSession]:
    """A kernel with a corpus cache of its own (so a cold open really reads the files)."""
    with kernel_session(env={"RESEARCH_NB_CACHE_DIR": str(tmp_path / "cache")}, cwd=tmp_path) as session:
        session.run("%load_ext research_nb")
        session.run(MEMORY_ENGINE_SETUP)
        yield session


SLOW_ENGINE = """
import threading
from engines_for_tests import MemoryEngine
imported = threading.Event()
def slow_import():
    # stands for an engine whose import takes seconds (pydantic-ai): blocks until the test lets it finish
    assert imported.wait(60), "never released"
    return MemoryEngine()
workflow.engines.register("slow", slow_import)
"""


def test_the_magic_returns_before_the_engine_is_loaded_and_the_kernel_stays_free(kernel: KernelSession) -> None:
    kernel.run(SLOW_ENGINE)

    started = kernel.run(f'run = %research --engine slow --no-widget "{QUESTION}"\nrun.status')

    assert started.stderr == "" and started.text == "'running'"  # returned while the engine is still loading
    assert kernel.eval("1 + 1") == 2  # the kernel runs other cells meanwhile: the load is off its loop
    kernel.run("imported.set()")
    assert kernel.eval("(await run).current_stage.value") == "completed"


def test_a_check_that_needs_the_disk_fails_the_run_with_one_line_in_its_widget(kernel: KernelSession) -> None:
    shown = kernel.run(f'run = %research --engine offline --sources "nothing-here-*.md" "{QUESTION}"\nrun')
    widget = kernel.research_widget_id(shown)

    state = kernel.wait_for_widget(widget, status="failed")

    assert state["error"] == "No file matches 'nothing-here-*.md': check the pattern"
    assert kernel.eval("(await run).error_message") == "No file matches 'nothing-here-*.md': check the pattern"
    assert shown.stderr == ""


def test_special_files_are_warnings_for_many_runs_at_once_and_later_runs_still_work(
    own_cache_kernel: KernelSession, hostile_notes: Path
) -> None:
    """Eight runs at once over a folder with a pipe, /dev/zero and loops: more than the default executor's six
    workers, which reading the pipe or /dev/zero used to take for ever."""
    kernel = own_cache_kernel
    kernel.run(
        "import asyncio, research_nb\n"
        f"runs = [research_nb.research({QUESTION!r}, sources=[{str(hostile_notes)!r}], widget=False, clarify=False)"
        " for _ in range(8)]\n"
        "states = await asyncio.wait_for(asyncio.gather(*runs), 120)",
        timeout=180,
    )

    assert kernel.eval("[s.current_stage.value for s in states]") == ["completed"] * 8
    # (each distinct warning once; that a stage does not repeat them is the run's warning de-duplication)
    warnings = kernel.eval("sorted({w for w in states[0].warnings if w.startswith('skipped')})")
    assert warnings == expected_warnings("notes")
    after = kernel.run(
        f'run = %research --engine memory --no-widget "{QUESTION}"\ngate.open()\n(await run).current_stage.value'
    )
    assert after.text == "'completed'"


def test_a_cassette_that_is_not_utf8_is_one_clear_line(kernel: KernelSession, tmp_path: Path) -> None:
    cassette = tmp_path / "run.json"
    cassette.write_bytes(b'{"version": 1, "model": "caf\xe9"}')

    kernel.run(f'run = %research --engine llm --replay {cassette} --no-widget "{QUESTION}"')

    state = kernel.eval("[(await run).current_stage.value, run.state.error_message]")
    assert state == ["failed", f"{cassette} is not a research-nb cassette (not UTF-8 text)"]


# -- the real CLI ------------------------------------------------------------------------------------------------


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"RESEARCH_NB_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "research_nb.cli", *args, "--no-clarify", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_a_truncated_corpus_cache_heals_in_the_next_command(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    question = "What is the population of Norway?"
    first = cli(question, cache=cache)
    assert first.returncode == 0, first.stderr
    # Every cached array file (segments' .npz, the index store's .npy), cut in half: BadZipFile / EOFError /
    # ValueError on load.
    for file in [*cache.rglob("*.npz"), *cache.rglob("*.npy")]:
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])

    healed = cli(question, cache=cache)
    again = cli(question, cache=cache)

    assert healed.returncode == 0, healed.stderr
    damaged = [line for line in healed.stderr.splitlines() if "was damaged" in line]
    assert len(damaged) == 2, healed.stderr  # the Factbook's segment and the index: one line each
    assert all("discarded it and rebuilt it" in line for line in damaged)
    report = json.loads(healed.stdout)["report"]["markdown"]
    assert report == json.loads(first.stdout)["report"]["markdown"]
    assert again.returncode == 0 and "was damaged" not in again.stderr


def test_naming_the_factbook_twice_counts_its_documents_once(tmp_path: Path) -> None:
    question = "What is the population of Norway?"
    once = cli(question, "--corpus", "factbook", cache=tmp_path / "cache")
    twice = cli(question, "--corpus", "factbook", "--corpus", "factbook", cache=tmp_path / "cache")

    assert once.returncode == twice.returncode == 0, twice.stderr
    searched = [json.loads(r.stdout)["metadata"]["documents_searched"] for r in (once, twice)]
    assert searched[0] == searched[1] > 200
