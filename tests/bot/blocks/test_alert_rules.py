"""`/stripe alerts` in words: pure builders, no fakes needed."""

from __future__ import annotations

import json

from bot.alert_rules.parse import parse_rules
from bot.blocks.alert_rules import alerts_overview

RULES = """\
[[rules]]
events = ["payout.failed"]
channel = "C0FINANCE"
mention = ["S0FINANCE", "U0ONCALL"]

[[rules]]
events = ["charge.succeede[d<]"]
mute = true
"""


def test_the_overview_pings_nobody_and_escapes_what_the_file_says() -> None:
    rules = parse_rules(RULES, source="rules<&>.toml")
    first, second = rules.rules
    text, blocks = alerts_overview(rules, {first.key: 3, None: 7})
    said = json.dumps(blocks)
    assert text == "2 alert rules in force; first match wins."
    assert "<!subteam" not in said
    assert "<@U0ONCALL>" not in said
    assert "mentioning `S0FINANCE`, `U0ONCALL`" in said
    assert "posted in <#C0FINANCE>" in said
    assert "charge.succeede[d&lt;]" in said
    assert "rules&lt;&amp;&gt;.toml" in said
    assert "*3 events* in the last 24 hours" in said
    assert "*0 events* in the last 24 hours" in said
    assert "No rule took 7 events in the last 24 hours" in said


def test_events_taken_by_rules_since_edited_are_counted_apart() -> None:
    rules = parse_rules(RULES, source="rules.toml")
    # The same first rule, edited: a different digest, not counted as rule 1's.
    _, blocks = alerts_overview(rules, {"1:0000000000": 4, None: 1})
    said = json.dumps(blocks)
    assert "Rules since changed took 4 events." in said
    assert "No rule took 1 event in" in said
    assert "*3 events*" not in said


def test_without_rules_it_says_every_event_is_alerted_as_usual() -> None:
    text, blocks = alerts_overview(parse_rules("", source="empty.toml"), {None: 2})
    assert "`empty.toml` has none): every recommended event is alerted" in json.dumps(
        blocks
    )
    assert "No rule took 2 events" in json.dumps(blocks)
    assert text
