"""Searching: the obviously right passage comes first, on the user's files and on the Factbook."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from research_nb.core.protocols import SearchProvider
from research_nb.sources.corpus import Corpus


def test_the_right_passage_ranks_first_in_the_users_files(notes: Path, tmp_path: Path) -> None:
    corpus = Corpus.open([notes], builtins=(), cache_dir=tmp_path)

    expectations = {
        "when do neap tides occur": "file:notes/tides.md#3",
        "wild yeast ferment sourdough": "file:notes/sub/bread.txt#1",
        "Eyjafjallajökull ash cloud airspace": "file:notes/volcanoes.html#2",
        "glaciers retreat in the Alps": "file:notes/README.rst#2",
    }
    for query, expected in expectations.items():
        hits = corpus.search_sync(query, k=3)
        assert hits[0].id == expected, (query, [h.id for h in hits])
        assert hits[0].score > 0
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_query_with_no_known_term_finds_nothing(notes: Path, tmp_path: Path) -> None:
    corpus = Corpus.open([notes], builtins=(), cache_dir=tmp_path)

    assert corpus.search_sync("zyxwvut qqqq", k=5) == []
    assert corpus.search_sync("the and of", k=5) == []  # stop words only


async def test_the_corpus_is_a_search_provider(notes: Path, tmp_path: Path) -> None:
    corpus = Corpus.open([notes], builtins=(), cache_dir=tmp_path)

    assert isinstance(corpus, SearchProvider)
    hits = await corpus.search("spring tides aligned", 2)
    assert hits == corpus.search_sync("spring tides aligned", 2)
    assert hits[0].id == "file:notes/tides.md#2"


def test_factbook_finds_a_countrys_field_by_country_and_field_name(factbook: Corpus) -> None:
    hits = factbook.search_sync("Norway unemployment rate", k=3)

    norway = [h for h in hits if h.document_id == "factbook:no" and h.location.heading == "Unemployment rate"]
    assert norway, [h.title for h in hits]
    assert norway[0].title == "Norway — Economy"
    assert norway[0].text.startswith("Unemployment rate: ")


def test_factbook_comparison_fields_share_a_heading_across_countries(factbook: Corpus) -> None:
    best = {}
    for country in ("Norway", "Sweden"):
        hit = factbook.search_sync(f"{country} real GDP per capita", k=1)[0]
        best[country] = hit
        assert hit.title == f"{country} — Economy"

    assert best["Norway"].location.heading == best["Sweden"].location.heading == "Real GDP per capita"


async def test_concurrent_searches_give_the_same_results_as_one_at_a_time(factbook: Corpus) -> None:
    countries = ("Norway", "Chile", "Japan", "Kenya")
    queries = [f"{country} {field}" for country in countries for field in ("capital", "GDP")]
    expected = [factbook.search_sync(q, 5) for q in queries]

    results = await asyncio.gather(*(factbook.search(q, 5) for q in queries * 4))

    assert results == expected * 4


def test_the_best_k_are_the_first_k_of_the_whole_ranking_with_ties_decided_by_id(tmp_path: Path) -> None:
    # 40 records, written in reverse id order (so passage order is not id order): "amber" is in 10 of them,
    # "glacier" in all, so both score groups are ties, cut at every k.
    lines = []
    for i in reversed(range(40)):
        text = "amber glacier field notes" if i % 4 == 0 else f"glacier moraine {'till ' * (i % 3)}survey"
        lines.append(json.dumps({"_id": f"d{i:02d}", "title": "Survey", "text": text}))
    (tmp_path / "survey.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = Corpus.open([tmp_path / "survey.jsonl"], builtins=(), cache_dir=tmp_path / "cache")

    for query in ("amber glacier", "glacier", "amber moraine till"):
        whole = corpus.search_sync(query, k=100)
        assert len(whole) == 40
        keys = [(-h.score, h.id) for h in whole]
        assert keys == sorted(keys), query  # best first, equal scores in id order
        for k in range(1, 41):
            assert corpus.search_sync(query, k=k) == whole[:k], (query, k)
