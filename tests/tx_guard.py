"""A test-suite guard: no network call while a database transaction is open.

DESIGN invariant 10. SQLAlchemy's connection events say which asyncio task
holds which open transaction (on the sync engine behind every AsyncEngine;
SQLite's BEGIN IMMEDIATE is sent from a "begin" listener, so it is seen here
too). Every outgoing HTTP call goes through aiohttp: slack-sdk's
AsyncWebClient, stripe's AIOHTTPClient and the evidence-file download all use
``aiohttp.ClientSession``, and each request of theirs starts in
``ClientSession._request``. The guard wraps that entry point: a call that starts
in a task holding an open transaction is recorded with its stack.

Recorded, not raised: our error handling may swallow an exception raised inside
the call, so the autouse fixture in conftest.py fails the test at teardown with
every violation listed.

Known blind spot: a transaction held by one task and a call made by a task it
spawned while holding it (``asyncio.gather`` inside a transaction) is not seen.
"""

from __future__ import annotations

import asyncio
import traceback
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


@dataclass(frozen=True)
class Violation:
    url: str
    task: str
    stack: str

    def describe(self) -> str:
        return (
            f"network call to {self.url} in task {self.task} "
            f"inside a transaction:\n{self.stack}"
        )


# Frames that only say how the test runner reached the test.
_NOISE = ("/_pytest/", "/pluggy/", "/pytest_asyncio/", "/asyncio/")


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop (a sync engine outside asyncio)
        return None


class TransactionGuard:
    """Which task holds which open transaction; which calls broke the rule."""

    def __init__(self) -> None:
        # task -> connections that began a transaction in it (weak both ways:
        # a finished task or a garbage connection drops out by itself).
        self._held: weakref.WeakKeyDictionary[
            asyncio.Task[Any], weakref.WeakSet[Connection]
        ] = weakref.WeakKeyDictionary()
        self.violations: list[Violation] = []
        self._installed = False
        self._original_request: Callable[..., Any] | None = None

    # -- what the events and the HTTP hook call ---------------------------------

    def on_begin(self, conn: Connection) -> None:
        task = _current_task()
        if task is not None:
            self._held.setdefault(task, weakref.WeakSet()).add(conn)

    def on_end(self, conn: Connection) -> None:
        task = _current_task()
        if task is not None and task in self._held:
            self._held[task].discard(conn)

    def open_transactions(self, task: asyncio.Task[Any] | None = None) -> int:
        """Open transactions held by `task` (the current one by default)."""
        task = task or _current_task()
        if task is None or task not in self._held:
            return 0
        # The connection's own state is the truth: an end that fired no event
        # (a connection invalidated mid-transaction) does not count as open.
        return sum(
            1 for c in list(self._held[task]) if not c.closed and c.in_transaction()
        )

    def check_call(self, url: str) -> None:
        """Record a violation if the current task holds an open transaction."""
        task = _current_task()
        if task is None or not self.open_transactions(task):
            return
        frames = [
            f
            for f in traceback.extract_stack()[:-2]
            if not any(part in f.filename for part in _NOISE)
        ]
        stack = "".join(traceback.format_list(frames))
        self.violations.append(Violation(url, task.get_name(), stack))

    def take(self) -> list[Violation]:
        found, self.violations = self.violations, []
        return found

    # -- installing ----------------------------------------------------------

    def install(self) -> None:
        """Listen on every Engine and wrap aiohttp's request entry point."""
        if self._installed:
            return
        event.listen(Engine, "begin", self.on_begin)
        event.listen(Engine, "commit", self.on_end)
        event.listen(Engine, "rollback", self.on_end)
        original = aiohttp.ClientSession._request
        self._original_request = original
        guard = self

        async def _request(
            session: aiohttp.ClientSession, method: str, str_or_url: Any, **kw: Any
        ) -> aiohttp.ClientResponse:
            guard.check_call(f"{method} {str_or_url}")
            return await original(session, method, str_or_url, **kw)

        aiohttp.ClientSession._request = _request  # type: ignore[method-assign,assignment]
        self._installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        event.remove(Engine, "begin", self.on_begin)
        event.remove(Engine, "commit", self.on_end)
        event.remove(Engine, "rollback", self.on_end)
        assert self._original_request is not None
        aiohttp.ClientSession._request = self._original_request  # type: ignore[method-assign]
        self._installed = False

    @contextmanager
    def installed(self) -> Iterator[TransactionGuard]:
        self.install()
        try:
            yield self
        finally:
            self.uninstall()


def report(violations: list[Violation]) -> str:
    return (
        f"{len(violations)} network call(s) ran inside a database transaction "
        "(DESIGN invariant 10):\n\n" + "\n\n".join(v.describe() for v in violations)
    )
