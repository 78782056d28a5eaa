"""Every refusal reaches the person who clicked, even when Slack will not open
the modal the click asked for (a trigger_id lasts 3 seconds)."""

from __future__ import annotations

from bot.blocks import disputes as dispute_blocks
from bot.blocks.refunds import DENY_ACTION
from bot.deps import Deps
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.handlers.helpers import Client, click, request_row
from tests.handlers.test_disputes import open_dispute, press
from tests.handlers.test_refunds import answer_to, paid, request


async def test_deny_says_so_when_slack_will_not_open_the_form(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_slack.fail_next("views.open", status=200, error="expired_trigger_id")
    url = await click(
        client,
        fake_slack,
        action_id=DENY_ACTION,
        value=str(request_id),
        user_id="U_MANAGER",
    )
    told = await answer_to(fake_slack, url)
    assert "did not open the form" in told
    assert "click the button again" in told
    assert (await request_row(deps, request_id)).status == "pending"


async def test_edit_evidence_says_so_when_slack_will_not_open_the_form(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    fake_slack.fail_next("views.open", status=200, error="expired_trigger_id")
    url = await press(client, fake_slack, dispute_blocks.ACTION_EDIT, dispute["id"])
    assert "did not open the form" in await answer_to(fake_slack, url)


async def test_a_refusal_shown_in_a_modal_falls_back_to_where_they_clicked(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    fake_slack.fail_next("views.open", status=200, error="expired_trigger_id")
    url = await press(
        client,
        fake_slack,
        dispute_blocks.ACTION_ACCEPT,
        dispute["id"],
        user_id="U_AGENT",
    )
    assert "manager" in (await answer_to(fake_slack, url)).lower()
