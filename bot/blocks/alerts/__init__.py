"""Slack alerts for the Stripe events we subscribe to, and digests of them.

- `draft`: the event groups, the `Alert` record, and facts shared by kinds;
- `payments`, `refunds`, `payouts`, `disputes`: what each kind's alert says;
- `layout`: `build_alert`, the drafter for the event's object laid out;
- `digest`: `build_digest`, one message for a storm of alerts.
"""

from bot.blocks.alerts.digest import DIGEST_MAX_ITEMS, build_digest
from bot.blocks.alerts.draft import ALERT_GROUPS, ALERTED_EVENT_TYPES, Alert, AlertGroup
from bot.blocks.alerts.layout import build_alert

__all__ = [
    "ALERTED_EVENT_TYPES",
    "ALERT_GROUPS",
    "DIGEST_MAX_ITEMS",
    "Alert",
    "AlertGroup",
    "build_alert",
    "build_digest",
]
