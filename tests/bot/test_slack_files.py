"""bot.slack_files: a file reaches the channel's thread (files_upload_v2)."""

from __future__ import annotations

from bot.deps import Deps
from bot.slack_files import SlackFile, upload_file
from simulators.slack import FakeSlack
from tests.support import BOT_TOKEN


async def test_a_file_lands_in_the_thread_with_its_bytes(
    deps: Deps, fake_slack: FakeSlack
) -> None:
    posted = await deps.slack.chat_postMessage(channel="CALERTS", text="Storm")
    csv = b"type,amount\r\ncharge.failed,5.00\r\n"

    file_id = await upload_file(
        deps.slack,
        SlackFile("events.csv", csv, "Every event"),
        channel="CALERTS",
        thread_ts=posted["ts"],
    )

    assert fake_slack.content_of(file_id) == csv
    share = fake_slack.messages["CALERTS"][-1]
    assert (share["thread_ts"], share["files"][0]["title"]) == (
        posted["ts"],
        "Every event",
    )


async def test_the_bots_token_never_goes_to_the_upload_url(
    deps: Deps, fake_slack: FakeSlack
) -> None:
    # The upload URL is a presigned address Slack hands out: the bytes go
    # there bare. A token sent along would leave Slack's API for a URL the
    # API answer chose.
    await upload_file(
        deps.slack, SlackFile("events.csv", b"a,b\r\n", "CSV"), channel="CALERTS"
    )

    assert len(fake_slack.upload_headers) == 1
    headers = fake_slack.upload_headers[0]
    assert "Authorization" not in headers
    assert all(BOT_TOKEN not in value for value in headers.values())
