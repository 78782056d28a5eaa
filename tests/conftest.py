"""Fixtures: real databases, fake Slack and Stripe servers on loopback, the app."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.deps import Deps
from bot.server import Options, create_app
from bot.slack import make_slack_client
from bot.workers import WorkerPolicy
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.support import (
    BOT_TOKEN,
    CHANNELS,
    SIGNING_SECRET,
    STRIPE_KEY,
    WEBHOOK_SECRET,
    WEBHOOK_SECRET_NEXT,
)
from tests.tx_guard import TransactionGuard, report

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

# Fast timings for tests; production keeps WorkerPolicy's defaults.
FAST = WorkerPolicy(
    poll_seconds=0.05,
    lease_seconds=30.0,
    channel_interval=0.0,
    retry_base=0.05,
    retry_cap=0.5,
    coalesce_seconds=0.01,
    unknown_outcome_wait=0.05,
)


class ManualClock:
    """A clock tests move by hand; starts at the real time."""

    def __init__(self, start: float | None = None) -> None:
        import time

        self.t = start if start is not None else time.time()

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


# -- the no-network-in-a-transaction guard ----------------------------------------

_GUARD = TransactionGuard()


@pytest.fixture(scope="session", autouse=True)
def _transaction_guard_installed() -> Iterator[TransactionGuard]:
    with _GUARD.installed() as guard:
        yield guard


@pytest.fixture(autouse=True)
def tx_guard(
    _transaction_guard_installed: TransactionGuard,
) -> Iterator[TransactionGuard]:
    """Fails the test at teardown if a Slack, Stripe or file-download call ran
    while its task held an open database transaction (DESIGN invariant 10)."""
    guard = _transaction_guard_installed
    guard.take()
    yield guard
    found = guard.take()
    if found:
        pytest.fail(report(found), pytrace=False)


# -- databases -----------------------------------------------------------------


def run_in_thread(coro: Awaitable[Any]) -> Any:
    """Run a coroutine to completion on its own loop, callable under a running one."""

    async def _main() -> Any:
        return await coro

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _main()).result()


async def _pg_admin() -> asyncpg.Connection:
    url = make_url(POSTGRES_URL)
    return await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
        timeout=3,
    )


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database that each test clones; None if no server."""

    async def _create(name: str) -> str | None:
        try:
            admin = await _pg_admin()
        except (OSError, asyncpg.PostgresError) as exc:
            return f"PostgreSQL at {POSTGRES_URL} is unavailable: {exc}"
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        engine = make_engine(str(make_url(POSTGRES_URL).set(database=name)))
        await upgrade(engine)
        await engine.dispose()
        return None

    name = f"stripe_ops_tmpl_{uuid.uuid4().hex[:8]}"
    problem = run_in_thread(_create(name))
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)  # CI promises PostgreSQL; don't skip there
        yield None
        return
    yield name

    async def _drop() -> None:
        admin = await _pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    run_in_thread(_drop())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"

    async def _create() -> None:
        engine = make_engine(f"sqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    run_in_thread(_create())
    return path


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
) -> AsyncIterator[str]:
    """A fresh, migrated database per test: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "stripe_ops.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    if template is None:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unavailable")
    name = f"stripe_ops_t_{uuid.uuid4().hex[:12]}"
    admin = await _pg_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    yield str(make_url(POSTGRES_URL).set(database=name)).replace(
        "***", make_url(POSTGRES_URL).password or ""
    )
    admin = await _pg_admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "stripe_ops.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


# -- fakes ---------------------------------------------------------------------


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(bot_token=BOT_TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    fake = FakeStripe()
    await fake.start()
    yield fake
    await fake.stop()


# -- the app -------------------------------------------------------------------


def make_settings(
    *, db_url: str, slack_url: str, stripe_url: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "STRIPE_API_KEY": STRIPE_KEY,
        "STRIPE_WEBHOOK_SECRET": f"{WEBHOOK_SECRET},{WEBHOOK_SECRET_NEXT}",
        "STRIPE_API_BASE": stripe_url,
        "DATABASE_URL": db_url,
        "MANAGER_USER_IDS": "U_MANAGER,U_MANAGER2",
        **CHANNELS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its tests."""
    return {}


@pytest.fixture
def settings(
    db_url: str,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    settings_overrides: dict[str, Any],
) -> Settings:
    return make_settings(
        db_url=db_url,
        slack_url=fake_slack.url,
        stripe_url=fake_stripe.url,
        **settings_overrides,
    )


@pytest.fixture
def clock() -> ManualClock | None:
    """None: the real clock. Tests that move time override this."""
    return None


@pytest.fixture
async def deps(settings: Settings, clock: ManualClock | None) -> AsyncIterator[Deps]:
    # The app's cleanup closes these when a test starts one; closed here in
    # any case (closing twice is harmless), so a test that uses Deps alone
    # leaves no connection for the garbage collector to warn about later.
    created = Deps.create(settings, clock=clock)
    yield created
    await created.aclose()


# Tests that seed Stripe after the app starts read it by hand; a read at start
# racing them would make them flaky. tests/handlers/test_first_sync.py tests it.
TEST_OPTIONS = Options(policy=FAST, sync_at_start=False)


@pytest.fixture
def options() -> Options:
    return TEST_OPTIONS


@pytest.fixture
async def client(deps: Deps, options: Options) -> AsyncIterator[TestClient[Any, Any]]:
    """The whole server on a loopback port, workers running."""
    app = create_app(deps, options)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


AppFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def start_app() -> AsyncIterator[AppFactory]:
    """Start more instances (restart or scale-out tests); all stopped at the end."""
    started: list[TestClient[Any, Any]] = []

    async def _start(
        settings: Settings,
        options: Options | None = None,
        clock: Any = None,
        *,
        slack_timeout: int | None = None,
    ) -> TestClient[Any, Any]:
        deps = Deps.create(settings, clock=clock)
        if slack_timeout is not None:
            # Shorter than the fake's late answers: "Slack posted, we timed out".
            deps = dataclasses.replace(
                deps,
                slack=make_slack_client(
                    token=settings.SLACK_BOT_TOKEN.get_secret_value(),
                    base_url=settings.SLACK_API_URL,
                    metrics=deps.metrics,
                    timeout=slack_timeout,
                ),
            )
        app: web.Application = create_app(deps, options or TEST_OPTIONS)
        test_client = TestClient(TestServer(app))
        await test_client.start_server()
        started.append(test_client)
        return test_client

    yield _start
    for test_client in started:
        await test_client.close()
