"""The seed's Step 7 `test_api_models.py` on the real import paths, plus the promises about secrets and bounds."""

import re

import pytest
from pydantic import ValidationError

from research_nb.core.errors import InvalidQueryError
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.api_models import APIKeys, ResearchRequest, ResearchResponse
from research_nb.models.research import ResearchState


def test_research_request_validation() -> None:
    request = ResearchRequest(query="What is quantum computing?", stream=True, max_search_results=10)
    assert request.query == "What is quantum computing?"
    assert request.stream is True

    with pytest.raises(ValidationError):
        ResearchRequest(query="", stream=True)
    with pytest.raises(ValidationError):
        ResearchRequest(query="x" * 6000, stream=True)


def test_research_response_fields() -> None:
    response = ResearchResponse(
        request_id="test-123",
        status="accepted",
        message="Research started",
        stream_url="/research/test-123/stream",
        report_url="/research/test-123/report",
    )
    assert response.request_id == "test-123"
    assert response.status == "accepted"
    assert response.stream_url == "/research/test-123/stream"
    assert response.report_url == "/research/test-123/report"

    json_data = response.model_dump()
    assert "stream_url" in json_data
    assert "report_url" in json_data


def test_query_is_stripped_and_bounded_after_stripping() -> None:
    assert ResearchRequest(query="  Why is the sky blue?\n").query == "Why is the sky blue?"
    assert len(ResearchRequest(query="  " + "x" * 5000 + "  ").query) == 5000
    with pytest.raises(ValidationError, match="5001 characters; the limit is 5000"):
        ResearchRequest(query="x" * 5001)
    with pytest.raises(ValidationError, match="the research question is empty"):
        ResearchRequest(query=" \t\n ")


def test_max_search_results_accepts_its_bounds() -> None:
    assert ResearchRequest(query="q", max_search_results=1).max_search_results == 1
    assert ResearchRequest(query="q", max_search_results=100).max_search_results == 100


@pytest.mark.parametrize("bad", [0, -1, 101, 10_000])
def test_max_search_results_is_bounded(bad: int) -> None:
    with pytest.raises(ValidationError, match="max_search_results"):
        ResearchRequest(query="q", max_search_results=bad)


def test_request_options_carry_the_engine_knobs_but_no_keys() -> None:
    request = ResearchRequest(query="q", engine="memory", max_search_results=3, api_keys=APIKeys(openai="sk-x"))
    options = request.options()
    assert (options.engine, options.max_search_results) == ("memory", 3)
    assert "sk-x" not in options.model_dump_json()


def test_api_keys_never_show_their_values() -> None:
    secret = "sk-live-0123456789abcdef"
    keys = APIKeys(openai=secret, tavily="tvly-" + secret)
    request = ResearchRequest(query="q", api_keys=keys)
    for shown in (
        repr(keys),
        str(keys),
        keys.model_dump_json(),
        repr(request),
        str(request),
        request.model_dump_json(),
    ):
        assert secret not in shown
    assert keys.present() == ["openai", "tavily"]
    assert keys.redact(f"401 for key {secret}") == "401 for key ***"
    # The value is still there for the code that needs it.
    assert keys.openai is not None and keys.openai.get_secret_value() == secret


def test_api_keys_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="mistral"):
        APIKeys.model_validate({"mistral": "x"})


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("How do \ud800 Norway and Sweden differ?", "cannot be encoded as UTF-8 (a lone surrogate at character 8)"),
        ("caf\udce9 prices in Norway", "cannot be encoded as UTF-8"),
        ("\0\0\0", "holds a NUL character (at character 1)"),
        ("Norway\0Sweden", "holds a NUL character (at character 7)"),
    ],
)
def test_text_that_cannot_be_stored_is_refused_up_front_by_every_model(query: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        ResearchRequest(query=query)
    with pytest.raises(ValidationError, match=r"cannot be encoded|NUL"):
        ResearchState(user_query=query)
    with pytest.raises(InvalidQueryError, match=r"cannot be encoded|NUL") as caught:
        ResearchWorkflow().prepare(query)
    assert "\n" not in str(caught.value)
