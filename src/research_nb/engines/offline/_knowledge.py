"""What the offline engine knows about an opened corpus: its names, its data records and its field vocabulary.

Built once per corpus (0.6-0.7 s of CPU for the Factbook) and kept with it, so each research only reads it. It
is also kept on disk beside the corpus's index (`load` / `save`: a file in the index's folder, so it is keyed by
the index and evicted with it), so a later process that opens the same corpus reads it in a fraction of that.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from research_nb.engines.offline._facts import CorpusFacts
from research_nb.engines.offline._query import TitleIndex
from research_nb.engines.offline._vocabulary import FieldVocabulary
from research_nb.sources._atomic import atomic_write
from research_nb.sources.corpus import Corpus, DocumentTexts

#: Fields in which a document gives its other names, and the parts that hold them.
_NAME_FIELDS = ("Country name", "Union name")
_NAME_PARTS = frozenset({"conventional long form", "conventional short form", "abbreviation", "former"})


@dataclass(frozen=True)
class Knowledge:
    titles: TitleIndex
    facts: CorpusFacts
    vocabulary: FieldVocabulary

    @classmethod
    def of(cls, corpus: Corpus) -> Knowledge:
        titles = corpus.titles()
        return cls._of(titles, ((doc_id, title, corpus.headed_texts(doc_id)) for doc_id, title in titles.items()))

    @classmethod
    def of_texts(cls, documents: Sequence[DocumentTexts]) -> Knowledge:
        """What `of` reads from the corpus of these documents, read from them before it is open (`Corpus.open`'s
        `on_documents`): each id once, in corpus order."""
        return cls._of({doc_id: title for doc_id, title, _ in documents}, documents)

    @classmethod
    def _of(
        cls, titles: dict[str, str], documents: Iterable[tuple[str, str, Sequence[tuple[str, str, str]]]]
    ) -> Knowledge:
        facts = CorpusFacts(documents)
        aliases = {doc_id: other_names(facts, doc_id) for doc_id in titles}
        index = TitleIndex(titles, aliases=aliases, groups=sorted(facts.group_members))
        return cls(index, facts, FieldVocabulary(facts))

    # -- on disk, beside the index ----------------------------------------------------------------------------

    def dumps(self) -> bytes:
        return pickle.dumps(self, pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def loads(data: bytes) -> Knowledge:
        """The knowledge `dumps` wrote; ValueError for anything else."""
        try:
            knowledge = pickle.loads(data)  # our own file, in the user's own cache: see `path_of`
        except Exception as exc:
            raise ValueError(f"not a saved Knowledge ({type(exc).__name__})") from exc
        if not isinstance(knowledge, Knowledge):
            raise ValueError("not a saved Knowledge")
        return knowledge

    @classmethod
    def load(cls, corpus: Corpus) -> Knowledge | None:
        """The knowledge saved beside `corpus`'s index, or None (never saved, saved by other code, or damaged)."""
        try:
            return cls.loads(path_of(corpus).read_bytes())
        except (OSError, ValueError):
            return None

    def save(self, corpus: Corpus) -> None:
        """Keep this knowledge beside `corpus`'s index; a cache that cannot be written only costs speed."""
        try:
            with atomic_write(path_of(corpus)) as scratch:
                scratch.write_bytes(self.dumps())
        except OSError:
            pass


def path_of(corpus: Corpus) -> Path:
    """Where `corpus`'s knowledge is kept: in its index's folder (so it goes when the index is evicted), named
    after the code that builds it (a knowledge of another version of the engine is simply not found).

    A pickle, read back only from the cache folder research-nb writes for this user (like the index itself):
    the cheapest form to read back (0.2 s for the Factbook's, against 0.6-0.7 s to build it)."""
    return corpus.derived_path(f"offline-knowledge-{_code_version()}.pickle")


@cache
def _code_version() -> str:
    """A digest of the engines' source files: the knowledge depends on the records, names and fields they read."""
    engines = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(engines.rglob("*.py")):
        digest.update(path.relative_to(engines).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def other_names(facts: CorpusFacts, document_id: str) -> list[str]:
    """'United States of America', 'US', 'USA' for the United States; 'Ivory Coast' for Côte d'Ivoire."""
    names: list[str] = []
    for record in facts.documents[document_id].records:
        if record.field not in _NAME_FIELDS or record.part not in _NAME_PARTS:
            continue
        value = record.value.split(";")[0]
        for piece in value.replace(" or ", ", ").split(", "):
            name = piece.split(" (")[0].strip().strip("()")
            if name and name.lower() != "none" and len(name) > 1:
                names.append(name.removeprefix("The "))
    return names
