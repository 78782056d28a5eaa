"""Background workers: stored Stripe events -> handlers, outbox -> Slack.

- `policy`: their timings and the wait between rounds;
- `event_worker`: each stored event through its handler, after Stripe's 200;
- `outbox_sender`: queued Slack messages out, paced per channel;
- `posted`: finding a post whose answer was lost, so it is not sent twice.
"""

from bot.workers.event_worker import EventWorker
from bot.workers.outbox_sender import OutboxSender
from bot.workers.policy import WorkerPolicy

__all__ = ["EventWorker", "OutboxSender", "WorkerPolicy"]
