"""The on-disk cache: analysed segments keyed by content, and a manifest that saves re-hashing unchanged files.

Layout under the cache directory (default `$RESEARCH_NB_CACHE_DIR` or `~/.cache/research-nb`):

    corpus-v<FORMAT_VERSION>/manifest.json          {absolute path: [size, mtime_ns, sha256]}
    corpus-v<FORMAT_VERSION>/segments/<key>.json    documents and passages of one input
    corpus-v<FORMAT_VERSION>/segments/<key>.npz     their analysed terms
    corpus-v<FORMAT_VERSION>/indexes/<key>.npz      the index built from a given list of segments

A file whose size and mtime match the manifest keeps its recorded hash; any other file is hashed, and only a
hash with no segment yet is read and analysed. A cache that cannot be written costs speed, never correctness.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from research_nb.sources._atomic import atomic_write
from research_nb.sources._index import LexicalIndex
from research_nb.sources._inputs import InputFile
from research_nb.sources._segment import Segment

#: Bump when loaders, the analyser or the segment format change: old entries are then simply not found.
FORMAT_VERSION = 3  # bump whenever a loader or converter changes what it produces


def default_cache_dir() -> Path:
    configured = os.environ.get("RESEARCH_NB_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "research-nb"


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

    def content_hash(self, file: InputFile) -> str:
        """The file's sha256, from the manifest when its size and mtime are unchanged."""
        manifest = self._load_manifest()
        entry = manifest.get(str(file.path))
        if entry is not None and entry[0] == file.size and entry[1] == file.mtime_ns:
            return str(entry[2])
        digest = hashlib.sha256()
        with file.path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        manifest[str(file.path)] = [file.size, file.mtime_ns, digest.hexdigest()]
        self._manifest_changed = True
        return digest.hexdigest()

    def get(self, key: str) -> Segment | None:
        return Segment.load(self.root / "segments" / key)

    def put(self, key: str, segment: Segment) -> None:
        try:
            segment.save(self.root / "segments" / key)
        except OSError as exc:
            self.write_error = f"cannot write the corpus cache in {self.root}: {exc.strerror or exc}"

    def get_index(self, key: str) -> LexicalIndex | None:
        return LexicalIndex.load(self.root / "indexes" / f"{key}.npz")

    def put_index(self, key: str, index: LexicalIndex) -> None:
        try:
            index.save(self.root / "indexes" / f"{key}.npz")
        except OSError as exc:
            self.write_error = f"cannot write the corpus cache in {self.root}: {exc.strerror or exc}"

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
            try:
                loaded = json.loads(self._manifest_path.read_text(encoding="utf-8"))
                self._manifest = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._manifest = {}
        return self._manifest
