"""Configuration: one report naming every problem, never a secret."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import ConfigError, Settings, load_settings
from storage.engine import async_url

GOOD: dict[str, Any] = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
    "SLACK_SIGNING_SECRET": "s3cr3t",
    "STRIPE_API_KEY": "rk_test_abc123",
    "STRIPE_WEBHOOK_SECRET": "whsec_abc",
    "ALERT_CHANNEL": "C0ALERTS",
}


def load(**values: Any) -> Settings:
    return load_settings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name, raising=False)


def test_nothing_configured_names_every_required_setting() -> None:
    with pytest.raises(ConfigError) as info:
        load()
    report = str(info.value)
    for name in (
        "SLACK_BOT_TOKEN",
        "STRIPE_API_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "ALERT_CHANNEL",
    ):
        assert f"{name}: is not set" in report
    assert "Traceback" not in report
    assert "README" in report


def test_malformed_values_are_each_named_with_a_fix_and_no_value() -> None:
    with pytest.raises(ConfigError) as info:
        load(
            **{
                **GOOD,
                "SLACK_BOT_TOKEN": "xoxp-user-token-123",
                "STRIPE_API_KEY": "pk_live_publishable999",
                "ALERT_CHANNEL": "#alerts",
                "DISPUTE_NAG_HOURS": "72,abc",
                "DATABASE_URL": "mysql://x",
            }
        )
    report = str(info.value)
    assert "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-" in report
    assert "STRIPE_API_KEY: must be a secret (sk_…) or restricted (rk_…) key" in report
    assert "ALERT_CHANNEL: must be a channel ID" in report
    assert "DISPUTE_NAG_HOURS" in report
    assert "DATABASE_URL" in report
    assert "xoxp-user-token-123" not in report
    assert "pk_live_publishable999" not in report


def test_http_mode_needs_a_signing_secret_socket_mode_does_not() -> None:
    without = {k: v for k, v in GOOD.items() if k != "SLACK_SIGNING_SECRET"}
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is required"):
        load(**without)
    settings = load(**without, SLACK_APP_TOKEN="xapp-1-abc")
    assert settings.socket_mode


def test_defaults_and_lists() -> None:
    settings = load(
        **{
            **GOOD,
            "MANAGER_USER_IDS": "U1, U2",
            "STRIPE_WEBHOOK_SECRET": "whsec_old,whsec_new",
            "DISPUTE_NAG_HOURS": "6,168,24",
            "DISPUTES_CHANNEL": "C0DISPUTES",
        }
    )
    assert settings.MANAGER_USER_IDS == ["U1", "U2"]
    assert settings.webhook_secrets == ["whsec_old", "whsec_new"]
    assert settings.DISPUTE_NAG_HOURS == [168, 24, 6]
    assert settings.channel_for("disputes") == "C0DISPUTES"
    assert settings.channel_for("payouts") == "C0ALERTS"
    assert settings.approvals_channel == "C0ALERTS"
    assert settings.SLACK_API_URL == "https://slack.com/api/"
    assert settings.STRIPE_API_BASE == "https://api.stripe.com"
    assert settings.PORT == 3000
    assert not settings.stripe_live


def test_secrets_do_not_show_in_repr() -> None:
    settings = load(**GOOD)
    assert "rk_test_abc123" not in repr(settings)
    assert "s3cr3t" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("given", "driver", "query"),
    [
        ("sqlite:///stripe_ops.db", "sqlite+aiosqlite", {}),
        ("postgres://u:p@db.example:5432/app", "postgresql+asyncpg", {}),
        (
            "postgresql://u:p@db/app?sslmode=require",
            "postgresql+asyncpg",
            {"ssl": "require"},
        ),
    ],
)
def test_database_urls_heroku_style_included(
    given: str, driver: str, query: dict[str, str]
) -> None:
    url = async_url(given)
    assert url.drivername == driver
    assert dict(url.query) == query


def test_daily_summary_defaults_off_at_nine_utc() -> None:
    settings = load(**GOOD)
    assert settings.DAILY_SUMMARY_CHANNEL is None
    assert (settings.daily_summary_time.hour, settings.daily_summary_time.minute) == (
        9,
        0,
    )
    assert settings.zone.key == "UTC"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("DAILY_SUMMARY_AT", "9am", "HH:MM"),
        ("DAILY_SUMMARY_AT", "24:00", "HH:MM"),
        ("DAILY_SUMMARY_AT", "09:60", "HH:MM"),
        ("TIMEZONE", "Mars/Olympus_Mons", "time zone"),
        ("TIMEZONE", "../etc/passwd", "time zone"),
        ("DAILY_SUMMARY_CHANNEL", "#summary", "channel ID"),
    ],
)
def test_daily_summary_settings_are_checked(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(**GOOD, **{name: value})
    report = str(info.value)
    assert f"{name}: " in report
    assert words in report
    assert value not in report


def test_a_summary_time_in_a_zone() -> None:
    settings = load(
        **GOOD,
        DAILY_SUMMARY_CHANNEL="C0SUMMARY",
        DAILY_SUMMARY_AT="18:30",
        TIMEZONE="America/New_York",
    )
    assert str(settings.daily_summary_time) == "18:30:00"
    assert settings.zone.key == "America/New_York"
