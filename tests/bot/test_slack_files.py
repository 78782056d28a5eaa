"""bot.slack_files: a file reaches the channel's thread (files_upload_v2)."""

from __future__ import annotations

from bot.deps import Deps
from bot.slack_files import SlackFile, upload_file
from simulators.slack import FakeSlack


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
