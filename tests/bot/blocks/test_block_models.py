"""The Block Kit helpers build what slack_sdk's models build, byte for byte.

bot.blocks builds the common blocks as plain dicts (the models' validation
on every call was half of processing an event); slack_sdk's models stay the
authority: every block an alert or a helper makes must survive a round trip
through `Block.parse(...).to_dict()` unchanged, and the odd cases go to the
models themselves.
"""

import json
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.blocks import context, header, open_in_stripe, section
from bot.blocks.alerts import ALERTED_EVENT_TYPES, build_alert
from tests.support import OBJECT_FOR_TYPE, event

TEXTS = [
    "a",
    "*Charge* <https://dashboard.stripe.com/test/payments/ch_1|ch_1> · $5.00",
    "Tom &amp; Jerry &lt;b&gt; — 日本語 :rotating_light:",
    "x" * 2999,
    "y" * 3000,
    "z" * 3001,
    "&amp;" * 700,
    "line one\nline two",
]


def as_model(block: dict[str, Any]) -> dict[str, Any]:
    model = Block.parse(block)
    assert model is not None
    return model.to_dict()


def same_json(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert json.dumps(ours) == json.dumps(theirs)


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


@pytest.mark.parametrize("text", TEXTS)
def test_section_text_is_the_models(text: str) -> None:
    ours = section(text)
    shown = ours["text"]["text"]
    assert len(shown) <= 3000
    same_json(ours, SectionBlock(text=md(shown)).to_dict())
    same_json(ours, as_model(ours))


@pytest.mark.parametrize("count", [1, 2, 10, 11])
def test_section_fields_are_the_models(count: int) -> None:
    fields = [f"*Field {i}*\n{TEXTS[i % len(TEXTS)]}" for i in range(count)]
    ours = section("head", fields=fields)
    shown = [field["text"] for field in ours["fields"]]
    assert len(shown) == min(count, 10)
    assert all(len(field) <= 2000 for field in shown)
    same_json(
        ours,
        SectionBlock(text=md("head"), fields=[md(f) for f in shown]).to_dict(),
    )
    same_json(section(fields=fields), as_model(section(fields=fields)))


def test_odd_sections_are_left_to_the_model() -> None:
    # An empty text or field: the model leaves the empty text out, as before.
    assert section("") == SectionBlock(text=md("")).to_dict()
    assert section("a", fields=["", "b"]) == (
        SectionBlock(text=md("a"), fields=[md(""), md("b")]).to_dict()
    )
    # Neither text nor fields: the model refuses, as it did.
    with pytest.raises(SlackObjectFormationError):
        section()


@pytest.mark.parametrize("text", ["🚨 Charge failed", "h" * 150, "h" * 151])
def test_header_is_the_models(text: str) -> None:
    ours = header(text)
    shown = ours["text"]["text"]
    assert len(shown) <= 150
    same_json(ours, HeaderBlock(text=PlainTextObject(text=shown, emoji=True)).to_dict())
    same_json(ours, as_model(ours))


@pytest.mark.parametrize("count", [1, 3, 10, 12])
def test_context_is_the_models(count: int) -> None:
    parts = [TEXTS[i % len(TEXTS)] for i in range(count)]
    ours = context(*parts)
    shown = [element["text"] for element in ours["elements"]]
    assert len(shown) == min(count, 10)
    same_json(ours, ContextBlock(elements=[md(p) for p in shown]).to_dict())
    same_json(ours, as_model(ours))


def test_empty_context_is_left_to_the_model() -> None:
    assert context("") == ContextBlock(elements=[md("")]).to_dict()


@pytest.mark.parametrize(
    "url",
    [
        "https://dashboard.stripe.com/test/payments/ch_1",
        "https://dashboard.stripe.com/acct_1/search?query=" + "x" * 200,
    ],
)
def test_open_in_stripe_is_the_models(url: str) -> None:
    ours = open_in_stripe(url, block_id="card_actions")
    button = ButtonElement(text="Open in Stripe", action_id="open_in_stripe", url=url)
    same_json(ours, ActionsBlock(block_id="card_actions", elements=[button]).to_dict())
    same_json(ours, as_model(ours))


def test_a_url_too_long_for_a_button_is_refused_by_the_model() -> None:
    with pytest.raises(SlackObjectFormationError):
        open_in_stripe("https://dashboard.stripe.com/" + "x" * 3000)


@pytest.mark.parametrize("event_type", sorted(ALERTED_EVENT_TYPES))
@pytest.mark.parametrize("livemode", [False, True])
def test_every_alert_block_survives_the_models(event_type: str, livemode: bool) -> None:
    obj = OBJECT_FOR_TYPE[event_type]()
    obj["description"] = "Tom & Jerry <@U123> " + "d" * 4000
    alert = build_alert(
        event(event_type, obj, livemode=livemode, account="acct_1Connected"),
        now=1_700_000_000,
        key_live=not livemode,
        account_name="Shop & <Co>",
    )
    assert alert is not None
    for block in alert.blocks:
        same_json(block, as_model(block))
