"""`python -m bot sandbox`: the real bot against a local Slack and Stripe.

The bot is the production one (create_app: routes, workers, scheduler), on a
SQLite file in a temporary folder; it reaches the Slack and Stripe simulators
(:mod:`simulators`) over loopback HTTP through SLACK_API_URL and
STRIPE_API_BASE, as it reaches Slack and Stripe in production. A page served by
the same aiohttp server shows the workspace and a Stripe panel.
"""

from bot.sandbox.runner import Sandbox, run, running_sandbox

__all__ = ["Sandbox", "run", "running_sandbox"]
