"""research-nb: deep research from inside a Jupyter notebook.

    %load_ext research_nb
    %research "How do the economies of Norway and Sweden differ?"

The public API is kept small and pinned by a test. Importing it builds nothing: the notebook front is imported
only when the extension is loaded or `research()` is called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from research_nb.batch import BatchRun
    from research_nb.core.task_manager import task_manager
    from research_nb.core.workflow import workflow
    from research_nb.models.research import ResearchStage, ResearchState
    from research_nb.notebook.run import ResearchRun

#: The public objects, imported on first use: a process that imports only a part of research-nb (the research
#: worker, a cold start's helper process) does not pay for the workflow, its models and the batch runner (0.3 s).
_LAZY = {
    "BatchRun": "research_nb.batch",
    "task_manager": "research_nb.core.task_manager",
    "workflow": "research_nb.core.workflow",
    "ResearchStage": "research_nb.models.research",
    "ResearchState": "research_nb.models.research",
}

__version__ = "0.1.0"

__all__ = [
    "BatchRun",
    "ResearchStage",
    "ResearchState",
    "__version__",
    "load_ipython_extension",
    "research",
    "research_many",
    "resume_batch",
    "task_manager",
    "unload_ipython_extension",
    "workflow",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'research_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def research(query: str, **options: Any) -> ResearchRun:
    """Start a research run on the running event loop (a notebook's) and return its handle at once.

    `state = await research("question")` waits for it; options are those of `ResearchRequest`
    (`sources=[...]`, `engine=...`, `max_search_results=...`).
    """
    from research_nb.notebook.run import start_research

    return start_research(query, **options)


def research_many(questions: Any, **options: Any) -> BatchRun:
    """Research many questions at once and return the batch's handle at once (a live widget in a notebook).

    `questions`: a list of strings or `(id, question)` pairs, a pandas Series or a DataFrame (`column=`).
    `client=` a `dask.distributed.Client` runs them on its cluster (extra `dask`); `max_concurrency=` bounds the
    runs at once. Other options are those of `research()`. `states = await batch` returns them in input order.
    """
    from research_nb.notebook.batch import start_batch

    return start_batch(questions, **options)


def resume_batch(batch_id: str, **options: Any) -> BatchRun:
    """Continue a batch of an earlier kernel or process: only its questions without a finished run run again
    (`client=`, `max_concurrency=` as for `research_many`)."""
    from research_nb.notebook.batch import resume

    return resume(batch_id, **options)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext research_nb`: registers `%research` and the kernel shutdown hook."""
    from research_nb.notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from research_nb.notebook import unload_ipython_extension as unload

    unload(ipython)
