"""The corpus store: everything a search needs of one combination of inputs, in one folder, memory-mapped.

A store holds the documents, the passages (column-wise) and the lexical index of a corpus. It is built once per
combination of inputs (`StoreWriter`, segment by segment, never holding the corpus in memory) and opened in
milliseconds afterwards (`Store.open`): every array is a `.npy` file opened with `mmap_mode="r"`, so opening reads
only `header.json` and a few offsets, and the resident memory of an open store is the pages searches touched
(the operating system can drop them again at will). Layout of a store folder:

    header.json                     format, counts, the inputs it was built from and their warnings
    d_id, d_title, d_path, d_url    document columns (`_columns.StringColumn`), d_origin / d_attribution (ids
                                    into the header's lists), d_first (a document's first passage)
    p_title, p_text, p_heading      passage columns; p_doc, p_n, p_page, p_cell, p_start, p_end (integers, with
                                    `_NONE` for None); p_rank (each passage id's rank in sorted order: ties in a
                                    ranking are broken by it)
    terms, term_hashes, indptr,     the index (`_index.LexicalIndex`): rows, weights

A document's passages are consecutive (segments add them in reading order), so `d_first` is all a document needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from research_nb.sources._columns import StringColumn, StringColumnWriter, mapped
from research_nb.sources._index import BM25FParams, IndexBuilder, LexicalIndex
from research_nb.sources._segment import Segment

STORE_FORMAT = 1
_NONE = np.iinfo(np.int64).min  # None in an integer column
_INT_COLUMNS = ("page", "cell", "start", "end")
_STRING_COLUMNS = ("title", "text", "heading")


@dataclass(frozen=True, slots=True)
class StoredInput:
    """One input of a store, as `research-nb cache` shows it: its name and the warnings it gave."""

    name: str
    passages: int
    warnings: tuple[str, ...] = ()


class StoreWriter:
    """Builds a store in `folder` (a scratch folder the cache renames into place when `finish` returns)."""

    def __init__(self, folder: Path, params: BM25FParams) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder
        self._index = IndexBuilder(folder, params)
        self._documents = {name: StringColumnWriter(folder, f"d_{name}") for name in ("id", "title", "path", "url")}
        self._passages = {name: StringColumnWriter(folder, f"p_{name}") for name in _STRING_COLUMNS}
        self._ints: dict[str, list[npt.NDArray[np.int64]]] = {name: [] for name in ("doc", "n", *_INT_COLUMNS)}
        self._document_ids: list[str] = []
        self._document_first: list[int] = [0]
        self._origins: dict[str, int] = {}
        self._attributions: dict[str | None, int] = {None: -1}
        self._origin_ids: list[int] = []
        self._attribution_ids: list[int] = []
        self._inputs: list[StoredInput] = []

    @property
    def num_passages(self) -> int:
        return self._index.num_passages

    def add(self, name: str, segment: Segment) -> None:
        """Append one input's documents and passages, and index them."""
        doc_base = len(self._document_ids)
        for doc in segment.documents:
            self._document_ids.append(str(doc["id"]))
            self._origin_ids.append(self._origins.setdefault(str(doc["origin"]), len(self._origins)))
            attribution = doc.get("attribution")
            self._attribution_ids.append(self._attributions.setdefault(attribution, len(self._attributions) - 1))
        for column, writer in self._documents.items():
            writer.extend(
                doc.get(column) if column in ("path", "url") else str(doc[column]) for doc in segment.documents
            )
        passages = segment.passages
        doc_numbers = np.asarray([int(d or 0) for d in passages["doc"]], dtype=np.int64)
        self._document_first.extend(
            (self.num_passages + np.cumsum(np.bincount(doc_numbers, minlength=len(segment.documents)))).tolist()
        )
        self._ints["doc"].append(doc_numbers + doc_base)
        self._ints["n"].append(np.asarray([int(v or 0) for v in passages["n"]], dtype=np.int64))
        for column in _INT_COLUMNS:
            self._ints[column].append(
                np.asarray([_NONE if v is None else int(v) for v in passages[column]], dtype=np.int64)
            )
        for column, writer in self._passages.items():
            writer.extend(None if v is None else str(v) for v in passages[column])
        self._index.add(
            segment.vocabulary, (segment.body.ids, segment.body.offsets), (segment.title.ids, segment.title.offsets)
        )
        self._inputs.append(StoredInput(name, segment.num_passages, tuple(segment.warnings)))

    def finish(self, description: str) -> None:
        """Write the index, the id orders and the header (last: a folder without it is not a store)."""
        self._index.finish()
        for writer in (*self._documents.values(), *self._passages.values()):
            writer.close()
        folder = self._folder
        ints = {name: np.concatenate(parts) if parts else np.zeros(0, np.int64) for name, parts in self._ints.items()}
        for name, values in ints.items():
            np.save(folder / f"p_{name}.npy", values.astype(np.int32) if name in ("doc", "n") else values)
        ids = self._document_ids
        passage_ids = [f"{ids[d]}#{n}" for d, n in zip(ints["doc"].tolist(), ints["n"].tolist(), strict=True)]
        rank = np.empty(len(passage_ids), dtype=np.int64)
        rank[sorted(range(len(passage_ids)), key=passage_ids.__getitem__)] = np.arange(len(passage_ids))
        np.save(folder / "p_rank.npy", rank)
        np.save(folder / "d_first.npy", np.asarray(self._document_first, dtype=np.int64))
        np.save(folder / "d_origin.npy", np.asarray(self._origin_ids, dtype=np.int32))
        np.save(folder / "d_attribution.npy", np.asarray(self._attribution_ids, dtype=np.int32))
        header = {
            "format": STORE_FORMAT,
            "description": description,
            "num_passages": len(passage_ids),
            "num_documents": len(ids),
            "origins": list(self._origins),
            "attributions": [a for a in self._attributions if a is not None],
            "inputs": [{"name": i.name, "passages": i.passages, "warnings": list(i.warnings)} for i in self._inputs],
        }
        (folder / "header.json").write_text(json.dumps(header, ensure_ascii=False), encoding="utf-8")


class Store:
    """An open store (read-only; every array memory-mapped)."""

    def __init__(self, folder: Path) -> None:
        """Open the store in `folder`. Raises FileNotFoundError when there is none, ValueError (or what reading
        a damaged file raises) when its files do not fit together."""
        header = json.loads((folder / "header.json").read_text(encoding="utf-8"))
        if not isinstance(header, dict) or header.get("format") != STORE_FORMAT:
            raise ValueError("a store of another format")
        self.folder = folder
        self.description: str = str(header["description"])
        self.num_passages = int(header["num_passages"])
        self.num_documents = int(header["num_documents"])
        self.origins: list[str] = list(header["origins"])
        self.attributions: list[str] = list(header["attributions"])
        self.inputs = tuple(
            StoredInput(str(i["name"]), int(i["passages"]), tuple(i["warnings"])) for i in header["inputs"]
        )
        self.document_ids = StringColumn.open(folder, "d_id")
        self.document_titles = StringColumn.open(folder, "d_title")
        self.document_paths = StringColumn.open(folder, "d_path")
        self.document_urls = StringColumn.open(folder, "d_url")
        arrays = {name: _array(folder, name) for name in _ARRAYS}
        self.document_origin, self.document_attribution = arrays["d_origin"], arrays["d_attribution"]
        self.document_first = arrays["d_first"]
        self.passage_doc, self.passage_n, self.passage_rank = arrays["p_doc"], arrays["p_n"], arrays["p_rank"]
        self.passage_ints = {name: arrays[f"p_{name}"] for name in _INT_COLUMNS}
        self.passage_strings = {name: StringColumn.open(folder, f"p_{name}") for name in _STRING_COLUMNS}
        self.index = LexicalIndex.open(folder, self.num_passages)
        self._documents_by_id: dict[str, int] | None = None
        self._check()

    def _check(self) -> None:
        n, d = self.num_passages, self.num_documents
        sizes = [len(self.passage_doc), len(self.passage_n), len(self.passage_rank)]
        sizes += [len(c) for c in (*self.passage_ints.values(), *self.passage_strings.values())]
        if any(size != n for size in sizes):
            raise ValueError("passage columns do not match")
        doc_sizes = [len(c) for c in (self.document_ids, self.document_titles, self.document_paths, self.document_urls)]
        doc_sizes += [len(self.document_origin), len(self.document_attribution)]
        if any(size != d for size in doc_sizes) or self.document_first.shape != (d + 1,):
            raise ValueError("document columns do not match")
        if self.document_first[0] != 0 or self.document_first[-1] != n:
            raise ValueError("documents do not cover the passages")

    # -- lookups --------------------------------------------------------------------------------------------

    def document_index(self, document_id: str) -> int | None:
        """The index of the document called `document_id` (the last one, should two inputs share an id)."""
        return self._document_lookup().get(document_id)

    def _document_lookup(self) -> dict[str, int]:
        """Document id -> index, built on first use (not at open: a lookup-free search never pays for it).
        Documents are far fewer than passages, and the engine looks documents up by id all the time."""
        lookup = self._documents_by_id
        if lookup is None:
            ids = self.document_ids.take(range(self.num_documents))
            lookup = self._documents_by_id = {str(d): i for i, d in enumerate(ids)}
        return lookup

    def passage_id(self, i: int) -> str:
        return f"{self.document_ids.text(int(self.passage_doc[i]))}#{int(self.passage_n[i])}"

    def passage_index(self, passage_id: str) -> int | None:
        document_id, _, number = passage_id.rpartition("#")
        doc = self.document_index(document_id) if number.isdigit() else None
        if doc is None:
            return None
        first, end = int(self.document_first[doc]), int(self.document_first[doc + 1])
        i = first + int(number) - 1
        return i if first <= i < end and int(self.passage_n[i]) == int(number) else None

    def passage_ints_of(self, column: str, rows: npt.NDArray[np.int64]) -> list[int | None]:
        """An integer column's values at `rows` (None where it holds none)."""
        return [None if v == _NONE else v for v in self.passage_ints[column][rows].tolist()]


_ARRAYS = (
    "d_origin",
    "d_attribution",
    "d_first",
    "p_doc",
    "p_n",
    "p_rank",
    *tuple(f"p_{name}" for name in _INT_COLUMNS),
)


def _array(folder: Path, name: str) -> Any:
    array = mapped(folder / f"{name}.npy")
    if array.ndim != 1 or array.dtype.kind != "i":
        raise ValueError(f"{name} of another format")
    return array
