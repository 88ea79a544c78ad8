"""The `research-nb` command in a real subprocess: the README's main job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

QUESTION = "How do the economies of Norway and Sweden differ?"


def cli(*args: str, cache: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESEARCH_NB_CACHE_DIR": str(cache), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "research_nb.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_prints_the_same_cited_report_in_separate_processes(tmp_path: Path) -> None:
    cold = cli(QUESTION, cache=tmp_path / "a")
    warm = cli(QUESTION, cache=tmp_path / "a")
    other_cache = cli(QUESTION, "--quiet", cache=tmp_path / "b")
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout.startswith(f"# {QUESTION}\n")
    assert "| Real GDP per capita |" in cold.stdout
    assert cold.stdout == warm.stdout == other_cache.stdout
    assert "research execution" in cold.stderr and other_cache.stderr == ""


def test_a_command_researches_in_its_own_process_and_starts_no_worker(tmp_path: Path) -> None:
    code = (
        "from research_nb.cli import main\n"
        "from research_nb.core.workers import workers\n"
        f"main([{QUESTION!r}, '--quiet'])\n"
        "print('worker process:', workers.pid)\n"
    )
    env = {**os.environ, "RESEARCH_NB_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# {QUESTION}\n") and "| Real GDP per capita |" in result.stdout
    assert result.stdout.endswith("worker process: None\n")


def test_json_output_is_the_final_state(tmp_path: Path) -> None:
    result = cli(QUESTION, "--json", "--quiet", cache=tmp_path)
    state = json.loads(result.stdout)
    assert state["current_stage"] == "completed"
    assert state["report"]["markdown"].startswith(f"# {QUESTION}")


def test_the_installed_command_is_the_cli_with_its_exit_codes(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "research-nb"  # the console script `pip install` wrote
    env = {**os.environ, "RESEARCH_NB_CACHE_DIR": str(tmp_path)}
    ok = subprocess.run([command, QUESTION, "--quiet"], capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith(f"# {QUESTION}\n"), ok.stderr
    wrong = subprocess.run([command, "   "], capture_output=True, text=True, env=env, timeout=120)
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1


def test_mistakes_get_one_clear_line_and_exit_code_2(tmp_path: Path) -> None:
    empty = cli("   ", cache=tmp_path)
    missing = cli("anything", "--sources", str(tmp_path / "nope"), cache=tmp_path)
    engine = cli("anything", "--engine", "nonesuch", cache=tmp_path)
    for result in (empty, missing, engine):
        assert result.returncode == 2
        assert result.stderr.startswith("research-nb: ") and "Traceback" not in result.stderr
    assert "empty" in empty.stderr
    assert "nope" in missing.stderr
    assert "unknown engine 'nonesuch'" in engine.stderr


def test_stored_runs_are_listed_resumable_and_deletable(tmp_path: Path) -> None:
    data = {"RESEARCH_NB_DATA_DIR": str(tmp_path / "data")}
    done = cli("Norway", "--json", "--quiet", cache=tmp_path, env=data)
    request_id = json.loads(done.stdout)["request_id"]
    listing = cli("runs", cache=tmp_path, env=data)
    assert request_id in listing.stdout and "completed" in listing.stdout and "Norway" in listing.stdout
    again = cli("resume", request_id, cache=tmp_path, env=data)
    assert again.returncode == 2 and "already completed" in again.stderr
    assert "deleted" in cli("runs", "--delete", request_id, cache=tmp_path, env=data).stdout
    assert request_id not in cli("runs", cache=tmp_path, env=data).stdout


def test_serve_has_the_factbook_indexed_before_any_request_and_stops_its_worker(tmp_path: Path) -> None:
    env = {**os.environ, "RESEARCH_NB_CACHE_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "research_nb.cli", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not list(tmp_path.glob("corpus-v*/indexes/*/header.json")) and time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            time.sleep(0.1)
        assert list(tmp_path.glob("corpus-v*/indexes/*/header.json")), "no index built while the server started"
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    assert "research-nb API stopped" in stderr  # its shutdown, which stops the research worker, ran
