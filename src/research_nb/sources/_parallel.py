"""A built-in corpus's index built on two cores: a helper process analyses half of its texts, then writes its store.

Opening the Factbook with an empty cache is CPU work from end to end, on one core while the other idles:
convert it (0.5 s of CPU), analyse its 65,722 texts (passage bodies and titles: tokenising and stemming, 0.9 s),
write the store (0.5 s), then read what the engine needs of it (`Knowledge.of`, 0.6 s). Two parts of that
need not wait for each other:

- the analysis of one text does not depend on any other (`_text.analyze_many`): the helper analyses the second
  half of the texts' characters while this process analyses the first, and `merge` gives exactly what one
  `analyze_many` of all of them gives (the same terms in the same order, the same ids);
- the store needs the analysed segment, the engine's reading needs only the documents: when the corpus is that
  one input, this process sends the helper the segment (pickled: 0.06 s), the helper writes the store into a
  scratch folder of its own and then saves the segment in the cache (0.15 s less here), while this process
  hands the documents to `Corpus.open`'s `on_documents`.

Either way the segment and the store are byte for byte those one process builds (a test compares every file).

The helper is a fresh interpreter started with `subprocess` (why not fork or multiprocessing's spawn: see
`research_nb.core.workers`). It is started before the input is read, so its imports (numpy, the stemmer: 0.2 s)
overlap the conversion; requests come pickled on its stdin, one answer each on its stdout. Nothing of it
outlives the build: `close` kills and reaps it (a finished build's helper only waits for its next request), and a
helper that fails only means this process does that part itself. Inputs with fewer than `PARALLEL_MIN_CHARS`
characters are analysed here alone: a helper's start costs more than it saves there.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from research_nb.core.blocking import check_stop
from research_nb.sources._index import BM25FParams
from research_nb.sources._segment import Segment
from research_nb.sources._text import IntArray, analyze_many

#: Below this many characters an input is analysed in one process (the Factbook has 8.7 million): the helper's
#: start (0.2 s of CPU on the other core, 20 ms here) would cost about what it saves.
PARALLEL_MIN_CHARS = 2_000_000
_POLL_SECONDS = 0.05  # how often a wait for the helper checks for a cancelled build

Analysis = tuple[list[str], IntArray, IntArray]


class AnalysisHelper:
    """One helper process, started at once, that can analyse one part of one input's texts (`analyze_many`)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from research_nb.sources._parallel import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        self._used = False

    def analyze_many(self, texts: Sequence[str]) -> Analysis:
        """What `_text.analyze_many(texts)` returns; for a big input (and once per helper) the helper analyses
        the second half of the texts' characters while this process analyses the first."""
        total = sum(map(len, texts))
        if self._used or total < PARALLEL_MIN_CHARS:
            return analyze_many(texts)
        self._used = True
        cut = int(np.searchsorted(np.cumsum([len(t) for t in texts]), total // 2))
        theirs = list(texts[cut:])
        sender = threading.Thread(target=self._send, args=(_Analyse(theirs),))
        sender.start()  # the pipe takes 64 KB at a time: written from a thread while this one analyses
        try:
            first = analyze_many(texts[:cut])
        finally:
            sender.join()
        answer = self._answer()
        return merge(first, answer if isinstance(answer, tuple) else analyze_many(theirs))

    @property
    def used(self) -> bool:
        """Whether the helper analysed part of an input (and is ready for `start_store`)."""
        return self._used

    def start_store(
        self, segment: Segment, folder: Path, params: BM25FParams, name: str, description: str, save_to: Path
    ) -> None:
        """Have the helper write the store of one input, `segment`, into `folder` (a new scratch folder), then
        save the segment at `save_to` in the cache, while this process does something else (`stored`)."""
        self._send(_Store(segment, folder, params, name, description, save_to))

    def stored(self) -> tuple[bool, bool]:
        """Wait for what `start_store` asked for: whether the helper wrote the store whole, and whether it saved
        the segment. A cancelled build stops waiting (`check_stop`) and `close` then stops the helper."""
        while not self._ready():
            check_stop()
        answer = self._answer()
        if isinstance(answer, tuple) and len(answer) == 2:
            return bool(answer[0]), bool(answer[1])
        return False, False

    def close(self) -> None:
        """Stop the helper if it is still running, and reap it."""
        process = self._process
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a request the dead helper never read: nothing to flush to
                    pipe.close()

    def _send(self, request: _Analyse | _Store) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(pickle.dumps(request, pickle.HIGHEST_PROTOCOL))
            stdin.flush()
        except OSError:  # the helper died: `_answer` finds no answer, and this process does the work itself
            pass

    def _ready(self) -> bool:
        stdout = self._process.stdout
        assert stdout is not None
        return bool(select.select([stdout], [], [], _POLL_SECONDS)[0])

    def _answer(self) -> object:
        """The helper's next answer (None when it died instead)."""
        stdout = self._process.stdout
        assert stdout is not None
        try:
            return pickle.load(stdout)  # from our own child process, over its pipe
        except (OSError, EOFError, pickle.UnpicklingError):
            return None


def merge(first: Analysis, second: Analysis) -> Analysis:
    """The analysis of texts A + B from those of A and of B: B's terms that A lacks numbered after A's, in B's
    order, which is the order in which one `analyze_many` of A + B meets them."""
    terms_a, ids_a, lengths_a = first
    terms_b, ids_b, lengths_b = second
    number = {term: i for i, term in enumerate(terms_a)}
    remap = np.fromiter((number.setdefault(term, len(number)) for term in terms_b), np.int64, len(terms_b))
    return list(number), np.concatenate([ids_a, remap[ids_b]]), np.concatenate([lengths_a, lengths_b])


@dataclass(frozen=True)
class _Analyse:
    texts: list[str]


@dataclass(frozen=True)
class _Store:
    segment: Segment
    folder: Path
    params: BM25FParams
    name: str
    description: str
    save_to: Path


def serve() -> None:
    """The helper process: requests pickled on stdin, one answer each pickled on stdout, until stdin closes."""
    while True:
        try:
            request = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        answer: object = analyze_many(request.texts) if isinstance(request, _Analyse) else _write_store(request)
        sys.stdout.buffer.write(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))
        sys.stdout.buffer.flush()


def _write_store(request: _Store) -> tuple[bool, bool]:
    """Write the store, then save the segment (a cache that cannot be written: the caller saves it, and says so)."""
    from research_nb.sources._store import StoreWriter

    writer = StoreWriter(request.folder, request.params)
    writer.add(request.name, request.segment)
    writer.finish(request.description)
    try:
        request.segment.save(request.save_to)
    except OSError:
        return True, False
    return True, True
