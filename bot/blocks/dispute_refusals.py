"""Words for why a dispute action is refused (the cases are in bot.disputes)."""

from __future__ import annotations

from bot.refusals import DisputeRefused


def dispute_refusal_text(refused: DisputeRefused) -> str:
    """What the person who asked reads, escaped here."""
    match refused:
        case _:
            raise TypeError(f"no words for {type(refused).__name__}")
