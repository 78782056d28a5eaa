"""What handlers and jobs are given: built once, passed in, never imported."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field

import stripe
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.metrics import Metrics
from bot.slack import InstrumentedWebClient, make_slack_client
from bot.stripe_api import close_stripe_client, make_stripe_client
from storage.engine import make_engine, make_sessionmaker


@dataclass(frozen=True)
class Wakeups:
    """Nudges between workers in one process; other processes poll."""

    events: asyncio.Event = field(default_factory=asyncio.Event)
    outbox: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Deps:
    settings: Settings
    slack: InstrumentedWebClient
    stripe: stripe.StripeClient
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    metrics: Metrics
    clock: Clock = field(default_factory=SystemClock)
    wake: Wakeups = field(default_factory=Wakeups)
    # Slack user group -> (when read, members): who may approve, briefly cached.
    group_cache: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    # Connect account -> (good until, its name or None): bot.connect.
    account_names: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    # Names this process in row claims, so a restarted one is a new claimant.
    instance_id: str = field(
        default_factory=lambda: (
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
    )

    @classmethod
    def create(cls, settings: Settings, *, clock: Clock | None = None) -> Deps:
        """Build every client; none of them connects until first used."""
        metrics = Metrics()
        engine = make_engine(settings.DATABASE_URL)
        return cls(
            settings=settings,
            slack=make_slack_client(
                token=settings.SLACK_BOT_TOKEN.get_secret_value(),
                base_url=settings.SLACK_API_URL,
                metrics=metrics,
            ),
            stripe=make_stripe_client(
                api_key=settings.STRIPE_API_KEY.get_secret_value(),
                api_base=settings.STRIPE_API_BASE,
            ),
            engine=engine,
            sessions=make_sessionmaker(engine),
            metrics=metrics,
            clock=clock or SystemClock(),
        )

    async def aclose(self) -> None:
        await close_stripe_client(self.stripe)
        await self.engine.dispose()
