"""SQLite's write-ahead log is checkpointed off the commit path: commits do not
copy the log into the database once it passes SQLite's default 1,000 pages
(a Stripe 200 waited for that), a checkpointer does it in the background, and
the server runs one on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import struct
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.config import Settings
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from storage.checkpoints import AUTOCHECKPOINT_PAGES, WalCheckpointer
from storage.engine import make_engine
from tests.conftest import TEST_OPTIONS, AppFactory, make_settings
from tests.handlers.test_disputes import deliver
from tests.support import charge, event

PAGE = 4096


def wal_index(path: Path) -> tuple[int, int]:
    """(frames in the log, frames already copied into the database), read
    from the wal-index (the -shm file) without touching the database: the
    header's mxFrame at byte 16, the checkpoint info's nBackfill at byte 96
    (https://www.sqlite.org/walformat.html), in the machine's byte order."""
    shm = Path(f"{path}-shm").read_bytes()
    (frames,) = struct.unpack_from("=I", shm, 16)
    (copied,) = struct.unpack_from("=I", shm, 96)
    return frames, copied


async def write_pages(url: str, pages: int) -> None:
    """Commit about `pages` pages of new rows, one page a transaction."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS filler (b BLOB)"))
        for _ in range(pages):
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO filler VALUES (randomblob(:n))"), {"n": PAGE}
                )
    finally:
        await engine.dispose()


def database_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def held_open(path: Path) -> contextlib.closing[sqlite3.Connection]:
    """A connection that keeps the database open, so that the last writer to
    close does not fold the log into the database on its way out."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return contextlib.closing(db)


async def test_commits_leave_the_log_to_the_checkpointer(sqlite_url: str) -> None:
    path = database_path(sqlite_url)
    with held_open(path):
        await write_pages(sqlite_url, 1_500)
        frames, copied = wal_index(path)
        # Past SQLite's default of 1,000 pages no commit copied anything.
        assert frames >= 1_500
        assert copied == 0
    engine = make_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            value = (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar()
        assert value == AUTOCHECKPOINT_PAGES
    finally:
        await engine.dispose()


async def test_the_checkpointer_copies_the_log_and_the_log_is_reused(
    sqlite_url: str,
) -> None:
    path = database_path(sqlite_url)
    checkpointer = WalCheckpointer(str(path), interval=0.05)
    with held_open(path):
        await write_pages(sqlite_url, 600)
        task = asyncio.create_task(checkpointer.run())
        try:
            for _ in range(200):
                frames, copied = wal_index(path)
                if frames and copied == frames:
                    break
                await asyncio.sleep(0.05)
            assert copied == frames >= 600
            size = Path(f"{path}-wal").stat().st_size
            # Once copied, the log starts over: writing as much again
            # reuses it instead of growing it.
            await write_pages(sqlite_url, 600)
            assert Path(f"{path}-wal").stat().st_size <= size
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    # Everything written is in the database.
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM filler").fetchone() == (1_200,)


async def test_the_server_checkpoints_sqlite_by_itself(
    sqlite_url: str,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    start_app: AppFactory,
) -> None:
    settings: Settings = make_settings(
        db_url=sqlite_url, slack_url=fake_slack.url, stripe_url=fake_stripe.url
    )
    client: Any = await start_app(settings, TEST_OPTIONS)
    path = database_path(sqlite_url)
    for n in range(5):
        await deliver(client, event("charge.succeeded", charge(amount=1000 + n)))
    # No commit checkpoints this little; only the server's checkpointer can
    # have copied the log into the database (or started it over, after).
    for _ in range(100):
        frames, copied = wal_index(path)
        if copied:
            break
        await asyncio.sleep(0.1)
    assert copied > 0, f"nothing of {frames} frames was checkpointed"


async def test_a_stopped_checkpointer_closes_its_connection_after_the_checkpoint(
    sqlite_url: str,
) -> None:
    class Held(WalCheckpointer):
        """A checkpoint that runs until the test lets it finish."""

        def __init__(self, path: str) -> None:
            super().__init__(path, interval=0.01)
            self.entered = threading.Event()
            self.release = threading.Event()
            self.order: list[str] = []

        def checkpoint(self) -> tuple[int, int, int]:
            self.entered.set()
            self.release.wait(10)
            done = super().checkpoint()
            self.order.append("checkpointed")
            return done

        def close(self) -> None:
            self.order.append("closed")
            self.closed_in = threading.current_thread()
            super().close()

    held = Held(str(database_path(sqlite_url)))
    task = asyncio.create_task(held.run())
    assert await asyncio.to_thread(held.entered.wait, 10)
    task.cancel()
    await asyncio.sleep(0.05)
    # Stopping waits for the checkpoint in its thread to be done with the
    # connection; only then is the connection closed.
    assert not task.done()
    held.release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert held.order == ["checkpointed", "closed"]
    # Closing may be disk work: not on the event loop's thread.
    assert held.closed_in is not threading.main_thread()
