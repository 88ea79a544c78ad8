"""The on-disk cache: analysed segments keyed by content, and a manifest that saves re-hashing unchanged files.

Layout under the cache directory (`$RESEARCH_NB_CACHE_DIR`, else `$XDG_CACHE_HOME/research-nb`, else
`~/.cache/research-nb`):

    corpus-v<FORMAT_VERSION>/manifest.json          {absolute path: [size, mtime_ns, sha256]}
    corpus-v<FORMAT_VERSION>/segments/<key>.json    documents and passages of one input
    corpus-v<FORMAT_VERSION>/segments/<key>.npz     their analysed terms
    corpus-v<FORMAT_VERSION>/indexes/<key>/         the store (documents, passages, index: `_store`) built from
                                                    a given list of segments; memory-mapped when open

A file whose size and mtime match the manifest keeps its recorded hash; any other file is hashed, and only a
hash with no segment yet is read and analysed. A cache that cannot be written costs speed, never correctness.

A cache heals: an entry that fails to load for any reason (a truncated or garbled file, a zero-length file, a
foreign format, a folder where a file should be, an unreadable file) is deleted and rebuilt from its input, with
one warning that names it; a damaged manifest only costs re-hashing the files.

The cache is kept under a size cap, least recently used entries first (`_retention`); a store is built in a
scratch folder and renamed into place whole, so no reader ever sees half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from research_nb.sources import _prebuilt, _retention
from research_nb.sources._atomic import atomic_write
from research_nb.sources._index import BM25FParams
from research_nb.sources._inputs import InputFile
from research_nb.sources._loaders import read_blocks
from research_nb.sources._segment import Segment
from research_nb.sources._store import Store, StoreWriter

#: Bump when loaders, the analyser or the segment format change: old entries are then simply not found.
#: 4: index stores (memory-mapped folders) instead of one .npz per index.
FORMAT_VERSION = 4  # bump whenever a loader or converter changes what it produces


def default_cache_dir() -> Path:
    configured = os.environ.get("RESEARCH_NB_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec ignores a relative XDG_CACHE_HOME: it would depend on the working folder.
    base = Path(xdg).expanduser() if xdg and Path(xdg).expanduser().is_absolute() else Path.home() / ".cache"
    return base / "research-nb"


_Entry = TypeVar("_Entry")


def segment_key(*parts: str) -> str:
    digest = hashlib.sha256(str(FORMAT_VERSION).encode())
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:32]


class SegmentCache:
    def __init__(self, cache_dir: Path) -> None:
        self.root = cache_dir / f"corpus-v{FORMAT_VERSION}"
        self._manifest_path = self.root / "manifest.json"
        self._manifest: dict[str, list[int | str]] | None = None
        self._manifest_changed = False
        self.write_error: str | None = None
        self.repairs: list[str] = []  # one line per damaged entry discarded in this session
        self.seeded: list[str] = []  # keys of the stores copied from the package (`_seed`) in this session

    def content_hash(self, file: InputFile) -> str:
        """The file's sha256, from the manifest when its size and mtime are unchanged."""
        manifest = self._load_manifest()
        entry = manifest.get(str(file.path))
        if entry is not None and entry[0] == file.size and entry[1] == file.mtime_ns:
            return str(entry[2])
        digest = hashlib.sha256()
        for block in read_blocks(file.path):
            digest.update(block)
        manifest[str(file.path)] = [file.size, file.mtime_ns, digest.hexdigest()]
        self._manifest_changed = True
        return digest.hexdigest()

    def get(self, key: str, what: str) -> Segment | None:
        """The cached segment of `what` (an input's displayed name), or None: never cached, or damaged."""
        prefix = self.segment_prefix(key)
        files = (prefix.with_suffix(".json"), prefix.with_suffix(".npz"))
        segment = self._heal(lambda: Segment.load(prefix), what, *files)
        if segment is not None:
            _retention.touch(files)  # used now: eviction takes the least recently used first
        return segment

    def put(self, key: str, segment: Segment) -> bool:
        """Save the segment under `key`; False when the cache cannot be written (`write_error` says why)."""
        try:
            segment.save(self.segment_prefix(key))
        except OSError as exc:
            self.write_error = f"cannot write the corpus cache in {self.root}: {exc.strerror or exc}"
            return False
        return True

    def segment_prefix(self, key: str) -> Path:
        """Where the segment `key` is saved (`Segment.save` / `Segment.load` take it)."""
        return self.root / "segments" / key

    def get_store(self, key: str, num_inputs: int) -> Store | None:
        """The cached store of `num_inputs` inputs, or None: never cached, or damaged (then discarded)."""
        folder = self.root / "indexes" / key

        def load() -> Store | None:
            store = Store(folder) if folder.exists() else self._seed(key)
            if store is None:
                return None
            if len(store.inputs) != num_inputs:
                raise ValueError(f"it holds {len(store.inputs)} inputs, not {num_inputs}")
            return store

        return self._heal(load, "the search index", folder)

    def _seed(self, key: str) -> Store | None:
        """The store `key` copied into the cache from the package, if it ships one (`_prebuilt`); None otherwise,
        and when the cache cannot be written (the store is then built, in a temporary folder as usual)."""
        source = _prebuilt.packaged((self.root / "indexes" / key).relative_to(self.root.parent))
        if source is None:
            return None
        scratch = self._scratch(key)
        try:
            shutil.rmtree(scratch, ignore_errors=True)
            _prebuilt.copy_store(source, scratch)
        except OSError:
            shutil.rmtree(scratch, ignore_errors=True)
            return None
        store = self.put_store(key, scratch, frozenset())
        self.seeded.append(key)
        return store

    def _scratch(self, key: str) -> Path:
        """A folder of this process and thread to build the store `key` in, renamed into place when whole."""
        return self.root / "indexes" / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"

    def new_store(self, key: str, params: BM25FParams) -> tuple[StoreWriter, Path]:
        """A writer into a scratch folder for the store `key`: in the cache, or in a temporary folder (deleted
        when the corpus that uses it is) when the cache cannot be written."""
        try:
            scratch = self._scratch(key)
            shutil.rmtree(scratch, ignore_errors=True)
            return StoreWriter(scratch, params), scratch
        except OSError as exc:
            self.write_error = f"cannot write the corpus cache in {self.root}: {exc.strerror or exc}"
            scratch = Path(tempfile.mkdtemp(prefix="research-nb-index-"))
            return StoreWriter(scratch, params), scratch

    def put_store(self, key: str, scratch: Path, keep: frozenset[str]) -> Store:
        """Move a finished scratch store into place (unless another process got there first) and open it; then
        bring the cache under its size cap, never evicting what this corpus uses."""
        folder = self.root / "indexes" / key
        if scratch.parent != folder.parent:  # built outside the cache: used from there
            store = Store(scratch)
            weakref.finalize(store, shutil.rmtree, scratch, True)
            return store
        try:
            os.rename(scratch, folder)
        except OSError:  # the same store, built meanwhile by another process: use that one
            shutil.rmtree(scratch, ignore_errors=True)
        store = Store(folder)
        try:
            _retention.enforce(self.root, _retention.max_cache_bytes(), keep | {key})
        except (OSError, ValueError) as exc:
            self.write_error = f"cannot trim the corpus cache in {self.root}: {exc}"
        return store

    @staticmethod
    def discard_scratch(scratch: Path) -> None:
        shutil.rmtree(scratch, ignore_errors=True)

    def save_manifest(self) -> None:
        if not self._manifest_changed or self._manifest is None:
            return
        try:
            with atomic_write(self._manifest_path) as scratch:
                scratch.write_text(json.dumps(self._manifest, sort_keys=True), encoding="utf-8")
            self._manifest_changed = False
        except OSError as exc:
            self.write_error = f"cannot write the corpus cache in {self.root}: {exc.strerror or exc}"

    def _load_manifest(self) -> dict[str, list[int | str]]:
        if self._manifest is None:
            self._manifest = self._heal(self._read_manifest, "the manifest", self._manifest_path) or {}
        return self._manifest

    def _read_manifest(self) -> dict[str, list[int | str]] | None:
        try:
            loaded = json.loads(self._manifest_path.read_bytes())
        except (FileNotFoundError, NotADirectoryError):  # never saved (or no cache folder at all)
            return None
        if not isinstance(loaded, dict):
            raise ValueError("not a JSON object")
        # Entries of another shape are dropped one by one: their files are hashed again.
        return {
            path: entry
            for path, entry in loaded.items()
            if isinstance(entry, list)
            and len(entry) == 3
            and all(isinstance(part, int) for part in entry[:2])
            and isinstance(entry[2], str)
        }

    def _heal(self, load: Callable[[], _Entry | None], what: str, *files: Path) -> _Entry | None:
        """`load()`, or None after discarding `files` when it fails. Any exception means a damaged entry: a
        truncated zip raises BadZipFile or EOFError, garbage raises ValueError or zlib.error, a folder in the
        file's place IsADirectoryError; none of them may stop a run or recur in the next one."""
        try:
            return load()
        except Exception as exc:
            reason = type(exc).__name__ if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"[:120]
            discarded = _discard(files)
            self.repairs.append(
                f"the corpus cache entry for {what} was damaged ({reason}); "
                + ("discarded it and rebuilt it" if discarded else f"rebuilt it, but cannot delete it in {self.root}")
            )
            return None


def _discard(files: tuple[Path, ...]) -> bool:
    """Delete cache files (or folders in their place); False when one could not be deleted (read-only cache)."""
    removed = True
    for file in files:
        try:
            if file.is_dir() and not file.is_symlink():
                shutil.rmtree(file)
            else:
                file.unlink(missing_ok=True)
        except OSError:
            removed = False
    return removed
