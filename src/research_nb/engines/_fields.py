"""`Field: value` data lines (the World Factbook's shape, and any corpus's key-value lines): what a data passage
states, whether a value is a quantity, and a short prefix of a long value for a table cell (still a verbatim quote).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from research_nb.models.research import Passage

FIELD_LINE = re.compile(r"^(?P<field>[^:\n]{2,80}):\s+(?P<value>\S.*)$")
_CELL_CHARS = 70
_QUANTITY = re.compile(r"^[-+]?[$€£¥]?\s?-?[0-9]")


@dataclass(frozen=True)
class FieldValue:
    field: str
    value: str  # a prefix of the passage's first line after "Field: ", so it is a verbatim quote
    passage: Passage


def field_value(passage: Passage) -> FieldValue | None:
    """The `Field: value` a data passage states on its first line (World Factbook style), if any."""
    first_line = passage.text.split("\n", 1)[0].strip()
    match = FIELD_LINE.match(first_line)
    if match is None:
        return None
    field = match.group("field").strip()
    if passage.location.heading and field != passage.location.heading:
        return None  # a composite field ("GDP - composition, by sector of origin, agriculture: 2%") is no one value
    return FieldValue(field=field, value=_short(match.group("value")), passage=passage)


def is_quantity(value: str) -> bool:
    """A figure ("$91,100 (2024 est.)", "4%", "3.042 million") rather than a list of words."""
    return bool(_QUANTITY.match(value))


def is_field_line(text: str) -> bool:
    return FIELD_LINE.match(text) is not None


def _short(value: str) -> str:
    """Cut a long value at a natural break outside parentheses, keeping it a prefix of the original (so still a
    verbatim quote)."""
    if len(value) <= _CELL_CHARS:
        return value
    depth, breaks = 0, {"; ": -1, ", ": -1, " ": -1}
    for i, char in enumerate(value[:_CELL_CHARS]):
        depth += (char == "(") - (char == ")")
        for mark in breaks:
            if depth == 0 and value.startswith(mark, i) and i > 20:
                breaks[mark] = i
    cut = next((breaks[m] for m in ("; ", ", ", " ") if breaks[m] > 0), _CELL_CHARS)
    return value[:cut]
