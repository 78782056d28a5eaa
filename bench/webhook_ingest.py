"""Webhook intake throughput and ack latency, beside a bare aiohttp ceiling.

Starts `python -m bot` (pinned to one core) against a fake Slack, drives
POST /stripe/webhook over loopback with Stripe-signed events, and prints:

- throughput: distinct events verified and stored per second, measured with
  `wrk` (a compiled load generator, pinned to the other core; see
  bench/wrk_driver.py) so that the driver is not the limit, counted from the
  server's own `stored` metric; without wrk (the set-up step installs Debian's
  package when run as root) the Python driver's closed loop, with a warning;
- ack latency p50/p99 at a fixed open-loop rate (measured from each request's
  scheduled send time, so a stall is not hidden by the sender waiting). This
  stays with the Python driver: plain wrk has no fixed rate (wrk2's -R), and
  pacing wrk's connections with Lua `delay()` measures from the send, not
  from the scheduled time, so a stall would hide itself (coordinated
  omission); 200/s is far below what the Python driver can send;
- processed/s: how fast the burst's backlog is processed (alerts queued),
  counted from the burst's start;
- the same figures for a bare aiohttp handler that only returns 200;
- whether every alert reached Slack (none lost).

For SQLite (a temp file) and PostgreSQL (a scratch database on
TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test).

    python bench/webhook_ingest.py [--events 3000] [--rate 200] [--seconds 10]
        [--driver wrk|python] [--wrk-seconds 5] [--wrk-connections 64]
        [--wrk-events 100000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wrk_driver import WrkResult, find_wrk, run_wrk, write_deliveries
from tests.process import bot_env, free_port
from tests.support import OBJECT_FOR_TYPE, event, signed

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SERVER_CORE = 0
DRIVER_CORE = 1 if (os.cpu_count() or 1) > 1 else 0

BARE_SERVER = """
import sys
from aiohttp import web
async def ok(request):
    await request.read()
    return web.json_response({"received": True})
app = web.Application()
app.router.add_post("/stripe/webhook", ok)
app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def child(args: list[str], env: dict[str, str] | None, log: Path) -> Iterator[None]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: pin(SERVER_CORE),
        )
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def wait_healthy(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy")


# Dispute events open a dispute card each (buttons: never folded into a
# digest, so one a second per channel); a burst of them is a different test
# (tests/bot/test_outbox.py). The mix here is the other 14 recommended types,
# with one dispute event in DISPUTE_EVERY to show those arrive too.
MIXED_TYPES = sorted(
    t for t in OBJECT_FOR_TYPE if not t.startswith(("charge.dispute.", "radar."))
)
DISPUTE_TYPES = sorted(
    t for t in OBJECT_FOR_TYPE if t.startswith(("charge.dispute.", "radar."))
)
DISPUTE_EVERY = 100


def make_deliveries(
    n: int, *, every_type: bool = False
) -> list[tuple[str, bytes, dict[str, str]]]:
    """Signed in advance: the signing is Stripe's cost, not ours.

    `every_type` puts one event of each type first (the warm-up: the first
    event of a type compiles its SQL statements and imports its code once,
    a one-off cost after start that a steady-state figure should not carry).
    """
    types = [
        DISPUTE_TYPES[(i // DISPUTE_EVERY) % len(DISPUTE_TYPES)]
        if i % DISPUTE_EVERY == DISPUTE_EVERY - 1
        else MIXED_TYPES[i % len(MIXED_TYPES)]
        for i in range(n)
    ]
    if every_type:
        types = [*MIXED_TYPES, *DISPUTE_TYPES, *types]
    out = []
    for event_type in types:
        evt = event(event_type)
        evt["id"] = f"evt_B{uuid.uuid4().hex[:20]}"
        body, headers = signed(evt)
        out.append((evt["id"], body, headers))
    return out


async def closed_loop(url: str, deliveries: list[Any], concurrency: int) -> float:
    """Events per second with `concurrency` requests always in flight."""
    queue = list(deliveries)
    errors = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while queue:
            _, body, headers = queue.pop()
            async with session.post(
                f"{url}/stripe/webhook", data=body, headers=headers
            ) as resp:
                await resp.read()
                if resp.status != 200:
                    errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{errors} deliveries failed")
    return len(deliveries) / elapsed


async def open_loop(url: str, deliveries: list[Any], rate: float) -> list[float]:
    """Ack latencies (ms) when requests are sent at a fixed rate."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter() + 0.05

        async def send(i: int, body: bytes, headers: dict[str, str]) -> None:
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            async with session.post(
                f"{url}/stripe/webhook", data=body, headers=headers
            ) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"status {resp.status}")
            latencies.append((time.perf_counter() - scheduled) * 1000)

        await asyncio.gather(
            *(send(i, body, headers) for i, (_, body, headers) in enumerate(deliveries))
        )
    return latencies


async def alerts_delivered(slack_base: str, wanted: set[str], timeout: float) -> int:
    """How many of `wanted` event ids Slack got, waiting up to `timeout`."""
    deadline = time.monotonic() + timeout
    got: set[str] = set()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(f"{slack_base}/_calls") as resp:
                calls = await resp.json()
            got = set()
            for call in calls:
                if call["method"] == "chat.postMessage":
                    got |= set(
                        re.findall(r"evt_B[0-9a-f]{20}", json.dumps(call["args"]))
                    )
            if wanted <= got:
                break
            await asyncio.sleep(1.0)
    return len(wanted & got)


async def pg_scratch() -> str | None:
    url = make_url(POSTGRES_URL)
    try:
        conn = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database,
            timeout=3,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL unavailable ({exc}); skipping its rows")
        return None
    name = f"stripe_ops_bench_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def pg_drop(db_url: str) -> None:
    url = make_url(POSTGRES_URL)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    await conn.execute(
        f'DROP DATABASE IF EXISTS "{make_url(db_url).database}" WITH (FORCE)'
    )
    await conn.close()


async def stored_count(url: str) -> float:
    """Events the server has stored (its `stored` metric)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/metrics") as resp,
    ):
        text = await resp.text()
    return sum(
        float(v)
        for v in re.findall(
            r'^stripe_webhooks_total\{outcome="stored"\} (\S+)$', text, re.M
        )
    )


def wrk_run(url: str, workdir: Path, args: argparse.Namespace) -> WrkResult:
    """One wrk run with deliveries nobody has sent before."""
    bodies = workdir / "deliveries.wrk"
    # Signed now, sent within seconds: inside Stripe's 300 s tolerance.
    write_deliveries(bodies, make_deliveries(args.wrk_events))
    try:
        return run_wrk(
            args.wrk,
            url,
            bodies,
            seconds=args.wrk_seconds,
            connections=args.wrk_connections,
            core=DRIVER_CORE,
        )
    finally:
        bodies.unlink()


async def wrk_throughput(
    url: str, workdir: Path, label: str, args: argparse.Namespace, *, stored: bool
) -> list[float]:
    """Requests/s per wrk run; for the bot, distinct events stored per second."""
    rates = []
    for _ in range(args.repeat):
        if stored:
            # Each run from an empty backlog: the one before left tens of
            # thousands of events, whose processing would share the core.
            await backlog_processed(url, timeout=600)
        before = await stored_count(url) if stored else 0.0
        run = await asyncio.to_thread(wrk_run, url, workdir, args)
        if run.status_errors or run.socket_errors:
            raise RuntimeError(
                f"{label}: wrk saw {run.status_errors} non-2xx answers and "
                f"{run.socket_errors} socket errors"
            )
        if stored:
            if run.wrapped:
                print(f"{label}: wrk ran out of distinct events; raise --wrk-events")
            rates.append((await stored_count(url) - before) / run.seconds)
        else:
            rates.append(run.per_second)
    return rates


async def run_one(
    label: str, db_url: str | None, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {"label": label}
    through = make_deliveries(args.events)
    paced = make_deliveries(int(args.rate * args.seconds))
    if db_url is None:
        with child(
            [sys.executable, "-c", BARE_SERVER, str(port)], None, workdir / "bare.log"
        ):
            await wait_healthy(url)
            await closed_loop(url, make_deliveries(200), args.concurrency)  # warm
            result["latency"] = await open_loop(url, paced, args.rate)
            result["py_throughput"] = await closed_loop(url, through, args.concurrency)
            if args.wrk:
                result["wrk"] = await wrk_throughput(
                    url, workdir, label, args, stored=False
                )
        return result

    slack_port = free_port()
    slack_base = f"http://127.0.0.1:{slack_port}"
    with child(
        [sys.executable, "-m", "simulators.slack", "--port", str(slack_port)],
        {**os.environ, "PYTHONPATH": str(ROOT)},
        workdir / "slack.log",
    ):
        await wait_slack(slack_base)
        env = bot_env(
            db_url=db_url,
            slack_url=f"{slack_base}/api/",
            stripe_url="http://127.0.0.1:9",
            port=port,
            LOG_LEVEL="WARNING",
        )
        if not db_url.startswith("sqlite"):
            subprocess.run(
                [sys.executable, "-m", "bot", "migrate"],
                env=env,
                check=True,
                cwd=workdir,
                capture_output=True,
            )
        with child([sys.executable, "-m", "bot"], env, workdir / f"{label}.log"):
            await wait_healthy(url)
            warm = make_deliveries(200, every_type=True)
            await closed_loop(url, warm, args.concurrency)
            await backlog_processed(url)
            # Latency at a steady rate first, then the burst for throughput
            # (a burst leaves a backlog that a steady-rate figure should not
            # inherit).
            result["latency"] = await open_loop(url, paced, args.rate)
            burst_started = time.monotonic()
            result["py_throughput"] = await closed_loop(url, through, args.concurrency)
            # Processing (alerts queued) runs behind intake; how long the
            # burst's backlog took to clear, counted from the burst's start.
            await backlog_processed(url)
            result["processed"] = len(through) / (time.monotonic() - burst_started)
            wanted = {d[0] for d in warm + through + paced}
            result["wanted"] = len(wanted)
            if not args.no_drain:
                drain_started = time.monotonic()
                result["delivered"] = await alerts_delivered(
                    slack_base, wanted, args.drain_timeout
                )
                result["drain"] = time.monotonic() - drain_started
            # Last: wrk's events are not waited for in Slack (at a digest a
            # second they would take many minutes); only stored ones count.
            if args.wrk:
                result["wrk"] = await wrk_throughput(
                    url, workdir, label, args, stored=True
                )
    return result


async def backlog_processed(url: str, timeout: float = 120.0) -> None:
    """Wait until every stored event has been processed (alerts queued)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(f"{url}/metrics") as resp:
                text = await resp.text()
            stored = sum(
                float(v)
                for v in re.findall(
                    r'^stripe_webhooks_total\{outcome="stored"\} (\S+)$', text, re.M
                )
            )
            processed = sum(
                float(v)
                for v in re.findall(
                    r"^stripe_events_processed_total\{[^}]*\} (\S+)$", text, re.M
                )
            )
            if processed >= stored:
                return
            await asyncio.sleep(0.05)
    raise RuntimeError("the event backlog was not processed in time")


async def wait_slack(base: str) -> None:
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{base}/_calls") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("fake Slack did not start")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--no-drain",
        action="store_true",
        help="do not wait for every alert to reach Slack (intake figures only)",
    )
    parser.add_argument(
        "--driver",
        choices=["wrk", "python"],
        default="wrk",
        help="what measures throughput (the Python driver is its own limit)",
    )
    parser.add_argument("--wrk-seconds", type=float, default=5.0)
    parser.add_argument("--wrk-connections", type=int, default=64)
    parser.add_argument(
        "--wrk-events",
        type=int,
        default=100_000,
        help="distinct signed events prepared per wrk run",
    )
    parser.add_argument("--repeat", type=int, default=1, help="wrk runs per row")
    args = parser.parse_args()
    args.wrk = find_wrk() if args.driver == "wrk" else None
    pin(DRIVER_CORE)

    rows = []
    with tempfile.TemporaryDirectory(prefix="stripe-ops-bench-") as tmp:
        workdir = Path(tmp)
        rows.append(await run_one("bare aiohttp (ceiling)", None, workdir, args))
        rows.append(
            await run_one(
                "stripe-ops, SQLite", f"sqlite:///{workdir}/bench.db", workdir, args
            )
        )
        if not args.skip_postgres:
            pg = await pg_scratch()
            if pg is not None:
                try:
                    rows.append(
                        await run_one("stripe-ops, PostgreSQL", pg, workdir, args)
                    )
                finally:
                    await pg_drop(pg)

    print()
    print(f"server pinned to core {SERVER_CORE}; load from core {DRIVER_CORE}")
    if args.wrk:
        print(
            f"events/s: wrk, {args.wrk_connections} connections for "
            f"{args.wrk_seconds:.0f} s, distinct signed events "
            f"(median of {args.repeat}; all runs in brackets)"
        )
    else:
        print("events/s: WARNING: the Python driver's (no wrk), its own limit")
    print(
        f"py events/s: Python driver, {args.events} events, "
        f"{args.concurrency} in flight; "
        f"latency: {args.rate:.0f} events/s for {args.seconds:.0f} s (steady state)"
    )
    print(
        f"{'':26} {'events/s':>9} {'py events/s':>11} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'max ms':>8} {'processed/s':>12}  alerts delivered, drained after (s)"
    )
    for row in rows:
        lat = row["latency"]
        runs = row.get("wrk") or [row["py_throughput"]]
        row["throughput"] = statistics.median(runs)
        processed = f"{row['processed']:.0f}" if "processed" in row else "n/a"
        delivered = (
            f"{row['delivered']}/{row['wanted']} in {row['drain']:.0f}"
            if "delivered" in row
            else "n/a"
        )
        print(
            f"{row['label']:26} {row['throughput']:9.0f} "
            f"{row['py_throughput']:11.0f} "
            f"{statistics.median(lat):8.2f} {percentile(lat, 0.99):8.2f} "
            f"{max(lat):8.2f} {processed:>12}  {delivered}"
        )
        if len(runs) > 1:
            print(f"{'':26} [{', '.join(f'{r:.0f}' for r in runs)}]")
    lost = [r for r in rows if "delivered" in r and r["delivered"] != r["wanted"]]
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
