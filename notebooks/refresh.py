"""Re-execute the example notebooks in place, so their stored outputs match the current code (nbval compares
them in `make test`). Run it after a change that moves a report:

    .venv/bin/python notebooks/refresh.py [NOTEBOOK ...]

Runs go to a temporary data folder, never the user's.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def refresh(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # timestamps: noise in every diff
    nbformat.write(notebook, path)
    print(f"refreshed {path.relative_to(HERE.parent)}")


def main(argv: list[str]) -> None:
    paths = [Path(a).resolve() for a in argv] or sorted(HERE.glob("*.ipynb"))
    with tempfile.TemporaryDirectory() as data:
        os.environ["RESEARCH_NB_DATA_DIR"] = data
        for path in paths:
            refresh(path)


if __name__ == "__main__":
    main(sys.argv[1:])
