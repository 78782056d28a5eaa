"""Files the bot posts (a storm's CSV, the daily chart): slack-sdk's files_upload_v2.

One call, three steps (getUploadURLExternal, the bytes to the upload URL with no
token, completeUploadExternal). The last step shares the file in the channel or
thread; slack-sdk does not resend it after a late answer (bot.slack
NOT_REPEATABLE), so a caller that must post exactly once looks before retrying.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient


@dataclass(frozen=True, slots=True)
class SlackFile:
    """What to upload: the bytes, the name Slack shows and downloads it as."""

    filename: str
    content: bytes
    title: str


async def upload_file(
    slack: AsyncWebClient,
    file: SlackFile,
    *,
    channel: str,
    thread_ts: str | None = None,
    comment: str | None = None,
) -> str:
    """Share `file` in `channel` (in the thread `thread_ts`); returns its file ID."""
    resp = await slack.files_upload_v2(
        channel=channel,
        thread_ts=thread_ts,
        filename=file.filename,
        title=file.title,
        content=file.content,
        initial_comment=comment,
    )
    return str(resp["file"]["id"])
