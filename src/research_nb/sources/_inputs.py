"""Turning the user's paths (files, folders, globs) into the list of files to index, with stable document ids.

A document id is `file:<root name>/<path inside the root>` for a file found in a folder or by a glob, and
`file:<name>` for a file given directly: it does not depend on the working directory or on where the folder
lives, so ids (and citations) survive moving a project around.
"""

from __future__ import annotations

import glob
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from research_nb.core.errors import SourceError
from research_nb.sources._loaders import loader_for

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class InputFile:
    """One file to index: where it is, its document id and displayed path, and its stat for change detection."""

    path: Path
    doc_id: str
    display: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class ResolvedInputs:
    files: tuple[InputFile, ...]
    warnings: tuple[str, ...]
    ignored: int  # files in folders with a type the corpus does not read


def resolve_inputs(paths: Sequence[str | Path]) -> ResolvedInputs:
    """Expand folders (recursively, hidden entries skipped) and globs, in a deterministic order.

    Raises SourceError for a path that does not exist or a glob that matches nothing: that is a typo the user
    must see at once. A folder without any readable file is only a warning.
    """
    found: list[tuple[Path, str]] = []  # (absolute path, displayed relative path)
    warnings: list[str] = []
    ignored = 0
    for raw in paths:
        text = os.path.expanduser(str(raw))
        if _GLOB_CHARS & set(text):
            base = _glob_base(text)
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise SourceError(f"No file matches {str(raw)!r}: check the pattern")
            for match in matches:
                if match.is_dir():
                    folder_files, folder_ignored = _walk(match)
                    ignored += folder_ignored
                    found.extend((f, _display(f, base)) for f in folder_files)
                elif match.is_file():
                    found.append((match.resolve(), _display(match.resolve(), base)))
            continue
        path = Path(text)
        if not path.exists():
            raise SourceError(f"No such file or folder: {str(raw)!r}")
        path = path.resolve()
        if path.is_dir():
            folder_files, folder_ignored = _walk(path)
            ignored += folder_ignored
            if not folder_files:
                warnings.append(f"skipped {path.name}/: no files of a supported type in this folder")
            found.extend((f, _display(f, path)) for f in folder_files)
        else:
            found.append((path, path.name))
    return ResolvedInputs(_unique(found), tuple(warnings), ignored)


def _walk(folder: Path) -> tuple[list[Path], int]:
    files: list[Path] = []
    ignored = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            file = Path(root, name)
            if loader_for(file) is None:
                ignored += 1
            else:
                files.append(file.resolve())
    return files, ignored


def _glob_base(pattern: str) -> Path:
    """The folder a glob is relative to: its leading part without wildcards."""
    fixed = list(itertools.takewhile(lambda part: not _GLOB_CHARS & set(part), Path(pattern).parts))
    return Path(*fixed).resolve() if fixed else Path.cwd()


def _display(file: Path, base: Path) -> str:
    """`<base name>/<path under base>`, or the bare relative path when the base is the filesystem root."""
    base = base.resolve()
    try:
        relative = file.relative_to(base).as_posix()
    except ValueError:
        return file.name
    return f"{base.name}/{relative}" if base.name else relative


def _unique(found: list[tuple[Path, str]]) -> tuple[InputFile, ...]:
    """Drop repeated files; give distinct files that would share an id a numbered suffix, in order."""
    seen: set[Path] = set()
    used: set[str] = set()
    files: list[InputFile] = []
    for path, display in found:
        if path in seen:
            continue
        seen.add(path)
        doc_id, n = f"file:{display}", 1
        while doc_id in used:
            n += 1
            doc_id = f"file:{display}~{n}"
        used.add(doc_id)
        stat = path.stat()
        files.append(InputFile(path, doc_id, display, stat.st_size, stat.st_mtime_ns))
    return tuple(files)
