"""Property-based fuzzing of the OpenAPI schema (schemathesis): no input makes the server answer 500, and every
answer matches the schema it publishes (status codes, content types, bodies, refusing bad tokens).

The fuzz server registers the scripted test engine as the default engine too, so the many runs the fuzzer
starts finish in microseconds instead of each building the offline corpus. It wants a token, which the fuzzer
sends, so that it also checks that requests without it (or with a wrong one) are refused.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .conftest import TOKEN
from .live_server import LiveServer

#: Every built-in check but "schema-valid requests are accepted": which engines exist is known only at run time,
#: so a schema-valid request naming an engine that is not installed is rightly refused (422, with the list).
EXCLUDED_CHECKS = [positive_data_acceptance]


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LiveServer]:
    live = LiveServer("--as-default", env={"RESEARCH_NB_API_TOKEN": TOKEN})
    yield live
    live.stop(signal.SIGINT)


def test_no_input_breaks_the_server(fuzz_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8  # health and the seven research endpoints
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=auth, excluded_checks=EXCLUDED_CHECKS)

        fuzz()
    assert "Traceback" not in fuzz_server.log
