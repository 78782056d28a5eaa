"""Start the simulators, the bot wired to them, and the page; stop all of it."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.deps import Deps
from bot.sandbox.routes import add_routes
from bot.server import Options, create_app
from simulators.slack import FakeSlack
from simulators.stripe import DEFAULT_API_KEY, FakeStripe
from simulators.stripe_panel import StripePanel
from simulators.workspace import CHANNELS, PEOPLE, Workspace

# The sandbox's channel settings: every group has its own channel.
CHANNEL_SETTINGS = {
    "ALERT_CHANNEL": "CALERTS",
    "PAYMENTS_CHANNEL": "CPAYMENTS",
    "REFUNDS_CHANNEL": "CREFUNDS",
    "PAYOUTS_CHANNEL": "CPAYOUTS",
    "DISPUTES_CHANNEL": "CDISPUTES",
    "APPROVALS_CHANNEL": "CAPPROVALS",
}
assert set(CHANNEL_SETTINGS.values()) <= set(CHANNELS)


@dataclass(frozen=True)
class Sandbox:
    url: str  # the page
    slack: FakeSlack
    stripe: FakeStripe
    workspace: Workspace
    panel: StripePanel
    folder: Path


def sandbox_settings(*, folder: Path, slack: FakeSlack, stripe_url: str) -> Settings:
    """A deployed bot's settings, pointing at the simulators. Secrets are made
    fresh for each run: nothing here is worth anything outside it."""
    managers = [p.id for p in PEOPLE if p.role == "manager"]
    values: dict[str, Any] = dict(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=secrets.token_hex(16),
        SLACK_API_URL=slack.url,
        STRIPE_API_KEY=DEFAULT_API_KEY,
        STRIPE_WEBHOOK_SECRET=f"whsec_{secrets.token_hex(16)}",
        STRIPE_API_BASE=stripe_url,
        DATABASE_URL=f"sqlite:///{folder / 'stripe_ops.db'}",
        HOST="127.0.0.1",
        MANAGER_USER_IDS=",".join(managers),
        **CHANNEL_SETTINGS,
    )
    # No .env: the sandbox never picks up a real deployment's settings.
    return Settings(_env_file=None, **values)


@contextlib.asynccontextmanager
async def running_sandbox(
    *, host: str = "127.0.0.1", port: int = 0, options: Options | None = None
) -> AsyncIterator[Sandbox]:
    """Everything up on loopback; on exit everything stopped and the temporary
    folder (the database) removed."""
    with tempfile.TemporaryDirectory(prefix="stripe-ops-sandbox-") as tmp:
        folder = Path(tmp)
        async with contextlib.AsyncExitStack() as stack:
            fake_slack = FakeSlack(bot_token=f"xoxb-sandbox-{secrets.token_hex(12)}")
            await fake_slack.start()
            stack.push_async_callback(fake_slack.stop)
            fake_stripe = FakeStripe()
            # Card refunds start pending, then go through (see StripePanel).
            fake_stripe.refund_status = "pending"
            await fake_stripe.start()
            stack.push_async_callback(fake_stripe.stop)
            settings = sandbox_settings(
                folder=folder, slack=fake_slack, stripe_url=fake_stripe.url
            )
            signing = settings.SLACK_SIGNING_SECRET
            assert signing is not None
            workspace = Workspace(fake_slack, signing_secret=signing.get_secret_value())
            stack.push_async_callback(workspace.aclose)
            panel = StripePanel(fake_stripe, webhook_secret=settings.webhook_secrets[0])
            stack.push_async_callback(panel.aclose)

            app = create_app(Deps.create(settings), options)
            add_routes(app, workspace, panel)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.TCPSite(runner, host, port).start()
            bound = runner.addresses[0]
            base = f"http://{bound[0]}:{bound[1]}"
            workspace.app_url = f"{base}/slack/events"
            panel.webhook_url = f"{base}/stripe/webhook"
            yield Sandbox(
                url=f"{base}/",
                slack=fake_slack,
                stripe=fake_stripe,
                workspace=workspace,
                panel=panel,
                folder=folder,
            )


async def _serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_sandbox(host=host, port=port) as sandbox:
        print(f"stripe-ops sandbox: open {sandbox.url}  (Ctrl-C stops it)", flush=True)
        await stop.wait()
    print("stripe-ops sandbox stopped; nothing left behind.", flush=True)


def run(*, host: str = "127.0.0.1", port: int = 3000) -> None:
    asyncio.run(_serve(host, port))
