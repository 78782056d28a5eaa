"""Shared Block Kit helpers: escaping, links, dates, countdowns."""

import pytest

from bot.blocks import (
    clip,
    countdown,
    dashboard_url,
    date_token,
    escape,
    link,
    section,
    truncate,
)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("a < b > c", "a &lt; b &gt; c"),
        ("<https://evil|click>", "&lt;https://evil|click&gt;"),
        # Escaping is not idempotent on purpose: the text is shown as typed.
        ("&amp;", "&amp;amp;"),
        ("&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"),
        ("plain *bold* _it_", "plain *bold* _it_"),
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
def test_escape(raw: object, escaped: str) -> None:
    assert escape(raw) == escaped


def test_escape_leaves_no_angle_brackets() -> None:
    text = escape("<<!channel>> <!everyone> & <#C1>")
    assert "<" not in text
    assert ">" not in text


def test_truncate_never_cuts_an_entity_or_token() -> None:
    text = escape("a" * 8 + "&b")  # "aaaaaaaa&amp;b"
    cut = truncate(text, 11)
    assert cut == "aaaaaaaa…"
    token = "abc <https://x.test|label> tail"
    assert truncate(token, 12) == "abc …"
    assert truncate("short", 10) == "short"


def test_clip_escapes_then_fits() -> None:
    clipped = clip("<!channel>" * 1000, 3000)
    assert len(clipped) <= 3000
    assert clipped.endswith("…")
    assert "<" not in clipped


def test_section_truncates_long_text() -> None:
    block = section("x" * 5000)
    assert len(block["text"]["text"]) == 3000
    assert block["text"]["verbatim"] is True


def test_date_token() -> None:
    assert date_token(1700000000) == (
        "<!date^1700000000^{date_short_pretty} at {time}|2023-11-14 22:13 UTC>"
    )
    assert date_token(1700000000, "{date_short_pretty}") == (
        "<!date^1700000000^{date_short_pretty}|2023-11-14>"
    )


@pytest.mark.parametrize(
    ("object_id", "path"),
    [
        ("pi_1", "/payments/pi_1"),
        ("ch_1", "/payments/ch_1"),
        ("py_1", "/payments/py_1"),
        ("re_1", "/refunds/re_1"),
        ("po_1", "/payouts/po_1"),
        ("dp_1", "/disputes/dp_1"),
        ("du_1", "/disputes/du_1"),
        ("cus_1", "/customers/cus_1"),
        ("evt_1", "/events/evt_1"),
        ("issfr_1", "/search?query=issfr_1"),
        ("x y|<z>", "/search?query=x%20y%7C%3Cz%3E"),
    ],
)
def test_dashboard_url(object_id: str, path: str) -> None:
    assert dashboard_url(object_id, livemode=True) == (
        f"https://dashboard.stripe.com{path}"
    )
    assert dashboard_url(object_id, livemode=False) == (
        f"https://dashboard.stripe.com/test{path}"
    )


def test_link_escapes_label_and_url() -> None:
    assert link("https://x.test/a", "<!channel> & co") == (
        "<https://x.test/a|&lt;!channel&gt; &amp; co>"
    )
    assert link("https://x.test/a|b<c>d", "ok") == "<https://x.test/a%7Cb%3Cc%3Ed|ok>"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (3 * 86400 + 4 * 3600 + 59, "in 3 days 4 hours"),
        (86400, "in 1 day"),
        (2 * 86400 + 30, "in 2 days"),
        (5 * 3600 + 120, "in 5 hours"),
        (3600, "in 1 hour"),
        (12 * 60 + 5, "in 12 minutes"),
        (60, "in 1 minute"),
        (30, "in less than a minute"),
        (0, "in less than a minute"),
        (-2 * 3600, "overdue by 2 hours"),
        (-(86400 + 3600), "overdue by 1 day 1 hour"),
        (-90, "overdue by 1 minute"),
    ],
)
def test_countdown(seconds: int, words: str) -> None:
    assert countdown(seconds) == words
