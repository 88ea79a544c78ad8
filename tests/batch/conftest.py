"""Fixtures for batch tests: the offline engine on the Factbook (deterministic, so reports compare byte for byte),
and one real Dask `LocalCluster` of two worker processes shared by the Dask tests of a module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

QUESTIONS = [
    "What is the capital of Norway?",
    "How large is the population of Sweden?",
    "What languages are spoken in Belgium?",
    "What is the climate of Chile?",
    "What are the natural resources of Peru?",
    "How long is the coastline of Japan?",
]


@pytest.fixture(scope="module")
def cluster_client() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close(timeout=10)
        cluster.close(timeout=10)


def research_keys(client: Any) -> list[str]:
    """The batch tasks the scheduler still knows of."""

    def keys(dask_scheduler: Any) -> list[str]:
        return [str(k) for k in dask_scheduler.tasks if str(k).startswith("research-nb-")]

    result: list[str] = client.run_on_scheduler(keys)
    return result
