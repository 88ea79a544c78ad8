"""Durable runs in real kernels: a kernel killed with SIGKILL at any of 20 points of a run (from the moment the run
is accepted, through its first stage, to its very last save) leaves a run that a new kernel resumes to the same
report, byte for byte, as a run that was never interrupted (killed after that last save, it is stored finished); a
run that another live kernel drives is shown as
running there and never taken over; a damaged store costs one line per damaged file.

Kill points are chosen by what the run does (the n-th event of a kind, the n-th save, a save torn between writing
and renaming), never by time: inside the doomed kernel, a wrapper sends SIGKILL to its own process at that point.
"""

from __future__ import annotations

import json
from pathlib import Path

from kernel_session import kernel_session
from research_nb.core.store import RunStore

QUESTION = "How do the economies of Norway and Sweden differ?"

# Installed in a doomed kernel: SIGKILL its own process at POINT, after writing the run's id to MARKER.
#   ("accepted", None, 1)        just after the run was stored PENDING, before the magic returns
#   ("event", (type, stage), n)  just after the n-th event of that type (and stage, if given) was sent
#   ("torn", None, n)            inside the n-th save, its file written but not yet renamed into place
KILLER = """
import os, signal
from pathlib import Path
import research_nb.core.store as store_module
from research_nb import workflow
from research_nb.core.store import RunStore

KIND, WHAT, NTH = {point!r}
_seen = {{}}
workflow.max_unsaved_seconds = 0  # every stage saved, even a quick one: each save is a point to kill at

def _due(key):
    _seen[key] = _seen.get(key, 0) + 1
    return _seen[key] == NTH

def _die(request_id):
    Path({marker!r}).write_text(request_id)
    os.kill(os.getpid(), signal.SIGKILL)

_emit = workflow.events.emit
def _emit_then_die(event):
    _emit(event)
    kind, stage = WHAT or (None, None)
    if KIND == "event" and event.type == kind and stage in (None, getattr(event, "stage", None)) and _due(WHAT):
        _die(event.request_id)
workflow.events.emit = _emit_then_die

_save = RunStore.save
def _save_then_die(self, state):
    path = _save(self, state)
    if KIND == "accepted" and _due("save"):
        _die(state.request_id)
    return path
RunStore.save = _save_then_die

_into_place = store_module._into_place
def _torn(temporary, target, **how):
    if KIND == "torn" and _due("replace"):
        _die(Path(target).stem)
    _into_place(temporary, target, **how)
store_module._into_place = _torn
"""

KILL_POINTS = [
    ("accepted", None, 1),
    ("event", ("run_started", None), 1),
    ("event", ("stage_started", "clarification"), 1),  # inside the first stage
    ("torn", None, 2),  # the first stage's checkpoint torn
    ("event", ("stage_finished", "clarification"), 1),
    ("event", ("stage_started", "brief_generation"), 1),
    ("torn", None, 3),
    ("event", ("stage_finished", "brief_generation"), 1),
    ("event", ("stage_started", "research_execution"), 1),
    ("event", ("sub_question", None), 1),
    ("event", ("source_found", None), 1),
    ("event", ("source_found", None), 2),
    ("event", ("sub_question", None), 4),
    ("torn", None, 4),
    ("event", ("stage_finished", "research_execution"), 1),
    ("event", ("stage_started", "compression"), 1),
    ("torn", None, 5),
    ("event", ("stage_finished", "compression"), 1),
    ("event", ("stage_started", "report_generation"), 1),
    # The last save torn: the report stage's, which is also the finished run's. The run had finished, in memory
    # only; on disk it is still at its report stage.
    ("torn", None, 6),
]
# Killed once that last save is in place: nothing is left to resume, the run is stored finished.
AFTER_THE_LAST_SAVE = ("event", ("stage_finished", "report_generation"), 1)

RESUME_ALL = """
import json
from research_nb import workflow

def same(report, other):
    skip = {{"metadata": {{"created_at"}}}}
    return report.model_dump_json(exclude=skip) == other.model_dump_json(exclude=skip)

fresh = await workflow.run({question!r})
results = {{}}
for request_id in {ids!r}:
    resumed = get_ipython().run_line_magic("research", f"resume {{request_id}}")
    state = await resumed
    results[request_id] = [state.current_stage.value, state.report.markdown == fresh.report.markdown,
                           same(state.report, fresh.report), len(state.report.references)]
print(json.dumps(results))
"""


def kill_at(point: tuple[object, ...], env: dict[str, str], marker: Path) -> str:
    """Start a run in a new kernel, let the kernel SIGKILL itself at `point`; the run's id."""
    with kernel_session(env=env) as doomed:
        doomed.run("%load_ext research_nb")
        doomed.run(KILLER.format(point=point, marker=str(marker)))
        doomed.submit(f'run = %research --no-widget "{QUESTION}"')
        doomed.km.provisioner.process.wait(timeout=120)  # type: ignore[attr-defined]
    return marker.read_text()


def test_a_kernel_killed_at_any_of_20_points_leaves_a_run_resumed_to_the_same_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"RESEARCH_NB_DATA_DIR": str(data)}
    store = RunStore(data / "runs")
    killed: dict[str, tuple[object, ...]] = {}
    for n, point in enumerate(KILL_POINTS):
        request_id = kill_at(point, env, tmp_path / f"killed-{n}")
        stored = store.find(request_id)
        assert stored is not None and not stored.is_finished, point  # on disk, and not falsely finished
        killed[request_id] = point
    finished = store.find(kill_at(AFTER_THE_LAST_SAVE, env, tmp_path / "killed-finished"))
    assert finished is not None and finished.current_stage.value == "completed" and finished.report is not None
    listing = store.scan()
    assert listing.damaged == [] and {r.request_id for r in listing.runs} == {*killed, finished.request_id}

    with kernel_session(env=env) as second:
        second.run("%load_ext research_nb")
        shown = second.run("%research list")
        for request_id in killed:
            assert " interrupted at " in shown.row_of(request_id)
        output = second.run(RESUME_ALL.format(question=QUESTION, ids=list(killed)), timeout=300).stdout
    results = json.loads(output)
    for request_id, point in killed.items():
        stage, same_markdown, same_report, references = results[request_id]
        assert (stage, same_markdown, same_report) == ("completed", True, True), point
        assert references >= 16


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
import os
print(os.getpid())
"""


def test_a_run_another_live_kernel_drives_is_shown_there_and_resumed_only_once_that_kernel_died(
    tmp_path: Path,
) -> None:
    # HOLD_RESEARCH patches the corpus in the kernel: the offline engine's stages must run there, not in a worker.
    env = {"RESEARCH_NB_DATA_DIR": str(tmp_path / "data"), "RESEARCH_NB_WORKERS": "off"}
    store = RunStore(tmp_path / "data" / "runs")
    with kernel_session(env=env) as first, kernel_session(env=env) as second:
        first.run("%load_ext research_nb\nfrom research_nb import workflow")
        first.run("workflow.max_unsaved_seconds = 0")  # its quick brief saved at once, as a slower one would be
        first.run(HOLD_RESEARCH)
        first.run(f'run = %research --no-widget "{QUESTION}"')
        pid = int(first.run(WAIT_FOR_RESEARCH, timeout=120).stdout)
        request_id = first.eval("run.request_id")
        saved = store.load(request_id)

        second.run("%load_ext research_nb")
        assert f" running in process {pid} (stored) " in second.run("%research list").row_of(request_id)
        opened = second.run(f"opened = %research open {request_id}\nopened.status")
        assert opened.text == "'running'" and opened.stderr == ""  # running in the first kernel, not "cancelled"
        refused = second.run(f"%research resume {request_id}")
        assert refused.stderr.strip() == (
            f"%research: run {request_id} is being run by process {pid}; "
            "follow it there, or resume it here once it stopped"
        )
        assert store.load(request_id) == saved  # neither rewritten as interrupted nor run a second time
        assert first.eval("run.status") == "running"

        first.km.provisioner.process.kill()  # type: ignore[attr-defined]  # SIGKILL: only the OS drops its lease
        first.km.provisioner.process.wait(timeout=10)  # type: ignore[attr-defined]
        assert " interrupted at brief_generation (stored) " in second.run("%research list").row_of(request_id)
        second.run(f"resumed = %research resume {request_id}\nstate = await resumed", timeout=120)
        assert second.eval("state.current_stage.value") == "completed"


def test_a_damaged_store_costs_one_line_per_file_in_a_kernel(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runs = data / "runs"
    with kernel_session(env={"RESEARCH_NB_DATA_DIR": str(data)}) as kernel:
        kernel.run("%load_ext research_nb\nfrom research_nb import workflow")
        good = kernel.run(f'state = await workflow.run("{QUESTION}")\nprint(state.request_id)', timeout=120)
        request_id = good.stdout.strip()
        (runs / "truncated.json").write_text('{"request_id": "truncated", "user_query": "Nor')
        (runs / "latin1.json").write_bytes(b'{"request_id": "latin1", "user_query": "caf\xe9"}')
        (runs / "broken-link.json").symlink_to(runs / "gone.json")
        (runs / "a-folder.json").mkdir()
        (runs / "odd name.json").write_text("{}")

        listing = kernel.run("%research list")
        assert listing.row_of(request_id)
        skipped = listing.stderr.strip().splitlines()
        assert len(skipped) == 5 and all(line.startswith(f"%research: skipped {runs}/") for line in skipped)

        for command in ("open truncated", "resume latin1", "resume broken-link", "open a-folder"):
            refused = kernel.run(f"%research {command}")
            assert refused.error is None and len(refused.stderr.strip().splitlines()) == 1
            assert refused.stderr.startswith("%research: the stored run ") and "cannot be read" in refused.stderr

        for question in ('"How do \\ud800 Norway and Sweden differ?"', '"\\0\\0\\0"'):
            refused = kernel.run(f"get_ipython().run_line_magic('research', '{question}')")  # Python reads the escapes
            assert refused.error is None and refused.stderr.startswith("%research: the research question holds")
        assert "research_execution" not in kernel.run("%research list").stdout  # nothing was started
        assert kernel.eval("len(workflow.list_states())") == 1
