"""One line of the report: what was found, and its fix when it is a problem."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""
