"""The account's webhook endpoints against the events stripe-ops needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.blocks.alerts import ALERTED_EVENT_TYPES
from bot.deps import Deps
from bot.stripe_api import call

# Stripe's recommended events for this integration (DESIGN.md): each alerts.
RECOMMENDED_EVENTS: tuple[str, ...] = tuple(sorted(ALERTED_EVENT_TYPES))
WEBHOOK_PATH = "/stripe/webhook"


@dataclass(frozen=True)
class EndpointReport:
    id: str
    url: str
    status: str
    missing: tuple[str, ...]  # recommended events it does not send
    ours: bool  # it points at this deployment

    @property
    def complete(self) -> bool:
        return self.status == "enabled" and not self.missing


def expected_url(public_url: str | None) -> str | None:
    return public_url.rstrip("/") + WEBHOOK_PATH if public_url else None


def is_ours(url: str, public_url: str | None) -> bool:
    expected = expected_url(public_url)
    if expected is not None:
        return url.rstrip("/") == expected
    return url.rstrip("/").endswith(WEBHOOK_PATH)


def report_for(endpoint: dict[str, Any], public_url: str | None) -> EndpointReport:
    enabled = set(endpoint.get("enabled_events") or [])
    missing = (
        ()
        if "*" in enabled
        else tuple(e for e in RECOMMENDED_EVENTS if e not in enabled)
    )
    url = str(endpoint.get("url") or "")
    return EndpointReport(
        id=str(endpoint.get("id") or ""),
        url=url,
        status=str(endpoint.get("status") or "unknown"),
        missing=missing,
        ours=is_ours(url, public_url),
    )


async def audit_endpoints(deps: Deps) -> list[EndpointReport]:
    """Every endpoint of the account (all pages), ours first."""
    reports: list[EndpointReport] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = await call(
            deps.metrics,
            "webhook_endpoints.list",
            deps.stripe.v1.webhook_endpoints.list_async(params),  # type: ignore[arg-type]
        )
        data: list[dict[str, Any]] = [e.to_dict() for e in page.data]
        reports += [report_for(e, deps.settings.PUBLIC_URL) for e in data]
        if not page.has_more or not data:
            break
        params["starting_after"] = data[-1]["id"]
    return sorted(reports, key=lambda r: (not r.ours, r.url))
