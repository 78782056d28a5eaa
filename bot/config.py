"""Settings: one object, read from the environment and `.env`, validated at start."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.alert_rules import RuleSet
from bot.alert_rules.parse import RulesError, load_rules

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_STRIPE_API_BASE = "https://api.stripe.com"
# The settings that name a Slack channel.
CHANNEL_SETTINGS = (
    "ALERT_CHANNEL",
    "PAYMENTS_CHANNEL",
    "REFUNDS_CHANNEL",
    "PAYOUTS_CHANNEL",
    "DISPUTES_CHANNEL",
    "APPROVALS_CHANNEL",
    "DAILY_SUMMARY_CHANNEL",
)
_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")

# What to do about each setting when it is missing or malformed: shown to the
# operator beside pydantic's own words, so the fix is on the same line.
HOW_TO_FIX: dict[str, str] = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-…) from the Slack app's "
    "OAuth & Permissions page",
    "SLACK_SIGNING_SECRET": "the Signing Secret from the Slack app's Basic "
    "Information page (or set SLACK_APP_TOKEN to use Socket Mode)",
    "SLACK_APP_TOKEN": "an app-level token (xapp-…) with connections:write, from "
    "Basic Information → App-Level Tokens; leave unset for HTTP mode",
    "STRIPE_API_KEY": "a restricted key (rk_live_… / rk_test_…) from the Stripe "
    "Dashboard → Developers → API keys (README lists the permissions)",
    "STRIPE_WEBHOOK_SECRET": "the endpoint's signing secret (whsec_…) from the "
    "Stripe Dashboard → Developers → Webhooks; comma-separate two while rotating",
    "ALERT_CHANNEL": "the ID of the Slack channel for alerts (C…), from the "
    "channel's details → About",
    "DATABASE_URL": "a SQLAlchemy URL such as sqlite:///stripe_ops.db or "
    "postgresql://user:pass@host/db",
    "MANAGER_USER_IDS": "comma-separated Slack user IDs (U…)",
    "SUPPORT_USER_IDS": "comma-separated Slack user IDs (U…)",
    "DISPUTE_NAG_HOURS": "comma-separated whole hours before the evidence "
    "deadline, e.g. 168,72,24,6",
    "DAILY_SUMMARY_AT": "a 24-hour local time, HH:MM, e.g. 09:00",
    "TIMEZONE": "an IANA time zone name such as Europe/Paris or UTC",
}


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]
CsvInts = Annotated[list[int], NoDecode]


class Settings(BaseSettings):
    """Everything the bot is configured with; names are the environment's."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        frozen=True,
    )

    SLACK_BOT_TOKEN: SecretStr
    SLACK_SIGNING_SECRET: SecretStr | None = None
    SLACK_APP_TOKEN: SecretStr | None = None
    SLACK_API_URL: str = DEFAULT_SLACK_API_URL

    STRIPE_API_KEY: SecretStr
    STRIPE_WEBHOOK_SECRET: SecretStr
    STRIPE_API_BASE: str = DEFAULT_STRIPE_API_BASE

    DATABASE_URL: str = "sqlite:///stripe_ops.db"
    HOST: str = "0.0.0.0"  # noqa: S104 - a server in a container listens on all
    PORT: int = Field(default=3000, ge=1, le=65535)

    ALERT_CHANNEL: str
    PAYMENTS_CHANNEL: str | None = None
    REFUNDS_CHANNEL: str | None = None
    PAYOUTS_CHANNEL: str | None = None
    DISPUTES_CHANNEL: str | None = None
    APPROVALS_CHANNEL: str | None = None

    MANAGER_USER_IDS: CsvList = []
    MANAGER_USERGROUP: str | None = None
    SUPPORT_USER_IDS: CsvList = []
    SUPPORT_USERGROUP: str | None = None

    DISPUTE_NAG_HOURS: CsvInts = [168, 72, 24, 6]
    NAG_INTERVAL_SECONDS: int = Field(default=900, ge=10)
    REFUND_APPROVAL_TTL_HOURS: int = Field(default=24, ge=1)
    PUBLIC_URL: str | None = None
    # The environment gives a path; the settings hold the rules read from it.
    ALERT_RULES: Annotated[RuleSet, NoDecode] = RuleSet()
    DAILY_SUMMARY_CHANNEL: str | None = None
    DAILY_SUMMARY_AT: str = "09:00"
    TIMEZONE: str = "UTC"
    LOG_FORMAT: str = "text"
    LOG_LEVEL: str = "INFO"

    _split = field_validator(
        "MANAGER_USER_IDS", "SUPPORT_USER_IDS", "DISPUTE_NAG_HOURS", mode="before"
    )(_split_csv)

    @field_validator("SLACK_BOT_TOKEN")
    @classmethod
    def _bot_token(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return v

    @field_validator("SLACK_APP_TOKEN")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value():
            return None
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return v

    @field_validator("SLACK_SIGNING_SECRET")
    @classmethod
    def _signing_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value():
            return None
        return v

    @field_validator("STRIPE_API_KEY")
    @classmethod
    def _stripe_key(cls, v: SecretStr) -> SecretStr:
        key = v.get_secret_value()
        if not key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
            raise ValueError(
                "must be a secret (sk_…) or restricted (rk_…) key; "
                "publishable keys (pk_…) cannot call the API"
            )
        return v

    @field_validator("STRIPE_WEBHOOK_SECRET")
    @classmethod
    def _webhook_secret(cls, v: SecretStr) -> SecretStr:
        parts = [p.strip() for p in v.get_secret_value().split(",") if p.strip()]
        if not parts or not all(p.startswith("whsec_") for p in parts):
            raise ValueError("each secret must start with whsec_")
        return v

    @field_validator("SLACK_API_URL", "STRIPE_API_BASE", "PUBLIC_URL")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return v

    @field_validator("SLACK_API_URL")
    @classmethod
    def _slash(cls, v: str | None) -> str:
        v = v or DEFAULT_SLACK_API_URL
        return v if v.endswith("/") else v + "/"

    @field_validator("STRIPE_API_BASE")
    @classmethod
    def _no_slash(cls, v: str | None) -> str:
        return (v or DEFAULT_STRIPE_API_BASE).rstrip("/")

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, v: str) -> str:
        scheme = v.split("://", 1)[0] if "://" in v else ""
        base = scheme.split("+", 1)[0]
        if base not in ("sqlite", "postgres", "postgresql"):
            raise ValueError("must start with sqlite:// or postgresql://")
        return v

    @field_validator("DISPUTE_NAG_HOURS")
    @classmethod
    def _nag_hours(cls, v: list[int]) -> list[int]:
        if not v or any(h <= 0 for h in v):
            raise ValueError("needs at least one whole number of hours above 0")
        return sorted(set(v), reverse=True)

    @field_validator("ALERT_RULES", mode="plain")
    @classmethod
    def _alert_rules(cls, v: object) -> RuleSet:
        # Read once at start: a file that cannot be used stops start-up here,
        # naming its line, not at the first event it would have routed.
        if isinstance(v, RuleSet):
            return v
        if v is None or v == "":
            return RuleSet()
        if not isinstance(v, str):
            raise ValueError("must be the path of a TOML file")
        try:
            return load_rules(v)
        except RulesError as exc:
            raise ValueError(str(exc)) from None

    @field_serializer("ALERT_RULES")
    def _alert_rules_path(self, v: RuleSet) -> str | None:
        return v.source

    @field_validator("DAILY_SUMMARY_AT")
    @classmethod
    def _summary_at(cls, v: str) -> str:
        if not _HH_MM.fullmatch(v.strip()):
            raise ValueError("must be a 24-hour time HH:MM, such as 09:00")
        return v.strip()

    @field_validator("TIMEZONE")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone this machine knows") from None
        return v.strip()

    @field_validator("LOG_FORMAT")
    @classmethod
    def _log_format(cls, v: str) -> str:
        if v not in ("text", "json"):
            raise ValueError("must be text or json")
        return v

    @field_validator(*CHANNEL_SETTINGS)
    @classmethod
    def _channel(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if v.startswith("#") or not v[:1].isalpha() or not v.isalnum():
            raise ValueError(
                "must be a channel ID such as C0123ABCD, not a channel name"
            )
        return v

    @model_validator(mode="after")
    def _http_needs_signing_secret(self) -> Settings:
        if self.SLACK_APP_TOKEN is None and self.SLACK_SIGNING_SECRET is None:
            raise ValueError(
                "SLACK_SIGNING_SECRET is required unless SLACK_APP_TOKEN is set "
                "(Socket Mode)"
            )
        if self.ALERT_CHANNEL is None:
            raise ValueError("ALERT_CHANNEL is required")
        return self

    # -- derived values -------------------------------------------------------

    @property
    def webhook_secrets(self) -> list[str]:
        raw = self.STRIPE_WEBHOOK_SECRET.get_secret_value()
        return [p.strip() for p in raw.split(",") if p.strip()]

    @property
    def socket_mode(self) -> bool:
        return self.SLACK_APP_TOKEN is not None

    @property
    def stripe_live(self) -> bool:
        return "_live_" in self.STRIPE_API_KEY.get_secret_value()

    @property
    def zone(self) -> ZoneInfo:
        """TIMEZONE as a zone (validated at load, so it exists)."""
        return ZoneInfo(self.TIMEZONE)

    @property
    def daily_summary_time(self) -> time:
        hours, minutes = self.DAILY_SUMMARY_AT.split(":")
        return time(int(hours), int(minutes))

    @property
    def approvals_channel(self) -> str:
        return self.APPROVALS_CHANNEL or self.ALERT_CHANNEL

    def channel_for(self, group: str) -> str:
        """The channel for an alert group: payments, refunds, payouts, disputes."""
        specific: str | None = {
            "payments": self.PAYMENTS_CHANNEL,
            "refunds": self.REFUNDS_CHANNEL,
            "payouts": self.PAYOUTS_CHANNEL,
            "disputes": self.DISPUTES_CHANNEL,
            "approvals": self.APPROVALS_CHANNEL,
        }.get(group)
        return specific or self.ALERT_CHANNEL


class ConfigError(Exception):
    """Settings could not be loaded; `str()` is a report for the operator."""


def describe_errors(exc: ValidationError) -> str:
    """One message naming every problem and how to fix it; never a value."""
    lines = ["stripe-ops cannot start: the configuration has problems."]
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or "settings"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "is not set"
        line = f"  - {loc}: {msg}"
        if loc in HOW_TO_FIX:
            line += f". Set it to {HOW_TO_FIX[loc]}"
        lines.append(line + ".")
    lines.append(
        "Set these in the environment or in a .env file in the working directory "
        "(see README.md, Configuration)."
    )
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise ConfigError with the whole report."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
