"""Build the indexes the package ships: `python -m research_nb.engines.offline._prebuilt [FOLDER]`.

Run when a wheel (or an editable install) is built (`hatch_build.py`): the default corpus is indexed in a
scratch cache, the engine's reading of it (`Knowledge`) is kept beside it as any later process would keep it,
and the store is put in the package (`research_nb.sources._prebuilt`), so the first research after install
copies it into the user's cache instead of building it. Deterministic: the same inputs give the same files.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from unittest import mock

from research_nb.engines.offline._engine import DEFAULT_CORPORA
from research_nb.engines.offline._knowledge import Knowledge
from research_nb.sources._prebuilt import PACKAGED, package_store
from research_nb.sources.corpus import Corpus


def build(into: Path = PACKAGED) -> Path:
    """Index the default corpus afresh and put it into `into`; returns the packaged store's folder."""
    # From the data, never by copying an older package's index (same key, maybe older code); the process's
    # environment is restored afterwards (patch.dict: the standard library's scoped change of a mapping).
    packaged_off = mock.patch.dict(os.environ, {"RESEARCH_NB_PREBUILT": "0"})
    with packaged_off, tempfile.TemporaryDirectory(prefix="research-nb-prebuild-") as scratch:
        cache = Path(scratch)
        corpus = Corpus.open(builtins=DEFAULT_CORPORA, cache_dir=cache)
        Knowledge.of(corpus).save(corpus)
        target = package_store(corpus.index_folder, cache.resolve(), into)
        Corpus.close_open()
    return target


def main(argv: list[str]) -> None:
    target = build(Path(argv[0]) if argv else PACKAGED)
    size = sum(file.stat().st_size for file in target.iterdir())
    print(f"research-nb: packaged the default corpus's index, {size / 1e6:.1f} MB, in {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
