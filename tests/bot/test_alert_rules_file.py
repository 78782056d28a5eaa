"""The ALERT_RULES file: a bad one stops start-up naming the file and line;
`check` prints good ones in words."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.bot.test_check import healthy_stripe, report, run_check_command
from tests.process import bot_env, free_port
from tests.support import BOT_TOKEN, CHANNELS, SIGNING_SECRET, STRIPE_KEY

__all__ = ["healthy_stripe"]  # a fixture, used by name


def settings_with(path: Path) -> None:
    load_settings(
        _env_file=None,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        STRIPE_API_KEY=STRIPE_KEY,
        STRIPE_WEBHOOK_SECRET="whsec_x",
        ALERT_RULES=str(path),
        **CHANNELS,
    )


GOOD_HEAD = '[[rules]]\nevents = ["payout.failed"]\nchannel = "C0FINANCE"\n\n'


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        # Syntax: tomllib's own position.
        ('[[rules]]\nevents = ["payout.failed"\nmute = true\n', None, "not valid TOML"),
        (
            '[[rules]]\nevents = ["payout.failed"]\nchanel = "C1"\n',
            3,
            "unknown key 'chanel'",
        ),
        ('[[rules]]\nevents = ["payout.faild"]\nmute = true\n', 2, "matches none"),
        ('[[rules]]\nevents = ["invoice.*"]\nmute = true\n', 2, "'invoice.*'"),
        ("[[rules]]\nmute = true\n", 1, "events is required"),
        (
            '[[rules]]\nevents = ["charge.succeeded"]\n'
            'below = { jpy = "100.50" }\nmute = true\n',
            3,
            "JPY has no minor unit",
        ),
        (
            '[[rules]]\nevents = ["charge.succeeded"]\n'
            'at_least = { usd = "1.005" }\nmute = true\n',
            3,
            "USD amounts have at most 2 decimal places",
        ),
        (
            '[[rules]]\nevents = ["charge.succeeded"]\nat_least = { usd = 1.5 }\n'
            "mute = true\n",
            3,
            "write the amount as a string",
        ),
        (
            '[[rules]]\nevents = ["payout.paid"]\nchannel = "#finance"\n',
            3,
            "channel must be a channel ID",
        ),
        (
            '[[rules]]\nevents = ["payout.paid"]\nmention = ["@finance"]\n',
            3,
            "'@finance' is not a user group ID (S…) or user ID (U…)",
        ),
        (
            '[[rules]]\nevents = ["payout.paid"]\naccount = "acme"\nmute = true\n',
            3,
            "account must be a Connect account ID",
        ),
        ('[[rules]]\nevents = ["payout.paid"]\n', 1, "the rule does nothing"),
        (
            '[[rules]]\nevents = ["payout.*"]\nmute = true\nmention = ["S0X"]\n',
            4,
            "channel and mention do nothing beside mute = true",
        ),
        ('[[rules]]\nevents = ["payout.paid"]\nmute = "yes"\n', 3, "true or false"),
        ('title = "mine"\n', 1, "unknown key 'title'"),
    ],
)
def test_a_bad_file_is_named_with_its_line(
    tmp_path: Path, body: str, line: int | None, words: str
) -> None:
    path = tmp_path / "rules.toml"
    # The problem sits in the second rule: the line counts from the file's top.
    path.write_text(GOOD_HEAD + body)
    shift = GOOD_HEAD.count("\n")
    with pytest.raises(ConfigError) as caught:
        settings_with(path)
    said = str(caught.value)
    where = f"{path}, line {line + shift}: " if line else f"{path}: "
    assert f"ALERT_RULES: {where}" in said, said
    assert words in said
    if line and "rule" in words:
        assert "rule 2" in said


def test_a_syntax_error_stops_the_server_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(GOOD_HEAD + '[[rules]]\nevents = ["payout.paid"\nmute = true\n')
    env = bot_env(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        slack_url="http://127.0.0.1:9/",
        stripe_url="http://127.0.0.1:9",
        port=free_port(),
        ALERT_RULES=str(path),
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"ALERT_RULES: {path}: not valid TOML" in result.stderr
    assert "line 7" in result.stderr, result.stderr  # tomllib: where it broke


async def test_check_stops_on_a_bad_file_and_lists_good_rules_in_words(
    tmp_path: Path, sqlite_url: str, fake_slack: FakeSlack, healthy_stripe: FakeStripe
) -> None:
    from tests.bot.test_check import PUBLIC_URL, RESTRICTED

    path = tmp_path / "rules.toml"
    path.write_text(
        GOOD_HEAD + '[[rules]]\nevents = ["payout.*"]\nmention = "finance-team"\n'
    )
    env = bot_env(
        db_url=sqlite_url,
        slack_url=fake_slack.url,
        stripe_url=healthy_stripe.url,
        port=free_port(),
        STRIPE_API_KEY=RESTRICTED,
        PUBLIC_URL=PUBLIC_URL,
        ALERT_RULES=str(path),
    )
    status, out = await run_check_command(env, tmp_path)
    assert status == 2
    assert f"ALERT_RULES: {path}, line 7: rule 2: 'finance-team' is not" in out

    path.write_text(
        GOOD_HEAD
        + '[[rules]]\nevents = ["charge.succeeded", "payment_intent.succeeded"]\n'
        'below = { usd = "100.00", eur = "100.00" }\nlivemode = true\nmute = true\n'
        '\n[[rules]]\nevents = ["charge.dispute.*", "refund.*"]\n'
        'account = "acct_1X"\nmute = true\nmention = ["S0DISPUTES", "U0LEAD"]\n'
    )
    status, out = await run_check_command(env, tmp_path)
    assert status == 0, out
    assert f"alert rules: 3 rules from {path}, first match wins" in out
    assert "Rule 1 (line 1): payout.failed → posted in C0FINANCE" in out
    assert (
        "Rule 2 (line 5): charge.succeeded or payment_intent.succeeded, amount "
        "below 100.00 USD or 100.00 EUR, live mode only → not posted (stored and "
        "counted)\n" in out
    )
    assert (
        "Rule 3 (line 11): charge.dispute.* or refund.*, Connect account acct_1X "
        "→ not posted (stored and counted); but dispute cards cannot be muted "
        "(they are posted mentioning S0DISPUTES, U0LEAD), and refund requests "
        "cannot be muted (their threads still get the refund's updates)\n" in out
    ), out


async def test_without_rules_check_says_every_event_is_alerted(
    sqlite_url: str, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    _, text = await report(sqlite_url, fake_slack, fake_stripe)
    assert "alert rules: none (ALERT_RULES unset)" in text


def test_rules_written_as_an_inline_list_are_named_by_the_lists_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('# mine\n\nrules = [{ events = ["payout.paid"], mute = 1 }]\n')
    with pytest.raises(ConfigError) as caught:
        settings_with(path)
    assert f"ALERT_RULES: {path}, line 3: rule 1: mute must be true or false" in str(
        caught.value
    )
