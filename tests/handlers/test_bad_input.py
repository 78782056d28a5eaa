"""Bad input from Slack gets a clear answer, never a 500: request bodies that
do not parse, modals whose private_metadata is missing or mangled, buttons
whose value does not parse, and command text Stripe should never see."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from bot.blocks import disputes as dispute_blocks
from bot.blocks.refunds import (
    AMOUNT_INPUT,
    DENY_CALLBACK,
    DENY_REASON_INPUT,
    NOTE_INPUT,
    OPEN_MODAL_ACTION,
    REQUEST_CALLBACK,
)
from bot.server import DEPS
from simulators.slack import FakeSlack
from simulators.slack_requests import (
    block_action_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from simulators.stripe import FakeStripe
from tests.handlers.helpers import Client, command, post_signed, text_of
from tests.handlers.test_disputes import seed_dispute, view_update_saying
from tests.support import SIGNING_SECRET

MISSING = object()

# -- request bodies ---------------------------------------------------------------

BAD_BODIES: list[tuple[str, bytes, bool]] = [
    ("not UTF-8, unsigned", b"payload=%7B%7D\xff", False),
    ("not UTF-8, signed", b"payload=%7B%7D\xff", True),
    ("payload not JSON", b"payload=%7Bnot", True),
    ("payload a JSON array", b"payload=%5B%5D", True),
    ("JSON body not JSON", b"{not json", True),
    ("JSON nested too deep", b"{" + b'"a":[' * 5000 + b"]" * 5000 + b"}", True),
]


@pytest.mark.parametrize(
    ("label", "body", "signed"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
async def test_a_body_that_is_not_a_slack_request_gets_400(
    client: Client, fake_slack: FakeSlack, label: str, body: bytes, signed: bool
) -> None:
    text = body.decode("utf-8", errors="replace")
    headers = (
        sign(text, SIGNING_SECRET)
        if signed
        else {"Content-Type": "application/x-www-form-urlencoded"}
    )
    resp = await client.post("/slack/events", data=body, headers=headers)
    assert resp.status == 400, (label, await resp.text())
    assert "not a Slack request" in (await resp.json())["error"]
    # The route still serves the next good request.
    help_body = slash_command_body(text="help", response_url=fake_slack.response_url())
    answer = await (await post_signed(client, help_body)).json()
    assert "/stripe customer" in answer["text"]


# -- modals -----------------------------------------------------------------------


def _mangled_view(
    callback_id: str,
    private_metadata: Any,
    *,
    user_id: str = "U_AGENT",
    state: dict[str, Any] | None = None,
) -> str:
    body = view_submission_body(
        callback_id=callback_id, state_values=state or {}, user_id=user_id
    )
    payload = json.loads(parse_qs(body)["payload"][0])
    if private_metadata is MISSING:
        del payload["view"]["private_metadata"]
    else:
        payload["view"]["private_metadata"] = private_metadata
    return urlencode({"payload": json.dumps(payload)})


BAD_DISPUTE_METADATA: list[tuple[str, Any]] = [
    ("missing", MISSING),
    ("empty", ""),
    ("null", None),
    ("a number", 123),
    ("not an ID", "hello"),
    ("an ID with a NUL", "dp_1\u0000"),
    ("an ID with quotes", 'dp_1"x'),
    ("JSON", '{"d": "dp_1"}'),
]


@pytest.mark.parametrize(
    "callback_id",
    [
        dispute_blocks.VIEW_EVIDENCE,
        dispute_blocks.VIEW_SUBMIT,
        dispute_blocks.VIEW_ACCEPT,
    ],
)
@pytest.mark.parametrize(
    ("label", "metadata"),
    BAD_DISPUTE_METADATA,
    ids=[m[0] for m in BAD_DISPUTE_METADATA],
)
async def test_a_dispute_form_that_lost_its_dispute_says_so(
    client: Client, callback_id: str, label: str, metadata: Any
) -> None:
    body = _mangled_view(callback_id, metadata, user_id="U_MANAGER")
    resp = await post_signed(client, body)
    answer = json.loads(await resp.text())
    assert answer["response_action"] == "update", label
    said = json.dumps(answer["view"])
    assert "no longer says which dispute it is for" in said
    assert "Nothing was saved, submitted or accepted" in said


@pytest.mark.parametrize(
    "values",
    [
        {"a": "b"},
        {"a": {"receipt": "not a state"}},
        {"a": {"receipt": {"type": "file_input", "files": "F1"}}},
        {"a": {"receipt": {"type": "file_input", "files": ["F1", None]}}},
        ["not", "a", "dict"],
    ],
    ids=repr,
)
async def test_an_evidence_form_with_mangled_state_saves_nothing_and_says_so(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, values: Any
) -> None:
    from bot.deps import Deps
    from handlers.jobs import disputes as dispute_jobs

    dispute = seed_dispute(fake_stripe)
    app = client.app
    assert app is not None
    deps: Deps = app[DEPS]
    await dispute_jobs.reconcile(deps)
    body = view_submission_body(
        callback_id=dispute_blocks.VIEW_EVIDENCE,
        state_values={},
        user_id="U_AGENT",
        private_metadata=dispute["id"],
    )
    payload = json.loads(parse_qs(body)["payload"][0])
    payload["view"]["state"]["values"] = values
    resp = await post_signed(client, urlencode({"payload": json.dumps(payload)}))
    answer = json.loads(await resp.text())
    assert answer["response_action"] == "update"
    # Nothing usable was typed or attached: nothing goes to Stripe, and the
    # form says so.
    await view_update_saying(fake_slack, "V1", "nothing was sent to Stripe")
    assert fake_stripe.requests_to("POST", f"/v1/disputes/{dispute['id']}") == []


CONTROL_CHARACTER = "invisible control character"


@pytest.mark.parametrize("typed", ["Shipped\u0000 on time", "Tracking \u001b[31m"])
async def test_typed_text_with_a_control_character_is_refused_beside_the_field(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, typed: str
) -> None:
    from bot.deps import Deps
    from handlers.jobs import disputes as dispute_jobs

    dispute = seed_dispute(fake_stripe)
    app = client.app
    assert app is not None
    deps: Deps = app[DEPS]
    await dispute_jobs.reconcile(deps)
    block = dispute_blocks.input_block_id("shipping_tracking_number")
    state = {
        block: {
            "shipping_tracking_number": {"type": "plain_text_input", "value": typed}
        }
    }
    body = view_submission_body(
        callback_id=dispute_blocks.VIEW_EVIDENCE,
        state_values=state,
        user_id="U_AGENT",
        private_metadata=dispute["id"],
    )
    answer = json.loads(await (await post_signed(client, body)).text())
    assert answer["response_action"] == "errors"
    assert CONTROL_CHARACTER in answer["errors"][block]
    assert fake_stripe.requests_to("POST", f"/v1/disputes/{dispute['id']}") == []

    meta = json.dumps({"p": "pi_123", "c": "usd", "r": 1000})
    note = {NOTE_INPUT: {NOTE_INPUT: {"type": "plain_text_input", "value": typed}}}
    answer = json.loads(
        await (
            await post_signed(client, _mangled_view(REQUEST_CALLBACK, meta, state=note))
        ).text()
    )
    assert answer["response_action"] == "errors"
    assert CONTROL_CHARACTER in answer["errors"][NOTE_INPUT]

    reason = {
        DENY_REASON_INPUT: {
            DENY_REASON_INPUT: {"type": "plain_text_input", "value": typed}
        }
    }
    body = _mangled_view(
        DENY_CALLBACK, json.dumps({"r": 1}), user_id="U_MANAGER", state=reason
    )
    answer = json.loads(await (await post_signed(client, body)).text())
    assert answer["response_action"] == "errors"
    assert CONTROL_CHARACTER in answer["errors"][DENY_REASON_INPUT]
    assert fake_stripe.requests == [
        r for r in fake_stripe.requests if r.method == "GET"
    ]


BAD_REFUND_METADATA: list[tuple[str, Any]] = [
    ("missing", MISSING),
    ("empty", ""),
    ("not JSON", "{oops"),
    ("a JSON list", "[1, 2]"),
    ("no payment", json.dumps({"c": "usd", "r": 1000})),
    ("payment not an ID", json.dumps({"p": "hello", "c": "usd", "r": 1000})),
    ("payment a number", json.dumps({"p": 12, "c": "usd", "r": 1000})),
    ("no currency", json.dumps({"p": "pi_123", "r": 1000})),
    ("currency a number", json.dumps({"p": "pi_123", "c": 840, "r": 1000})),
    ("remaining a string", json.dumps({"p": "pi_123", "c": "usd", "r": "1000"})),
    ("remaining true", json.dumps({"p": "pi_123", "c": "usd", "r": True})),
]


@pytest.mark.parametrize(
    ("label", "metadata"), BAD_REFUND_METADATA, ids=[m[0] for m in BAD_REFUND_METADATA]
)
async def test_a_refund_form_that_lost_its_payment_says_so(
    client: Client, fake_stripe: FakeStripe, label: str, metadata: Any
) -> None:
    state = {
        AMOUNT_INPUT: {AMOUNT_INPUT: {"type": "plain_text_input", "value": "5.00"}}
    }
    resp = await post_signed(
        client, _mangled_view(REQUEST_CALLBACK, metadata, state=state)
    )
    answer = json.loads(await resp.text())
    assert answer["response_action"] == "update", label
    said = json.dumps(answer["view"])
    assert "no longer says which payment it is for" in said
    assert "Nothing was requested" in said
    assert fake_stripe.requests == []


BAD_DENY_METADATA: list[tuple[str, Any]] = [
    ("missing", MISSING),
    ("not JSON", "{oops"),
    ("no request", json.dumps({"u": None})),
    ("request a word", json.dumps({"r": "seven"})),
    ("request true", json.dumps({"r": True})),
]


@pytest.mark.parametrize(
    ("label", "metadata"), BAD_DENY_METADATA, ids=[m[0] for m in BAD_DENY_METADATA]
)
async def test_a_deny_form_that_lost_its_request_says_so(
    client: Client, label: str, metadata: Any
) -> None:
    state = {
        DENY_REASON_INPUT: {
            DENY_REASON_INPUT: {"type": "plain_text_input", "value": "duplicate"}
        }
    }
    body = _mangled_view(DENY_CALLBACK, metadata, user_id="U_MANAGER", state=state)
    answer = json.loads(await (await post_signed(client, body)).text())
    assert answer["response_action"] == "update", label
    said = json.dumps(answer["view"])
    assert "no longer says which refund request it is for" in said
    assert "Nothing was denied" in said


# -- buttons ----------------------------------------------------------------------


BAD_DISPUTE_VALUES = ["", "hello", "dp_1\u0000", 'dp_1"x', "dp_" + "a" * 300]


@pytest.mark.parametrize(
    "action_id",
    [
        dispute_blocks.ACTION_EDIT,
        dispute_blocks.ACTION_SUBMIT,
        dispute_blocks.ACTION_ACCEPT,
        dispute_blocks.ACTION_TAKE,
    ],
)
@pytest.mark.parametrize("value", BAD_DISPUTE_VALUES, ids=repr)
async def test_a_dispute_button_whose_value_is_not_a_dispute_says_so(
    client: Client, fake_slack: FakeSlack, action_id: str, value: str
) -> None:
    url = fake_slack.response_url()
    body = block_action_body(
        action_id=action_id,
        value=value,
        user_id="U_MANAGER",
        channel_id="CDISPUTES",
        message_ts="1700000000.000100",
        response_url=url,
    )
    await post_signed(client, body)
    (answer,) = await fake_slack.wait_for_response(url, timeout=15)
    assert "This button does not name a dispute" in text_of(answer)


@pytest.mark.parametrize(
    "value",
    ["", "{oops", "[]", json.dumps({"p": "pi_1"}), json.dumps({"p": 1, "c": "usd"})],
    ids=repr,
)
async def test_a_refund_button_whose_value_does_not_parse_says_so(
    client: Client, fake_slack: FakeSlack, value: str
) -> None:
    url = fake_slack.response_url()
    body = block_action_body(
        action_id=OPEN_MODAL_ACTION,
        value=value,
        user_id="U_AGENT",
        channel_id="C_SUPPORT",
        message_ts="1700000000.000100",
        response_url=url,
    )
    await post_signed(client, body)
    (answer,) = await fake_slack.wait_for_response(url, timeout=15)
    assert "This button does not name a payment" in text_of(answer)
    assert fake_slack.calls_to("views.open") == []


# -- command text -----------------------------------------------------------------


async def ack_text(client: Client, fake_slack: FakeSlack, text: str) -> str:
    """What Slack shows for `/stripe <text>` when the ack itself answers."""
    body = slash_command_body(text=text, response_url=fake_slack.response_url())
    answer = await (await post_signed(client, body)).json()
    assert answer["response_type"] == "ephemeral"
    return str(answer["text"])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("customer jenny\u0000@example.com", "control character"),
        ("customer jenny\u0007@example.com", "control character"),
        ("dispute dp_1\u0000", "control character"),
        ("refund pi_1\u0000 5.00", "control character"),
        ("customer " + "a" * 3000 + "@example.com", "too long"),
    ],
    ids=[
        "NUL in an email",
        "BEL in an email",
        "NUL in a dispute",
        "NUL in a refund",
        "3,000 characters",
    ],
)
async def test_command_text_stripe_should_never_see_is_refused(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, text: str, says: str
) -> None:
    said = await ack_text(client, fake_slack, text)
    assert says in said
    assert "\u0000" not in said
    assert fake_stripe.requests == []


async def test_an_overlong_email_is_refused_before_stripe(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    email = "a" * 600 + "@example.com"
    said = text_of(await command(client, fake_slack, f"customer {email}"))
    assert "too long for an email" in said
    assert fake_stripe.requests == []


@pytest.mark.parametrize(
    ("typed", "email"),
    [
        ("o'brien@example.com", "o'brien@example.com"),
        ('"jenny"@example.com', '"jenny"@example.com'),
        # Slack escapes &, < and > in command text.
        ("a&amp;b@example.com", "a&b@example.com"),
        ("<mailto:a&amp;b@example.com|a&amp;b@example.com>", "a&b@example.com"),
    ],
    ids=["apostrophe", "quoted local part", "ampersand", "auto-linked ampersand"],
)
async def test_emails_with_quotes_or_ampersands_find_the_customer(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    typed: str,
    email: str,
) -> None:
    customer = fake_stripe.add_customer(email=email, name="Jenny Rosen")
    said = text_of(await command(client, fake_slack, f"customer {typed}"))
    assert customer["id"] in said
    (listing,) = [r for r in fake_stripe.requests if r.path == "/v1/customers"]
    assert listing.params["email"] == email


async def test_a_dispute_lookup_after_bad_input_still_works(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    dispute = seed_dispute(fake_stripe)
    assert "control character" in await ack_text(
        client, fake_slack, "dispute dp_1\u0000"
    )
    said = text_of(await command(client, fake_slack, f"dispute {dispute['id']}"))
    assert dispute["id"] in said
