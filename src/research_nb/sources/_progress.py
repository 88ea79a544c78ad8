"""Structured progress of a corpus build: inputs done out of how many, passages so far, and time left."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IndexingStatus:
    """Where a build stands. `seconds_left` is estimated from the rate so far (None until one input is done)."""

    corpus: str  # what is being indexed, in words: "the World Factbook", "papers/"
    files_done: int
    files_total: int
    passages: int
    seconds_left: float | None
    finished: bool = False


IndexingCallback = Callable[[IndexingStatus], None]

#: A build reports at most this often (plus its first and last report): a 200,000-file folder must not flood
#: a widget, whose event queue drops routine events first anyway.
_MIN_INTERVAL_S = 0.25


class ProgressMeter:
    """Turns a build's steps into `IndexingStatus` reports, throttled, with an estimate of the time left."""

    def __init__(self, corpus: str, files_total: int, report: IndexingCallback | None) -> None:
        self._corpus = corpus
        self._total = files_total
        self._report = report
        self._started = time.monotonic()
        self._last = float("-inf")
        self.files_done = 0
        self.passages = 0

    def start(self) -> None:
        self._send(None, force=True)

    def step(self, passages: int) -> None:
        """One more input read (or taken from the cache) with `passages` passages."""
        self.files_done += 1
        self.passages += passages
        elapsed = time.monotonic() - self._started
        left = elapsed / self.files_done * (self._total - self.files_done)
        self._send(left, force=self.files_done == self._total)

    def finish(self) -> None:
        self._send(0.0, force=True, finished=True)

    def _send(self, seconds_left: float | None, *, force: bool, finished: bool = False) -> None:
        now = time.monotonic()
        if self._report is None or (not force and now - self._last < _MIN_INTERVAL_S):
            return
        self._last = now
        self._report(IndexingStatus(self._corpus, self.files_done, self._total, self.passages, seconds_left, finished))
