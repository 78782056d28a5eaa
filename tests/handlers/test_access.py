"""One access check serves every surface (DESIGN invariant 12).

Someone outside `SUPPORT_*` gets a short note on every surface the app
registers (commands, buttons on messages and on the Home tab, modals, the Home
tab, events such as link previews) and nothing about customers, payments or
disputes. The walk asks the app which listeners it registers, so a listener
added later is walked too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlmodel import col

import handlers
from bot.access import CHECK_SECONDS, OUTSIDER_NOTE
from bot.blocks.home import HOME_APPROVE_ACTION
from bot.blocks.refunds import (
    AMOUNT_INPUT,
    APPROVE_ACTION,
    DENY_ACTION,
    DENY_CALLBACK,
    DENY_REASON_INPUT,
    OPEN_MODAL_ACTION,
    REQUEST_CALLBACK,
)
from bot.deps import Deps
from simulators.slack import FakeSlack
from simulators.slack_requests import (
    APP_ID,
    BOT_ID,
    TEAM_DOMAIN,
    VERIFICATION_TOKEN,
    block_action_body,
    event_callback_body,
    slash_command_body,
    view_submission_body,
)
from simulators.stripe import FakeStripe
from storage.models import AuditLog, RefundRequest
from tests.handlers.helpers import (
    Client,
    approval_message,
    command,
    eventually,
    only_request,
    post_signed,
)
from tests.handlers.test_disputes import open_dispute

Json = dict[str, Any]

OUTSIDER = "W_OUTSIDER"  # an Enterprise Grid user ID: W…
AGENT = "U_AGENT"

SUPPORT_GROUP = "S_SUPPORT"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"SUPPORT_USER_IDS": f"{AGENT},U_AGENT2", "SUPPORT_USERGROUP": SUPPORT_GROUP}


@pytest.fixture(autouse=True)
def support_group(fake_slack: FakeSlack) -> None:
    fake_slack.usergroups[SUPPORT_GROUP] = ["U_SUPPORTER"]


# -- what the app registers ----------------------------------------------------


class SurfaceRecorder:
    """Stands in for the Bolt app while handlers register: records each
    listener's kind and constraint. A kind of listener this walk does not know
    fails the test, so whoever adds one adds it to the walk."""

    def __init__(self) -> None:
        self.surfaces: list[tuple[str, Any]] = []
        self.middleware: list[Any] = []

    def _listener(self, kind: str) -> Callable[..., Callable[..., Any]]:
        def register(*constraints: Any, **_: Any) -> Callable[..., Any]:
            self.surfaces += [(kind, c) for c in constraints]
            return lambda *fn, **__: fn[0] if fn else None

        return register

    def __getattr__(self, name: str) -> Any:
        if name in ("command", "action", "view", "event"):
            return self._listener(name)
        raise AssertionError(f"a new kind of Slack listener ({name}): walk it here")

    def use(self, fn: Any) -> Any:
        self.middleware.append(fn)
        return fn


def registered_surfaces(deps: Deps) -> list[tuple[str, Any]]:
    recorder = SurfaceRecorder()
    handlers.register_slack(recorder, deps)  # type: ignore[arg-type]
    return recorder.surfaces


# -- Slack payloads, shaped as Slack sends them from each place ----------------

ENTERPRISE = {"id": "E0001", "name": "Fake Grid"}


def home_click_body(*, action_id: str, value: str, user_id: str) -> str:
    """A button on the App Home tab: a `view` container, no channel, no message,
    no response_url; an Enterprise Grid workspace."""
    view = {
        "id": "V_HOME",
        "team_id": "T0001",
        "type": "home",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "state": {"values": {}},
        "hash": f"{int(time.time())}.home",
        "title": {"type": "plain_text", "text": "View Title"},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "root_view_id": "V_HOME",
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": "T0001",
        "bot_id": BOT_ID,
    }
    payload = {
        "type": "block_actions",
        "user": {
            "id": user_id,
            "username": "someone",
            "name": "someone",
            "team_id": "T0001",
        },
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": "V_HOME"},
        "trigger_id": "T.home",
        "team": {
            "id": "T0001",
            "domain": TEAM_DOMAIN,
            "enterprise_id": ENTERPRISE["id"],
            "enterprise_name": ENTERPRISE["name"],
        },
        "enterprise": ENTERPRISE,
        "is_enterprise_install": False,
        "view": view,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "home_block",
                "text": {"type": "plain_text", "text": "Click", "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def grid_event_body(event: Json) -> str:
    """An Events API body from an Enterprise Grid workspace."""
    body = json.loads(event_callback_body(event=event))
    body["enterprise_id"] = ENTERPRISE["id"]
    body["authorizations"][0]["enterprise_id"] = ENTERPRISE["id"]
    return json.dumps(body)


def event_for(event_type: str, user_id: str, links: list[str]) -> Json:
    """The event Slack sends for `event_type`, caused by `user_id`."""
    ts = f"{time.time():.6f}"
    if event_type == "app_home_opened":
        return {
            "type": event_type,
            "user": user_id,
            "channel": "D_OUTSIDER",
            "tab": "home",
            "event_ts": ts,
        }
    if event_type == "link_shared":
        return {
            "type": event_type,
            "channel": "C_SUPPORT",
            "is_bot_user_member": True,
            "user": user_id,
            "message_ts": ts,
            "unfurl_id": "C_SUPPORT.unfurl",
            "source": "conversations_history",
            "links": [{"domain": "dashboard.stripe.com", "url": u} for u in links],
            "event_ts": ts,
        }
    return {"type": event_type, "user": user_id, "channel": "C_SUPPORT", "ts": ts}


# -- the walk ------------------------------------------------------------------


async def _seed(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> dict[str, str]:
    """A dispute, a customer with a payment, and a refund request waiting."""
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    customer = fake_stripe.add_customer(email="secret.jenny@example.com", name="Jenny")
    pi, _ = fake_stripe.add_payment(customer_id=customer["id"], amount=2000)
    await command(client, fake_slack, f"refund {pi['id']} 5.00")
    req = await eventually(lambda: only_request(deps), what="the request")
    assert req.id is not None
    await approval_message(fake_slack, req.id)
    return {
        "dispute": dispute["id"],
        "customer": customer["id"],
        "email": "secret.jenny@example.com",
        "payment": pi["id"],
        "request": str(req.id),
    }


def _action_value(action_id: str, seeded: dict[str, str]) -> str:
    if action_id in (APPROVE_ACTION, DENY_ACTION, HOME_APPROVE_ACTION):
        return seeded["request"]
    if action_id == OPEN_MODAL_ACTION:
        return json.dumps({"p": seeded["payment"], "c": "usd", "r": 2000})
    return seeded["dispute"]


def _view_submission(callback_id: str, seeded: dict[str, str]) -> str:
    if callback_id == REQUEST_CALLBACK:
        state = {AMOUNT_INPUT: {AMOUNT_INPUT: {"type": "plain_text_input"}}}
        state[AMOUNT_INPUT][AMOUNT_INPUT]["value"] = "5.00"
        meta = json.dumps({"p": seeded["payment"], "c": "usd", "r": 2000})
    elif callback_id == DENY_CALLBACK:
        reason = {"type": "plain_text_input", "value": "no"}
        state = {DENY_REASON_INPUT: {DENY_REASON_INPUT: reason}}
        meta = json.dumps({"r": int(seeded["request"])})
    else:
        state, meta = {}, seeded["dispute"]
    return view_submission_body(
        callback_id=callback_id,
        state_values=state,
        user_id=OUTSIDER,
        private_metadata=meta,
    )


def _leaks(text: str, seeded: dict[str, str]) -> list[str]:
    return [name for name, value in seeded.items() if value in text and len(value) > 3]


async def test_an_outsider_gets_a_note_on_every_surface_and_nothing_else(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    surfaces = registered_surfaces(deps)
    kinds = {kind for kind, _ in surfaces}
    assert kinds == {"command", "action", "view", "event"}, surfaces
    assert ("event", "app_home_opened") in surfaces
    assert ("action", HOME_APPROVE_ACTION) in surfaces

    seeded = await _seed(client, fake_slack, fake_stripe, deps)
    links = [f"https://dashboard.stripe.com/test/disputes/{seeded['dispute']}"]
    slack_mark = len(fake_slack.calls)
    stripe_mark = len(fake_stripe.requests)
    answers: list[str] = []  # what Slack got back at once, per request
    response_urls: list[str] = []
    dms_expected = 0
    homes_expected = 0

    async def send(body: str) -> None:
        resp = await post_signed(client, body)
        answers.append(await resp.text())

    for kind, constraint in surfaces:
        if kind == "command":
            for text in (
                "",
                "help",
                "customer secret.jenny@example.com",
                f"refund {seeded['payment']} 5.00",
                f"refunds {seeded['payment']}",
                f"dispute {seeded['dispute']}",
                "disputes",
                "webhooks",
                "alerts",
                "nonsense",
            ):
                url = fake_slack.response_url()
                await send(
                    slash_command_body(
                        text=text,
                        response_url=url,
                        user_id=OUTSIDER,
                        command=constraint,
                    )
                )
        elif kind == "action":
            value = _action_value(constraint, seeded)
            url = fake_slack.response_url()
            response_urls.append(url)
            await send(
                block_action_body(
                    action_id=constraint,
                    value=value,
                    user_id=OUTSIDER,
                    channel_id="C_SUPPORT",
                    message_ts="1700000000.000100",
                    response_url=url,
                )
            )
            await send(
                home_click_body(action_id=constraint, value=value, user_id=OUTSIDER)
            )
            dms_expected += 1
        elif kind == "view":
            await send(_view_submission(constraint, seeded))
        elif kind == "event":
            await send(grid_event_body(event_for(constraint, OUTSIDER, links)))
            homes_expected += constraint == "app_home_opened"

    # Every click on a message is answered on its response_url; every click on
    # Home in the app's DM; the Home tab is published with the note.
    for url in response_urls:
        (posted,) = await fake_slack.wait_for_response(url)
        assert posted["text"] == OUTSIDER_NOTE
        assert posted["response_type"] == "ephemeral"

    def new_calls() -> list[Any]:
        return fake_slack.calls[slack_mark:]

    def to_outsider(method: str) -> list[Any]:
        return [
            c
            for c in new_calls()
            if c.method == method
            and OUTSIDER in (c.args.get("channel"), c.args.get("user_id"))
        ]

    await eventually(
        lambda: (
            len(to_outsider("chat.postMessage")) >= dms_expected
            and len(to_outsider("views.publish")) >= homes_expected
        ),
        what="the notes in the DM and on Home",
    )

    for call in new_calls():
        shown = json.dumps(call.args)
        assert not _leaks(shown, seeded), (call.method, shown)
        if OUTSIDER in shown:
            assert call.method in ("chat.postMessage", "views.publish"), call
            assert "stripe-ops is for the support team" in shown
    for call in to_outsider("views.publish"):
        view = call.args["view"]
        assert len(view["blocks"]) == 2, view  # a title and the note
    assert not any(c.method in ("views.open", "chat.unfurl") for c in new_calls())
    for answer in answers:
        assert not _leaks(answer, seeded), answer
        assert answer == "" or "stripe-ops is for the support team" in answer
    for url in response_urls:
        for body in fake_slack.responses[url]:
            assert body["text"] == OUTSIDER_NOTE, body
    # Nothing reached Stripe, nothing was stored.
    assert fake_stripe.requests[stripe_mark:] == []
    async with deps.sessions() as session:
        assert (
            await session.scalar(select(func.count()).select_from(RefundRequest))
        ) == 1
        by_outsider = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(col(AuditLog.actor) == OUTSIDER)
        )
    assert by_outsider == 0
    assert (await only_request(deps)).status == "pending"


async def test_the_home_tab_shows_an_outsider_only_a_note(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    seeded = await _seed(client, fake_slack, fake_stripe, deps)
    before = len(fake_slack.calls_to("views.publish"))
    await post_signed(
        client, grid_event_body(event_for("app_home_opened", OUTSIDER, []))
    )
    calls = await fake_slack.wait_for_calls("views.publish", before + 1)
    (published,) = [c for c in calls if c.args["user_id"] == OUTSIDER]
    shown = json.dumps(published.args["view"])
    assert "stripe-ops is for the support team" in shown
    assert not _leaks(shown, seeded)
    assert "Open disputes" not in shown
    assert "Latest alerts" not in shown

    # Someone in support still sees the disputes.
    await post_signed(client, grid_event_body(event_for("app_home_opened", AGENT, [])))
    calls = await fake_slack.wait_for_calls("views.publish", before + 2)
    (agent_view,) = [c for c in calls if c.args["user_id"] == AGENT]
    assert seeded["dispute"] in json.dumps(agent_view.args["view"])


async def test_a_command_from_an_outsider_is_answered_in_the_ack(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    url = fake_slack.response_url()
    resp = await post_signed(
        client,
        slash_command_body(text="disputes", response_url=url, user_id=OUTSIDER),
    )
    assert await resp.json() == {"response_type": "ephemeral", "text": OUTSIDER_NOTE}
    assert fake_stripe.requests == []


async def test_a_slow_slack_on_the_group_check_says_so(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    """The check must leave Slack its 3 s: an unanswered group read is a "no"
    that says why."""
    # Bolt's first request reads auth.test: let Slack answer that one first.
    warm_up = slash_command_body(text="help", response_url=fake_slack.response_url())
    await post_signed(client, warm_up)
    # Not in the ID list: the support group is read, and Slack never answers
    # it while the test holds it. The answer comes anyway, on the check's own
    # bound, which leaves Slack's 3 s (wait_for only bounds the test).
    group_read = fake_slack.hold("usergroups.users.list")
    url = fake_slack.response_url()
    resp = await asyncio.wait_for(
        post_signed(
            client,
            slash_command_body(text="disputes", response_url=url, user_id=OUTSIDER),
        ),
        timeout=20,
    )
    assert group_read.arrived == 1  # asked Slack, and did not wait for it
    assert CHECK_SECONDS < 3.0
    group_read.release()
    assert "could not check" in (await resp.json())["text"]
    assert fake_stripe.requests == []
