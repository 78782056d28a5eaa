"""A test-suite guard: no network call while a database transaction is open.

DESIGN invariant 10. SQLAlchemy's connection events (begin/commit/rollback
on the sync engine behind every AsyncEngine; SQLite's BEGIN IMMEDIATE is sent
from a "begin" listener, so it is seen here too) note each open transaction
in a context variable of the asyncio task that opened it. SQLAlchemy runs the
sync side in a greenlet that shares the task's context, and a task started
while the transaction is open (``asyncio.gather`` inside it) copies the
context, so it counts too; a task started before does not.

Every outgoing HTTP call goes through aiohttp: slack-sdk's AsyncWebClient,
stripe's AIOHTTPClient and the evidence-file download all use
``aiohttp.ClientSession``, and each request starts in
``ClientSession._request``. The guard wraps that entry point: a call that
starts while its context holds a still-open transaction is recorded with its
stack.

Recorded, not raised: our error handling may swallow an exception raised inside
the call, so the autouse fixture in conftest.py fails the test at teardown with
every violation listed.
"""

from __future__ import annotations

import asyncio
import contextvars
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


@dataclass(frozen=True)
class _Held:
    """One transaction: its connection, and which of its transactions."""

    conn: weakref.ref[Connection]
    generation: int


class TransactionGuard:
    """Which context holds which open transaction; which calls broke the rule."""

    def __init__(self) -> None:
        self._held: contextvars.ContextVar[tuple[_Held, ...]] = contextvars.ContextVar(
            "tx_guard_held", default=()
        )
        # Counts each connection's transactions, so that a later transaction
        # on the same connection is not mistaken for one a child task saw.
        self._generation: weakref.WeakKeyDictionary[Connection, int] = (
            weakref.WeakKeyDictionary()
        )
        self.violations: list[Violation] = []
        self._installed = False
        self._original_request: Callable[..., Any] | None = None

    # -- what the events and the HTTP hook call ---------------------------------

    def on_begin(self, conn: Connection) -> None:
        generation = self._generation.get(conn, 0) + 1
        self._generation[conn] = generation
        still = tuple(h for h in self._held.get() if self._is_open(h))
        self._held.set((*still, _Held(weakref.ref(conn), generation)))

    def on_end(self, conn: Connection) -> None:
        self._held.set(tuple(h for h in self._held.get() if h.conn() is not conn))

    def _is_open(self, held: _Held) -> bool:
        # The connection's own state is the truth: an end that fired no event
        # (a connection invalidated mid-transaction) does not count as open.
        conn = held.conn()
        return (
            conn is not None
            and not conn.closed
            and conn.in_transaction()
            and self._generation.get(conn) == held.generation
        )

    def open_transactions(self) -> int:
        """Open transactions the current task holds, or its starter held
        when it started it and still does."""
        return sum(1 for h in self._held.get() if self._is_open(h))

    def check_call(self, url: str) -> None:
        """Record a violation if the current context holds an open transaction."""
        task = _current_task()
        if task is None or not self.open_transactions():
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
