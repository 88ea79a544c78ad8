"""The local corpus: the user's files and the built-in corpora, split into located passages, searchable by BM25F.

    corpus = Corpus.open(["notes/", "papers/*.pdf"], builtins=("factbook",))   # blocking: run it in a thread
    hits = corpus.search_sync("Norway unemployment rate", k=5)                 # sync, for code in a thread
    hits = await corpus.search("Norway unemployment rate", k=5)                # async: the SearchProvider API

`Corpus.open` reads each input once: analysed inputs are cached on disk by content (see `_cache`), the corpus
built from them is cached as a memory-mapped store (`_store`: opening it again, in any process, takes
milliseconds and reads no passage), and an open corpus is kept in-process, keyed by its inputs and their (path,
size, mtime), so opening it again there is free.
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
import numpy.typing as npt

from research_nb.core.blocking import check_stop
from research_nb.core.errors import SourceError
from research_nb.models.research import Passage, PassageLocation, Source
from research_nb.sources._cache import SegmentCache, default_cache_dir, segment_key
from research_nb.sources._index import BM25FParams
from research_nb.sources._inputs import InputFile, ResolvedInputs, check_inputs, resolve_inputs
from research_nb.sources._loaders import LoadError, PartialLoad, check_size, loader_for
from research_nb.sources._parallel import AnalysisHelper
from research_nb.sources._progress import IndexingCallback, IndexingStatus, ProgressMeter
from research_nb.sources._retention import Hold
from research_nb.sources._segment import Segment
from research_nb.sources._store import Store, StoreWriter
from research_nb.sources._text import analyze
from research_nb.sources.builtin import get_builtin

__all__ = ["BuildStats", "Corpus", "DocumentTexts", "IndexingStatus", "describe_inputs"]

ProgressCallback = Callable[[str], None]
#: (document id, title, its headed passages as (passage id, heading, text), in reading order) of each document.
DocumentTexts = tuple[str, str, list[tuple[str, str, str]]]
DocumentsCallback = Callable[[list[DocumentTexts]], None]

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
    """A searchable set of documents; satisfies `research_nb.core.protocols.SearchProvider`.

    It reads everything from an open `Store` (memory-mapped arrays), so an open corpus costs little memory
    however large it is, and the objects a search returns are built for the passages it returns only.
    """

    name = "corpus"
    #: Ranking parameters; a subclass may change them (the benchmark's ablations do).
    index_params: ClassVar[BM25FParams] = BM25FParams()

    def __init__(self, store: Store, warnings: Sequence[str] = ()) -> None:
        self.stats = BuildStats((), len(store.inputs), 0, 0.0, True)
        self.content_hash: str | None = None  # of every input's content and the index parameters, once built
        self.warnings: tuple[str, ...] = tuple(warnings)
        self._store = store
        self._index = store.index
        self._hold = Hold(store.folder, self)  # the cache never evicts a store an open corpus uses

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
        on_indexing: IndexingCallback | None = None,
        on_documents: DocumentsCallback | None = None,
    ) -> Corpus:
        """Open (build or load) the corpus of `paths` (files, folders, globs) plus the named built-in corpora.

        Blocking (reads files, builds the index): from async code run it in a thread. `on_progress` receives
        human-readable progress lines, `on_warning` one line per input that could not be used (the rest is
        indexed), `on_indexing` structured progress while inputs are read and indexed (`IndexingStatus`: none
        when the index is already in the cache; the last one has `finished` set). `on_documents` receives the
        documents of a corpus of one input being built (`DocumentTexts`: what `titles` and `headed_texts` give
        afterwards) while a helper process writes its index, so the caller can read them meanwhile on this core;
        it is not called otherwise (read the opened corpus then). Raises `SourceError` for a
        path that does not exist, an unknown or missing built-in corpus, or when nothing at all is searchable.
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
        builder = _Builder(cls, SegmentCache(cache_root), notebook_outputs, progress, warn, on_indexing, on_documents)
        corpus = builder.build(builtins, resolved, describe_inputs(builtins, paths))
        with _OPEN_LOCK:
            _OPEN_CORPORA[key] = corpus
            while len(_OPEN_CORPORA) > _OPEN_CORPORA_KEPT:
                _OPEN_CORPORA.popitem(last=False)
        return corpus

    @staticmethod
    def close_open() -> None:
        """Forget the corpora this process keeps open for reuse: their stores may then be evicted from the cache
        once nothing else uses them (the cache never evicts the store of an open corpus)."""
        with _OPEN_LOCK:
            _OPEN_CORPORA.clear()

    @staticmethod
    def check(paths: Sequence[str | Path] = (), builtins: Sequence[str] = ()) -> None:
        """Raise `SourceError` now for a path, glob or built-in corpus that `open` could not use (cheap: reads
        no file), so a front can reject a typo before a run starts."""
        for name in builtins:
            get_builtin(name).version()
        check_inputs(paths)

    # -- searching ----------------------------------------------------------------------------------------------

    def search_sync(self, query: str, k: int = 10) -> list[Passage]:
        """The `k` best passages for `query`, best first, with `score` set (synchronous; takes milliseconds).

        Ties are broken by passage id, so the order is the same in every run and process.
        """
        rows, scores = self.rank(query, k)
        return self._passages(rows.tolist(), scores.tolist())

    def rank(self, query: str, k: int = 10) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The `k` best passages for `query` as numbers (best first) and their scores: what `search_sync`
        returns, before any object is built (`passage_id(i)` names them)."""
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # Everything that scores at least the k-th best score, so a tie at the cut is decided by id.
        candidates, scores = self._index.best(analyze(query), k)
        if not len(candidates):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        ranks = self._store.passage_rank[candidates]
        order = candidates[np.lexsort((ranks, -scores[candidates]))][:k]
        return order, scores[order]

    async def search(self, query: str, k: int = 10) -> list[Passage]:
        """`search_sync` in a worker thread: the `SearchProvider` method for code on an event loop."""
        return await asyncio.to_thread(self.search_sync, query, k)

    # -- lookup -------------------------------------------------------------------------------------------------

    def passage_id(self, i: int) -> str:
        return self._store.passage_id(i)

    def document_of(self, i: int) -> str:
        """The document id of passage number `i`."""
        return self._store.document_ids.text(int(self._store.passage_doc[i]))

    def passage(self, passage_id: str) -> Passage | None:
        index = self._store.passage_index(passage_id)
        return None if index is None else self._passages([index], [0.0])[0]

    def passages_of(self, document_id: str) -> list[Passage]:
        """The document's passages in reading order ([] for an unknown id)."""
        rows = list(self._rows_of(document_id))
        return self._passages(rows, [0.0] * len(rows))

    def headed_texts(self, document_id: str) -> list[tuple[str, str, str]]:
        """(passage id, heading, text) of the document's passages that have a heading, in reading order: what a
        reader that scans a whole corpus needs, without building a `Passage` for each."""
        store = self._store
        rows = list(self._rows_of(document_id))
        if not rows:
            return []
        headings = store.passage_strings["heading"].take(rows)
        texts = store.passage_strings["text"].take(rows)
        numbers = store.passage_n[np.asarray(rows, dtype=np.int64)].tolist()
        return [
            (f"{document_id}#{n}", heading, str(text))
            for n, heading, text in zip(numbers, headings, texts, strict=True)
            if heading
        ]

    def source(self, document_id: str) -> Source | None:
        """Title, URL, origin and attribution of a document."""
        index = self._store.document_index(document_id)
        return None if index is None else self._source(index)

    def titles(self) -> dict[str, str]:
        """Document id -> title of every document, in corpus order (for spotting known names in text)."""
        store = self._store
        every = range(store.num_documents)
        return {
            str(d): str(t)
            for d, t in zip(store.document_ids.take(every), store.document_titles.take(every), strict=True)
        }

    @property
    def index_folder(self) -> Path:
        """The folder of this corpus's index (its store): in the cache, unless the cache could not be written."""
        return self._store.folder

    def derived_path(self, name: str) -> Path:
        """Where to keep a file of data derived from this corpus (an engine's reading of it): in its index's own
        folder, so it belongs to this combination of inputs, counts towards the cache's size cap and is deleted
        with the index. The folder exists; the file is the caller's to write (atomically) and to validate."""
        return self.index_folder / name

    @property
    def num_documents(self) -> int:
        return self._store.num_documents

    @property
    def num_passages(self) -> int:
        return self._store.num_passages

    def describe(self) -> str:
        return f"{self.num_documents:,} documents, {self.num_passages:,} passages"

    def _rows_of(self, document_id: str) -> range:
        index = self._store.document_index(document_id)
        if index is None:
            return range(0)
        first = self._store.document_first
        return range(int(first[index]), int(first[index + 1]))

    def _source(self, d: int) -> Source:
        store = self._store
        attribution = int(store.document_attribution[d])
        return Source(
            id=store.document_ids.text(d),
            title=store.document_titles.text(d),
            url=store.document_urls[d],
            origin=store.origins[int(store.document_origin[d])],
            attribution=None if attribution < 0 else store.attributions[attribution],
        )

    def _passages(self, rows: list[int], scores: list[float]) -> list[Passage]:
        """`Passage` objects for passage numbers `rows`, each column read once for all of them."""
        if not rows:
            return []
        store = self._store
        at = np.asarray(rows, dtype=np.int64)
        docs = store.passage_doc[at].tolist()
        numbers = store.passage_n[at].tolist()
        document_ids = store.document_ids.take(docs)
        paths, urls = store.document_paths.take(docs), store.document_urls.take(docs)
        titles, texts, headings = (store.passage_strings[name].take(rows) for name in ("title", "text", "heading"))
        ints = [store.passage_ints_of(name, at) for name in ("page", "cell", "start", "end")]
        return [
            Passage(
                id=f"{document_ids[n]}#{numbers[n]}",
                document_id=document_ids[n],
                title=titles[n],
                text=texts[n],
                location=PassageLocation(
                    path=paths[n],
                    page=ints[0][n],
                    heading=headings[n],
                    cell=ints[1][n],
                    start=ints[2][n],
                    end=ints[3][n],
                ),
                url=urls[n],
                score=scores[n],
            )
            for n in range(len(rows))
        ]


def describe_inputs(builtins: Sequence[str], paths: Sequence[str | Path]) -> str:
    """What a corpus holds, in words, for progress and `research-nb cache`: "the World Factbook, papers/"."""
    names = [get_builtin(name).title for name in builtins] + [str(path) for path in paths]
    return ", ".join(names) or "nothing"


@dataclass(frozen=True, slots=True)
class _Input:
    """One input of a build, before it is read: its displayed name and cache key (None when it cannot be used)."""

    name: str
    key: str | None
    read: Callable[[], Segment]
    failure: str | None = None


class _Builder:
    """One `Corpus.open` that missed the in-process cache: find the inputs' keys, open their store if the cache
    has it, else build it input by input (from cached segments or by reading) and cache it."""

    def __init__(
        self,
        corpus_class: type[Corpus],
        cache: SegmentCache,
        notebook_outputs: bool,
        progress: ProgressCallback,
        warn: ProgressCallback,
        on_indexing: IndexingCallback | None,
        on_documents: DocumentsCallback | None = None,
    ) -> None:
        self.corpus_class = corpus_class
        self.cache = cache
        self.notebook_outputs = notebook_outputs
        self.progress = progress
        self.warn = warn
        self.on_indexing = on_indexing
        self.on_documents = on_documents
        self.helper: AnalysisHelper | None = None  # the one a built-in corpus's analysis started, until the end
        self.only_input = False  # the corpus has one input: the helper may write its store (`_store_apart`)
        self.unsaved: dict[int, str] = {}  # id of a segment read this open and left to the helper to save -> key
        self.read: list[str] = []
        self.from_cache = 0
        self.warnings: list[str] = []
        self.built = False  # the index was built, not found in the cache

    def build(self, builtins: Sequence[str], resolved: ResolvedInputs, description: str) -> Corpus:
        try:
            return self._build(builtins, resolved, description)
        finally:
            if self.helper is not None:
                self.helper.close()

    def _build(self, builtins: Sequence[str], resolved: ResolvedInputs, description: str) -> Corpus:
        started = time.perf_counter()
        for warning in resolved.warnings:
            self._warn(warning)
        inputs = [self._builtin(name) for name in builtins]
        for file in resolved.files:
            check_stop()  # a cancelled run's thread stops between files (and between blocks of one file)
            inputs.append(self._file(file))
        self.cache.save_manifest()
        keys = [i.key for i in inputs if i.key is not None]
        index_key = segment_key("index", repr(self.corpus_class.index_params), *keys)
        store = self.cache.get_store(index_key, len(keys))
        if store is not None:
            if index_key in self.cache.seeded:
                self.progress("the search index: installed with research-nb, copied into the cache")
            self._replay(inputs, store)
        else:
            store = self._index(inputs, index_key, description, keys)
        corpus = self.corpus_class(store, self.warnings)
        self._cache_warning()
        corpus.warnings = tuple(self.warnings)
        corpus.content_hash = index_key
        seconds = time.perf_counter() - started
        corpus.stats = BuildStats(tuple(self.read), self.from_cache, resolved.ignored, seconds, not self.built)
        ignored = f", {resolved.ignored} file(s) of other types ignored" if resolved.ignored else ""
        self.progress(
            f"corpus ready: {corpus.describe()} ({len(self.read)} input(s) read, {self.from_cache} from cache"
            f"{ignored}) in {corpus.stats.seconds:.2f} s"
        )
        return corpus

    def _replay(self, inputs: list[_Input], store: Store) -> None:
        """The store was in the cache: say again what its inputs' warnings said when it was built."""
        stored = iter(store.inputs)
        for item in inputs:
            if item.failure is not None:
                self._warn(item.failure)
                continue
            for warning in next(stored).warnings:
                self._warn(warning)
            self.from_cache += 1

    def _index(self, inputs: list[_Input], index_key: str, description: str, keys: list[str]) -> Store:
        self.built = True
        meter = ProgressMeter(description, len(inputs), self.on_indexing)
        meter.start()
        writer, scratch = self.cache.new_store(index_key, self.corpus_class.index_params)
        apart: Path | None = None  # the helper's own scratch folder, when it writes the store
        self.only_input = len(inputs) == 1
        try:
            for item in inputs:
                check_stop()
                if item.failure is not None:
                    self._warn(item.failure)
                    meter.step(0)
                    continue
                segment = item.read()
                for warning in segment.warnings:
                    self._warn(warning)
                apart = self._store_apart(item, segment, scratch, description)
                if apart is None:
                    writer.add(item.name, segment)
                meter.step(segment.num_passages)
            if apart is not None:
                store = self._stored_apart(apart, writer, scratch, index_key, keys, description, item.name, segment)
            else:
                if not writer.num_passages:
                    self._cache_warning()
                    raise SourceError(
                        "Nothing to search: " + ("; ".join(self.warnings) or "no inputs and no built-in corpus")
                    )
                self.progress(f"indexing {writer.num_passages:,} passages")
                writer.finish(description)
                store = self.cache.put_store(index_key, scratch, keep=frozenset(keys))
        except BaseException:
            self.cache.discard_scratch(scratch)
            if apart is not None:
                self.cache.discard_scratch(apart)
            raise
        meter.finish()
        return store

    def _store_apart(self, item: _Input, segment: Segment, scratch: Path, description: str) -> Path | None:
        """Have the helper that analysed the corpus's only input write its store, into a scratch folder of its
        own (returned), and then save its segment in the cache, while this process gives the documents to
        `on_documents`; None when it cannot. A segment left unsaved (`unsaved`) is one the helper analysed, of the
        corpus's only input (`_builtin`)."""
        key = self.unsaved.get(id(segment))
        helper = self.helper
        if helper is None or key is None or not segment.num_passages:
            return None
        folder = scratch.with_name(f"{scratch.name}.helper")
        params = self.corpus_class.index_params
        helper.start_store(segment, folder, params, item.name, description, self.cache.segment_prefix(key))
        return folder

    def _stored_apart(
        self,
        apart: Path,
        writer: StoreWriter,
        scratch: Path,
        index_key: str,
        keys: list[str],
        description: str,
        name: str,
        segment: Segment,
    ) -> Store:
        """The store the helper writes (this process reads the documents meanwhile), or, when the helper could
        not write it, the store written here; the segment is saved here too when the helper did not save it."""
        self.progress(f"indexing {segment.num_passages:,} passages")
        if self.on_documents is not None:
            self.on_documents(document_texts(segment))
        assert self.helper is not None
        stored, saved = self.helper.stored()
        if not saved:
            self.cache.put(self.unsaved[id(segment)], segment)
        if stored:
            self.cache.discard_scratch(scratch)
            return self.cache.put_store(index_key, apart, keep=frozenset(keys))
        self.cache.discard_scratch(apart)
        writer.add(name, segment)
        writer.finish(description)
        return self.cache.put_store(index_key, scratch, keep=frozenset(keys))

    def _builtin(self, name: str) -> _Input:
        builtin = get_builtin(name)
        key = segment_key("builtin", name, builtin.version())

        def read() -> Segment:
            segment = self.cache.get(key, name)
            if segment is not None:
                self.progress(f"{name}: loaded from cache")
                self.from_cache += 1
                return segment
            self.progress(f"{name}: reading {builtin.description} (once; cached afterwards)")
            if self.helper is None:  # started first: its start overlaps the reading (a built-in corpus is big)
                self.helper = AnalysisHelper()
            segment = Segment.build(builtin.load(), analyze=self.helper.analyze_many)
            self.read.append(f"builtin:{name}")
            if self.only_input and self.helper.used:
                self.unsaved[id(segment)] = key  # saved by the helper, after it has written the store
            else:
                self.cache.put(key, segment)
            return segment

        return _Input(name, key, read)

    def _file(self, file: InputFile) -> _Input:
        try:
            check_size(file.path, file.size)  # before hashing: a huge file is not even read once
            content_hash = self.cache.content_hash(file)
        except LoadError as exc:
            return self._failed(file, str(exc))
        except OSError as exc:
            return self._failed(file, f"unreadable ({exc.strerror or exc})")
        key = segment_key("file", file.doc_id, file.display, str(self.notebook_outputs), content_hash)

        def read() -> Segment:
            segment = self.cache.get(key, file.display)
            if segment is not None:
                self.from_cache += 1
                return segment
            self.progress(f"reading {file.display}")
            self.read.append(file.display)
            segment = self._read(file)
            self.cache.put(key, segment)
            return segment

        return _Input(file.display, key, read)

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

    def _failed(self, file: InputFile, reason: str) -> _Input:
        return _Input(file.display, None, _nothing, f"skipped {file.display}: {reason}")

    def _cache_warning(self) -> None:
        """Say what happened to the cache during this open. Not kept in `corpus.warnings`, which later opens
        of the same corpus repeat: those describe its inputs, and the cache is whole again by then."""
        for repair in self.cache.repairs:
            self.warn(repair)
        self.cache.repairs.clear()
        if self.cache.write_error:
            self.warn(self.cache.write_error)
            self.cache.write_error = None

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self.warn(message)


def document_texts(segment: Segment) -> list[DocumentTexts]:
    """The documents of a corpus of this one segment as `Corpus.titles` and `Corpus.headed_texts` read them from
    its store (its document ids are distinct, as the built-in corpora's are)."""
    documents: list[DocumentTexts] = [(str(doc["id"]), str(doc["title"]), []) for doc in segment.documents]
    columns = segment.passages
    for d, n, heading, text in zip(columns["doc"], columns["n"], columns["heading"], columns["text"], strict=True):
        if heading:
            document_id, _, passages = documents[int(d or 0)]
            passages.append((f"{document_id}#{n}", str(heading), str(text)))
    return documents


def _nothing() -> Segment:
    return Segment.build([])


_OPEN_CORPORA: OrderedDict[tuple[object, ...], Corpus] = OrderedDict()
_OPEN_LOCK = threading.Lock()


def _ignore(_: str) -> None:
    return None
