"""The support check on its own: what a claim must do to be shown."""

from __future__ import annotations

from research_nb.engines.llm._verify import Claim, find_quote, verify
from research_nb.models.research import Passage

NORWAY = Passage(
    id="factbook:norway#3",
    document_id="factbook:norway",
    title="Norway — Economy",
    text="Real GDP growth rate: 1.1% (2023 est.). The economy is heavily dependent on “petroleum” exports — about "
    "40% of them. Unemployment stood at 3.6% in 2023, with 91,100 people out of work.",
)
PASSAGES = {NORWAY.id: NORWAY}


def check(text: str, quote: str, passage_id: str = NORWAY.id) -> str | None:
    return verify(Claim(text=text, passage_id=passage_id, quote=quote), PASSAGES).problem


def test_a_close_paraphrase_of_the_quoted_words_is_supported() -> None:
    assert (
        check(
            "Norway's economy depends heavily on petroleum exports.",
            'The economy is heavily dependent on "petroleum" exports',
        )
        is None
    )
    assert (
        check(
            "In 2023, 91100 people were out of work in Norway.",
            "Unemployment stood at 3.6% in 2023, with 91,100 people out of work",
        )
        is None
    )


def test_a_number_the_quote_does_not_have_is_rejected() -> None:
    problem = check("Unemployment stood at 4.6% in 2023.", "Unemployment stood at 3.6% in 2023")
    assert problem is not None and "4.6" in problem
    assert check("About 60% of exports are petroleum.", "about 40% of them") is not None
    assert check("The economy has seven petroleum exports.", "The economy is heavily dependent on") is not None


def test_a_claim_that_borrows_an_unrelated_quote_is_rejected() -> None:
    problem = check("Norway's fishing fleet is the largest in Europe.", "The economy is heavily dependent on")
    assert problem is not None and "not supported" in problem


def test_an_invented_passage_or_quote_is_rejected() -> None:
    assert "never retrieved" in (check("GDP grew.", "Real GDP growth rate", passage_id="factbook:atlantis#1") or "")
    assert "not in factbook:norway#3" in (check("GDP grew by 5%.", "GDP grew by 5% last year") or "")
    assert "too few words" in (check("Norway's economy.", "economy") or "")


def test_a_link_must_come_from_the_quoted_words() -> None:
    problem = check(
        "The economy is dependent on petroleum, see https://oil.example.com/norway.",
        "The economy is heavily dependent on",
    )
    assert problem is not None and "link" in problem


def test_quotes_match_across_case_spacing_and_typographic_marks() -> None:
    found = find_quote('THE economy is heavily   dependent on "petroleum" exports - about', NORWAY.text)
    assert found == "The economy is heavily dependent on “petroleum” exports — about"
    assert find_quote("dependent on gas", NORWAY.text) is None
