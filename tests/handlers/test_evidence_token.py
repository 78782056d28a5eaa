"""The bot token goes only to Slack's own file hosts (DESIGN invariant 11).

A file's URL can name any host (external and remote files, or a redirect):
another loopback server stands in for that host and records what it got.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from bot.blocks import disputes as blocks
from bot.config import Settings
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.handlers.helpers import Client, eventually
from tests.handlers.test_dispute_evidence import PDF, dispute_updates, file_input, form
from tests.handlers.test_disputes import open_dispute, submit_view
from tests.support import BOT_TOKEN

FIELD = blocks.input_block_id("shipping_documentation")


@dataclass
class OtherHost:
    """A web server on 127.0.0.2 that serves a PDF to anyone and records the
    Authorization header of every request."""

    base: str = ""
    seen: list[str | None] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(request.headers.get("Authorization"))
        return web.Response(body=PDF, content_type="application/pdf")


@pytest.fixture
async def other_host() -> AsyncIterator[OtherHost]:
    host = OtherHost()
    app = web.Application()
    app.router.add_get("/{tail:.*}", host.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.2", 0)
    await site.start()
    host.base = f"http://127.0.0.2:{runner.addresses[0][1]}"
    yield host
    await runner.cleanup()


def never_saw_the_token(host: OtherHost) -> None:
    assert all(BOT_TOKEN not in (auth or "") for auth in host.seen), host.seen


async def refused_attachment(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, **file: str
) -> str:
    """Attach a PDF described by `file` to a new dispute's evidence form; the
    form must come back with an error on the field, which is returned."""
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    attached = fake_slack.add_file(
        PDF, mimetype="application/pdf", filetype="pdf", **file
    )
    answer = await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        dispute["id"],
        state=form(shipping_documentation=file_input(attached)),
    )
    assert answer["response_action"] == "errors"
    assert fake_stripe.requests_to("POST", "/v1/files") == []
    assert dispute_updates(fake_stripe, dispute["id"]) == []
    return str(answer["errors"][FIELD])


async def test_an_external_file_is_refused_and_its_host_never_sees_the_token(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    other_host: OtherHost,
) -> None:
    error = await refused_attachment(
        client,
        fake_stripe,
        fake_slack,
        name="receipt.pdf",
        external_url=f"{other_host.base}/document/d/receipt",
    )
    assert "receipt.pdf" in error
    assert "outside Slack" in error
    assert "attach the file itself" in error
    assert other_host.seen == []


async def test_a_file_url_on_another_host_is_never_sent_the_token(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    other_host: OtherHost,
) -> None:
    # Not marked external, but its download URL names a host that is not Slack.
    error = await refused_attachment(
        client,
        fake_stripe,
        fake_slack,
        name="label.pdf",
        url=f"{other_host.base}/files/label.pdf",
    )
    assert "label.pdf" in error
    assert "not stored on Slack" in error
    never_saw_the_token(other_host)
    assert other_host.seen == []


async def test_a_redirect_away_from_slack_does_not_carry_the_token(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    other_host: OtherHost,
) -> None:
    error = await refused_attachment(
        client,
        fake_stripe,
        fake_slack,
        name="proof.pdf",
        redirect_to=f"{other_host.base}/elsewhere/proof.pdf",
    )
    assert "proof.pdf" in error
    assert "attach it again" in error
    never_saw_the_token(other_host)


async def test_a_slow_answer_still_refuses_a_file_on_another_host(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    other_host: OtherHost,
) -> None:
    """When files are checked after the ack, the host check still comes first."""
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    elsewhere = fake_slack.add_file(
        PDF,
        name="label.pdf",
        mimetype="application/pdf",
        filetype="pdf",
        url=f"{other_host.base}/files/label.pdf",
    )
    fake_slack.latency = 1.6  # files.info uses up the answer's download budget
    answer = await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        dispute["id"],
        state=form(shipping_documentation=file_input(elsewhere)),
    )
    if answer.get("response_action") == "errors":
        error = answer["errors"][FIELD]
    else:

        def refused() -> str | None:
            for call in fake_slack.calls_to("views.update"):
                text = str(call.args.get("view"))
                if "Nothing was saved" in text:
                    return text
            return None

        error = await eventually(refused, what="the form to come back refused")
    assert "not stored on Slack" in error
    assert other_host.seen == []
    assert fake_stripe.requests_to("POST", "/v1/files") == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/a.pdf", True),
        ("http://files.slack.com/files-pri/T1-F1/download/a.pdf", False),
        ("https://files.slack.com:8443/files-pri/T1-F1/a.pdf", False),
        ("https://files.slack.com.evil.example/a.pdf", False),
        ("https://files.slack.com@evil.example/a.pdf", False),
        ("https://evil.example/files.slack.com/a.pdf", False),
        ("https://slack.com/api/../files/a.pdf", True),  # SLACK_API_URL's host
        ("http://slack.com/files/a.pdf", False),
        ("", False),
        ("not a url", False),
    ],
)
def test_token_may_go_only_to_slack_over_https(url: str, allowed: bool) -> None:
    from bot.evidence_files import token_may_go_to

    settings = Settings.model_construct(SLACK_API_URL="https://slack.com/api/")
    assert token_may_go_to(settings, url) is allowed
