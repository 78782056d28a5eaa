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
BUTTON_URL_MAX = 3000
BLOCK_ID_MAX = 255

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
    if not 0 < len(url) <= BUTTON_URL_MAX or not 0 < len(block_id) <= BLOCK_ID_MAX:
        return ActionsBlock(
            block_id=block_id, elements=[open_in_stripe_button(url)]
        ).to_dict()
    button = {
        "action_id": OPEN_IN_STRIPE_ACTION,
        "text": _plain("Open in Stripe"),
        "type": "button",
        "url": url,
    }
    return {"block_id": block_id, "elements": [button], "type": "actions"}


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
    if not plain:
        # Only the model knows what to make of an empty header.
        return HeaderBlock(text=PlainTextObject(text=plain, emoji=True)).to_dict()
    return {"text": _plain(plain), "type": "header"}


# What the models' `to_dict()` makes of the common, valid case, built
# directly: slack_sdk validates and reflects on every attribute of every
# nested object on each call, which was half the CPU of processing an event
# (bench/event_rate.py). Keys in the models' (sorted) order, so the JSON is
# the same byte for byte; tests/bot/test_blocks_models.py holds each builder
# equal to its model over every alert and card. Anything unusual (empty
# text, too many elements) goes to the model itself, which decides.
def _plain(text: str) -> dict[str, Any]:
    return {"emoji": True, "text": text, "type": "plain_text"}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"text": text, "type": "mrkdwn", "verbatim": True}


def section(
    text: str | None = None, *, fields: list[str] | None = None
) -> dict[str, Any]:
    """A section of escaped mrkdwn text and/or two-column fields, cut to limits."""
    shown = [truncate(field, SECTION_FIELD_MAX) for field in (fields or [])]
    shown = shown[:SECTION_FIELDS_MAX]
    body = None if text is None else truncate(text, SECTION_TEXT_MAX)
    if body == "" or not all(shown) or (body is None and not shown):
        return SectionBlock(
            text=None if body is None else mrkdwn(body),
            fields=[mrkdwn(field) for field in shown] or None,
        ).to_dict()
    block: dict[str, Any] = {}
    if shown:
        block["fields"] = [_mrkdwn(field) for field in shown]
    if body is not None:
        block["text"] = _mrkdwn(body)
    block["type"] = "section"
    return block


def context(*parts: str) -> dict[str, Any]:
    """A context block of escaped mrkdwn parts."""
    shown = [truncate(part, SECTION_TEXT_MAX) for part in parts[:CONTEXT_ELEMENTS_MAX]]
    if not shown or not all(shown):
        return ContextBlock(elements=[mrkdwn(part) for part in shown]).to_dict()
    return {"elements": [_mrkdwn(part) for part in shown], "type": "context"}
