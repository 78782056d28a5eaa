"""The daily summary from sample data: the README's picture, and its cost.

Stores 14 days of made-up Stripe events (a fixed random seed: the same
events every run) in a scratch SQLite file, then builds the summary of the
last day exactly as the bot does (`bot.daily.summary.build_summary`) and
writes the chart and the text:

    python bench/daily_summary_sample.py                 # docs/daily-summary.png
    python bench/daily_summary_sample.py --payments 5000 --out /tmp/big.png

Prints how long the build took (reading and counting the events, then the
chart) for the number of events stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings
from bot.daily.summary import build_summary
from bot.deps import Deps
from storage.events import NewEvent, store_events
from storage.migrate import upgrade

ZONE = "Europe/Berlin"
DAY = date(2026, 11, 20)
# Currency -> (share of payments, typical amount in minor units).
CURRENCIES = {"usd": (0.6, 4_500), "eur": (0.3, 3_900), "jpy": (0.1, 5_200)}


class FixedClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def _event(n: int, type_: str, obj: dict[str, Any], created: int) -> NewEvent:
    payload = {
        "id": f"evt_sample{n:09d}",
        "object": "event",
        "type": type_,
        "created": created,
        "livemode": False,
        "data": {"object": obj},
    }
    return NewEvent(
        f"evt_sample{n:09d}", type_, False, created, obj["id"], json.dumps(payload)
    )


def sample_events(payments_per_day: int, rng: random.Random) -> list[NewEvent]:
    zone = ZoneInfo(ZONE)
    events: list[NewEvent] = []
    n = 0
    for back in range(13, -1, -1):
        day = DAY - timedelta(days=back)
        start = int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())
        # Busier towards the end of the week, a little noise on top.
        weekday = 0.8 + 0.1 * day.weekday()
        volume = payments_per_day * weekday * rng.uniform(0.85, 1.15)
        for _ in range(int(volume)):
            cur = rng.choices(list(CURRENCIES), [w for w, _ in CURRENCIES.values()])[0]
            amount = max(100, int(rng.lognormvariate(0, 0.6) * CURRENCIES[cur][1]))
            if cur == "jpy":
                amount = amount // 10 * 10
            t = start + rng.randrange(86_400)
            n += 1
            pi: dict[str, Any] = {"id": f"pi_s{n}", "object": "payment_intent"}
            pi["currency"] = cur
            if rng.random() < 0.06:
                events.append(_event(n, "payment_intent.payment_failed", pi, t))
                continue
            pi |= {"amount": amount, "amount_received": amount}
            charge = {"id": f"ch_s{n}", "object": "charge", "currency": cur,
                      "amount": amount, "amount_captured": amount,
                      "payment_intent": pi["id"]}  # fmt: skip
            events.append(_event(n, "payment_intent.succeeded", pi, t))
            n += 1
            events.append(_event(n, "charge.succeeded", charge, t))
            if rng.random() < 0.04:
                n += 1
                refund = {"id": f"re_s{n}", "object": "refund", "currency": cur,
                          "amount": amount, "charge": charge["id"],
                          "status": "succeeded", "created": t + 3600}  # fmt: skip
                events.append(_event(n, "refund.created", refund, t + 3600))
        n += 1
        payout = {"id": f"po_s{n}", "object": "payout", "currency": "usd"}
        events.append(_event(n, "payout.paid", payout, start + 8 * 3600))
    return events


_WORST = [0.0]


async def _loop_lag() -> None:
    """How late a 5 ms sleep wakes up: the longest the loop was held."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(0.005)
        _WORST[0] = max(_WORST[0], loop.time() - before - 0.005)


async def main(payments: int, out: Path) -> None:
    rng = random.Random(20261120)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN="xoxb-sample",
            SLACK_SIGNING_SECRET="sample",
            STRIPE_API_KEY="sk_test_sample",
            STRIPE_WEBHOOK_SECRET="whsec_sample",
            ALERT_CHANNEL="C0SAMPLE",
            DATABASE_URL=f"sqlite:///{tmp}/sample.db",
            TIMEZONE=ZONE,
        )
        now = datetime(2026, 11, 21, 9, tzinfo=ZoneInfo(ZONE)).timestamp()
        deps = Deps.create(settings, clock=FixedClock(now))
        try:
            await upgrade(deps.engine)
            events = sample_events(payments, rng)
            async with deps.sessions() as session, session.begin():
                await store_events(session, events=events, now=now - 30 * 86_400)
            lag = asyncio.create_task(_loop_lag())
            started = time.perf_counter()
            summary = await build_summary(deps, DAY)
            took = time.perf_counter() - started
            lag.cancel()
            await asyncio.gather(lag, return_exceptions=True)
        finally:
            await deps.aclose()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(summary.chart)
    print(summary.text)
    print(
        f"\n{len(events):,} events stored; summary built in {took:.2f} s "
        f"(event loop held at most {_WORST[0] * 1000:.0f} ms at a time); "
        f"chart written to {out}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=120, help="a day, about")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "daily-summary.png")
    args = parser.parse_args()
    asyncio.run(main(args.payments, args.out))
