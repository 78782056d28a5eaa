"""The words for every refusal and for a failure on our side, in one place."""

from __future__ import annotations

from bot.refusals import Refused

# One sentence, whatever failed: the person learns that nothing changed and
# what to do; the log line with the same correlation id says what happened.
APOLOGY = (
    "Sorry, that failed on our side and nothing was changed: try again, and tell "
    "an admin if it keeps failing."
)


def refusal_text(refused: Refused) -> str:
    """What the person who asked reads (mrkdwn, escaped here)."""
    match refused:
        case _:
            raise TypeError(f"no words for {type(refused).__name__}")
