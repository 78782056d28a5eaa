"""Words for why a refund action is refused (the cases are in bot.refunds)."""

from __future__ import annotations

from bot.refusals import RefundRefused


def refund_refusal_text(refused: RefundRefused) -> str:
    """What the person who asked reads, escaped here."""
    match refused:
        case _:
            raise TypeError(f"no words for {type(refused).__name__}")
