"""Retry spacing shared by the workers."""

from __future__ import annotations

import random


def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Exponential with full jitter on the upper half: base·2^n, at most cap."""
    delay: float = min(cap, base * (2 ** max(0, attempts)))
    return delay / 2 + random.random() * delay / 2  # noqa: S311 - not crypto
