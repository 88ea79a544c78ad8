"""What the offline engine knows about an opened corpus: its names, its data records and its field vocabulary.

Built once per corpus (a few hundred milliseconds for the Factbook) and kept with it, so each research only
reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from research_nb.engines.offline._facts import CorpusFacts
from research_nb.engines.offline._query import TitleIndex
from research_nb.engines.offline._vocabulary import FieldVocabulary
from research_nb.sources.corpus import Corpus

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
        facts = CorpusFacts((doc_id, title, corpus.headed_texts(doc_id)) for doc_id, title in titles.items())
        aliases = {doc_id: other_names(facts, doc_id) for doc_id in titles}
        index = TitleIndex(titles, aliases=aliases, groups=sorted(facts.group_members))
        return cls(index, facts, FieldVocabulary(facts))


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
