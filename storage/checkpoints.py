"""SQLite's WAL checkpoints, off the commit path.

By default SQLite checkpoints inside a commit: the transaction that takes the
write-ahead log past 1,000 pages copies them into the database file and syncs
it before its COMMIT returns. For webhook intake that was a Stripe 200 held
for 20-30 ms about once a second under a steady stream. Here the engine's
connections only checkpoint past `AUTOCHECKPOINT_PAGES` (a bound on the log
for a process without a checkpointer), and a server runs `WalCheckpointer`:
a PASSIVE checkpoint every second on its own connection, in a thread.

A PASSIVE checkpoint takes no lock that a writer or reader waits for: it
copies what is committed and stops short of anything in use. Commits stay
durable as before (WAL with synchronous=NORMAL: every commit is in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

log = logging.getLogger(__name__)

# About 40 MB of 4 KiB pages: far past what a second of intake writes, so a
# commit checkpoints only when no checkpointer is keeping up.
AUTOCHECKPOINT_PAGES = 10_000


class WalCheckpointer:
    """Checkpoints one SQLite database file every `interval` seconds."""

    def __init__(self, path: str, *, interval: float = 1.0) -> None:
        self.path = path
        self.interval = interval
        self._conn: sqlite3.Connection | None = None

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.interval)
                running = asyncio.ensure_future(asyncio.to_thread(self.checkpoint))
                try:
                    await asyncio.shield(running)
                except asyncio.CancelledError:
                    # Stopping: the thread finishes with the connection
                    # before it is closed below.
                    with contextlib.suppress(sqlite3.Error):
                        await running
                    raise
                except sqlite3.Error as exc:
                    # The next one tries again, on a new connection; meanwhile
                    # the log grows, and commits checkpoint past
                    # AUTOCHECKPOINT_PAGES.
                    log.warning("WAL checkpoint failed: %s", exc)
                    await asyncio.to_thread(self.close)
        finally:
            # In a thread too: a connection's close may fold the log into
            # the database (when it is the file's last), which is disk work.
            await asyncio.to_thread(self.close)

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the log, frames copied)."""
        if self._conn is None:
            # Used by one thread at a time (run awaits each call).
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
        row = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        busy, frames, copied = (int(v) for v in row)
        return busy, frames, copied

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
