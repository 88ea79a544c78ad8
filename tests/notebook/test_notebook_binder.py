"""The notebooks run as Binder runs them: a fresh environment built from `binder/` alone (its pinned requirements,
then `postBuild`, which installs research-nb from this repository), no keys, and the same outputs as committed."""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import venv
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def binder_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment set up as repo2docker does: requirements, then postBuild with its bin on PATH."""
    home = tmp_path_factory.mktemp("binder")
    env_dir = home / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "RESEARCH_NB_CACHE_DIR": str(home / "cache"),
    }
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", "binder/requirements.txt"], cwd=ROOT, env=env, check=True)
    subprocess.run(["bash", "binder/postBuild"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return bin_dir / "python"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_notebook_runs_in_the_binder_environment_with_its_committed_outputs(
    binder_python: Path, path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = nbformat.read(path, as_version=4)
    fresh = nbformat.read(path, as_version=4)
    fresh.cells.append(
        nbformat.v4.new_code_cell("import sys, research_nb\nprint(sys.prefix)\nprint(research_nb.__file__)")
    )
    spec_dir = tmp_path / "kernels" / "binder"
    spec_dir.mkdir(parents=True)
    argv = [str(binder_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "binder", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))  # where jupyter_client looks for the "binder" kernel
    monkeypatch.setenv("RESEARCH_NB_CACHE_DIR", str(binder_python.parents[2] / "cache"))
    monkeypatch.delenv("PYTHONPATH", raising=False)

    NotebookClient(
        fresh, kernel_name="binder", timeout=300, resources={"metadata": {"path": str(path.parent)}}
    ).execute()

    where = fresh.cells.pop().outputs[0].text.split()
    assert where[0] == str(binder_python.parents[1])  # the kernel ran in the Binder environment
    assert where[1].startswith(str(binder_python.parents[1]))  # on research-nb as postBuild installed it
    assert outputs(fresh) == outputs(committed)


def outputs(notebook: Any) -> list[list[str]]:
    """What each code cell showed, as nbval compares it: a stream's pieces joined (how a print is split into
    messages varies), sanitized, widget views left out."""
    patterns = _sanitize_patterns()
    shown = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        texts = [
            f"{name}: " + "".join(o.text for o in cell.outputs if o.get("name") == name)
            for name in ("stdout", "stderr")
        ]
        for output in cell.outputs:
            if output.output_type in ("execute_result", "display_data"):
                texts += [output.data[m] for m in ("text/plain", "text/markdown") if m in output.data]
            elif output.output_type == "error":
                texts.append(f"{output.ename}: {output.evalue}")
        for regex, replace in patterns:
            texts = [regex.sub(replace, text) for text in texts]
        shown.append(texts)
    return shown


def _sanitize_patterns() -> list[tuple[re.Pattern[str], str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / "notebooks" / "sanitize.cfg")
    return [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]
