"""The lexical index: BM25F over two fields of every passage (its text and its title), as one sparse matrix.

Why BM25F with a title field: a passage often does not name what it is about ("Unemployment rate: 4% (2024
est.)" never says Norway; an abstract rarely repeats its title's key terms), while its title ("Norway — Economy")
does. BM25F adds the title's term frequency, weighted and length-normalised on its own, to the body's before
the BM25 saturation, so a term in the title counts like several in the text and the document's name becomes
searchable from every passage.

Parameters: k1 and b are the textbook BM25 values (1.2, 0.75). On the SciFact train split (`bench/retrieval.py`)
adding the title field lifts nDCG@10 from 0.680 to 0.703, and the gain is flat for title weights 1 to 4
and title b 0 to 0.75, so the weight (2) and title b (0.5) are taken from the middle of that plateau, not tuned
to its best point.

All the scoring work happens at build time: the matrix (stored by term, as numpy arrays) holds each (passage,
term) weight, so a query only adds up a few terms' postings (like bm25s). The arrays live in the corpus store
(`_store`) and are memory-mapped: opening an index of a million passages reads no posting, and only the pages
of the terms a query uses come into memory.

The build is incremental (`IndexBuilder`): segments are added one at a time, each leaving only its (term,
passage, term frequency) triples in a scratch file, so the memory a build needs is bounded by the largest input,
not the corpus; `finish` then turns the frequencies into weights (BM25's idf and average lengths are corpus-wide,
known only at the end) and writes each triple straight to its place in the memory-mapped postings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from research_nb.sources._columns import StringColumn, StringColumnWriter, mapped

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BM25FParams:
    k1: float = 1.2
    b: float = 0.75
    title_weight: float = 2.0
    title_b: float = 0.5


class LexicalIndex:
    """Term-weight matrix over passages, stored by term (CSC) over memory-mapped arrays.

    Terms are found without a dictionary of every term in memory (a million passages have millions of terms;
    building that dictionary would take most of a second at every open): they are stored in the order of a
    64-bit hash (`term_hashes`, sorted), so one `searchsorted` finds all of a query's terms, and each is then
    checked against the stored term's bytes (two terms may share a hash).
    """

    ARRAYS = ("indptr", "rows", "weights", "term_hashes")

    def __init__(
        self,
        terms: StringColumn,
        term_hashes: npt.NDArray[np.uint64],
        indptr: IntArray,
        rows: npt.NDArray[np.int32],
        weights: npt.NDArray[np.float32],
        num_passages: int,
    ) -> None:
        self._terms = terms
        self._hashes = term_hashes
        self._indptr = indptr  # term t's postings are rows/weights[indptr[t]:indptr[t + 1]]
        self._rows = rows
        self._weights = weights
        self.num_passages = num_passages

    @classmethod
    def open(cls, folder: Path, num_passages: int) -> LexicalIndex:
        """The index saved in `folder`; ValueError when its arrays do not fit together."""
        terms = StringColumn.open(folder, "terms")
        indptr, rows, weights, hashes = (mapped(folder / f"{name}.npy") for name in cls.ARRAYS)
        if hashes.shape != (len(terms),) or hashes.dtype != np.uint64:
            raise ValueError("term hashes do not fit the terms")
        if indptr.shape != (len(terms) + 1,) or (len(indptr) and (indptr[0] != 0 or indptr[-1] != len(rows))):
            raise ValueError("index arrays do not fit together")
        if len(rows) != len(weights) or rows.dtype != np.int32 or weights.dtype != np.float32:
            raise ValueError("index postings of another shape")
        # Cheap bounds checks (the postings are not read): a first and last row outside the corpus is damage.
        if len(rows) and not (0 <= rows[0] < num_passages and 0 <= rows[-1] < num_passages):
            raise ValueError("index postings of unknown passages")
        return cls(terms, hashes, indptr, rows, weights, num_passages)

    @property
    def num_terms(self) -> int:
        return len(self._terms)

    def term_ids(self, terms: Sequence[str]) -> list[int | None]:
        """The id of each term (None for a term the corpus does not have)."""
        hashes = np.fromiter(map(term_hash, terms), dtype=np.uint64, count=len(terms))
        found: list[int | None] = []
        for term, wanted, at in zip(
            terms, hashes.tolist(), np.searchsorted(self._hashes, hashes).tolist(), strict=True
        ):
            key = term.encode()
            while at < len(self._hashes) and int(self._hashes[at]) == wanted and self._terms.raw(at) != key:
                at += 1  # another term with the same hash
            hit = at < len(self._hashes) and int(self._hashes[at]) == wanted
            found.append(at if hit else None)
        return found

    def best(self, terms: Iterable[str], k: int) -> tuple[IntArray, FloatArray]:
        """The passages that score at least the `k`-th best score (every passage that scores, when fewer do), in
        passage order, and the BM25F score of every passage for the query, given as analysed terms (unknown terms
        score nothing). `k` must be positive.

        Each distinct term counts once: a word repeated in a question is not twice as important (on SciFact,
        counting repeats costs 0.005 nDCG@10).

        Why not list every passage that scores and partition those: for a question's common words that is most of
        the corpus (two passes over a million scores). Any `k` passages' scores bound the `k`-th best from below,
        and the passages of the query's rarest term (with at least `k` of them) are likely among the best, so that
        bound is close: one comparison over the scores finds the few passages above it, then the exact cut.
        """
        postings = self._postings(terms)
        scores = self._scores(postings)
        long_enough = [p for p in postings if p.stop - p.start >= k]
        if long_enough:
            rarest = scores[self._rows[min(long_enough, key=lambda p: p.stop - p.start)]]
            bound = np.partition(rarest, len(rarest) - k)[len(rarest) - k]
        else:
            bound = 0.0
        candidates = np.flatnonzero(scores >= bound) if bound > 0 else np.flatnonzero(scores > 0)
        if len(candidates) > k:
            threshold = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
            candidates = candidates[scores[candidates] >= threshold]
        return candidates, scores

    def _postings(self, terms: Iterable[str]) -> list[slice]:
        """Where the postings of the query's distinct known terms are in `rows` / `weights`."""
        unique = [t for t in self.term_ids(list(dict.fromkeys(terms))) if t is not None]
        return [slice(int(self._indptr[t]), int(self._indptr[t + 1])) for t in unique]

    def _scores(self, postings: list[slice]) -> FloatArray:
        if not postings:
            return np.zeros(self.num_passages)
        rows = np.concatenate([self._rows[p] for p in postings])
        weights = np.concatenate([self._weights[p] for p in postings])
        return np.asarray(np.bincount(rows, weights=weights, minlength=self.num_passages), dtype=np.float64)


class IndexBuilder:
    """Builds a `LexicalIndex` into `folder` from segments added in corpus order (see the module docstring)."""

    def __init__(self, folder: Path, params: BM25FParams) -> None:
        self._folder = folder
        self._params = params
        self._scratch = folder / "postings.tmp"
        self._scratch.mkdir(parents=True, exist_ok=True)
        self._vocabulary: dict[str, int] = {}
        self._document_frequency = np.zeros(0, dtype=np.int64)
        self._body_lengths: list[IntArray] = []
        self._title_lengths: list[IntArray] = []
        self._spills: list[Path] = []
        self.num_passages = 0
        self.num_pairs = 0

    def add(self, vocabulary: Sequence[str], body: tuple[IntArray, IntArray], title: tuple[IntArray, IntArray]) -> None:
        """Add the passages of one segment: term ids into its `vocabulary` and offsets, for body and title."""
        remap = np.asarray([self._vocabulary.setdefault(term, len(self._vocabulary)) for term in vocabulary] or [0])
        body_ids, body_offsets = body
        title_ids, title_offsets = title
        n = len(body_offsets) - 1
        body_lengths, title_lengths = np.diff(body_offsets), np.diff(title_offsets)
        rows_per = max(n, 1)
        # Term frequencies per (term, passage), keyed term-major (term * n + passage), i.e. in CSC order.
        body_keys, body_tf = _counts(remap[body_ids] * rows_per + np.repeat(np.arange(n), body_lengths))
        title_keys, title_tf = _counts(remap[title_ids] * rows_per + np.repeat(np.arange(n), title_lengths))
        pairs, _ = _counts(np.concatenate([body_keys, title_keys]))  # the (term, passage) pairs of either field
        both_tf = np.zeros((2, len(pairs)), dtype=np.float32)  # term frequencies are small integers: exact
        both_tf[0, np.searchsorted(pairs, body_keys)] = body_tf
        both_tf[1, np.searchsorted(pairs, title_keys)] = title_tf
        terms = pairs // rows_per
        grown = np.zeros(len(self._vocabulary), dtype=np.int64)
        grown[: len(self._document_frequency)] = self._document_frequency
        grown += np.bincount(terms, minlength=len(self._vocabulary))
        self._document_frequency = grown
        spill = self._scratch / f"{len(self._spills)}.npz"
        np.savez(
            spill,
            terms=terms.astype(np.int32),
            rows=(pairs % rows_per + self.num_passages).astype(np.int32),
            tf=both_tf,
        )
        self._spills.append(spill)
        self._body_lengths.append(body_lengths)
        self._title_lengths.append(title_lengths)
        self.num_passages += n
        self.num_pairs += len(pairs)

    def finish(self) -> None:
        """Weigh every pair and write terms, indptr, rows and weights into the folder; remove the scratch."""
        params = self._params
        terms = list(self._vocabulary)
        hashes = [term_hash(term) for term in terms]
        order = sorted(range(len(terms)), key=lambda i: (hashes[i], terms[i]))
        writer = StringColumnWriter(self._folder, "terms")
        writer.extend(terms[i] for i in order)
        writer.close()
        np.save(self._folder / "term_hashes.npy", np.asarray([hashes[i] for i in order], dtype=np.uint64))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        document_frequency = self._document_frequency[order]
        indptr = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(document_frequency, out=indptr[1:])
        np.save(self._folder / "indptr.npy", indptr)
        idf = np.log1p((self.num_passages - self._document_frequency + 0.5) / (self._document_frequency + 0.5))
        body_norm = _length_norm(_concat(self._body_lengths), params.b)
        title_norm = _length_norm(_concat(self._title_lengths), params.title_b)
        rows_out = np.lib.format.open_memmap(self._folder / "rows.npy", "w+", np.int32, (self.num_pairs,))
        weights_out = np.lib.format.open_memmap(self._folder / "weights.npy", "w+", np.float32, (self.num_pairs,))
        cursor = indptr[:-1].copy()  # where each term's next posting goes
        for spill in self._spills:  # in corpus order: each term's postings come out sorted by passage
            with np.load(spill) as arrays:
                gids, rows, tf = arrays["terms"], arrays["rows"], arrays["tf"].astype(np.float64)
            spill.unlink()
            if not len(gids):
                continue
            # Pseudo term frequency: body tf over the body's length norm + weighted title tf over the title's.
            pseudo_tf = tf[0] / body_norm[rows] + params.title_weight * tf[1] / title_norm[rows]
            weights = (pseudo_tf / (params.k1 + pseudo_tf) * idf[gids]).astype(np.float32)
            sorted_terms = rank[gids]
            by_term = np.argsort(sorted_terms, kind="stable")  # keeps each term's rows in passage order
            sorted_terms = sorted_terms[by_term]
            starts = np.flatnonzero(np.concatenate([[True], sorted_terms[1:] != sorted_terms[:-1]]))
            counts = np.diff(np.append(starts, len(sorted_terms)))
            group_start = np.repeat(starts, counts)
            positions = cursor[sorted_terms] + (np.arange(len(sorted_terms)) - group_start)
            rows_out[positions] = rows[by_term]
            weights_out[positions] = weights[by_term]
            cursor[sorted_terms[starts]] += counts
        rows_out.flush()
        weights_out.flush()
        del rows_out, weights_out
        self._scratch.rmdir()


def term_hash(term: str) -> int:
    """A term's 64-bit hash: the same in every process (unlike `hash`)."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")


def _counts(keys: IntArray) -> tuple[IntArray, FloatArray]:
    """Distinct keys (sorted) and how often each occurs; sorts `keys` in place to avoid another copy."""
    keys.sort()
    if not len(keys):
        return keys, np.zeros(0)
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    counts = np.diff(np.append(starts, len(keys))).astype(np.float64)
    return keys[starts], counts


def _length_norm(lengths: IntArray, b: float) -> FloatArray:
    average = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
    return np.asarray(1.0 - b + b * lengths / average, dtype=np.float64)


def _concat(arrays: list[IntArray]) -> IntArray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
