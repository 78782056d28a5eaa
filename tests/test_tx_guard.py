"""The suite's guard against network calls inside a database transaction works."""

from __future__ import annotations

import asyncio
import re
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.deps import Deps
from simulators.slack import FakeSlack
from tests.tx_guard import TransactionGuard, report

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def deps(deps: Deps) -> AsyncIterator[Deps]:
    yield deps
    await deps.aclose()  # no app here to close them


async def test_a_slack_call_inside_a_transaction_is_reported(
    deps: Deps, fake_slack: FakeSlack, tx_guard: TransactionGuard
) -> None:
    async with deps.sessions() as session, session.begin():
        await session.execute(text("SELECT 1"))
        await deps.slack.auth_test()
    found = tx_guard.take()  # taken here, so this test's teardown passes
    assert len(found) == 1
    assert "/api/auth.test" in found[0].url
    # The stack names the code that made the call.
    assert "test_a_slack_call_inside_a_transaction_is_reported" in found[0].stack
    message = report(found)
    assert "inside a database transaction" in message
    assert "auth.test" in message
    # The call went out all the same: the guard records, it does not block.
    assert fake_slack.calls_to("auth.test")


async def test_a_session_that_autobegan_counts_as_a_transaction(
    deps: Deps, fake_slack: FakeSlack, tx_guard: TransactionGuard
) -> None:
    # No explicit begin(): the first statement opens the transaction (and on
    # SQLite takes the write lock), and it stays open until the session ends.
    async with deps.sessions() as session:
        await session.execute(text("SELECT 1"))
        await deps.slack.auth_test()
    assert len(tx_guard.take()) == 1


async def test_calls_before_and_after_a_transaction_are_fine(
    deps: Deps, fake_slack: FakeSlack, tx_guard: TransactionGuard
) -> None:
    await deps.slack.auth_test()
    async with deps.sessions() as session, session.begin():
        await session.execute(text("SELECT 1"))
    await deps.slack.auth_test()
    async with deps.sessions() as session:
        await session.execute(text("SELECT 1"))
        await session.rollback()
        await deps.slack.auth_test()
    assert len(fake_slack.calls_to("auth.test")) == 3
    assert tx_guard.take() == []


async def test_another_task_holding_a_transaction_does_not_count(
    deps: Deps, fake_slack: FakeSlack, tx_guard: TransactionGuard
) -> None:
    # The outbox sender posts while the event worker holds its transaction:
    # that is allowed; only the task that holds the transaction may not call.
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with deps.sessions() as session, session.begin():
            await session.execute(text("SELECT 1"))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    await deps.slack.auth_test()
    release.set()
    await holder
    assert tx_guard.take() == []


async def test_a_call_from_a_task_started_inside_a_transaction_is_reported(
    deps: Deps, fake_slack: FakeSlack, tx_guard: TransactionGuard
) -> None:
    # The transaction's owner waits for the gathered calls: still inside it.
    async with deps.sessions() as session, session.begin():
        await session.execute(text("SELECT 1"))
        await asyncio.gather(deps.slack.auth_test(), deps.slack.auth_test())
    assert len(tx_guard.take()) == 2


async def test_a_stripe_call_inside_a_transaction_is_reported(
    deps: Deps, tx_guard: TransactionGuard
) -> None:
    async with deps.sessions() as session, session.begin():
        await session.execute(text("SELECT 1"))
        await deps.stripe.v1.customers.list_async({"limit": 1})
    found = tx_guard.take()
    assert len(found) == 1
    assert "/v1/customers" in found[0].url


async def test_the_test_that_made_the_call_fails_at_teardown(tmp_path: Path) -> None:
    # A test whose own body passes, run by pytest with this suite's fixtures:
    # the autouse guard turns its call-inside-a-transaction into an error.
    (tmp_path / "test_scenario.py").write_text(
        textwrap.dedent(
            """
            from sqlalchemy import text

            async def test_posts_inside_a_transaction(deps, fake_slack):
                async with deps.sessions() as session, session.begin():
                    await session.execute(text("SELECT 1"))
                    try:
                        await deps.slack.auth_test()
                    except Exception:
                        pass  # error handling that swallows what went wrong
                await deps.aclose()
            """
        )
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.conftest",
        "-k",
        "sqlite",
        "--rootdir",
        str(ROOT),
        "-c",
        str(ROOT / "pyproject.toml"),
        str(tmp_path / "test_scenario.py"),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    output = out.decode()
    assert proc.returncode == 1, output
    assert re.search(r"\b1 passed\b.*\b1 error\b", output), output
    assert "ERROR at teardown of test_posts_inside_a_transaction" in output, output
    assert "ran inside a database transaction" in output, output
    assert "auth.test" in output, output
