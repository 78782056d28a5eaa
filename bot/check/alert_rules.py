"""The alert rules in force, in words.

The file itself was checked when the settings were read: a bad one stops
`check` (and the server) before this runs, naming the file and the line.
"""

from __future__ import annotations

from bot.blocks.alert_rules import rule_in_words
from bot.check.finding import Finding
from bot.deps import Deps


async def check_alert_rules(deps: Deps) -> list[Finding]:
    rules = deps.settings.ALERT_RULES
    if not rules.rules:
        where = f"{rules.source} has none" if rules.source else "ALERT_RULES unset"
        return [
            Finding(
                True,
                f"alert rules: none ({where}): every recommended event is "
                "alerted in its group's channel",
            )
        ]
    count = len(rules.rules)
    findings = [
        Finding(
            True,
            f"alert rules: {count} rule{'s' if count != 1 else ''} from "
            f"{rules.source}, first match wins; events no rule matches are "
            "alerted as usual",
        )
    ]
    findings += [Finding(True, f"  {rule_in_words(rule)}") for rule in rules.rules]
    return findings
