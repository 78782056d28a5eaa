"""Evidence files: from a Slack `file_input` to a Stripe `dispute_evidence` file.

Stripe takes PDF, JPEG and PNG evidence up to 5 MB. What Slack says about a
file (its name, mimetype, size) is checked before anything is downloaded; the
bytes themselves are checked by their magic numbers before anything is uploaded,
so a renamed file is refused with a message instead of failing at Stripe.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from yarl import URL

from bot.config import Settings
from bot.connect import on_account
from bot.deps import Deps
from bot.stripe_api import call

MAX_BYTES = 5 * 1024 * 1024
_BY_MIMETYPE = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/png": "png",
}
_BY_FILETYPE = {"pdf": "pdf", "jpg": "jpg", "jpeg": "jpg", "png": "png"}
_CHUNK = 64 * 1024
# Where Slack serves uploaded files; the bot token goes nowhere else.
SLACK_FILE_HOSTS = frozenset({"files.slack.com"})
_DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=30)


class EvidenceFileError(Exception):
    """A file Stripe would not take, or could not be fetched; `str()` is a
    sentence for the person who attached it."""


@dataclass(frozen=True)
class SlackFile:
    id: str
    name: str
    size: int
    mimetype: str
    filetype: str
    url: str
    # Where the file lives when it is a link to a file kept outside Slack
    # (Google Drive, Dropbox, an app's remote file); "" for uploaded files.
    external: str = ""


@dataclass(frozen=True)
class Upload:
    """A checked file on its way to an evidence field."""

    field: str
    name: str
    data: bytes


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(size // 1024, 1)} KB"


def sniff(data: bytes) -> str | None:
    """The file's real type from its first bytes: "pdf", "jpg", "png" or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    return None


_ALLOWED = "Stripe takes PDF, JPEG or PNG files up to 5 MB"


def token_may_go_to(settings: Settings, url: str) -> bool:
    """True only for Slack's file hosts over https, or the Slack API's own origin
    (`SLACK_API_URL`, which tests point at a fake Slack on loopback)."""
    try:
        target = URL(url)
        api = URL(settings.SLACK_API_URL)
        if not target.is_absolute() or target.host is None:
            return False
        if (target.scheme, target.port) == ("https", 443) and (
            target.host in SLACK_FILE_HOSTS
        ):
            return True
        return (target.scheme, target.host, target.port) == (
            api.scheme,
            api.host,
            api.port,
        )
    except ValueError:
        return False


def _not_on_slack(file: SlackFile) -> EvidenceFileError:
    return EvidenceFileError(
        f"{file.name} is not stored on Slack's file servers, so stripe-ops will "
        "not fetch it with its Slack credentials. Download it and attach the "
        "file itself."
    )


def check_declared(file: SlackFile) -> None:
    """Refuse by what Slack says about the file, before downloading it."""
    if file.external:
        raise EvidenceFileError(
            f"{file.name} is a link to a file kept outside Slack ({file.external}); "
            "stripe-ops only takes files uploaded to Slack. Download it and "
            "attach the file itself."
        )
    if file.size > MAX_BYTES:
        raise EvidenceFileError(
            f"{file.name} is {human_size(file.size)}; {_ALLOWED}. "
            "Compress it or attach a smaller copy."
        )
    kind = _BY_MIMETYPE.get(file.mimetype.lower()) or _BY_FILETYPE.get(
        file.filetype.lower()
    )
    if kind is None:
        shown = file.filetype.upper() or file.mimetype or "an unknown type"
        raise EvidenceFileError(
            f"{file.name} is {shown}; {_ALLOWED}. Save it as a PDF or an image."
        )


def check_content(file: SlackFile, data: bytes) -> None:
    """Refuse by the bytes themselves: size, and PDF/JPEG/PNG magic numbers."""
    if len(data) > MAX_BYTES:
        raise EvidenceFileError(
            f"{file.name} is more than 5 MB; {_ALLOWED}. Attach a smaller copy."
        )
    if sniff(data) is None:
        raise EvidenceFileError(
            f"{file.name} is not really a PDF, JPEG or PNG file (its content is "
            f"something else); {_ALLOWED}. Export it again and attach the export."
        )


def file_from_info(info: dict[str, Any]) -> SlackFile:
    return SlackFile(
        id=str(info.get("id") or ""),
        name=str(info.get("name") or info.get("title") or "file"),
        size=int(info.get("size") or 0),
        mimetype=str(info.get("mimetype") or ""),
        filetype=str(info.get("filetype") or ""),
        url=str(info.get("url_private_download") or info.get("url_private") or ""),
        external=(
            str(info.get("external_type") or "external")
            if info.get("is_external") or info.get("mode") == "external"
            else ""
        ),
    )


async def file_info(deps: Deps, file_id: str) -> SlackFile:
    """What Slack knows about an attached file (files.info needs files:read)."""
    try:
        resp = await deps.slack.files_info(file=file_id)
    except SlackApiError as exc:
        raise EvidenceFileError(
            "Slack would not tell stripe-ops about the attached file "
            f"(`{exc.response.get('error')}`); check that the app has the "
            "files:read scope, then attach it again."
        ) from None
    return file_from_info(dict(resp.get("file") or {}))


async def download(deps: Deps, file: SlackFile, http: aiohttp.ClientSession) -> bytes:
    """The file's bytes, fetched with the bot token; never more than 5 MB + 1.

    The token is sent only to Slack's file hosts over https (a file's URL can
    name any host), and no redirect is followed: Slack serves a file to a good
    token directly. aiohttp would drop Authorization on a redirect to another
    origin, but not following at all also keeps a same-origin hop to a sign-in
    page from being mistaken for the file.
    """
    if not token_may_go_to(deps.settings, file.url):
        raise _not_on_slack(file)
    token = deps.settings.SLACK_BOT_TOKEN.get_secret_value()
    async with http.get(
        file.url,
        headers={"Authorization": f"Bearer {token}"},
        allow_redirects=False,
        timeout=_DOWNLOAD_TIMEOUT,
    ) as resp:
        content_type = resp.headers.get("Content-Type", "")
        if resp.status != 200 or content_type.startswith("text/html"):
            raise EvidenceFileError(
                f"Slack did not let stripe-ops download {file.name} "
                f"(HTTP {resp.status}); check that the app has the files:read "
                "scope, then attach it again."
            )
        data = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            data += chunk
            if len(data) > MAX_BYTES:
                break
    return bytes(data)


async def fetch_checked(
    deps: Deps, field: str, file: SlackFile, http: aiohttp.ClientSession
) -> Upload:
    check_declared(file)
    data = await download(deps, file, http)
    check_content(file, data)
    return Upload(field=field, name=file.name, data=data)


def upload_key(dispute_id: str, upload: Upload) -> str:
    # The name is part of the request Stripe fingerprints with the key.
    digest = hashlib.sha256(upload.name.encode() + b"\0" + upload.data).hexdigest()
    return f"dispute-file:{dispute_id}:{upload.field}:{digest[:40]}"


async def upload_to_stripe(
    deps: Deps, *, dispute_id: str, upload: Upload, account: str | None = None
) -> str:
    """Upload as `dispute_evidence` (to the dispute's connected account, for
    Connect); returns the Stripe file ID."""
    body = io.BytesIO(upload.data)
    # stripe-python names the multipart part after `.name`.
    body.name = upload.name
    params: Any = {"purpose": "dispute_evidence", "file": body}
    created = await call(
        deps.metrics,
        "files.create",
        deps.stripe.v1.files.create_async(
            params,
            on_account(account, {"idempotency_key": upload_key(dispute_id, upload)}),
        ),
    )
    return str(created.id)
