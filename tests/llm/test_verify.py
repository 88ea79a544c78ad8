"""The support check on its own: what a claim must do to be shown."""

from __future__ import annotations

from research_nb.engines.llm._verify import Claim, ClaimContext, find_quote, verify
from research_nb.models.research import Passage, SubQuestion

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


# -- meaning: entities, sub-questions, comparisons, fields, questions ---------------------------------------------

KOREA = Passage(
    id="factbook:ks#101",
    document_id="factbook:ks",
    title="South Korea — Economy",
    text="Unemployment rate: 2.7% (2024 est.)\nYouth unemployment rate (ages 15-24), total: 5.9% (2024 est.)",
)
SWEDEN = Passage(
    id="factbook:sw#90",
    document_id="factbook:sw",
    title="Sweden — Economy",
    text="Current account balance: $45.274 billion (2023 est.)\nUnemployment rate: 8.4% (2024 est.)",
)
NORWAY_JOBS = Passage(
    id="factbook:no#101", document_id="factbook:no", title="Norway — Economy", text="Unemployment rate: 4% (2024 est.)"
)
ALL = {p.id: p for p in (KOREA, SWEDEN, NORWAY_JOBS)}
NAMES = ["Japan", "South Korea", "Sweden", "Norway"]


def judge(text: str, pid: str, quote: str, context: ClaimContext | None = None, **second: str) -> str | None:
    claim = Claim(text=text, passage_id=pid, quote=quote, **second)
    return verify(claim, ALL, context or ClaimContext(entities=NAMES)).problem


def test_a_claim_about_one_country_citing_another_is_dropped() -> None:
    quote = "Unemployment rate: 2.7% (2024 est.)"
    assert judge("The unemployment rate in Japan is 2.7%.", KOREA.id, quote) == (
        "is about Japan but cites a passage about South Korea"
    )
    assert judge("The unemployment rate in South Korea is 2.7%.", KOREA.id, quote) is None


def test_a_comparison_needs_a_passage_for_each_side() -> None:
    norway = "Unemployment rate: 4% (2024 est.)"
    sweden = "Unemployment rate: 8.4% (2024 est.)"
    text = "Norway has a lower unemployment rate than Sweden."
    assert judge(text, NORWAY_JOBS.id, norway) == "is about Norway and Sweden but cites a passage about Norway only"
    assert judge(text, NORWAY_JOBS.id, norway, second_passage_id=SWEDEN.id, second_quote=sweden) is None


def test_a_figure_must_be_the_figure_of_the_field_the_claim_names() -> None:
    account = "Current account balance: $45.274 billion (2023 est.)"
    assert judge("Sweden's trade balance is $45.274 billion.", SWEDEN.id, account) == (
        "states the figure of 'Current account balance', a field it does not name"
    )
    assert judge("Sweden's current account balance is $45.274 billion.", SWEDEN.id, account) is None
    youth = "Youth unemployment rate (ages 15-24), total: 5.9% (2024 est.)"
    assert "a field it does not name" in (judge("South Korea's unemployment rate is 5.9%.", KOREA.id, youth) or "")


def test_a_claim_under_a_sub_question_is_about_its_entity_and_attribute() -> None:
    sub = SubQuestion(id="sq-1", question="What is Norway's trade balance?", entity="Norway")
    context = ClaimContext.under(sub, NAMES)
    account = "Current account balance: $45.274 billion (2023 est.)"
    assert judge("The current account balance is $45.274 billion.", SWEDEN.id, account, context) == (
        "is not about Norway, the subject of its sub-question"
    )
    jobs = "Unemployment rate: 4% (2024 est.)"
    assert judge("Norway's unemployment rate is 4%.", NORWAY_JOBS.id, jobs, context) == (
        "does not answer its sub-question (none of the words of what it asks)"
    )


def test_a_question_is_never_a_claim() -> None:
    quote = "Unemployment rate: 2.7% (2024 est.)"
    assert judge("What is the unemployment rate in South Korea?", KOREA.id, quote) == "is a question, not a claim"
