"""A 20,000-event burst into one channel: how long until Slack shows every event.

Starts `python -m bot` (production timings: one message a second per channel,
a storm summary when the waiting alerts would take more than a minute as
digests) against an in-process fake Slack that answers at once, sends a burst
of distinct signed events of the 14 non-dispute recommended types, all routed
to one channel, and prints, per database:

- seconds from the burst's last 200 until every event is processed (alerts
  queued: how fast that goes is the event worker's, not the storm's), and
  until every event is visible in Slack
  (named in a post, or a row of a storm summary's CSV);
- the messages the channel got (singles, digests, summaries, CSV shares) and
  the shortest gap between two of them (Slack's pace: about one a second).

    python bench/storm_burst.py [--events 20000] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import itertools

from bench.scratch_db import PostgresUnavailable, scratch_postgres
from bench.webhook_ingest import (
    MIXED_TYPES,
    backlog_processed,
    child,
    closed_loop,
    pin,
    wait_healthy,
)
from simulators.slack import FakeSlack
from tests.process import bot_env, free_port
from tests.support import event, signed

CHANNEL = "CSTORM"
GROUPS = ("ALERT", "PAYMENTS", "REFUNDS", "PAYOUTS", "DISPUTES", "APPROVALS")
_EVT = re.compile(r"evt_S[0-9a-f]{20}")


def deliveries(n: int) -> list[tuple[str, bytes, dict[str, str]]]:
    out = []
    for i in range(n):
        evt = event(MIXED_TYPES[i % len(MIXED_TYPES)])
        evt["id"] = f"evt_S{uuid.uuid4().hex[:20]}"
        body, headers = signed(evt)
        out.append((evt["id"], body, headers))
    return out


def visible(fake: FakeSlack) -> dict[str, float]:
    """Event id -> when Slack first showed it (monotonic seconds)."""
    seen: dict[str, float] = {}
    for call in list(fake.calls):
        if call.status != 200 or not (call.response or {}).get("ok"):
            continue
        found: list[str] = []
        if call.method == "chat.postMessage":
            found = _EVT.findall(json.dumps(call.args))
        elif call.method == "files.completeUploadExternal":
            for item in (call.response or {}).get("files") or []:
                content = fake.content_of(item["id"]).decode()
                found = [r["event_id"] for r in csv.DictReader(io.StringIO(content))]
        for evt_id in found:
            seen.setdefault(evt_id, call.at)
    return seen


async def processed(url: str, since: float) -> float:
    """Seconds after `since` when every stored event had been processed."""
    await backlog_processed(url, timeout=600)
    return time.monotonic() - since


def channel_messages(fake: FakeSlack) -> list[tuple[float, str]]:
    out = []
    for call in list(fake.calls):
        if call.status != 200 or not (call.response or {}).get("ok"):
            continue
        if call.method == "chat.postMessage" and call.args.get("channel") == CHANNEL:
            keys = str(call.args.get("metadata", {}).get("event_payload", {}))
            out.append((call.at, "summary" if "storm:" in keys else "post"))
        elif call.method == "files.completeUploadExternal":
            out.append((call.at, "csv"))
    return sorted(out)


async def run_one(
    label: str, db_url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    fake = FakeSlack()
    await fake.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {"label": label}
    try:
        env = bot_env(
            db_url=db_url,
            slack_url=fake.url,
            stripe_url="http://127.0.0.1:9",
            port=port,
            LOG_LEVEL="WARNING",
            **{f"{g}_CHANNEL": CHANNEL for g in GROUPS},
        )
        if not db_url.startswith("sqlite"):
            subprocess.run(
                [sys.executable, "-m", "bot", "migrate"],
                env=env,
                check=True,
                cwd=workdir,
                capture_output=True,
            )
        burst = deliveries(args.events)
        wanted = {d[0] for d in burst}
        with child([sys.executable, "-m", "bot"], env, workdir / f"{label}.log"):
            await wait_healthy(url)
            started = time.monotonic()
            await closed_loop(url, burst, args.concurrency)
            last_200 = time.monotonic()
            result["intake"] = len(burst) / (last_200 - started)
            deadline = last_200 + args.timeout
            seen: dict[str, float] = {}
            processed_at = asyncio.create_task(processed(url, last_200))
            while time.monotonic() < deadline:
                seen = visible(fake)
                if wanted <= seen.keys():
                    break
                await asyncio.sleep(0.5)
            result["processed"] = await processed_at
            got = wanted & seen.keys()
            result["visible"] = len(got)
            result["wanted"] = len(wanted)
            result["last_visible"] = max(seen[i] for i in got) - last_200 if got else 0
            messages = channel_messages(fake)
            result["messages"] = messages
            gaps = [b[0] - a[0] for a, b in itertools.pairwise(messages)]
            result["min_gap"] = min(gaps) if gaps else float("nan")
        if result["visible"] < result["wanted"]:
            log = (workdir / f"{label}.log").read_text(errors="replace")
            print("\n".join(log.splitlines()[-40:]))
    finally:
        await fake.stop()
    return result


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    pin(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="stripe-ops-storm-") as tmp:
        workdir = Path(tmp)
        rows.append(
            await run_one("SQLite", f"sqlite:///{workdir}/bench.db", workdir, args)
        )
        if not args.skip_postgres:
            try:
                async with scratch_postgres("stripe_ops_storm") as pg:
                    rows.append(await run_one("PostgreSQL", pg, workdir, args))
            except PostgresUnavailable as exc:
                print(f"{exc}; skipping its rows")
    print()
    print(f"{args.events:,}-event burst into one channel (server on core 0)")
    for row in rows:
        kinds = [k for _, k in row["messages"]]
        print(
            f"{row['label']:<11} intake {row['intake']:,.0f}/s; "
            f"processed {row['processed']:.1f} s after the last 200; "
            f"{row['visible']:,}/{row['wanted']:,} events visible, the last "
            f"{row['last_visible']:.1f} s after the last 200; "
            f"{len(kinds)} messages ({kinds.count('summary')} summaries, "
            f"{kinds.count('csv')} CSVs, {kinds.count('post')} alerts/digests); "
            f"shortest gap {row['min_gap']:.2f} s"
        )
    return 0 if all(r["visible"] == r["wanted"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
