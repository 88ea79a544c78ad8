"""A big input's analysis on two cores: a helper process analyses the last part of its texts meanwhile.

Opening the Factbook with an empty cache is CPU work from end to end, on one core while the other idles:
convert it, analyse its 65,722 texts (passage bodies and titles: tokenising and stemming, the largest step,
0.7-0.9 s), write the store, read what the engine needs of it. The analysis of one text does not depend on
any other (`_text.analyze_many`), so a helper process analyses the last part of the texts while this process
analyses the first, and the two results are merged into exactly what one `analyze_many` of all of them gives
(`merge`): the same terms in the same order, the same ids, so the same segment and the same store, byte for byte.

The helper is a fresh interpreter started with `subprocess` (why not fork or multiprocessing's spawn: see
`research_nb.core.workers`). It is started before the input is read, so its imports (numpy, the stemmer:
0.2 s) overlap the conversion; it gets the texts pickled on its stdin and answers on its stdout, then exits.
Nothing of it outlives the build: `close` kills and reaps it if it is still running (a failed or cancelled
build), and a helper that fails only means this process analyses those texts itself. Inputs with fewer than
`PARALLEL_MIN_CHARS` characters are analysed here alone: a helper's start costs more than it saves there.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence

import numpy as np

from research_nb.sources._text import IntArray, analyze_many

#: Below this many characters an input is analysed in one process (the Factbook has 8.7 million): the helper's
#: start (0.2 s of CPU on the other core, 20 ms here) would cost about what it saves.
PARALLEL_MIN_CHARS = 2_000_000

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
        sender = threading.Thread(target=self._send, args=(pickle.dumps(theirs, pickle.HIGHEST_PROTOCOL),))
        sender.start()  # the pipe takes 64 KB at a time: written from a thread while this one analyses
        try:
            first = analyze_many(texts[:cut])
        finally:
            sender.join()
        return merge(first, self._answer() or analyze_many(theirs))

    def close(self) -> None:
        """Stop the helper if it is still running, and reap it."""
        process = self._process
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def _send(self, payload: bytes) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(payload)
            stdin.close()
        except OSError:  # the helper died: `_answer` finds no answer, and this process does its part
            pass

    def _answer(self) -> Analysis | None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            data = stdout.read()
        except OSError:
            return None
        if self._process.wait() != 0 or not data:
            return None
        answer: Analysis = pickle.loads(data)  # from our own child process, over its pipe
        return answer


def merge(first: Analysis, second: Analysis) -> Analysis:
    """The analysis of texts A + B from those of A and of B: B's terms that A lacks numbered after A's, in B's
    order, which is the order in which one `analyze_many` of A + B meets them."""
    terms_a, ids_a, lengths_a = first
    terms_b, ids_b, lengths_b = second
    number = {term: i for i, term in enumerate(terms_a)}
    remap = np.fromiter((number.setdefault(term, len(number)) for term in terms_b), np.int64, len(terms_b))
    return list(number), np.concatenate([ids_a, remap[ids_b]]), np.concatenate([lengths_a, lengths_b])


def serve() -> None:
    """The helper process: the texts pickled on stdin, their `analyze_many` pickled on stdout."""
    texts = pickle.load(sys.stdin.buffer)
    sys.stdout.buffer.write(pickle.dumps(analyze_many(texts), pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
