"""Columns of strings on disk: one UTF-8 blob and its offsets, memory-mapped, read one string at a time.

Why not JSON or a list of str: a million passages' texts are most of a gigabyte; as Python objects they would
take seconds to load and twice that in memory. A column is two `.npy` files (`<name>.blob.npy`, the bytes, and
`<name>.offsets.npy`, where each string starts), opened with `mmap_mode="r"`: opening reads nothing, and reading
string i touches only its own pages. A column may hold None (`<name>.nulls.npy` marks them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt


def mapped(path: Path) -> npt.NDArray[Any]:
    """The array saved in `path`, memory-mapped read-only, as a plain ndarray view: slicing an `np.memmap`
    builds a memmap object each time (microseconds), slicing a view of it does not (this is the search's hot
    path). Raises what a damaged file makes `np.load` raise."""
    try:
        array = np.load(path, mmap_mode="r")
    except ValueError:
        if path.stat().st_size > 4096:  # a real array that does not map: damage
            raise
        return np.asarray(np.load(path, allow_pickle=False))  # an empty array cannot be mapped
    if not isinstance(array, np.memmap):
        raise ValueError(f"{path.name} is not a plain array")
    return array.view(np.ndarray)


class StringColumn(Sequence[str | None]):
    """A read-only column of strings (or None) over memory-mapped arrays."""

    def __init__(
        self, blob: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], nulls: npt.NDArray[np.bool_] | None
    ) -> None:
        self._blob = blob
        self._bytes = memoryview(blob.data)  # slicing a memoryview is the cheapest way to a string's bytes
        self._offsets = offsets
        self._nulls = nulls

    @classmethod
    def open(cls, folder: Path, name: str) -> StringColumn:
        """The column `name` saved in `folder`; ValueError when its files do not fit together."""
        blob = mapped(folder / f"{name}.blob.npy")
        offsets = mapped(folder / f"{name}.offsets.npy")
        nulls_path = folder / f"{name}.nulls.npy"
        nulls = mapped(nulls_path) if nulls_path.exists() else None
        if blob.dtype != np.uint8 or offsets.dtype != np.int64 or offsets.ndim != 1 or not len(offsets):
            raise ValueError(f"column {name} of another format")
        if offsets[0] != 0 or offsets[-1] != len(blob) or (nulls is not None and len(nulls) != len(offsets) - 1):
            raise ValueError(f"column {name}: offsets do not fit its text")
        return cls(blob, offsets, nulls)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> str | None: ...
    @overload
    def __getitem__(self, index: slice) -> list[str | None]: ...
    def __getitem__(self, index: int | slice) -> str | list[str | None] | None:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if self._nulls is not None and self._nulls[index]:
            return None
        return self.raw(index).decode()

    def take(self, rows: Sequence[int]) -> list[str | None]:
        """Strings `rows` at once (a search's results): one array lookup for all their offsets."""
        at = np.asarray(rows, dtype=np.int64)
        starts, ends = self._offsets[at].tolist(), self._offsets[at + 1].tolist()
        blob = self._bytes
        found: list[str | None] = [str(blob[a:b], "utf-8") for a, b in zip(starts, ends, strict=True)]
        if self._nulls is not None:
            for n, null in enumerate(self._nulls[at].tolist()):
                if null:
                    found[n] = None
        return found

    def text(self, index: int) -> str:
        """String `index`, with None read as '' (for columns that never hold None)."""
        return self.raw(index).decode()

    def raw(self, index: int) -> bytes:
        if index < 0:
            index += len(self)
        return bytes(self._bytes[int(self._offsets[index]) : int(self._offsets[index + 1])])


class StringColumnWriter:
    """Appends strings to a column's files as they come (a build never holds a whole column in memory)."""

    def __init__(self, folder: Path, name: str) -> None:
        self._folder = folder
        self._name = name
        self._blob_path = folder / f"{name}.blob.tmp"
        self._blob_path.write_bytes(b"")  # appended to a piece at a time: no file stays open between pieces
        self._lengths: list[npt.NDArray[np.int64]] = []
        self._nulls: list[npt.NDArray[np.bool_]] = []
        self._has_nulls = False

    def extend(self, values: Iterable[str | None]) -> None:
        listed = list(values)
        encoded = [b"" if v is None else v.encode() for v in listed]
        nulls = np.fromiter((v is None for v in listed), dtype=np.bool_, count=len(listed))
        with self._blob_path.open("ab") as blob:
            blob.write(b"".join(encoded))
        self._lengths.append(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
        self._nulls.append(nulls)
        self._has_nulls = self._has_nulls or bool(nulls.any())

    def close(self) -> None:
        """Write the offsets (and nulls) and turn the blob into a `.npy` file."""
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        np.save(self._folder / f"{self._name}.offsets.npy", offsets)
        if self._has_nulls:
            np.save(self._folder / f"{self._name}.nulls.npy", np.concatenate(self._nulls))
        _raw_to_npy(self._blob_path, self._folder / f"{self._name}.blob.npy", int(offsets[-1]))


def _raw_to_npy(raw: Path, target: Path, size: int) -> None:
    """Prefix raw bytes with a `.npy` header (uint8, shape (size,)) by streaming them into a new file."""
    header = {"descr": "|u1", "fortran_order": False, "shape": (size,)}
    with target.open("wb") as out, raw.open("rb") as source:
        np.lib.format.write_array_header_1_0(out, header)
        while block := source.read(1 << 24):
            out.write(block)
    raw.unlink()
