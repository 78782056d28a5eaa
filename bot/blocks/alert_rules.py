"""Alert rules in words (for `check` and `/stripe alerts`), and the mention
line a rule adds to an alert."""

from __future__ import annotations

from typing import Any

from bot.alert_rules import CARD_TYPES, REQUEST_THREAD_TYPES, Rule, RuleSet
from bot.alert_rules import mention_tokens as mention_tokens
from bot.blocks import context, escape, section
from bot.money import format_amount

# Slack allows 50 blocks a message; the rest are left to `check`.
_RULES_SHOWN = 45


def _amounts(limits: tuple[tuple[str, int], ...]) -> str:
    return " or ".join(format_amount(minor, code) for code, minor in limits)


def conditions_in_words(rule: Rule) -> str:
    """ "payout.failed or payout.paid, at least 100.00 USD, live mode only"."""
    parts = [" or ".join(rule.events)]
    if rule.at_least:
        parts.append(f"amount at least {_amounts(rule.at_least)}")
    if rule.below:
        parts.append(f"amount below {_amounts(rule.below)}")
    if rule.livemode is not None:
        parts.append("live mode only" if rule.livemode else "test mode only")
    if rule.account:
        parts.append(f"Connect account {rule.account}")
    return ", ".join(parts)


def _routing(rule: Rule, *, slack: bool) -> list[str]:
    """Channel and mention in words; in Slack the channel is a link and the
    mentions are IDs in code (a list of rules should ping nobody)."""
    parts = []
    if rule.channel:
        parts.append(f"in <#{rule.channel}>" if slack else f"in {rule.channel}")
    if rule.mention:
        who = ", ".join(f"`{m}`" if slack else m for m in rule.mention)
        parts.append(f"mentioning {who}")
    return parts


def actions_in_words(rule: Rule, *, slack: bool = False) -> str:
    """What the rule does to the alerts it takes."""
    if rule.mute:
        return "not posted (stored and counted)"
    return "posted " + ", ".join(_routing(rule, slack=slack))


def exceptions_in_words(rule: Rule, *, slack: bool = False) -> list[str]:
    """What a mute rule cannot mute among the types it names."""
    if not rule.mute:
        return []
    notes = []
    if any(rule.names(t) for t in CARD_TYPES):
        posted = " ".join(["they are posted", *_routing(rule, slack=slack)])
        notes.append(f"dispute cards cannot be muted ({posted})")
    if any(rule.names(t) for t in REQUEST_THREAD_TYPES):
        notes.append(
            "refund requests cannot be muted (their threads still get the "
            "refund's updates)"
        )
    return notes


def rule_in_words(rule: Rule, *, slack: bool = False) -> str:
    """One line: "Rule 2 (line 7): payout.failed → posted in C0FINANCE"."""
    conditions = conditions_in_words(rule)
    if slack:
        conditions = escape(conditions)
    line = f"Rule {rule.number} (line {rule.line}): {conditions} → "
    line += actions_in_words(rule, slack=slack)
    notes = exceptions_in_words(rule, slack=slack)
    if notes:
        line += "; but " + ", and ".join(notes)
    return line


def with_mention(
    text: str, blocks: list[dict[str, Any]], mention: tuple[str, ...]
) -> tuple[str, list[dict[str, Any]]]:
    """The alert with the rule's mentions at its top (IDs checked at start,
    so nothing to escape); in `text` too, where notifications read it."""
    if not mention:
        return text, blocks
    tokens = mention_tokens(mention)
    return f"{tokens} {text}", [section(tokens), *blocks]


def alerts_overview(
    rules: RuleSet, counts: dict[str | None, int]
) -> tuple[str, list[dict[str, Any]]]:
    """`/stripe alerts`: the rules in force and what each took in 24 hours."""
    blocks: list[dict[str, Any]] = []
    if not rules.rules:
        where = f"`{escape(rules.source)}` has none" if rules.source else "unset"
        text = (
            f"No alert rules (ALERT_RULES: {where}): every recommended event is "
            "alerted in its group's channel."
        )
        blocks.append(section(text))
    else:
        text = f"{len(rules.rules)} alert rules in force; first match wins."
        source = escape(rules.source or "")
        blocks.append(section(f"*Alert rules* from `{source}`, first match wins:"))
        # One section a rule: many long rules would not fit in one.
        blocks += [
            section(
                f"{rule_in_words(rule, slack=True)}\n"
                f"*{_events(counts.get(rule.key, 0))}* in the last 24 hours"
            )
            for rule in rules.rules[:_RULES_SHOWN]
        ]
        if len(rules.rules) > _RULES_SHOWN:
            blocks.append(
                context(
                    f"and {len(rules.rules) - _RULES_SHOWN} more (`check` lists all)"
                )
            )
    known = {rule.key for rule in rules.rules}
    # Events taken by rules no longer in the file (before an edit and restart).
    earlier = sum(
        n for key, n in counts.items() if key is not None and key not in known
    )
    footer = (
        f"No rule took {_events(counts.get(None, 0))} in the last 24 hours "
        "(alerted as usual)."
    )
    if earlier:
        footer += f" Rules since changed took {_events(earlier)}."
    blocks.append(context(footer))
    return text, blocks


def _events(n: int) -> str:
    return f"{n:,} event{'s' if n != 1 else ''}"
