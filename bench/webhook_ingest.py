"""Webhook intake, ack latency under a backlog, processing and drain time,
beside a bare aiohttp ceiling.

Starts `python -m bot` (pinned to one core) against a fake Slack that answers
at once but takes one post per second per channel (`--channel-pace`, a 429
with Retry-After for the rest, as Slack does), drives POST /stripe/webhook
over loopback with Stripe-signed distinct events, and prints per database:

- requests/s: distinct events verified and stored per second, measured with
  `wrk` (a compiled load generator, pinned to the other core; see
  bench/wrk_driver.py) so that the driver is not the limit, counted from the
  server's own `stored` metric; without wrk (the set-up step installs
  Debian's package when run as root) the Python driver's closed loop, with a
  warning;
- ack p50/p99 at 200/s while a burst's backlog (20,000 events by default) is
  being processed: the burst goes in first as fast as intake takes it, then
  at once the fixed-rate run, timed from each request's scheduled send time
  (so a stall is not hidden by the sender waiting: plain wrk has no fixed
  rate); the backlog left before and after the run is printed beside it, and
  how late the driver's own event loop ran meanwhile (its core is shared
  with PostgreSQL's backends and the fake Slack, so a tail may be partly
  the driver's);
- processed events/s at backlogs of 1,000, 10,000 and 50,000
  (bench/event_rate.py: the event worker on the server's core);
- seconds from the last 200 until the last event is visible in the fake
  Slack (every event id of the burst and the 200/s run, in a posted message);
- the same intake figures for a bare aiohttp handler that only returns 200.

For SQLite (a temp file) and PostgreSQL (a scratch database on
TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test).

    python bench/webhook_ingest.py [--events 20000] [--rate 200] [--seconds 10]
        [--channel-pace 1] [--backlogs 1000,10000,50000] [--measure 5000]
        [--driver wrk|python] [--wrk-seconds 5] [--wrk-connections 64]
        [--wrk-events 100000] [--repeat 1] [--no-drain]
        [--only intake,ack,drain,rates]

`--only intake,ack` gives the two intake rows (events/s, and ack p99 during a
backlog) in about a minute per database, without the drain and the
processing rates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch_db import PostgresUnavailable, scratch_postgres
from bench.wrk_driver import WrkResult, find_wrk, run_wrk, write_deliveries
from tests.process import bot_env, free_port
from tests.support import BOT_TOKEN, OBJECT_FOR_TYPE, event, signed

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


def say(what: str) -> None:
    print(what, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def child(
    args: list[str], env: dict[str, str] | None, log: Path, core: int = SERVER_CORE
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: pin(core),
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def profiled(pid: int, label: str, args: argparse.Namespace) -> Iterator[None]:
    """With --profile DIR: py-spy samples the server while the block runs
    (raw folded stacks in DIR, one file per part; py-spy on the driver's core)."""
    if not args.profile:
        yield
        return
    out = Path(args.profile) / (re.sub(r"\W+", "-", label).strip("-") + ".txt")
    spy = subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "py-spy"), "record"),
            *("--pid", str(pid), "--rate", "500", "--nonblocking"),
            *("--format", "raw", "--output", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        spy.wait(timeout=30)


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

# What a run measures (--only): wrk's events/s; the ack latency at --rate
# during a burst's backlog; the time until every alert is in Slack; and
# bench/event_rate.py's processing rates.
PARTS = ("intake", "ack", "drain", "rates")


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


@dataclass(frozen=True)
class AckRun:
    """Ack latencies (ms) from each request's scheduled send time, and how
    late the driver's own event loop ran meanwhile (ms): a driver that ran
    late could neither send nor read on time, so part of a tail may be its."""

    latencies: list[float]
    driver_lag: list[float]


async def open_loop(url: str, deliveries: list[Any], rate: float) -> AckRun:
    """Requests sent at a fixed rate; their acks, and the driver's lateness."""
    latencies: list[float] = []
    lag: list[float] = []

    async def tick() -> None:
        # How much later than asked a 1 ms sleep returns: the driver's loop
        # (or its core) was busy for that long.
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(0.001)
            lag.append(max(0.0, (time.perf_counter() - asked) * 1000 - 1.0))

    connector = aiohttp.TCPConnector(limit=0)
    ticker = asyncio.create_task(tick())
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

        try:
            await asyncio.gather(
                *(
                    send(i, body, headers)
                    for i, (_, body, headers) in enumerate(deliveries)
                )
            )
        finally:
            ticker.cancel()
            with suppress(asyncio.CancelledError):
                await ticker
    return AckRun(latencies, lag)


EVENT_ID = r"evt_B[0-9a-f]{20}"


async def alerts_visible(
    slack_base: str, wanted: set[str], timeout: float
) -> tuple[int, float]:
    """How many of `wanted` event ids are in Slack's channels (posted
    messages, threads included, and the CSVs of storm summaries), waiting up
    to `timeout`; and when the last of them was first seen (time.monotonic())."""
    deadline = time.monotonic() + timeout
    got: set[str] = set()
    read: set[str] = set()  # CSV files already read
    auth = {"Authorization": f"Bearer {BOT_TOKEN}"}
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{slack_base}/_messages") as resp:
                channels = await resp.json()
            text = json.dumps(channels)
            got |= set(re.findall(EVENT_ID, text))
            for file in (
                f
                for messages in channels.values()
                for m in messages
                for f in m.get("files") or []
                if f["name"].endswith(".csv") and f["id"] not in read
            ):
                async with session.get(file["url_private"], headers=auth) as resp:
                    got |= set(re.findall(EVENT_ID, await resp.text()))
                read.add(file["id"])
            seen_at = time.monotonic()
            if wanted <= got or seen_at > deadline:
                return len(wanted & got), seen_at
            await asyncio.sleep(0.5)


async def backlog_left(url: str) -> int:
    """Stored events not processed yet (the server's own metrics)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/metrics") as resp,
    ):
        text = await resp.text()
    return int(_stored(text) - _processed(text))


def _stored(metrics: str) -> float:
    return sum(
        float(v)
        for v in re.findall(
            r'^stripe_webhooks_total\{outcome="stored"\} (\S+)$', metrics, re.M
        )
    )


def _processed(metrics: str) -> float:
    return sum(
        float(v)
        for v in re.findall(
            r"^stripe_events_processed_total\{[^}]*\} (\S+)$", metrics, re.M
        )
    )


def processing_rates(db: str, args: argparse.Namespace) -> dict[int, str]:
    """bench/event_rate.py on the server's core: processed events/s at each
    backlog (the event worker alone, its own scratch database)."""
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "event_rate.py"),
            "--db",
            db,
            "--backlogs",
            args.backlogs,
            "--measure",
            str(args.measure),
        ],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: pin(SERVER_CORE),
    ).stdout
    rates = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 3 and cells[0].replace(",", "").isdigit():
            rates[int(cells[0].replace(",", ""))] = cells[1 if db == "sqlite" else 2]
    return rates


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
            if "ack" in args.only:
                result["ack"] = await open_loop(url, paced, args.rate)
                result["py_throughput"] = await closed_loop(
                    url, through, args.concurrency
                )
            if args.wrk and "intake" in args.only:
                result["wrk"] = await wrk_throughput(
                    url, workdir, label, args, stored=False
                )
        return result

    slack_port = free_port()
    slack_base = f"http://127.0.0.1:{slack_port}"
    with child(
        [
            sys.executable,
            "-m",
            "simulators.slack",
            "--port",
            str(slack_port),
            "--channel-pace",
            str(args.channel_pace),
        ],
        {**os.environ, "PYTHONPATH": str(ROOT)},
        workdir / "slack.log",
        # Slack is not the server: it shares the load generator's core.
        DRIVER_CORE,
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
        with child([sys.executable, "-m", "bot"], env, workdir / f"{label}.log") as bot:
            await wait_healthy(url)
            warm = make_deliveries(200, every_type=True)
            await closed_loop(url, warm, args.concurrency)
            await backlog_processed(url)
            if "ack" in args.only or "drain" in args.only:
                say(f"{label}: a burst of {len(through):,} events")
                # The burst, as fast as intake takes it (the Python driver)...
                result["py_throughput"] = await closed_loop(
                    url, through, args.concurrency
                )
                result["backlog"] = await backlog_left(url)
                # ...then at once the steady 200/s while its backlog is
                # processed: each 200 competes with processing and the outbox
                # for the core.
                with profiled(bot.pid, f"{label} ack", args):
                    result["ack"] = await open_loop(url, paced, args.rate)
                result["backlog_after"] = await backlog_left(url)
            last_200 = time.monotonic()
            say(f"{label}: waiting for the backlog, then for Slack")
            await backlog_processed(url, timeout=args.drain_timeout)
            wanted = {d[0] for d in warm + through + paced}
            if "drain" in args.only:
                result["wanted"] = len(wanted)
                result["delivered"], seen = await alerts_visible(
                    slack_base, wanted, args.drain_timeout
                )
                result["drain"] = seen - last_200
            # Last: wrk's events are not waited for in Slack; only stored
            # ones count.
            if args.wrk and "intake" in args.only:
                with profiled(bot.pid, f"{label} intake", args):
                    result["wrk"] = await wrk_throughput(
                        url, workdir, label, args, stored=True
                    )
        if "rates" in args.only and args.backlogs:
            say(f"{label}: processing rates")
            db = "sqlite" if db_url.startswith("sqlite") else "postgres"
            result["rates"] = await asyncio.to_thread(processing_rates, db, args)
    return result


async def backlog_processed(url: str, timeout: float = 120.0) -> None:
    """Wait until every stored event has been processed (alerts queued)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await backlog_left(url) <= 0:
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


def _cell(value: float, width: int, decimals: int) -> str:
    """A figure, or n/a for a part not run (--only)."""
    return f"{'n/a':>{width}}" if math.isnan(value) else f"{value:{width}.{decimals}f}"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=int,
        default=20_000,
        help="the burst whose backlog the 200/s run competes with",
    )
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument(
        "--channel-pace",
        type=float,
        default=1.0,
        help="the fake Slack's seconds between posts to one channel",
    )
    parser.add_argument("--backlogs", default="1000,10000,50000")
    parser.add_argument(
        "--measure", type=int, default=5_000, help="events timed at each backlog"
    )
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
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"the parts to run, comma-separated, of {','.join(PARTS)} "
        "(intake: wrk events/s; ack: p50/p99 at --rate during a backlog)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy the server during the intake and ack parts into DIR",
    )
    args = parser.parse_args()
    args.only = {part for part in args.only.split(",") if part}
    if args.no_drain:
        args.only.discard("drain")
    if unknown := args.only - set(PARTS):
        parser.error(f"--only: unknown parts {', '.join(sorted(unknown))}")
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
            try:
                async with scratch_postgres("stripe_ops_bench") as pg:
                    rows.append(
                        await run_one("stripe-ops, PostgreSQL", pg, workdir, args)
                    )
            except PostgresUnavailable as exc:
                print(f"{exc}; skipping its rows")

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
        f"py events/s: Python driver, a burst of {args.events:,} events, "
        f"{args.concurrency} in flight; then at once {args.rate:.0f} events/s "
        f"for {args.seconds:.0f} s while that backlog is processed (ack ms)"
    )
    print(
        "drv p99: how late the Python driver's own event loop ran (ms, p99 of "
        "1 ms ticks) during that run: a late driver sends and reads late, so "
        "that much of an ack tail may be the driver's, not the server's"
    )
    backlogs = [int(b) for b in args.backlogs.split(",") if b]
    if backlogs and "rates" in args.only:
        print(
            f"processed/s at a backlog of {', '.join(f'{b:,}' for b in backlogs)}: "
            f"bench/event_rate.py, the event worker on the server's core, first "
            f"{args.measure:,} events of each"
        )
    print(
        f"to Slack: seconds from the last 200 until the last event is visible "
        f"in the fake Slack (answering at once, one post per "
        f"{args.channel_pace:g} s per channel)"
    )
    print(
        f"{'':24} {'events/s':>9} {'py ev/s':>8} {'p50':>6} {'p99':>6} "
        f"{'drv p99':>7} {'backlog':>15} {'processed/s':>20} {'to Slack':>9}  delivered"
    )
    for row in rows:
        ack = row.get("ack")
        lat = ack.latencies if ack else [math.nan]
        lag = ack.driver_lag if ack and ack.driver_lag else [math.nan]
        runs = row.get("wrk") or [row.get("py_throughput", math.nan)]
        row["throughput"] = statistics.median(runs)
        rates = row.get("rates") or {}
        processed = " / ".join(rates.get(b, "?") for b in backlogs) if rates else "n/a"
        backlog = (
            f"{row['backlog']:,} -> {row['backlog_after']:,}"
            if "backlog" in row
            else "none"
        )
        drain = f"{row['drain']:.1f} s" if "drain" in row else "n/a"
        delivered = (
            f"{row['delivered']:,}/{row['wanted']:,}" if "delivered" in row else "n/a"
        )
        print(
            f"{row['label']:24} {_cell(row['throughput'], 9, 0)} "
            f"{_cell(row.get('py_throughput', math.nan), 8, 0)} "
            f"{_cell(statistics.median(lat), 6, 2)} "
            f"{_cell(percentile(lat, 0.99), 6, 2)} "
            f"{_cell(percentile(lag, 0.99), 7, 2)} {backlog:>15} "
            f"{processed:>20} {drain:>9}  {delivered}"
        )
        if len(runs) > 1:
            print(f"{'':24} [{', '.join(f'{r:.0f}' for r in runs)}]")
    lost = [r for r in rows if "delivered" in r and r["delivered"] != r["wanted"]]
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
