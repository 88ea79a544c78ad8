"""The wheel's build hook: index the default corpus into the package (see `research_nb.sources._prebuilt`).

The first research after install then copies the index instead of building it (under a second where a build
takes 2.5-3.5 s). Runs for wheels and editable installs alike, in a process of its own with `src` on the path,
so it needs research-nb's offline dependencies in the build environment (`build-system.requires`). A failure
fails the build: a wheel without its index would still work, but every user would pay the cold start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class PrebuiltIndexHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        source = Path(self.root) / "src"
        packaged = source / "research_nb" / "sources" / "prebuilt"
        if version != "editable":  # a wheel gets its own copy; the source tree is left as it is
            self._scratch = Path(tempfile.mkdtemp(prefix="research-nb-wheel-"))
            build_data["force_include"][str(self._scratch)] = str(packaged.relative_to(source))
            packaged = self._scratch
        # src goes on sys.path from inside: pip's isolated build environment rewrites the path it starts with.
        code = (
            f"import sys; sys.path.insert(0, {str(source)!r}); from research_nb.engines.offline._prebuilt import main;"
            f" main([{str(packaged)!r}])"
        )
        # No bytecode written into the source tree from here: a wheel's installer compiles what it installs.
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        subprocess.run([sys.executable, "-c", code], env=env, check=True)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
