"""The Jupyter front: `%load_ext research_nb` registers `%research`, `%%research` and the kernel shutdown hook.

In a kernel, loading also starts the research worker, which opens the default corpus in the background
(`research_nb.engines.offline.prebuild`): a first `%research` typed a few seconds later finds the Factbook
indexed and open. Loading works both from a cell and at kernel start
(`c.InteractiveShellApp.extensions = ["research_nb"]`), before the kernel's loop runs: the loop is captured by
the first run. Unloading removes the magics, the `%config` section and the shutdown hook, and stops the widgets'
feeds; runs already going on are left running.
"""

from __future__ import annotations

from typing import Any

from research_nb.core.workflow import workflow
from research_nb.notebook.kernel import ShutdownHook
from research_nb.notebook.magic import ResearchMagics
from research_nb.notebook.run import ResearchRun, start_research
from research_nb.notebook.widget import ResearchWidget, stop_all_feeds

__all__ = [
    "ResearchMagics",
    "ResearchRun",
    "ResearchWidget",
    "load_ipython_extension",
    "start_research",
    "unload_ipython_extension",
]

# what one load installed, per shell, so that unloading removes exactly that
_installed: dict[int, tuple[ResearchMagics, ShutdownHook]] = {}


def load_ipython_extension(ipython: Any) -> None:
    if id(ipython) in _installed:
        return
    magics = ResearchMagics(shell=ipython)
    ipython.register_magics(magics)
    workflow.engines.names()  # scans the installed packages' entry points now, not in the first %research
    kernel = getattr(ipython, "kernel", None)
    hook = ShutdownHook(kernel)
    hook.install()
    _installed[id(ipython)] = (magics, hook)
    if kernel is not None:  # a real kernel (not a plain IPython shell, not a test's stand-in)
        # The research worker starts now and opens the default corpus (the Factbook: its index built the first
        # time, at the worker's low priority), so the first %research finds it open instead of waiting for it.
        # Here, not in a thread: the shutdown hook must see the worker it stops (the engine's import, 0.3 s, is
        # then the first %research's no longer).
        from research_nb.engines.offline import prebuild

        prebuild()


def unload_ipython_extension(ipython: Any) -> None:
    installed = _installed.pop(id(ipython), None)
    if installed is None:
        return
    magics, hook = installed
    for kind, table in ipython.magics_manager.magics.items():
        for name in magics.magics[kind]:
            if table.get(name) == magics.magics[kind][name]:
                del table[name]
    ipython.magics_manager.registry.pop(type(magics).__name__, None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
    hook.uninstall()
    stop_all_feeds()
