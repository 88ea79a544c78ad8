"""Reading a data value as a quantity: number, scale, unit, year and whether it is an estimate.

"$1.213 trillion (2024 est.)" -> 1.213e12 "$" (2024, estimate); "9,984,670 sq km" -> 9984670 "sq km";
"25.05 births/1,000 population (2025 est.)" -> 25.05 "births/1,000 population". The text itself is kept, so a
report quotes the value exactly as its passage writes it; the parsed parts only decide order and comparability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_NUMBER = re.compile(
    r"^(?P<sign>[-+–−])?\s*(?P<currency>[$€£¥])?\s*(?P<sign2>-)?(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s*(?P<scale>thousand|million|billion|trillion)\b)?"
)
_YEAR = re.compile(r"\((?:[^()]*?\b)?(?P<year>(?:19|20)\d{2})(?:\s*(?P<est>est)\.?)?\)")
_UNIT = re.compile(r"^\s*(?P<unit>%|[^\s(;,][^(;]*?)?\s*(?=\(|;|$)")


@dataclass(frozen=True)
class Quantity:
    """A figure as its passage writes it (`text`), with what is needed to rank it against others."""

    text: str  # the value's own text, up to and including its year: a verbatim quote
    figure: str  # the number as written, with its currency, scale and unit ("$91,100", "9.1%", "1.5 million sq km")
    number: float
    unit: str  # "%", "sq km", "years", "$" for money, "" for a bare count
    year: int | None
    estimate: bool

    def comparable(self, other: Quantity) -> bool:
        return self.unit == other.unit


def parse_quantity(value: str) -> Quantity | None:
    """The quantity a value begins with, or None for words ("presidential republic")."""
    text = value.strip()
    match = _NUMBER.match(text)
    if match is None:
        return None
    number = float(match.group("digits").replace(",", ""))
    if match.group("sign") in ("-", "–", "−") or match.group("sign2"):
        number = -number
    if match.group("scale"):
        number *= _SCALES[match.group("scale")]
    rest = text[match.end() :]
    unit_match = _UNIT.match(rest)
    unit = (unit_match.group("unit") or "").strip() if unit_match else ""
    if unit.startswith(("note", "est")):
        unit = ""
    if match.group("currency"):
        unit = f"{match.group('currency')} {unit}".strip()
    figure_end = match.end() + (unit_match.end() if unit_match and unit_match.group("unit") else 0)
    figure = text[:figure_end].rstrip(" ;,")
    year_match = _YEAR.search(rest[: 40 + len(unit)]) if rest else None
    year = int(year_match.group("year")) if year_match else None
    estimate = bool(year_match and year_match.group("est"))
    end = match.end() + year_match.end() if year_match else len(figure)
    return Quantity(
        text=text[: max(end, len(figure))].rstrip(" ;,"),
        figure=figure,
        number=number,
        unit=unit,
        year=year,
        estimate=estimate,
    )
