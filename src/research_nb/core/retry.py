"""Retries with exponential backoff for calls to rate-limited or flaky services (model APIs, web search).

The caller says which errors are worth another try (a 429, a 503, a dropped connection) and how long the service
asked to wait, if it did; everything else is raised at once. Cancellation is never retried or delayed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

#: HTTP statuses that mean "try again later": timeout, too early, rate limit, server errors, overloaded.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # the first try included
    base_delay: float = 1.0  # seconds before the second try; doubled each time, with jitter
    max_delay: float = 30.0
    timeout: float | None = 120.0  # seconds for one attempt; a timed-out attempt is retried

    def delay(self, attempt: int, asked: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): what the service asked for if it did
        (capped), else exponential backoff with "equal jitter" so that parallel callers spread out."""
        if asked is not None and asked >= 0:
            return min(asked, self.max_delay)
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return backoff / 2 + random.uniform(0, backoff / 2)


@dataclass(frozen=True)
class Transient:
    """Why a failed attempt may be retried, and how long the service asked to wait (None: not said)."""

    reason: str
    retry_after: float | None = None


async def retrying(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    classify: Callable[[BaseException], Transient | None],
    on_retry: Callable[[str], None] | None = None,
) -> T:
    """Await `call()` until it succeeds, it fails with an error `classify` does not call transient, or the
    attempts are spent (then the last error is raised)."""
    attempt = 1
    while True:
        try:
            async with asyncio.timeout(policy.timeout):
                return await call()
        except TimeoutError as exc:
            transient: Transient | None = Transient(f"no answer within {policy.timeout:g} s")
            error: Exception = exc
        except Exception as exc:
            transient, error = classify(exc), exc
        if transient is None or attempt >= policy.attempts:
            raise error
        wait = policy.delay(attempt, transient.retry_after)
        if on_retry is not None:
            on_retry(f"{transient.reason}; retrying in {wait:.1f} s (attempt {attempt + 1} of {policy.attempts})")
        await asyncio.sleep(wait)
        attempt += 1
