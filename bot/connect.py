"""Stripe Connect: calls about a connected account's objects, and its name.

A Connect event names the account its object lives in (`event.account`);
every Stripe call about that object carries it as `Stripe-Account`, or Stripe
looks for the object on the platform and answers 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable

import stripe
from stripe import RequestOptions

from bot.deps import Deps
from bot.stripe_api import call
from bot.stripe_shapes import as_dict, as_str, event_account, is_account_id

log = logging.getLogger(__name__)

# A name read (or refused) is kept this long; names rarely change.
NAME_TTL_SECONDS = 6 * 3600.0
# After a failure that may pass (Stripe slow or down): ask again this soon.
RETRY_NAME_SECONDS = 300.0
# The event worker waits at most this long for names before a round: an
# alert without the name is better than alerts held back by a slow Stripe.
NAME_WAIT_SECONDS = 5.0


def on_account(
    account: str | None, options: RequestOptions | None = None
) -> RequestOptions:
    """Request options for a call about an object of `account` (None: the
    platform's own), with `Stripe-Account` set."""
    merged: RequestOptions = {**(options or {})}
    if account is not None:
        if not is_account_id(account):
            raise ValueError("not a Stripe account ID")
        merged["stripe_account"] = account
    return merged


def account_display_name(account: dict[str, object]) -> str | None:
    """What the account calls itself: its Dashboard display name, else its
    business name, else its company's name."""
    settings = as_dict(account.get("settings"))
    return (
        as_str(as_dict(settings.get("dashboard")).get("display_name"))
        or as_str(as_dict(account.get("business_profile")).get("name"))
        or as_str(as_dict(account.get("company")).get("name"))
    )


def cached_name(deps: Deps, account: str | None) -> str | None:
    """The account's name as last read; None when unknown or refused."""
    if account is None:
        return None
    cached = deps.account_names.get(account)
    return cached[1] if cached is not None else None


def name_known(deps: Deps, account: str) -> bool:
    """Has the account's name (or Stripe's refusal to give it) been read lately?"""
    cached = deps.account_names.get(account)
    return cached is not None and cached[0] > deps.clock.now()


async def read_name(deps: Deps, account: str) -> str | None:
    """Read the account's name from Stripe (accounts.retrieve) and cache it; a
    key that may not read accounts gets None, and the ID is shown alone."""
    if name_known(deps, account):
        return cached_name(deps, account)
    until = deps.clock.now() + NAME_TTL_SECONDS
    name: str | None = None
    try:
        obj = await call(
            deps.metrics,
            "accounts.retrieve",
            deps.stripe.v1.accounts.retrieve_async(account),
        )
        name = account_display_name(obj.to_dict())
    except (stripe.PermissionError, stripe.InvalidRequestError) as exc:
        log.info("no name for %s: %s", account, type(exc).__name__)
    except stripe.StripeError as exc:
        log.warning("reading %s failed: %s", account, type(exc).__name__)
        until = deps.clock.now() + RETRY_NAME_SECONDS
    deps.account_names[account] = (until, name)
    return name


async def learn_names(deps: Deps, accounts: Iterable[str]) -> None:
    """Read the names of accounts not in the cache, waiting at most
    NAME_WAIT_SECONDS; what is not read by then is read again next time."""
    wanted = sorted({a for a in accounts if not name_known(deps, a)})
    if not wanted:
        return
    reads = asyncio.gather(*(read_name(deps, a) for a in wanted))
    try:
        await asyncio.wait_for(reads, NAME_WAIT_SECONDS)
    except TimeoutError:
        log.warning("reading connected account names took too long")


def payload_account(payload: str) -> str | None:
    """The connected account of a stored event, without trusting its shape."""
    if '"account"' not in payload:
        return None
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    return event_account(event) if isinstance(event, dict) else None
