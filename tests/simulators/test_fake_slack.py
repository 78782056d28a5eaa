"""Tests of the fake Slack API and of the signed request builders."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from simulators.slack import FakeSlack
from simulators.slack_requests import (
    block_action_body,
    event_callback_body,
    sign,
    slash_command_body,
    view_submission_body,
)

SECRET = "test-signing-secret"
ROOT = Path(__file__).resolve().parents[2]
STANDALONE = (sys.executable, "-m", "simulators.slack", "--port", "0")
CSV = b"id,amount\n1,5\n"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as f:
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    # No retry handlers: a refused connection fails at once.
    return AsyncWebClient(token=fake.bot_token, base_url=fake.url, retry_handlers=[])


async def test_bolt_accepts_signed_requests(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.url),
        process_before_response=True,
    )
    seen: dict[str, Any] = {}

    @app.command("/stripe")
    async def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        seen["command"] = command["text"]
        await respond(text="looking up")

    @app.action("refund_approve")
    async def on_action(ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        seen["action"] = body["actions"][0]["value"]
        channel = body["container"]["channel_id"]
        await client.chat_update(
            channel=channel, ts=body["container"]["message_ts"], text="approved"
        )

    @app.view("refund_modal")
    async def on_view(ack: Any, view: dict[str, Any]) -> None:
        await ack()
        seen["view"] = view["state"]["values"]["amount"]["amount"]["value"]

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: Any) -> None:
        seen["home"] = event["user"]
        await client.views_publish(
            user_id=event["user"], view={"type": "home", "blocks": []}
        )

    async def dispatch(body: str, secret: str = SECRET, ts: int | None = None) -> int:
        headers: dict[str, str | Sequence[str]] = {**sign(body, secret, ts)}
        resp = await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        return resp.status

    url = fake.response_url()
    body = slash_command_body(text="cus_123", response_url=url)
    assert await dispatch(body) == 200
    assert seen["command"] == "cus_123"
    assert (await fake.wait_for_response(url))[0]["text"] == "looking up"

    posted = await client.chat_postMessage(channel="C_SUPPORT", text="refund?")
    body = block_action_body(
        action_id="refund_approve",
        value="re_1",
        user_id="U_LEAD",
        channel_id="C_SUPPORT",
        message_ts=posted["ts"],
        response_url=fake.response_url(),
    )
    assert await dispatch(body) == 200
    assert seen["action"] == "re_1"
    assert fake.message("C_SUPPORT", posted["ts"])["text"] == "approved"

    values = {"amount": {"amount": {"type": "plain_text_input", "value": "12.50"}}}
    body = view_submission_body(
        callback_id="refund_modal", state_values=values, user_id="U_AGENT"
    )
    assert await dispatch(body) == 200
    assert seen["view"] == "12.50"

    event = {
        "type": "app_home_opened",
        "user": "U_AGENT",
        "channel": "D1",
        "tab": "home",
    }
    body = event_callback_body(event=event)
    assert await dispatch(body) == 200
    await fake.wait_for_calls("views.publish", 1)
    assert seen["home"] == "U_AGENT"
    assert len(fake.calls_to("auth.test")) == 1

    body = slash_command_body(text="nope", response_url=fake.response_url())
    assert await dispatch(body, "wrong-secret") == 401
    assert await dispatch(body, ts=1_600_000_000) == 401
    assert seen["command"] == "cus_123"


async def test_messages_and_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert auth["user_id"] == "U0BOT"
    assert "chat:write" in auth.headers["x-oauth-scopes"].split(",")

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    # Form-encoded, as slack_sdk sends `data=`: blocks arrive as a JSON string.
    first = await client.api_call(
        "chat.postMessage",
        data={"channel": "C1", "text": "hi", "blocks": json.dumps(blocks)},
    )
    reply = await client.chat_postMessage(
        channel="C1", text="r", thread_ts=first["ts"], reply_broadcast=True
    )
    assert fake.calls_to("chat.postMessage")[0].args["blocks"] == blocks
    assert float(reply["ts"]) > float(first["ts"])
    assert fake.message("C1", reply["ts"])["thread_ts"] == first["ts"]
    assert fake.message("C1", reply["ts"])["reply_broadcast"] is True

    await client.chat_delete(channel="C1", ts=reply["ts"])
    assert [m["ts"] for m in fake.messages["C1"]] == [first["ts"]]

    fake.not_in_channel.add("C_PRIV")
    fake.channels_not_found.add("C_GONE")
    bad = AsyncWebClient(token="xoxb-wrong", base_url=fake.url, retry_handlers=[])
    for call, error in [
        (client.chat_update(channel="C1", ts="1.2", text="x"), "message_not_found"),
        (client.chat_postMessage(channel="C_PRIV", text="x"), "not_in_channel"),
        (client.conversations_info(channel="C_GONE"), "channel_not_found"),
        (client.usergroups_users_list(usergroup="S_NONE"), "no_such_subteam"),
        (client.api_call("nope.nope"), "unknown_method"),
        (bad.chat_postMessage(channel="C1", text="x"), "invalid_auth"),
        (bad.auth_test(), "invalid_auth"),
    ]:
        with pytest.raises(SlackApiError) as exc_info:
            await call
        assert exc_info.value.response["error"] == error
    await client.conversations_join(channel="C_PRIV")
    await client.chat_postMessage(channel="C_PRIV", text="now in")

    fake.usergroups["S1"] = ["U1", "U2"]
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    title = {"type": "plain_text", "text": "Refund"}
    view = {"type": "modal", "title": title, "blocks": []}
    opened = await client.views_open(trigger_id="T.trig", view=view)
    assert opened["view"]["id"].startswith("V")
    assert fake.calls_to("views.open")[0].args["view"] == view
    assert len(fake.calls) == 15


async def test_rate_limit_and_injected_failures(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=3)
    fake.fail_next(None, status=200, error="fatal_error")
    with pytest.raises(SlackApiError) as exc_info:
        await client.chat_postMessage(channel="C1", text="x")
    assert exc_info.value.response.status_code == 429
    assert exc_info.value.response.headers["Retry-After"] == "3"
    assert exc_info.value.response["error"] == "ratelimited"
    with pytest.raises(SlackApiError, match="fatal_error"):
        await client.auth_test()
    await client.chat_postMessage(channel="C1", text="x")
    assert [c.status for c in fake.calls] == [429, 200, 200]
    with pytest.raises(AssertionError, match="chat.delete"):
        await fake.wait_for_calls("chat.delete", 1, timeout=0.05)


async def test_channel_pace_refuses_a_second_post_within_the_second(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.channel_pace = 1.0
    await client.chat_postMessage(channel="C1", text="first")
    await client.chat_postMessage(channel="C2", text="another channel")
    with pytest.raises(SlackApiError) as exc_info:
        await client.chat_postMessage(channel="C1", text="too soon")
    assert exc_info.value.response.status_code == 429
    assert exc_info.value.response.headers["Retry-After"] == "1"
    assert [m["text"] for m in fake.messages["C1"]] == ["first"]
    await asyncio.sleep(1.0)
    await client.chat_postMessage(channel="C1", text="a second later")
    assert [m["text"] for m in fake.messages["C1"]] == ["first", "a second later"]


async def test_go_down_and_come_back(fake: FakeSlack, client: AsyncWebClient) -> None:
    url = fake.url
    await client.auth_test()
    await fake.go_down()
    with pytest.raises(aiohttp.ClientConnectionError):
        await client.auth_test()
    await fake.come_back()
    assert fake.url == url
    await client.auth_test()


async def test_file_download_needs_bot_token(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    file = fake.add_file(CSV, name="r.csv", mimetype="text/csv", filetype="csv")
    info = await client.files_info(file=file["id"])
    assert info["file"]["size"] == 14
    url = info["file"]["url_private_download"]
    async with aiohttp.ClientSession() as http:
        async with http.get(url, allow_redirects=False) as resp:
            assert resp.status == 302
        async with http.get(url) as resp:  # following the redirect: an HTML page
            assert resp.content_type == "text/html"
        wrong = {"Authorization": "Bearer xoxb-other"}
        async with http.get(url, headers=wrong) as resp:
            assert resp.status == 403
        auth = {"Authorization": f"Bearer {fake.bot_token}"}
        async with http.get(file["url_private"], headers=auth) as resp:
            assert resp.status == 200
            assert await resp.read() == CSV


async def test_response_url_replace_original(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C1", text="pending")
    url = fake.response_url(channel="C1", ts=posted["ts"])
    async with aiohttp.ClientSession() as http:
        post = {"replace_original": True, "text": "done"}
        async with http.post(url, json=post) as resp:
            assert resp.status == 200
    assert await fake.wait_for_response(url) == [post]
    assert fake.response_posts == [(url, post)]
    assert fake.message("C1", posted["ts"])["text"] == "done"


async def test_socket_mode_hello(fake: FakeSlack) -> None:
    app_client = AsyncWebClient(base_url=fake.url, retry_handlers=[])
    opened = await app_client.apps_connections_open(app_token="xapp-1-test")
    async with aiohttp.ClientSession() as http, http.ws_connect(opened["url"]) as ws:
        assert (await ws.receive_json())["type"] == "hello"


async def test_standalone_process() -> None:
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        *STANDALONE, cwd=ROOT, stdout=pipe, stderr=pipe
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("SLACK_API_URL=http://127.0.0.1:")
        api_url = line.strip().split("=", 1)[1]
        client = AsyncWebClient(token="xoxb-test-token", base_url=api_url)
        await client.chat_postMessage(channel="C1", text="bench")
        base = api_url.removesuffix("/api/")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/_calls") as resp:
                calls = await resp.json()
            assert [c["method"] for c in calls] == ["chat.postMessage"]
            async with http.post(f"{base}/_reset") as resp:
                assert resp.status == 200
            async with http.get(f"{base}/_calls") as resp:
                assert await resp.json() == []
    finally:
        proc.terminate()
        _, err = await proc.communicate()
    assert proc.returncode == 0
    assert json.loads(err.decode().splitlines()[0])["args"]["text"] == "bench"


async def test_files_upload_v2_shares_the_bytes_in_the_thread(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C1", text="summary")
    resp = await client.files_upload_v2(
        channel="C1",
        thread_ts=posted["ts"],
        filename="events.csv",
        title="Every event",
        content=CSV,
        initial_comment="the list",
    )
    file_id = resp["file"]["id"]
    assert fake.content_of(file_id) == CSV
    share = fake.messages["C1"][-1]
    assert share["thread_ts"] == posted["ts"]
    assert share["text"] == "the list"
    assert share["files"][0]["name"] == "events.csv"
    assert share["files"][0]["mimetype"] == "text/csv"
    # The bytes went to the upload URL without the token, as to Slack's.
    assert [c.method for c in fake.calls] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


async def test_files_upload_needs_files_write(fake: FakeSlack) -> None:
    fake.scopes.remove("files:write")
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.url, retry_handlers=[])
    with pytest.raises(SlackApiError) as err:
        await client.files_upload_v2(channel="C1", filename="a.csv", content=CSV)
    assert err.value.response["error"] == "missing_scope"


async def test_completing_an_upload_never_made_fails(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    url = await client.files_getUploadURLExternal(filename="a.csv", length=3)
    with pytest.raises(SlackApiError) as err:
        await client.files_completeUploadExternal(
            files=[{"id": url["file_id"], "title": "a"}], channel_id="C1"
        )
    assert err.value.response["error"] == "file_not_found"
    assert "C1" not in fake.messages


async def test_chat_unfurl_records_the_previews(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    link = "https://dashboard.stripe.com/payments/pi_1"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*$5.00*"}}]
    await client.chat_unfurl(channel="C1", ts="1.1", unfurls={link: {"blocks": blocks}})
    assert fake.unfurls[0]["unfurls"] == {link: {"blocks": blocks}}
    with pytest.raises(SlackApiError) as err:
        await client.chat_unfurl(channel="C1", ts="1.1", unfurls={link: {}})
    assert err.value.response["error"] == "invalid_unfurls_format"
