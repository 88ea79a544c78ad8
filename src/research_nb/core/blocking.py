"""Blocking work in a worker thread that stops soon after the run that awaits it is cancelled.

Cancelling a task that awaits `asyncio.to_thread` ends the task at once but not the thread: a thread reading a
large folder would go on for minutes, holding one of the few workers of the default executor (six on two cores),
and enough of them starve every later run. `run_blocking` hands the thread a stop flag through a context variable
(`to_thread` copies the caller's context into the thread), and long loops call `check_stop()` between steps.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_STOP: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("research_nb_stop", default=None)


class Stopped(Exception):
    """Raised by `check_stop()` in a worker thread whose run was cancelled; nobody awaits its result any more."""


async def run_blocking(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` in a worker thread; when the awaiting task is cancelled, `check_stop()` in it raises."""
    stop = threading.Event()
    token = _STOP.set(stop)
    try:
        return await asyncio.to_thread(fn, *args)
    except asyncio.CancelledError:
        stop.set()
        raise
    finally:
        _STOP.reset(token)


def check_stop() -> None:
    """Raise `Stopped` if the run this thread works for was cancelled (a no-op outside `run_blocking`)."""
    stop = _STOP.get()
    if stop is not None and stop.is_set():
        raise Stopped
