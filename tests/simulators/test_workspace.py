"""The workspace: what people see, and what Slack sends an app, signed.

The app here is a real Bolt app behind aiohttp (it verifies every request's
signature as the bot does), talking back to the fake Slack over loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from simulators.slack import FakeSlack
from simulators.workspace import Workspace

SECRET = "workspace-test-signing-secret"

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "note",
    "title": {"type": "plain_text", "text": "A note"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "note",
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "note"},
        }
    ],
}
BUTTON = {
    "type": "button",
    "action_id": "pick",
    "text": {"type": "plain_text", "text": "Pick"},
    "value": "42",
}


def make_bolt(client: AsyncWebClient, seen: list[dict[str, Any]]) -> AsyncApp:
    bolt = AsyncApp(signing_secret=SECRET, client=client)

    @bolt.command("/stripe")
    async def stripe(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        seen.append(body)
        if body["text"] == "modal":
            await ack()
            await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        elif body["text"] == "later":
            await ack()
            await respond(
                text="Later, with a button",
                blocks=[{"type": "actions", "block_id": "b1", "elements": [BUTTON]}],
            )
        else:
            await ack(f"You typed {body['text']}")

    @bolt.action("pick")
    async def pick(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        seen.append(body)
        await ack()
        await respond(text="Picked 42", replace_original=True)

    @bolt.view("note")
    async def note(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        seen.append(body)
        value = view["state"]["values"]["note"]["note"]["value"] or ""
        if value == "update":
            saved = {**MODAL, "title": {"type": "plain_text", "text": "Saved"}}
            await ack(response_action="update", view=saved)
        elif value == "push":
            await ack(response_action="push", view=MODAL)
        elif len(value) < 3:
            await ack(response_action="errors", errors={"note": "Too short"})
        else:
            await ack()

    return bolt


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as started:
        yield started


@pytest.fixture
async def workspace(fake: FakeSlack) -> AsyncIterator[Workspace]:
    made = Workspace(fake, signing_secret=SECRET)
    yield made
    await made.aclose()


@pytest.fixture
async def seen(fake: FakeSlack, workspace: Workspace) -> AsyncIterator[list[Any]]:
    """What the app received; the app served at workspace.app_url."""
    received: list[dict[str, Any]] = []
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
    bolt = make_bolt(client, received)

    async def events(request: web.Request) -> web.Response:
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    workspace.app_url = f"http://127.0.0.1:{port}/slack/events"
    yield received
    await runner.cleanup()


async def test_a_command_is_signed_and_its_ack_shows_to_its_author_only(
    workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    await workspace.command(user="U_AGENT", channel="CSUPPORT", text="help me")

    # Bolt checked the signature (it answers 401 otherwise) and saw Slack's form.
    assert seen[0]["user_id"] == "U_AGENT"
    assert seen[0]["channel_id"] == "CSUPPORT"
    assert seen[0]["command"] == "/stripe"
    shown = workspace.snapshot()["ephemerals"]
    assert [(e["user"], e["channel"], e["text"]) for e in shown] == [
        ("U_AGENT", "CSUPPORT", "You typed help me")
    ]


async def test_a_wrong_signing_secret_is_refused_by_the_app(
    workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    workspace.signing_secret = "not-the-app-secret"
    with pytest.raises(Exception, match="http_401"):
        await workspace.command(user="U_AGENT", channel="CSUPPORT", text="help")
    assert seen == []


async def test_a_response_url_post_then_a_click_replaces_that_ephemeral(
    workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    await workspace.command(user="U_MANAGER", channel="CSUPPORT", text="later")
    [shown] = workspace.ephemerals
    assert shown["text"] == "Later, with a button"

    await workspace.click(
        user="U_MANAGER", action={**BUTTON, "block_id": "b1"}, ephemeral=shown["id"]
    )

    payload = seen[-1]
    assert payload["container"]["is_ephemeral"] is True
    assert payload["actions"][0]["value"] == "42"
    assert [e["text"] for e in workspace.ephemerals] == ["Picked 42"]


async def test_a_click_on_a_channel_message_sends_the_message_and_edits_it(
    fake: FakeSlack, workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
    posted = await client.chat_postMessage(
        channel="CAPPROVALS",
        text="Choose",
        blocks=[{"type": "actions", "block_id": "b1", "elements": [BUTTON]}],
    )
    await workspace.click(
        user="U_MANAGER",
        action={**BUTTON, "block_id": "b1"},
        channel="CAPPROVALS",
        ts=posted["ts"],
    )
    assert seen[-1]["message"]["text"] == "Choose"
    assert seen[-1]["channel"]["name"] == "approvals"
    [message] = workspace.snapshot()["conversations"]["CAPPROVALS"]
    assert message["text"] == "Picked 42"
    assert workspace.ephemerals == []


async def test_a_modal_opens_for_its_person_shows_errors_then_closes(
    workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    await workspace.command(user="U_AGENT", channel="CSUPPORT", text="modal")
    modals = workspace.snapshot()["modals"]
    assert list(modals) == ["U_AGENT"]
    [view] = modals["U_AGENT"]
    assert view["title"]["text"] == "A note"

    values = {"note": {"note": {"type": "plain_text_input", "value": "ab"}}}
    answer = await workspace.submit(user="U_AGENT", view_id=view["id"], values=values)
    assert answer["response_action"] == "errors"
    [still] = workspace.snapshot()["modals"]["U_AGENT"]
    assert still["errors"] == {"note": "Too short"}
    assert seen[-1]["view"]["callback_id"] == "note"

    values["note"]["note"]["value"] = "long enough"
    await workspace.submit(user="U_AGENT", view_id=view["id"], values=values)
    assert workspace.snapshot()["modals"] == {}


async def test_a_bot_dm_and_a_chat_post_ephemeral_show_where_slack_shows_them(
    fake: FakeSlack, workspace: Workspace
) -> None:
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
    await client.chat_postMessage(channel="U_AGENT", text="Your refund is done")
    dm = (await client.conversations_open(users="U_MANAGER"))["channel"]["id"]
    await client.chat_postMessage(channel=dm, text="Waiting for you")
    await client.chat_postEphemeral(channel="CDISPUTES", user="U_AGENT", text="Psst")

    shown = workspace.snapshot()
    assert [m["text"] for m in shown["conversations"]["dm:U_AGENT"]] == [
        "Your refund is done"
    ]
    assert [m["text"] for m in shown["conversations"]["dm:U_MANAGER"]] == [
        "Waiting for you"
    ]
    assert [(e["user"], e["channel"]) for e in shown["ephemerals"]] == [
        ("U_AGENT", "CDISPUTES")
    ]


async def test_an_uploaded_file_is_served_to_the_bot_token_only(
    fake: FakeSlack, workspace: Workspace
) -> None:
    file = workspace.upload(
        user="U_AGENT",
        content=b"%PDF-1.4 x",
        name="proof.pdf",
        mimetype="application/pdf",
    )
    assert file["user"] == "U_AGENT"
    async with aiohttp.ClientSession() as http:
        url = file["url_private_download"]
        auth = {"Authorization": f"Bearer {fake.bot_token}"}
        async with http.get(url, headers=auth) as resp:
            assert await resp.read() == b"%PDF-1.4 x"
        async with http.get(url, allow_redirects=False) as resp:
            assert resp.status == 302


async def test_each_change_moves_the_version_the_page_waits_on(
    fake: FakeSlack, workspace: Workspace
) -> None:
    before = workspace.version
    assert await workspace.wait_changed(before, timeout=0.01) == before
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
    await client.chat_postMessage(channel="CALERTS", text="hello")
    assert await workspace.wait_changed(before, timeout=1) > before


async def test_update_and_push_answers_change_the_modal_as_slack_does(
    workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    await workspace.command(user="U_MANAGER2", channel="CSUPPORT", text="modal")
    [view] = workspace.snapshot()["modals"]["U_MANAGER2"]

    def typed(value: str) -> dict[str, Any]:
        return {"note": {"note": {"type": "plain_text_input", "value": value}}}

    await workspace.submit(
        user="U_MANAGER2", view_id=view["id"], values=typed("update")
    )
    [updated] = workspace.snapshot()["modals"]["U_MANAGER2"]
    assert updated["id"] == view["id"]
    assert updated["title"]["text"] == "Saved"
    assert updated["hash"] != view["hash"]

    await workspace.submit(user="U_MANAGER2", view_id=view["id"], values=typed("push"))
    stack = workspace.snapshot()["modals"]["U_MANAGER2"]
    assert [v["previous_view_id"] for v in stack] == [None, view["id"]]
    # Submitting the pushed view closes it and shows the one below.
    await workspace.submit(
        user="U_MANAGER2", view_id=stack[1]["id"], values=typed("ok!")
    )
    [below] = workspace.snapshot()["modals"]["U_MANAGER2"]
    assert below["id"] == view["id"]
