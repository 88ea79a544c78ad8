"""The public API is small and pinned, and importing it builds nothing heavy."""

import json
import subprocess
import sys

import research_nb
from research_nb.core.task_manager import BackgroundTaskManager, task_manager
from research_nb.core.workflow import ResearchWorkflow, workflow

PUBLIC = {
    "research",
    "research_many",
    "resume_batch",
    "BatchRun",
    "workflow",
    "task_manager",
    "ResearchState",
    "ResearchStage",
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
}


def test_the_public_names_are_pinned() -> None:
    assert set(research_nb.__all__) == PUBLIC
    assert all(hasattr(research_nb, name) for name in PUBLIC)
    assert research_nb.workflow is workflow and isinstance(workflow, ResearchWorkflow)
    assert research_nb.task_manager is task_manager and isinstance(task_manager, BackgroundTaskManager)
    assert research_nb.__version__.count(".") == 2


def test_importing_the_package_builds_nothing_heavy() -> None:
    """`import research_nb` must stay cheap: the notebook front, widgets and the search index load on use."""
    heavy = [
        *("IPython", "ipykernel", "anywidget", "bm25s", "numpy", "scipy", "research_nb.notebook"),
        *("distributed", "pandas"),
    ]
    probe = f"import json, sys, research_nb; print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)

    assert json.loads(result.stdout) == []
