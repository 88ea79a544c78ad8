"""Composing the answer to a planned question from the records of the passages a run retrieved.

Every name, figure and date in an answer is a `Quote` of the passage it comes from (a country's name is its
passage's title; a figure is its value line); the words around them are this module's fixed wording. Nothing is
computed into the text: a ranking is an order, a trend says "rose" or "fell", a yes/no answer shows the value
that decides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from research_nb.engines._report import AnswerBlock, EvidenceSection, Line, Quote, document_title
from research_nb.engines.offline._facts import GROUP_FIELDS, Record, in_group, records_of
from research_nb.models.research import Passage, QuestionPlan

_EVIDENCE_LINES = 4


@dataclass(frozen=True)
class _Retrieved:
    """The records of a run's passages, by document."""

    by_document: dict[str, list[Record]]
    titles: dict[str, str]

    @classmethod
    def of(cls, passages: Sequence[Passage]) -> _Retrieved:
        by_document: dict[str, list[Record]] = {}
        titles: dict[str, str] = {}
        for passage in passages:
            title = titles.setdefault(passage.document_id, document_title(passage.title))
            records = records_of(passage.document_id, title, passage.id, passage.location.heading, passage.text)
            by_document.setdefault(passage.document_id, []).extend(records)
        return cls(by_document, titles)

    def get(self, document_id: str, field: str, part: str | None) -> list[Record]:
        return [r for r in self.by_document.get(document_id, []) if r.field == field and r.part == part]

    def members(self, group: str) -> list[str]:
        """Documents of a group, by their retrieved group records, in name order."""
        found = {
            d
            for d, records in self.by_document.items()
            for r in records
            if r.field in GROUP_FIELDS and in_group(r.value, group)
        }
        return sorted(found, key=lambda d: (self.by_document[d][0].document, d))

    def group_record(self, document_id: str, group: str) -> Record | None:
        return next(
            (r for r in self.by_document.get(document_id, []) if r.field in GROUP_FIELDS and in_group(r.value, group)),
            None,
        )


def compose(plan: QuestionPlan, documents: Sequence[str], passages: Sequence[Passage]) -> AnswerBlock | None:
    """The answer to `plan` from `passages`, or None when they do not hold what it needs (the report then falls
    back to quoting the best sentences). `documents`: the ids of the plan's entities, in its order."""
    if plan.attribute is None:
        return None
    retrieved = _Retrieved.of(passages)
    if plan.kind in ("fact", "numeric", "list"):
        return _single(plan, documents, retrieved)
    if plan.kind == "comparison":
        return _comparison(plan, documents, retrieved)
    if plan.kind in ("superlative", "topn"):
        return _ranking(plan, retrieved)
    if plan.kind == "trend":
        return _trend(plan, documents, retrieved)
    if plan.kind == "yesno":
        return _yes_no(plan, documents, retrieved)
    return None


# -- one value -----------------------------------------------------------------------------------------------


def _single(plan: QuestionPlan, documents: Sequence[str], retrieved: _Retrieved) -> AnswerBlock | None:
    statements: list[Line] = []
    sections: list[EvidenceSection] = []
    for document_id in documents[:1]:
        records = retrieved.get(document_id, plan.attribute or "", plan.attribute_detail)
        # The year asked for, when the field states it; else the newest value.
        record = (_of_year(records, plan.years[-1]) if plan.years else None) or _newest(records)
        if record is None:
            continue
        statements.append((*_whose(record), ": ", Quote(record.value, record.passage_id), "."))
        sections.append(_evidence(record))
    if not statements:
        return None
    return AnswerBlock(tuple(statements), tuple(sections))


def _whose(record: Record) -> Line:
    """ "Japan's unemployment rate", every word quoted from the record's passage (its title and field)."""
    name = record.document
    possessive = "'" if name.endswith("s") else "'s"
    return (
        Quote(name, record.passage_id, cite=False),
        f"{possessive} ",
        Quote(record.describe_field(), record.passage_id, cite=False),
    )


def _evidence(record: Record) -> EvidenceSection:
    """The lines of the passage that state the value (other years of it, its note): the deciding value and what
    the source says beside it, without the field's other parts."""
    own = {
        r.line
        for r in records_of(record.document_id, record.document, record.passage_id, record.field, record.text)
        if r.part == record.part
    }
    lines = [
        line
        for number, line in enumerate(record.text.split("\n"))
        if line.strip() and (number in own or line.lower().startswith("note"))
    ][:_EVIDENCE_LINES]
    return EvidenceSection(
        title=f"{record.document}: {record.field}",
        lines=tuple((Quote(line, record.passage_id),) for line in lines),
    )


# -- two or more values side by side --------------------------------------------------------------------------


def _comparison(plan: QuestionPlan, documents: Sequence[str], retrieved: _Retrieved) -> AnswerBlock | None:
    field, part = plan.attribute or "", plan.attribute_detail
    values = [(d, _newest(retrieved.get(d, field, part))) for d in documents]
    known = [(d, r) for d, r in values if r is not None and r.quantity is not None]
    if len(known) < 2:
        return None
    ranked = sorted(known, key=lambda item: _order_key(item[1], plan.operation))
    (_, winner), (_, runner_up) = ranked[0], ranked[1]
    assert winner.quantity is not None and runner_up.quantity is not None
    statements: list[Line] = []
    if not winner.quantity.comparable(runner_up.quantity):
        statements.append(
            ("The figures are not comparable (different units): ", *_value_of(winner), "; ", *_value_of(runner_up), ".")
        )
    elif winner.quantity.number == runner_up.quantity.number:
        statements.append(
            ("Both have the same ", _field_quote(winner), ": ", *_value_of(winner), "; ", *_value_of(runner_up), ".")
        )
    else:
        word = _comparative(winner, plan.operation)
        statements.append(
            (
                Quote(winner.document, winner.passage_id, cite=False),
                f" has the {word} ",
                _field_quote(winner),
                ": ",
                Quote(_figure(winner), winner.passage_id),
                "; ",
                *_value_of(runner_up),
                ".",
            )
        )
        if winner.quantity.year != runner_up.quantity.year:
            statements.append(
                ("The two figures are for different years: ", *_dated(winner), "; ", *_dated(runner_up), ".")
            )
    header = ("", *(retrieved.titles.get(d, d) for d, _ in values))
    row: list[Line] = [(_field_quote(winner, cite=False),)]
    for _, record in values:
        row.append((Quote(record.value, record.passage_id),) if record else ("–",))
    table = EvidenceSection(title="At a glance", header=header, rows=(tuple(row),))
    missing = [retrieved.titles.get(d, d) for d, r in values if r is None]
    if missing:
        statements.append((f"The searched documents give no such figure for {', '.join(missing)}.",))
    return AnswerBlock(tuple(statements), (table,))


def _comparative(record: Record, operation: str | None) -> str:
    higher = operation != "lowest"
    quantity = record.quantity
    sized = quantity is not None and (quantity.unit in ("", "sq km", "km") or quantity.unit.endswith("sq km"))
    if sized:
        return "larger" if higher else "smaller"
    return "higher" if higher else "lower"


def _superlative(record: Record, operation: str | None) -> str:
    return {"larger": "largest", "smaller": "smallest", "higher": "highest", "lower": "lowest"}[
        _comparative(record, operation)
    ]


def _value_of(record: Record) -> Line:
    """ "Sweden: $63,300 [2]": whose the figure is, then the figure."""
    return (Quote(record.document, record.passage_id, cite=False), ", ", Quote(_figure(record), record.passage_id))


def _dated(record: Record) -> Line:
    return (
        Quote(record.document, record.passage_id, cite=False),
        ", ",
        Quote(record.value, record.passage_id, cite=False),
    )


def _figure(record: Record) -> str:
    """The value as the passage writes it, with its year when it has one ("$91,100 (2024 est.)")."""
    return record.quantity.text if record.quantity else record.value


def _field_quote(record: Record, *, cite: bool = False) -> Quote:
    return Quote(record.describe_field(), record.passage_id, cite=cite)


# -- rankings over a group ------------------------------------------------------------------------------------


def _ranking(plan: QuestionPlan, retrieved: _Retrieved) -> AnswerBlock | None:
    if not plan.groups:
        return None
    group = plan.groups[0]
    field, part = plan.attribute or "", plan.attribute_detail
    year = plan.years[-1] if plan.years else None
    ranked: list[Record] = []
    missing: list[Record] = []  # the group records of members with no figure (what says they belong)
    for document_id in retrieved.members(group):
        records = retrieved.get(document_id, field, part)
        record = _of_year(records, year) if year else _newest(records)
        if record is not None and record.quantity is not None:
            ranked.append(record)
        elif (member := retrieved.group_record(document_id, group)) is not None:
            missing.append(member)
    if not ranked:
        return None
    unit = _main_unit(ranked)
    incomparable = [r for r in ranked if r.quantity is not None and r.quantity.unit != unit]
    ranked = sorted((r for r in ranked if r.quantity is not None and r.quantity.unit == unit),
                    key=lambda r: _order_key(r, plan.operation))  # fmt: skip
    best = _superlative(ranked[0], plan.operation)
    when = f" in {year}" if year else ""
    group_quote = _group_quote(retrieved, ranked[0], group)
    statements: list[Line] = []
    if plan.kind == "topn":
        count = min(plan.count or 3, len(ranked))
        lead: list[str | Quote] = [
            "The countries of ",
            group_quote,
            f" with the {best} ",
            _field_quote(ranked[0]),
            when,
            ": ",
        ]
        for n, record in enumerate(ranked[:count]):
            lead += [*("; " if n else ""), *_value_of(record)]
        statements.append((*lead, "."))
    else:
        top = ranked[0]
        name = Quote(top.document, top.passage_id, cite=False)
        statements.append(
            (
                name,
                f" has the {best} ",
                _field_quote(top),
                " in ",
                group_quote,
                when,
                ": ",
                Quote(_figure(top), top.passage_id),
                ".",
            )
        )
        if len(ranked) > 1:
            statements.append(("Next: ", *_value_of(ranked[1]), "."))
    if (
        len(ranked) > 1
        and ranked[0].quantity
        and ranked[1].quantity
        and ranked[0].quantity.number == ranked[1].quantity.number
    ):
        statements.append(("The first two are tied.",))
    years = sorted({r.quantity.year for r in ranked if r.quantity and r.quantity.year})
    if not year and len(years) > 1:
        statements.append(("The latest figures are not all from the same year.",))
    rows = tuple(
        ((f"{n}",), (Quote(r.document, r.passage_id, cite=False),), (Quote(r.value, r.passage_id),))
        for n, r in enumerate(ranked, start=1)
    )
    notes: list[Line] = []
    if missing:
        absent: list[str | Quote] = [f"No figure{when} in the searched documents: "]
        for n, member in enumerate(missing):
            absent += [*(", " if n else ""), Quote(member.document, member.passage_id)]
        notes.append((*absent, "."))
    if incomparable:
        notes += [("Left out, stated in another unit: ", *_value_of(r), ".") for r in incomparable]
    table = EvidenceSection(title="Ranking", header=("#", "Country", ranked[0].field), rows=rows)
    sections = [table] + ([EvidenceSection(title="Not ranked", lines=tuple(notes))] if notes else [])
    return AnswerBlock(tuple(statements), tuple(sections))


def _group_quote(retrieved: _Retrieved, record: Record, group: str) -> str | Quote:
    found = retrieved.group_record(record.document_id, group)
    return Quote(group, found.passage_id, cite=False) if found else group


def _main_unit(records: Sequence[Record]) -> str:
    units: dict[str, int] = {}
    for record in records:
        if record.quantity is not None:
            units[record.quantity.unit] = units.get(record.quantity.unit, 0) + 1
    return max(units.items(), key=lambda item: (item[1], item[0]))[0]


def _order_key(record: Record, operation: str | None) -> tuple[float, str]:
    number = record.quantity.number if record.quantity else 0.0
    return (number if operation == "lowest" else -number, record.document)


# -- a figure over the years ----------------------------------------------------------------------------------


def _trend(plan: QuestionPlan, documents: Sequence[str], retrieved: _Retrieved) -> AnswerBlock | None:
    if not documents:
        return None
    records = [
        r
        for r in retrieved.get(documents[0], plan.attribute or "", plan.attribute_detail)
        if r.quantity and r.quantity.year
    ]
    first, last = (plan.years[0], plan.years[-1]) if plan.years else (None, None)
    if first is not None:
        bounded = [r for r in records if r.quantity and r.quantity.year and r.quantity.year >= first]
        if last is not None and last != first:
            bounded = [r for r in bounded if r.quantity and r.quantity.year and r.quantity.year <= last]
        records = bounded or records
    by_year = sorted(records, key=lambda r: r.quantity.year if r.quantity and r.quantity.year else 0)
    if not by_year:
        return None
    if len(by_year) == 1:  # the Factbook states some series (population) for the latest year only
        only = by_year[0]
        return AnswerBlock(
            (
                (*_whose(only), " is stated for one year only: ", Quote(only.value, only.passage_id), "."),
                ("The searched documents do not show how it changed.",),
            )
        )
    head = by_year[0]
    line: list[str | Quote] = [*_whose(head), ", year by year: "]
    for n, record in enumerate(by_year):
        line += [*("; " if n else ""), Quote(record.value, record.passage_id, cite=n == len(by_year) - 1)]
    statements: list[Line] = [(*line, ".")]
    start, end = by_year[0].quantity, by_year[-1].quantity
    if start is not None and end is not None:
        moved = "rose" if end.number > start.number else "fell" if end.number < start.number else "was unchanged"
        statements.append((f"From the first of these years to the last it {moved}.",))
        if plan.test in ("rose", "fell"):  # "Has it fallen since 2022?": the word first, then the figures
            statements.insert(0, ("Yes." if moved == plan.test else "No.",))
    rows = tuple(
        ((Quote(str(r.quantity.year), r.passage_id, cite=False),), (Quote(r.value, r.passage_id),))
        for r in by_year
        if r.quantity
    )
    table = EvidenceSection(title="By year", header=("Year", head.field), rows=rows)
    return AnswerBlock(tuple(statements), (table,))


# -- yes or no --------------------------------------------------------------------------------------------------


def _yes_no(plan: QuestionPlan, documents: Sequence[str], retrieved: _Retrieved) -> AnswerBlock | None:
    if not documents or not plan.test:
        return None
    records = retrieved.get(documents[0], plan.attribute or "", plan.attribute_detail)
    if not records and plan.attribute_detail is None:
        records = [r for r in retrieved.by_document.get(documents[0], []) if r.field == plan.attribute]
    record = records[0] if records else None
    if record is None:
        return None
    test = plan.test
    if plan.operation == "member":
        items = [item.strip() for item in record.value.replace(";", ",").split(",")]
        found = any(item == test for item in items)
        qualified = next((item for item in items if item.startswith(test + " (")), None)
        word = "Yes" if found else "No"
        statement: Line
        if qualified and not found:
            statement = (
                f"{word}: ",
                *_whose(record),
                f" lists {test} only as ",
                Quote(qualified, record.passage_id),
                ".",
            )
        else:  # the deciding value is the whole list: what it holds, or what it does not
            relation = "lists" if found else "does not list"
            statement = (
                f"{word}: ",
                *_whose(record),
                f" {relation} {test}: ",
                Quote(record.value, record.passage_id),
                ".",
            )
        return AnswerBlock((statement,))
    holds = test.lower() in record.value.lower()
    yes = holds if plan.operation != "has" else not holds
    statement = ("Yes" if yes else "No", ": ", *_whose(record), ": ", Quote(record.value, record.passage_id), ".")
    return AnswerBlock((statement,), (_evidence(record),))


# -- helpers ----------------------------------------------------------------------------------------------------


def _newest(records: Sequence[Record]) -> Record | None:
    """The record a field states first (the Factbook lists the newest year first), preferring one with a figure."""
    return next((r for r in records if r.quantity is not None), records[0] if records else None)


def _of_year(records: Sequence[Record], year: int) -> Record | None:
    return next((r for r in records if r.quantity is not None and r.quantity.year == year), None)
