"""Alert rules (`ALERT_RULES`): which rule takes a Stripe event, first match wins.

- `parse`: the TOML file read into `Rule`s, every problem named with its line;
- here: the `Rule` record and `take`, the matching.

A rule only changes where an alert goes, who it pings, or that it is not
posted; the event is stored, processed and counted either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from bot.stripe_shapes import as_int, as_str, event_object

# Posted whatever a rule says: the dispute card carries the buttons a dispute
# is answered with, and a refund request's thread is where its requester and
# approver follow the refund; hiding either would lose work, not noise. The
# card is posted by the first event of a dispute the bot sees: usually
# `created`, any of these when that one was missed.
CARD_TYPES = frozenset(
    {
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)
REQUEST_THREAD_TYPES = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One `[[rules]]` table; amounts are minor units by lower-case currency."""

    number: int  # its place in the file, from 1
    line: int  # the line of its `[[rules]]` header
    key: str  # what events record: the number and a digest of the rule
    events: tuple[str, ...]
    at_least: tuple[tuple[str, int], ...] = ()
    below: tuple[tuple[str, int], ...] = ()
    livemode: bool | None = None
    account: str | None = None
    mute: bool = False
    channel: str | None = None
    mention: tuple[str, ...] = ()

    def names(self, event_type: str) -> bool:
        return any(fnmatchcase(event_type, pattern) for pattern in self.events)

    def matches(self, facts: EventFacts) -> bool:
        if not self.names(facts.type):
            return False
        if self.livemode is not None and facts.livemode != self.livemode:
            return False
        if self.account is not None and facts.account != self.account:
            return False
        # An amount condition holds only for a currency it names.
        if self.at_least and not _compare(self.at_least, facts, at_least=True):
            return False
        return not self.below or _compare(self.below, facts, at_least=False)


def _compare(
    limits: tuple[tuple[str, int], ...], facts: EventFacts, *, at_least: bool
) -> bool:
    if facts.amount is None or facts.currency is None:
        return False
    limit = dict(limits).get(facts.currency)
    if limit is None:
        return False
    return facts.amount >= limit if at_least else facts.amount < limit


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules in force, in file order; empty when ALERT_RULES is unset."""

    source: str | None = None
    rules: tuple[Rule, ...] = ()

    def take(self, event: dict[str, Any]) -> Rule | None:
        """The first rule that matches the event, or None (alerted as usual)."""
        if not self.rules:
            return None
        facts = EventFacts.of(event)
        return next((rule for rule in self.rules if rule.matches(facts)), None)

    def by_key(self) -> dict[str, Rule]:
        return {rule.key: rule for rule in self.rules}


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What rules look at: the type, mode, Connect account and amount."""

    type: str
    livemode: bool
    account: str | None
    amount: int | None
    currency: str | None

    @classmethod
    def of(cls, event: dict[str, Any]) -> EventFacts:
        obj = event_object(event)
        currency = as_str(obj.get("currency"))
        livemode = event.get("livemode", obj.get("livemode"))
        return cls(
            type=str(event.get("type") or ""),
            # An event without livemode is taken as live, as its alert is.
            livemode=livemode if isinstance(livemode, bool) else True,
            account=as_str(event.get("account")),
            amount=as_int(obj.get("amount")),
            currency=currency.lower() if currency else None,
        )


def mention_tokens(mention: tuple[str, ...]) -> str:
    """Slack's mention syntax: `<!subteam^S…>` for a user group, `<@U…>`."""
    return " ".join(
        f"<!subteam^{who}>" if who.startswith("S") else f"<@{who}>" for who in mention
    )


__all__ = [
    "CARD_TYPES",
    "REQUEST_THREAD_TYPES",
    "EventFacts",
    "Rule",
    "RuleSet",
    "mention_tokens",
]
