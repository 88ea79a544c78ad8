"""The corpus as data: every `Field: value` line of every passage, by document and by field.

A passage of the World Factbook (or any corpus written as key-value lines) states one field, often with parts and
yearly values:

    Population, total: 45,418,098 (2025 est.)        -> field "Population", part "total"
    Inflation rate (consumer prices): 73.1% (2022 est.)
    Inflation rate (consumer prices): 47.1% (2021 est.) -> one record per year, newest first

A prose passage (a long list, a paragraph) is one record whose value is its whole first line. Records keep the
passage they come from, so anything built from them cites that passage and quotes it verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from research_nb.engines.offline._values import Quantity, parse_quantity

_KEY_VALUE = re.compile(r"^(?P<key>[^:\n]{1,120}?)\s*:\s+(?P<value>\S.*)$")
#: The field a corpus may use to file documents in groups (the Factbook's region folders, said as a field).
GROUP_FIELDS = ("Region",)
#: A document that states one of these is not a sovereign country: a territory or dependency, or an organisation
#: of states (the European Union lists its member states, and states an independence of its own).
_DEPENDENT_FIELDS = frozenset({"Dependency status", "Member states"})
#: A key that is its field's name with a year ("Military Expenditures 2024"): the field's figure for that year.
_YEARLY_KEY = re.compile(r"^(?P<name>.+?)\s+(?:19|20)\d{2}$")
_SOVEREIGN_FIELD = "Independence"
_MANY_DOCUMENTS = 20


@dataclass(frozen=True, init=False)
class Record:
    """One value a document states: `document`'s `field` (`part`) is `value`, said in passage `passage_id`."""

    document_id: str
    document: str
    field: str
    part: str | None
    value: str
    passage_id: str
    text: str  # the whole text of its passage
    line: int  # position among the lines of its passage (0: the first, which is the newest year)
    keyed: bool = True  # written as `Field[, part]: value` (False: a prose passage's first line)

    def __init__(
        self,
        document_id: str,
        document: str,
        field: str,
        part: str | None,
        value: str,
        passage_id: str,
        text: str,
        line: int,
        keyed: bool = True,
    ) -> None:
        # One dict update, not a frozen dataclass's nine `object.__setattr__` calls: a corpus has tens of thousands
        # of records (69,380 in the Factbook), built at every open without a saved knowledge: 0.26 -> 0.16 s for those.
        self.__dict__.update(
            document_id=document_id,
            document=document,
            field=field,
            part=part,
            value=value,
            passage_id=passage_id,
            text=text,
            line=line,
            keyed=keyed,
        )

    @cached_property
    def quantity(self) -> Quantity | None:
        return parse_quantity(self.value)

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.field, self.part)

    def describe_field(self) -> str:
        """'unemployment rate', 'capital (name)': the field as the passage names it, for fixed wording."""
        name = lower_first(self.field)
        return f"{name} ({self.part})" if self.part else name


@dataclass
class DocumentFacts:
    document_id: str
    title: str
    records: list[Record] = field(default_factory=list)

    def get(self, name: str, part: str | None = None) -> list[Record]:
        """Every record of a field (and part), newest year first."""
        return [r for r in self.records if r.field == name and r.part == part]

    def fields(self) -> set[str]:
        return {r.field for r in self.records}

    @property
    def sovereign(self) -> bool:
        """A country in its own right: it has an independence entry and no dependency status (Factbook fields)."""
        names = self.fields()
        return _SOVEREIGN_FIELD in names and not (names & _DEPENDENT_FIELDS)

    def groups(self) -> list[str]:
        return [r.value for r in self.records if r.field in GROUP_FIELDS and r.part is None]


class CorpusFacts:
    """All records of a corpus, by document and by field, built once per opened corpus."""

    def __init__(self, documents: Iterable[tuple[str, str, Sequence[tuple[str, str, str]]]]) -> None:
        """`documents`: (id, title, its passages as (passage id, heading, text)) for each document."""
        self.documents: dict[str, DocumentFacts] = {}
        self.parts: dict[str, dict[str | None, int]] = {}  # field -> part -> how many documents state it
        self.keyed: dict[str, int] = {}  # field -> how many documents state it as `Field: value` lines
        self.group_members: dict[str, list[str]] = {}
        for document_id, title, passages in documents:
            facts = DocumentFacts(document_id, title)
            for passage_id, heading, text in passages:
                facts.records.extend(records_of(document_id, title, passage_id, heading, text))
            self.documents[document_id] = facts
            seen: set[tuple[str, str | None]] = set()
            for record in facts.records:
                if record.key not in seen:
                    seen.add(record.key)
                    counts = self.parts.setdefault(record.field, {})
                    counts[record.part] = counts.get(record.part, 0) + 1
            for name in {r.field for r in facts.records if r.keyed}:
                self.keyed[name] = self.keyed.get(name, 0) + 1
            for group in facts.groups():
                self.group_members.setdefault(group, []).append(document_id)
        self.group_members.update(_unions(self.group_members))

    def fields(self) -> list[str]:
        return sorted(self.parts)

    def is_data_field(self, name: str) -> bool:
        """A field documents state as data: as `Field: value` lines in two or more documents, or under the same
        heading in many (a long list such as "International organization participation"). A heading of a user's
        notes ("Introduction") is not one."""
        return self.keyed.get(name, 0) >= 2 or max(self.parts.get(name, {None: 0}).values()) >= _MANY_DOCUMENTS

    def is_numeric(self, name: str, part: str | None) -> bool:
        """Whether most documents state this field as a figure."""
        values = [r for d in self.documents.values() for r in d.get(name, part)[:1]][:40]
        return bool(values) and sum(r.quantity is not None for r in values) * 2 > len(values)


def records_of(document_id: str, title: str, passage_id: str, heading: str | None, text: str) -> list[Record]:
    """The records of one passage: its `Field[, part]: value` lines, or its first line as one prose value."""
    if not heading:
        return []
    found: list[Record] = []
    lines = text.split("\n")
    for number, line in enumerate(lines):
        match = _KEY_VALUE.match(line.strip())
        if match is None:
            if number == 0:  # a prose field: the whole line is its value
                found.append(
                    Record(document_id, title, heading, None, line.strip(), passage_id, text, number, keyed=False)
                )
            continue
        key, value = match.group("key").strip(), match.group("value").strip()
        if key.lower().startswith("note"):
            continue
        yearly = _YEARLY_KEY.match(key)
        if key == heading or (yearly is not None and heading.casefold() in yearly.group("name").casefold()):
            part = None
        elif key.startswith(heading + ","):
            part = key[len(heading) + 1 :].strip()
        elif number == 0 and not found:
            found.append(Record(document_id, title, heading, None, line.strip(), passage_id, text, number, keyed=False))
            continue
        else:
            part = key
        found.append(Record(document_id, title, heading, part, value, passage_id, text, number))
    return found


def in_group(value: str, group: str) -> bool:
    """Whether a document whose group record says `value` belongs to `group`: the group itself, or a wider group
    that ends a part of its name ("East and Southeast Asia" and "South Asia" are in "Asia")."""
    return value == group or group in _wider(value)


def _wider(group: str) -> set[str]:
    """The wider groups a group's name implies: the last word of each of its parts of several words."""
    return {part.split()[-1] for part in group.split(" and ") if len(part.split()) > 1}


def _unions(groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """The wider groups the groups' own names imply: "Asia" is every group whose name ends a part in it ("Central
    Asia", "South Asia", "East and Southeast Asia"); a question about "Asian countries" ranges over all of them."""
    words = {w for g in groups for w in _wider(g)} - set(groups)
    unions = {w: [g for g in groups if in_group(g, w)] for w in sorted(words)}
    return {
        w: list(dict.fromkeys(d for g in named for d in groups[g])) for w, named in unions.items() if len(named) > 1
    }


def lower_first(name: str) -> str:
    """'Unemployment rate' -> 'unemployment rate'; acronyms and names keep their capitals ('GDP', 'Internet')."""
    head = name.split(" ", 1)[0]
    if len(head) > 1 and head[1:].islower():
        return name[:1].lower() + name[1:]
    return name
