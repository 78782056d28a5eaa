"""The words for every refusal and for a failure on our side, in one place.

Each domain's cases are worded beside its other messages (refunds in
`bot.blocks.refund_refusals`, disputes in `bot.blocks.dispute_refusals`);
this is the one entry point the failure wrapper calls.
"""

from __future__ import annotations

from bot.blocks.dispute_refusals import dispute_refusal_text
from bot.blocks.refund_refusals import refund_refusal_text
from bot.refusals import DisputeRefused, NotAManager, RefundRefused, Refused

# One sentence, whatever failed: the person learns that nothing changed and
# what to do; the log line with the same correlation id says what happened.
APOLOGY = (
    "Sorry, that failed on our side and nothing was changed: try again, and tell "
    "an admin if it keeps failing."
)

# A button whose modal Slack would not open (its trigger_id lasts 3 seconds).
NO_MODAL = (
    "Slack did not open the form (the click took too long to reach stripe-ops). "
    "Nothing was changed; click the button again."
)


def refusal_text(refused: Refused) -> str:
    """What the person who asked reads (mrkdwn, escaped here)."""
    match refused:
        case NotAManager(action=action):
            return (
                f"Only managers can {action} (MANAGER_USER_IDS or the "
                "MANAGER_USERGROUP). Nothing was changed."
            )
        case RefundRefused():
            return refund_refusal_text(refused)
        case DisputeRefused():
            return dispute_refusal_text(refused)
        case _:
            raise TypeError(f"no words for {type(refused).__name__}")
