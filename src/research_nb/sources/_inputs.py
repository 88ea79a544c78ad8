"""Turning the user's paths (files, folders, globs) into the list of files to index, with stable document ids.

A document id is `file:<root name>/<path inside the root>` for a file found in a folder or by a glob, and
`file:<name>` for a file given directly: it does not depend on the working directory or on where the folder
lives, so ids (and citations) survive moving a project around.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISBLK, S_ISCHR, S_ISDIR, S_ISFIFO, S_ISREG, S_ISSOCK

from research_nb.core.blocking import check_stop
from research_nb.core.errors import SourceError
from research_nb.sources._loaders import loader_for
from research_nb.sources.paths import GLOB_CHARS, existing_path


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
    must see at once. A folder without any readable file is only a warning, and so is each entry that is not a
    regular file (a named pipe, a device such as /dev/zero, a socket), a broken link, a symlink loop, or a link
    back to a folder already walked (a cycle): such entries are never opened, so nothing can hang on them.
    """
    walk = _Walk()
    files = tuple(walk.files(paths))
    return ResolvedInputs(files, tuple(walk.warnings), walk.ignored)


def inputs_hold(paths: Sequence[str | Path], nbytes: int) -> bool:
    """Whether the files `resolve_inputs(paths)` finds hold `nbytes` or more in all. It stops at the first files
    that do: deciding where a run over a 200,000-file folder goes must not stat every file (in the kernel)."""
    total = 0
    for file in _Walk().files(paths):
        total += file.size
        if total >= nbytes:
            return True
    return False


def check_inputs(paths: Sequence[str | Path]) -> None:
    """Raise what `resolve_inputs` raises for a path that does not exist or a glob that matches nothing, without
    walking any folder: a front rejects a typo at once, however many files a folder holds."""
    for _ in _given(paths):
        pass


def _given(paths: Sequence[str | Path]) -> Iterator[tuple[Path, str, bool]]:
    """Each path the user gave, or each match of a glob: the path, how it is displayed (for a folder, the root of
    its files' displayed paths), and whether the user named it (not a glob's match)."""
    for raw in paths:
        check_stop()
        text = os.path.expanduser(str(raw))
        if GLOB_CHARS & set(text):
            base, matches = _glob(text)
            if not matches:
                raise SourceError(f"No file matches {str(raw)!r}: check the pattern")
            for match in matches:
                yield match, _display(match, base), False
            continue
        path = existing_path(raw)
        yield path, path.resolve().name if path.is_dir() else path.name, True


@dataclass(frozen=True, slots=True)
class _Found:
    path: Path  # as reached (through links): opening it reads the file the user meant
    display: str


class _Walk:
    """One expansion of the user's paths, file by file as it goes (so a caller may stop early), and what it
    warned of and ignored on the way."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.ignored = 0  # files in folders with a type the corpus does not read

    def files(self, paths: Sequence[str | Path]) -> Iterator[InputFile]:
        return _unique(self._found(paths), self.warnings)

    def _found(self, paths: Sequence[str | Path]) -> Iterator[_Found]:
        for path, display, given in _given(paths):
            if not path.is_dir():
                yield _Found(path, display)
                continue
            empty = True
            for found in self._folder(path, display):
                empty = False
                yield found
            if empty and given:
                self.warnings.append(f"skipped {display}/: no files of a supported type in this folder")

    def _folder(self, folder: Path, display: str) -> Iterator[_Found]:
        """The supported files under `folder` (links to folders are followed once; a link back to a folder already
        walked is a warning, so a cycle ends); files of other types are counted in `ignored`."""
        walked = {_identity(folder)}
        for root, dirs, names in os.walk(folder, followlinks=True):
            check_stop()  # a huge folder tree: a cancelled run stops walking it
            relative = Path(root).relative_to(folder)
            kept = []
            for name in sorted(d for d in dirs if not d.startswith(".")):
                shown = _join(display, relative, name)
                try:
                    identity = _identity(Path(root, name))
                except OSError as exc:
                    self.warnings.append(f"skipped {shown}/: {_stat_problem(exc)}")
                    continue
                if identity in walked:
                    self.warnings.append(
                        f"skipped {shown}/: a link back to a folder already included (a symlink cycle)"
                    )
                    continue
                walked.add(identity)
                kept.append(name)
            dirs[:] = kept
            for name in sorted(names):
                if name.startswith("."):
                    continue
                file = Path(root, name)
                if loader_for(file) is None:
                    self.ignored += 1
                else:
                    yield _Found(file, _join(display, relative, name))


def _identity(folder: Path) -> tuple[int, int]:
    stat = folder.stat()
    return stat.st_dev, stat.st_ino


def _join(display: str, relative: Path, name: str) -> str:
    parts = [display, *relative.parts, name] if display else [*relative.parts, name]
    return "/".join(p for p in parts if p and p != ".")


def _glob(pattern: str) -> tuple[Path, list[Path]]:
    """The folder a glob is relative to (its leading part without wildcards) and its matches, hidden entries
    left out. pathlib's `**` does not descend into linked folders, so a link cycle cannot make it run away."""
    parts = Path(pattern).parts
    fixed = list(itertools.takewhile(lambda part: not GLOB_CHARS & set(part), parts))
    base = Path(os.path.abspath(Path(*fixed))) if fixed else Path.cwd()
    rest = "/".join(parts[len(fixed) :])
    matches = [m for m in base.glob(rest) if not any(p.startswith(".") for p in m.relative_to(base).parts)]
    return base, sorted(matches)


def _display(file: Path, base: Path) -> str:
    """`<base name>/<path under base>`, or the bare relative path when the base is the filesystem root."""
    base = Path(os.path.abspath(base))
    try:
        relative = Path(os.path.abspath(file)).relative_to(base).as_posix()
    except ValueError:
        return file.name
    return f"{base.name}/{relative}" if base.name else relative


def _unique(found: Iterable[_Found], warnings: list[str]) -> Iterator[InputFile]:
    """Regular files only, each once; distinct files that would share an id get a numbered suffix, in order."""
    seen: set[tuple[int, int]] = set()
    used: set[str] = set()
    for entry in found:
        try:
            stat = entry.path.stat()  # follows links: what a read would open
        except OSError as exc:
            warnings.append(f"skipped {entry.display}: {_stat_problem(exc)}")
            continue
        if not S_ISREG(stat.st_mode):
            warnings.append(f"skipped {entry.display}: not a regular file ({_file_kind(stat.st_mode)})")
            continue
        if (stat.st_dev, stat.st_ino) in seen:
            continue
        seen.add((stat.st_dev, stat.st_ino))
        doc_id, n = f"file:{entry.display}", 1
        while doc_id in used:
            n += 1
            doc_id = f"file:{entry.display}~{n}"
        used.add(doc_id)
        path = Path(os.path.realpath(entry.path))
        yield InputFile(path, doc_id, entry.display, stat.st_size, stat.st_mtime_ns)


def _stat_problem(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symlink loop"
    if exc.errno == errno.ENOENT:
        return "a broken link"
    return f"unreadable ({exc.strerror or type(exc).__name__})"


def _file_kind(mode: int) -> str:
    if S_ISFIFO(mode):
        return "a named pipe"
    if S_ISCHR(mode) or S_ISBLK(mode):
        return "a device"
    if S_ISSOCK(mode):
        return "a socket"
    if S_ISDIR(mode):
        return "a folder"
    return "a special file"
