"""Pure Block Kit helpers shared by every message builder; escaping happens here."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.stripe_shapes import is_account_id

# Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
SECTION_TEXT_MAX = 3000
SECTION_FIELD_MAX = 2000
SECTION_FIELDS_MAX = 10
HEADER_TEXT_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
MESSAGE_BLOCKS_MAX = 50

ELLIPSIS = "…"

DASHBOARD_BASE = "https://dashboard.stripe.com"

# Longest prefixes first is not needed: Stripe ID prefixes end in "_" and none of
# these is a prefix of another.
_DASHBOARD_PATHS: dict[str, str] = {
    "pi_": "payments",
    "ch_": "payments",
    "py_": "payments",
    "re_": "refunds",
    "po_": "payouts",
    "dp_": "disputes",
    "du_": "disputes",
    "cus_": "customers",
    "evt_": "events",
    "acct_": "connect/accounts",
}

# The action_id of every *Open in Stripe* link button: Slack still sends the
# click to the app, which only acknowledges it (handlers.actions.links).
OPEN_IN_STRIPE_ACTION = "open_in_stripe"
OPEN_IN_STRIPE_BLOCK = "open_in_stripe"


def escape(text: object) -> str:
    """Escape text for Slack mrkdwn so it renders as typed and pings nobody."""
    if text is None:
        return ""
    # "&" first, or the entities made for "<" and ">" would be escaped twice.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Shorten already-escaped mrkdwn to at most `limit` chars, ending in "…".

    Never cuts inside an entity (`&amp;`) or a `<…>` token, which Slack would
    otherwise render as raw markup.
    """
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ELLIPSIS), 0)]
    last_open = cut.rfind("<")
    if last_open > cut.rfind(">"):
        cut = cut[:last_open]
    last_amp = cut.rfind("&")
    if last_amp > cut.rfind(";"):
        cut = cut[:last_amp]
    return cut + ELLIPSIS


def clip(text: object, limit: int) -> str:
    """Escape text from Stripe or a user and fit it into `limit` chars."""
    return truncate(escape(text), limit)


def one_line(text: str) -> str:
    """Collapse whitespace and newlines, for lines that must stay single."""
    return " ".join(text.split())


def date_token(ts: int, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A Slack date token that each reader sees in their own time zone."""
    # Clients that cannot render the token show the fallback, always in UTC.
    pattern = "%Y-%m-%d %H:%M UTC" if "{time" in fmt else "%Y-%m-%d"
    fallback = datetime.fromtimestamp(ts, tz=UTC).strftime(pattern)
    return f"<!date^{ts}^{fmt}|{fallback}>"


def dashboard_url(object_id: str, *, livemode: bool, account: str | None = None) -> str:
    """The Stripe Dashboard page of an object, as the Dashboard spells it:
    `https://dashboard.stripe.com/[acct_…/][test/]<kind>/<id>`.

    A Connect object (`account`: the connected account it lives in) opens in
    that account's view; a test-mode object under `/test`. IDs of no known kind
    open the Dashboard's search for them.
    """
    base = DASHBOARD_BASE
    if is_account_id(account):
        base += f"/{account}"
    if not livemode:
        base += "/test"
    safe_id = quote(object_id, safe="")
    for prefix, path in _DASHBOARD_PATHS.items():
        if object_id.startswith(prefix):
            return f"{base}/{path}/{safe_id}"
    return f"{base}/search?query={safe_id}"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a Stripe object lives: live or test mode, and the connected
    account (Connect) it belongs to; its Dashboard links go there."""

    livemode: bool
    account: str | None = None

    def url(self, object_id: str) -> str:
        return dashboard_url(object_id, livemode=self.livemode, account=self.account)

    def link(self, object_id: str) -> str:
        """The ID as a mrkdwn link to its Dashboard page."""
        return link(self.url(object_id), object_id)


def open_in_stripe(url: str, *, block_id: str = OPEN_IN_STRIPE_BLOCK) -> dict[str, Any]:
    """An actions block with the *Open in Stripe* link button."""
    return ActionsBlock(
        block_id=block_id, elements=[open_in_stripe_button(url)]
    ).to_dict()


def open_in_stripe_button(url: str) -> ButtonElement:
    """The *Open in Stripe* link button, to sit beside a message's other buttons."""
    return ButtonElement(
        text="Open in Stripe", action_id=OPEN_IN_STRIPE_ACTION, url=url
    )


def link(url: str, label: str) -> str:
    """A mrkdwn link; the label is escaped, the URL cannot break out of `<…>`."""
    safe_url = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    safe_url = safe_url.replace(" ", "%20")
    return f"<{safe_url}|{escape(label)}>"


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def countdown(seconds: int) -> str:
    """Time left (or overdue) in words a person reads at a glance."""
    span = abs(seconds)
    days, rest = divmod(span, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        words = _plural(days, "day")
        if hours:
            words += " " + _plural(hours, "hour")
    elif hours:
        words = _plural(hours, "hour")
    elif minutes:
        words = _plural(minutes, "minute")
    else:
        words = "less than a minute"
    return f"overdue by {words}" if seconds < 0 else f"in {words}"


def time_left(due_by: int, now: float) -> str:
    """The countdown, rounded up to the minute: a reminder sent a second after
    the 7-day mark says "in 7 days", not "in 6 days 23 hours"."""
    left = due_by - now
    if left > 0:
        left = -(-left // 60) * 60
    return countdown(int(left))


def mrkdwn(text: str) -> MarkdownTextObject:
    """A mrkdwn text object that Slack does not auto-link.

    `verbatim` stops Slack from turning bare `@channel`, `#channel` or URLs in
    Stripe text into mentions and links; our own `<…>` tokens still work.
    """
    return MarkdownTextObject(text=text, verbatim=True)


def header(text: str) -> dict[str, Any]:
    """A header block; `text` is our own wording, never Stripe text."""
    plain = text if len(text) <= HEADER_TEXT_MAX else text[: HEADER_TEXT_MAX - 1] + "…"
    return HeaderBlock(text=PlainTextObject(text=plain, emoji=True)).to_dict()


def section(
    text: str | None = None, *, fields: list[str] | None = None
) -> dict[str, Any]:
    """A section of escaped mrkdwn text and/or two-column fields, cut to limits."""
    field_objects = None
    if fields:
        field_objects = [
            mrkdwn(truncate(field, SECTION_FIELD_MAX))
            for field in fields[:SECTION_FIELDS_MAX]
        ]
    text_object = None if text is None else mrkdwn(truncate(text, SECTION_TEXT_MAX))
    return SectionBlock(text=text_object, fields=field_objects).to_dict()


def context(*parts: str) -> dict[str, Any]:
    """A context block of escaped mrkdwn parts."""
    return ContextBlock(
        elements=[
            mrkdwn(truncate(part, SECTION_TEXT_MAX))
            for part in parts[:CONTEXT_ELEMENTS_MAX]
        ]
    ).to_dict()
