"""A kernel killed with SIGKILL in the middle of a run costs at most the running stage: a new kernel resumes the
stored run and writes the same report, byte for byte, as a run that was never interrupted."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from kernel_session import kernel_session

from research_nb.core.store import RunStore

QUESTION = "How do the economies of Norway and Sweden differ?"

# In the first kernel, the search for Sweden never returns: the run is held inside its research stage.
HOLD_RESEARCH = """
import threading
from research_nb.sources.corpus import Corpus
_never = threading.Event()
_search = Corpus.search_sync
def _held(self, query, k=10):
    if query.startswith("Sweden"):
        _never.wait()
    return _search(self, query, k)
Corpus.search_sync = _held
"""

WAIT_FOR_RESEARCH = """
async for event in workflow.events.subscribe(run.request_id):
    if event.type == "stage_started" and event.stage.value == "research_execution":
        break
print("in research")
"""


def test_a_run_killed_with_its_kernel_resumes_in_a_new_kernel_to_the_same_report(tmp_path: Path) -> None:
    env = {"RESEARCH_NB_DATA_DIR": str(tmp_path / "data")}
    with kernel_session(env=env) as first:
        first.run("%load_ext research_nb\nfrom research_nb import workflow")
        first.run(HOLD_RESEARCH)
        first.run(f'run = %research --no-widget "{QUESTION}"')
        first.run(WAIT_FOR_RESEARCH, timeout=120)
        request_id = first.eval("run.request_id")
        os.kill(first.km.provisioner.pid, signal.SIGKILL)  # no shutdown hook, no atexit: the process is gone
        first.km.provisioner.process.wait(timeout=10)

    stored = RunStore(tmp_path / "data" / "runs").load(request_id)
    assert not stored.is_finished  # it died mid-run; the file holds the last completed stage
    assert [s.value for s in stored.completed_stages] == ["clarification", "brief_generation"]

    with kernel_session(env=env) as second:
        second.run("%load_ext research_nb\nfrom research_nb import workflow")
        listing = second.run("%research list").stdout
        assert request_id in listing
        second.run(f"resumed = %research resume {request_id}\nstate = await resumed", timeout=120)
        assert second.eval("state.current_stage.value") == "completed"
        second.run(f'fresh = await workflow.run("{QUESTION}")', timeout=120)
        assert second.eval("state.report.markdown == fresh.report.markdown") is True
        assert second.eval("len(state.report.references)") >= 16
