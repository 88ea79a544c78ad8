"""`research-nb runs` and `research-nb resume` in a real subprocess over a damaged store, a question that cannot be
stored, and a run another live process drives."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from store_damage import damage

TESTS = Path(__file__).resolve().parent


def cli(*args: str | bytes, data: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESEARCH_NB_DATA_DIR": str(data)}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "research_nb.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def finished_run(data: Path, question: str) -> str:
    done = cli(question, "--json", "--quiet", "--corpus", "factbook", data=data)
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["request_id"])


def test_a_damaged_store_lists_every_good_run_and_names_each_damaged_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = [finished_run(data, "Norway"), finished_run(data, "Sweden")]
    runs = data / "runs"
    expected = damage(runs, runs / f"{good[0]}.json")
    (runs / "locked.json").write_text("{}")
    (runs / "locked.json").chmod(0o000)

    # As root, reading ignores file modes: list without the capabilities that allow it, as any other user would.
    as_user = ("setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search")
    if os.geteuid() != 0:
        as_user = ()
    elif shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop root's file-reading capabilities")
    listing = cli("runs", data=data, prefix=as_user)

    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    assert {line.split()[0] for line in listing.stdout.splitlines()} == set(good)
    skipped = [line for line in listing.stderr.splitlines() if line.startswith("research-nb: skipped ")]
    assert len(skipped) == len(expected) + 1
    for name, fragment in {**expected, "locked.json": "unreadable (Permission denied)"}.items():
        assert any(f"{runs / name}: " in line and fragment in line for line in skipped), (name, listing.stderr)


def test_resuming_a_damaged_run_is_one_line_and_retention_keeps_going(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = finished_run(data, "Norway")
    damage(data / "runs", data / "runs" / f"{good}.json")
    for request_id, reason in (("truncated", "not valid JSON"), ("pipe", "not a regular file")):
        resumed = cli("resume", request_id, data=data)
        assert resumed.returncode == 2
        assert resumed.stderr.startswith(f"research-nb: the stored run {request_id} cannot be read")
        assert reason in resumed.stderr and len(resumed.stderr.splitlines()) == 1
    odd = cli("resume", "x" * 5000, data=data)
    assert odd.returncode == 2 and "is not a research run id" in odd.stderr and len(odd.stderr.splitlines()) == 1

    retention = cli("runs", "--delete-older-than", "0", data=data)
    assert retention.returncode == 0 and "deleted 1 run(s)" in retention.stdout


def test_a_question_that_cannot_be_stored_is_refused_and_the_store_still_lists(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = finished_run(data, "Norway")
    # A byte that is not UTF-8 on the command line reaches Python as a lone surrogate.
    refused = subprocess.run(
        [sys.executable.encode(), b"-m", b"research_nb.cli", b"How do Norway and \xff differ?"],
        capture_output=True,
        env={**os.environ, "RESEARCH_NB_DATA_DIR": str(data)},
        timeout=120,
    )
    assert refused.returncode == 2 and refused.stderr.count(b"\n") == 1
    assert refused.stderr.startswith(
        b"research-nb: the research question holds text that cannot be encoded as UTF-8 (a lone surrogate"
    )
    listing = cli("runs", data=data)
    assert listing.returncode == 0 and good in listing.stdout and listing.stderr.count("skipped") == 0


def test_resuming_a_run_another_live_process_drives_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    owner_code = (
        "import asyncio, threading\n"
        "from research_nb.sources.corpus import Corpus\n"
        "never = threading.Event()\n"
        "Corpus.search_sync = lambda self, query, k=10: never.wait()\n"
        "from research_nb.cli import main\n"
        "main(['How do the economies of Norway and Sweden differ?', '--corpus', 'factbook'])\n"
    )
    # the patched search is the owner process's own: its research must not go to a worker process
    env = {**os.environ, "RESEARCH_NB_DATA_DIR": str(data), "RESEARCH_NB_WORKERS": "off"}
    owner = subprocess.Popen([sys.executable, "-c", owner_code], stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert owner.stderr is not None
        for line in owner.stderr:  # the owner's progress: wait until it is inside its research stage
            if "research execution" in line:
                break
        (request_id,) = [p.stem for p in (data / "runs").glob("*.json")]
        listing = cli("runs", data=data)
        assert f"running in process {owner.pid}" in listing.stdout
        refused = cli("resume", request_id, data=data)
        assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
        assert f"run {request_id} is being run by process {owner.pid}" in refused.stderr
        assert "deleted" not in cli("runs", "--delete", request_id, data=data).stdout
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        if owner.stderr is not None:
            owner.stderr.close()
    resumed = cli("resume", request_id, "--quiet", data=data)
    assert resumed.returncode == 0 and resumed.stdout.startswith("# How do the economies of Norway and Sweden")
