"""The ALERT_RULES file read into rules; every problem names file and line.

tomllib says where the syntax breaks; for what it cannot know (a key we do not
take, an event type we never alert on, an amount with too many decimals) the
line is found by scanning the text for the rule's table and the key in it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from bot.alert_rules import CARD_TYPES, Rule, RuleSet
from bot.blocks.alerts import ALERTED_EVENT_TYPES
from bot.money import AmountError, parse_amount

_CONDITIONS = ("events", "at_least", "below", "livemode", "account")
_ACTIONS = ("mute", "channel", "mention")
_KEYS = frozenset(_CONDITIONS + _ACTIONS)
_RULES_HEADER = re.compile(r"^\s*\[\[\s*rules\s*\]\]")
_ANY_HEADER = re.compile(r"^\s*\[")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
_MENTION = re.compile(r"[SU][A-Z0-9]{2,}")
_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]+")
_CURRENCY = re.compile(r"[a-z]{3}")


class RulesError(ValueError):
    """The file cannot be used; str() names the file, the line and the fix."""


class _Text:
    """The file's lines, to find where a rule or a key is written."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def rule_line(self, number: int) -> int | None:
        """The line of the `number`-th `[[rules]]` header (both from 1)."""
        seen = 0
        for index, line in enumerate(self.lines, start=1):
            if _RULES_HEADER.match(line):
                seen += 1
                if seen == number:
                    return index
        return None

    def key_line(self, number: int, key: str) -> int | None:
        """The line where the rule sets `key`, else its header's line."""
        start = self.rule_line(number)
        if start is None:
            return None
        pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*[=.]")
        for index in range(start, len(self.lines)):
            line = self.lines[index]
            if _ANY_HEADER.match(line):
                break
            if pattern.match(line):
                return index + 1
        return start

    def top_key_line(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*\[*\s*\"?{re.escape(key)}\"?\s*[=.\]]")
        for index, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return index
        return None


def load_rules(path: str) -> RuleSet:
    """Read and check the file at `path`; RulesError says what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise RulesError(f"{path}: is not UTF-8 text") from None
    return parse_rules(text, source=path)


def parse_rules(text: str, *, source: str) -> RuleSet:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line N, column M)".
        raise RulesError(f"{source}: not valid TOML: {exc}") from None
    where = _Text(text)
    for key in document:
        if key != "rules":
            line = where.top_key_line(key)
            raise RulesError(
                f"{source}{_at(line)}: unknown key {key!r}; the file holds only "
                "[[rules]] tables"
            )
    tables = document.get("rules", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise RulesError(
            f"{source}{_at(where.top_key_line('rules'))}: rules must be written "
            "as [[rules]] tables"
        )
    rules = tuple(
        _rule(table, number, where=where, source=source)
        for number, table in enumerate(tables, start=1)
    )
    return RuleSet(source=source, rules=rules)


def _at(line: int | None) -> str:
    return f", line {line}" if line is not None else ""


def _rule(table: dict[str, Any], number: int, *, where: _Text, source: str) -> Rule:
    def fail(key: str | None, problem: str) -> RulesError:
        line = where.key_line(number, key) if key else where.rule_line(number)
        # Written as `rules = [{…}, …]`, not as [[rules]] tables: the list's line.
        line = line or where.top_key_line("rules")
        return RulesError(f"{source}{_at(line)}: rule {number}: {problem}")

    for key in table:
        if key not in _KEYS:
            raise fail(
                key,
                f"unknown key {key!r}; a rule takes {', '.join(_CONDITIONS)} "
                f"(conditions) and {', '.join(_ACTIONS)} (actions)",
            )
    events = _events(table.get("events"), fail)
    at_least = _amounts(table, "at_least", fail)
    below = _amounts(table, "below", fail)
    livemode = table.get("livemode")
    if livemode is not None and not isinstance(livemode, bool):
        raise fail("livemode", "livemode must be true or false")
    account = table.get("account")
    if account is not None and not (
        isinstance(account, str) and _ACCOUNT.fullmatch(account)
    ):
        raise fail("account", "account must be a Connect account ID, acct_…")
    mute = table.get("mute", False)
    if not isinstance(mute, bool):
        raise fail("mute", "mute must be true or false")
    channel = table.get("channel")
    if channel is not None and not (
        isinstance(channel, str) and _CHANNEL.fullmatch(channel)
    ):
        raise fail(
            "channel",
            "channel must be a channel ID such as C0123ABCD (or G… for an old "
            "private channel), not a channel name",
        )
    mention = _mention(table.get("mention"), fail)
    if not mute and channel is None and not mention:
        raise fail(
            None,
            "the rule does nothing: give it mute = true, a channel or a mention",
        )
    if (
        mute
        and (channel or mention)
        and not any(fnmatchcase(t, p) for t in CARD_TYPES for p in events)
    ):
        # Beside mute, they only place the dispute cards a mute cannot hide.
        raise fail(
            "channel" if channel else "mention",
            "channel and mention do nothing beside mute = true for these events "
            "(they apply only to dispute cards, which cannot be muted); drop "
            "one or the other",
        )
    digest = hashlib.sha256(
        json.dumps(table, sort_keys=True, default=str).encode()
    ).hexdigest()[:10]
    return Rule(
        number=number,
        line=where.rule_line(number) or 0,
        key=f"{number}:{digest}",
        events=events,
        at_least=at_least,
        below=below,
        livemode=livemode,
        account=account,
        mute=mute,
        channel=channel,
        mention=mention,
    )


def _events(value: object, fail: Any) -> tuple[str, ...]:
    if value is None:
        raise fail(None, 'events is required, e.g. events = ["payout.failed"]')
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise fail("events", "events must be a list of event types or patterns")
    for pattern in value:
        if not isinstance(pattern, str):
            raise fail("events", "events must be a list of event types or patterns")
        if not any(fnmatchcase(t, pattern) for t in ALERTED_EVENT_TYPES):
            raise fail(
                "events",
                f"{pattern!r} matches none of the event types the bot alerts on "
                f"({', '.join(sorted(ALERTED_EVENT_TYPES))})",
            )
    return tuple(value)


def _amounts(table: dict[str, Any], key: str, fail: Any) -> tuple[tuple[str, int], ...]:
    value = table.get(key)
    if value is None:
        return ()
    if not isinstance(value, dict) or not value:
        raise fail(
            key,
            f'{key} must be a table of currency = "amount", e.g. '
            f'{key} = {{ usd = "100.00" }}',
        )
    amounts: list[tuple[str, int]] = []
    for currency, amount in value.items():
        code = currency.lower()
        if not _CURRENCY.fullmatch(code):
            raise fail(key, f"{currency!r} is not a three-letter currency code")
        if isinstance(amount, int) and not isinstance(amount, bool):
            amount = str(amount)
        if not isinstance(amount, str):
            raise fail(
                key,
                f"{key}.{currency}: write the amount as a string in major units, "
                f'like "100.00", so no digit is lost to floating point',
            )
        try:
            minor = parse_amount(amount, code)
        except AmountError as exc:
            raise fail(key, f"{key}.{currency} = {amount!r}: {exc}") from None
        amounts.append((code, minor))
    return tuple(amounts)


def _mention(value: object, fail: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise fail("mention", "mention must be a list of S… or U… IDs")
    for who in value:
        if not isinstance(who, str) or not _MENTION.fullmatch(who):
            raise fail(
                "mention",
                f"{who!r} is not a user group ID (S…) or user ID (U…); "
                "names and @handles are not mentions Slack can resolve",
            )
    return tuple(value)
