"""The local corpus: the user's files and the built-in corpora, split into located passages, searchable by BM25F.

    corpus = Corpus.open(["notes/", "papers/*.pdf"], builtins=("factbook",))   # blocking: run it in a thread
    hits = corpus.search_sync("Norway unemployment rate", k=5)                 # sync, for code in a thread
    hits = await corpus.search("Norway unemployment rate", k=5)                # async: the SearchProvider API

`Corpus.open` reads each input once: analysed inputs are cached on disk by content (see `_cache`), and an open
corpus is kept in-process, keyed by its inputs and their (path, size, mtime), so opening it again is free.
Everything is deterministic: ids come from names, never from hashes or dict order, and ranking ties are broken by
passage id.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from research_nb.core.blocking import check_stop
from research_nb.core.errors import SourceError
from research_nb.models.research import Passage, PassageLocation, Source
from research_nb.sources._cache import SegmentCache, default_cache_dir, segment_key
from research_nb.sources._index import BM25FParams, LexicalIndex
from research_nb.sources._inputs import InputFile, ResolvedInputs, resolve_inputs
from research_nb.sources._loaders import LoadError, PartialLoad, check_size, loader_for
from research_nb.sources._segment import Segment
from research_nb.sources._text import analyze
from research_nb.sources.builtin import get_builtin

ProgressCallback = Callable[[str], None]

#: How many open corpora the process keeps (each holds its index in memory).
_OPEN_CORPORA_KEPT = 4


@dataclass(frozen=True, slots=True)
class BuildStats:
    """What `Corpus.open` did: which inputs it had to read, and how many came from the cache."""

    files_read: tuple[str, ...]  # displayed paths (and built-in names) read and analysed this time
    inputs_from_cache: int
    files_ignored: int  # files in folders with a type the corpus does not read
    seconds: float
    index_from_cache: bool = False  # the index itself was loaded, not built


class Corpus:
    """A searchable set of documents; satisfies `research_nb.core.protocols.SearchProvider`."""

    name = "corpus"
    #: Ranking parameters; a subclass may change them (the benchmark's ablations do).
    index_params: ClassVar[BM25FParams] = BM25FParams()

    def __init__(
        self, segments: Sequence[Segment], warnings: Sequence[str] = (), index: LexicalIndex | None = None
    ) -> None:
        """Assemble segments into a corpus; `index` is their index if it was built before (from the cache)."""
        self.stats = BuildStats((), len(segments), 0, 0.0)
        self.content_hash: str | None = None  # of every input's content and the index parameters, once built
        self.warnings: tuple[str, ...] = tuple(warnings)
        self._documents: list[Source] = []
        self._document_paths: list[str | None] = []
        columns: dict[str, list[str | int | None]] = {name: [] for name in Segment.COLUMNS}
        for segment in segments:
            doc_base = len(self._documents)
            for doc in segment.documents:
                self._documents.append(
                    Source(
                        id=str(doc["id"]),
                        title=str(doc["title"]),
                        url=doc["url"],
                        origin=str(doc["origin"]),
                        attribution=doc["attribution"],
                    )
                )
                self._document_paths.append(doc["path"])
            for name in Segment.COLUMNS:
                if name == "doc":  # document numbers are per segment; make them corpus-wide
                    columns[name].extend(doc_base + int(d or 0) for d in segment.passages[name])
                else:
                    columns[name].extend(segment.passages[name])
        self._columns = columns
        self._passage_ids = [
            f"{self._documents[int(d or 0)].id}#{n}" for d, n in zip(columns["doc"], columns["n"], strict=True)
        ]
        self._passage_index = {pid: i for i, pid in enumerate(self._passage_ids)}
        self._document_index = {doc.id: i for i, doc in enumerate(self._documents)}
        self._passages_by_document: list[list[int]] = [[] for _ in self._documents]
        for i, d in enumerate(columns["doc"]):
            self._passages_by_document[int(d or 0)].append(i)
        # Ranking ties are broken by passage id: rank of each passage's id in sorted order.
        self._id_rank = np.empty(len(self._passage_ids), dtype=np.int64)
        self._id_rank[np.argsort(np.asarray(self._passage_ids, dtype=object), kind="stable")] = np.arange(
            len(self._passage_ids)
        )
        self._index = index or _build_index(segments, self.index_params)

    # -- opening ------------------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        paths: Sequence[str | Path] = (),
        *,
        builtins: Sequence[str] = ("factbook",),
        cache_dir: Path | None = None,
        notebook_outputs: bool = False,
        on_progress: ProgressCallback | None = None,
        on_warning: ProgressCallback | None = None,
    ) -> Corpus:
        """Open (build or load) the corpus of `paths` (files, folders, globs) plus the named built-in corpora.

        Blocking (reads files, builds the index): from async code run it in a thread. `on_progress` receives
        human-readable progress lines, `on_warning` one line per input that could not be used (the rest is
        indexed). Raises `SourceError` for a path that does not exist, an unknown or missing built-in corpus,
        or when nothing at all is searchable.
        """
        progress = on_progress or _ignore
        warn = on_warning or _ignore
        builtins = tuple(dict.fromkeys(builtins))  # a corpus named twice is searched once
        for name in builtins:
            get_builtin(name).version()  # fail fast on an unknown or not-installed built-in corpus
        resolved = resolve_inputs(paths)
        cache_root = (cache_dir or default_cache_dir()).expanduser().resolve()
        key = (
            cls,
            tuple(builtins),
            notebook_outputs,
            str(cache_root),
            tuple((str(f.path), f.doc_id, f.size, f.mtime_ns) for f in resolved.files),
        )
        with _OPEN_LOCK:
            corpus = _OPEN_CORPORA.get(key)
            if corpus is not None:
                _OPEN_CORPORA.move_to_end(key)
        if corpus is not None:
            progress(f"corpus already open: {corpus.describe()}")
            for warning in corpus.warnings:
                warn(warning)
            return corpus
        corpus = _Builder(cls, SegmentCache(cache_root), notebook_outputs, progress, warn).build(builtins, resolved)
        with _OPEN_LOCK:
            _OPEN_CORPORA[key] = corpus
            while len(_OPEN_CORPORA) > _OPEN_CORPORA_KEPT:
                _OPEN_CORPORA.popitem(last=False)
        return corpus

    @staticmethod
    def check(paths: Sequence[str | Path] = (), builtins: Sequence[str] = ()) -> None:
        """Raise `SourceError` now for a path, glob or built-in corpus that `open` could not use (cheap: reads
        no file), so a front can reject a typo before a run starts."""
        for name in builtins:
            get_builtin(name).version()
        resolve_inputs(paths)

    # -- searching ----------------------------------------------------------------------------------------------

    def search_sync(self, query: str, k: int = 10) -> list[Passage]:
        """The `k` best passages for `query`, best first, with `score` set (synchronous; takes milliseconds).

        Ties are broken by passage id, so the order is the same in every run and process.
        """
        scores = self._index.scores(analyze(query))
        candidates = np.flatnonzero(scores > 0)
        if k <= 0 or not len(candidates):
            return []
        if len(candidates) > k:
            # Keep everything that scores at least the k-th best score, so a tie at the cut is decided by id.
            threshold = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
            candidates = candidates[scores[candidates] >= threshold]
        order = candidates[np.lexsort((self._id_rank[candidates], -scores[candidates]))][:k]
        return [self._passage(int(i), float(scores[i])) for i in order]

    async def search(self, query: str, k: int = 10) -> list[Passage]:
        """`search_sync` in a worker thread: the `SearchProvider` method for code on an event loop."""
        return await asyncio.to_thread(self.search_sync, query, k)

    # -- lookup -------------------------------------------------------------------------------------------------

    def passage(self, passage_id: str) -> Passage | None:
        index = self._passage_index.get(passage_id)
        return None if index is None else self._passage(index)

    def passages_of(self, document_id: str) -> list[Passage]:
        """The document's passages in reading order ([] for an unknown id)."""
        index = self._document_index.get(document_id)
        return [] if index is None else [self._passage(i) for i in self._passages_by_document[index]]

    def headed_texts(self, document_id: str) -> list[tuple[str, str, str]]:
        """(passage id, heading, text) of the document's passages that have a heading, in reading order: what a
        reader that scans a whole corpus needs, without building a `Passage` for each."""
        index = self._document_index.get(document_id)
        if index is None:
            return []
        c = self._columns
        return [
            (self._passage_ids[i], str(c["heading"][i]), str(c["text"][i]))
            for i in self._passages_by_document[index]
            if c["heading"][i]
        ]

    def source(self, document_id: str) -> Source | None:
        """Title, URL, origin and attribution of a document."""
        index = self._document_index.get(document_id)
        return None if index is None else self._documents[index].model_copy()

    def titles(self) -> dict[str, str]:
        """Document id -> title of every document, in corpus order (for spotting known names in text)."""
        return {doc.id: doc.title for doc in self._documents}

    @property
    def num_documents(self) -> int:
        return len(self._documents)

    @property
    def num_passages(self) -> int:
        return len(self._passage_ids)

    def describe(self) -> str:
        return f"{self.num_documents:,} documents, {self.num_passages:,} passages"

    def _passage(self, i: int, score: float = 0.0) -> Passage:
        c = self._columns
        doc_index = int(c["doc"][i] or 0)
        document = self._documents[doc_index]
        return Passage(
            id=self._passage_ids[i],
            document_id=document.id,
            title=str(c["title"][i]),
            text=str(c["text"][i]),
            location=PassageLocation(
                path=self._document_paths[doc_index],
                page=_int(c["page"][i]),
                heading=_str(c["heading"][i]),
                cell=_int(c["cell"][i]),
                start=_int(c["start"][i]),
                end=_int(c["end"][i]),
            ),
            url=document.url,
            score=score,
        )


class _Builder:
    """One `Corpus.open` that missed the in-process cache: load segments (from disk or by reading), index."""

    def __init__(
        self,
        corpus_class: type[Corpus],
        cache: SegmentCache,
        notebook_outputs: bool,
        progress: ProgressCallback,
        warn: ProgressCallback,
    ) -> None:
        self.corpus_class = corpus_class
        self.cache = cache
        self.notebook_outputs = notebook_outputs
        self.progress = progress
        self.warn = warn
        self.read: list[str] = []
        self.keys: list[str] = []  # segment keys, in corpus order: together they key the index
        self.from_cache = 0
        self.warnings: list[str] = []

    def build(self, builtins: Sequence[str], resolved: ResolvedInputs) -> Corpus:
        started = time.perf_counter()
        for warning in resolved.warnings:
            self._warn(warning)
        segments = [self._builtin(name) for name in builtins]
        for number, file in enumerate(resolved.files, start=1):
            check_stop()  # a cancelled run's thread stops between files (and between blocks of one file)
            segments.append(self._file(file, number, len(resolved.files)))
        self.cache.save_manifest()
        if not any(segment.num_passages for segment in segments):
            self._cache_warning()
            raise SourceError("Nothing to search: " + ("; ".join(self.warnings) or "no inputs and no built-in corpus"))
        index_key = segment_key("index", repr(self.corpus_class.index_params), *self.keys)
        index = self.cache.get_index(index_key, sum(segment.num_passages for segment in segments))
        corpus = self.corpus_class(segments, self.warnings, index)
        if index is None:
            self.cache.put_index(index_key, corpus._index)
        self._cache_warning()
        corpus.warnings = tuple(self.warnings)
        corpus.content_hash = index_key
        seconds = time.perf_counter() - started
        corpus.stats = BuildStats(tuple(self.read), self.from_cache, resolved.ignored, seconds, index is not None)
        ignored = f", {resolved.ignored} file(s) of other types ignored" if resolved.ignored else ""
        self.progress(
            f"corpus ready: {corpus.describe()} ({len(self.read)} input(s) read, {self.from_cache} from cache"
            f"{ignored}) in {corpus.stats.seconds:.2f} s"
        )
        return corpus

    def _builtin(self, name: str) -> Segment:
        builtin = get_builtin(name)
        key = segment_key("builtin", name, builtin.version())
        self.keys.append(key)
        segment = self.cache.get(key, name)
        if segment is not None:
            self.from_cache += 1
            self.progress(f"{name}: loaded from cache")
            return segment
        self.progress(f"{name}: reading {builtin.description} (once; cached afterwards)")
        segment = Segment.build(builtin.load())
        self.read.append(f"builtin:{name}")
        self.cache.put(key, segment)
        return segment

    def _file(self, file: InputFile, number: int, total: int) -> Segment:
        try:
            check_size(file.path, file.size)  # before hashing: a huge file is not even read once
            content_hash = self.cache.content_hash(file)
        except LoadError as exc:
            return self._failed(file, str(exc))
        except OSError as exc:
            return self._failed(file, f"unreadable ({exc.strerror or exc})")
        key = segment_key("file", file.doc_id, file.display, str(self.notebook_outputs), content_hash)
        self.keys.append(key)
        segment = self.cache.get(key, file.display)
        if segment is not None:
            self.from_cache += 1
        else:
            self.progress(f"reading {file.display} ({number}/{total})")
            self.read.append(file.display)
            segment = self._read(file)
            self.cache.put(key, segment)
        for warning in segment.warnings:
            self._warn(warning)
        return segment

    def _read(self, file: InputFile) -> Segment:
        loader = loader_for(file.path, self.notebook_outputs)
        if loader is None:
            return Segment.build([], [f"skipped {file.display}: unsupported file type {file.path.suffix!r}"])
        try:
            return Segment.build(loader(file.path, file.doc_id, file.display))
        except PartialLoad as partial:
            return Segment.build(partial.documents, [f"{file.display}: {partial}"])
        except LoadError as exc:
            return Segment.build([], [f"skipped {file.display}: {exc}"])
        except (OSError, RecursionError, MemoryError) as exc:
            return Segment.build([], [f"skipped {file.display}: unreadable ({type(exc).__name__})"])

    def _failed(self, file: InputFile, reason: str) -> Segment:
        segment = Segment.build([], [f"skipped {file.display}: {reason}"])
        self._warn(segment.warnings[0])
        return segment

    def _cache_warning(self) -> None:
        """Say what happened to the cache during this open. Not kept in `corpus.warnings`, which later opens
        of the same corpus repeat: those describe its inputs, and the cache is whole again by then."""
        for repair in self.cache.repairs:
            self.warn(repair)
        if self.cache.write_error:
            self.warn(self.cache.write_error)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self.warn(message)


_OPEN_CORPORA: OrderedDict[tuple[object, ...], Corpus] = OrderedDict()
_OPEN_LOCK = threading.Lock()


def _ignore(_: str) -> None:
    return None


def _int(value: str | int | None) -> int | None:
    return None if value is None else int(value)


def _str(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def _build_index(segments: Sequence[Segment], params: BM25FParams) -> LexicalIndex:
    """One index over all segments: their term ids are renumbered into one vocabulary."""
    vocabulary: dict[str, int] = {}
    body_ids, body_lengths, title_ids, title_lengths = [], [], [], []
    for segment in segments:
        remap = np.asarray([vocabulary.setdefault(term, len(vocabulary)) for term in segment.vocabulary] or [0])
        body_ids.append(remap[segment.body.ids])
        body_lengths.append(np.diff(segment.body.offsets))
        title_ids.append(remap[segment.title.ids])
        title_lengths.append(np.diff(segment.title.offsets))
    return LexicalIndex.build(
        list(vocabulary),
        _concat(body_ids),
        _offsets(body_lengths),
        _concat(title_ids),
        _offsets(title_lengths),
        params,
    )


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)


def _offsets(lengths: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(_concat(lengths))]).astype(np.int64)
