"""Manager user group: checked again at the click; a "yes" is remembered for at
most a minute, a "no" (or a Slack error) never."""

from __future__ import annotations

import pytest

from bot.deps import Deps
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.conftest import ManualClock
from tests.handlers.helpers import Client, request_row, status_becomes
from tests.handlers.test_refunds import answer_to, approve, paid, request

GROUP = "S_MGRS"

pytestmark = pytest.mark.parametrize(
    "settings_overrides", [{"MANAGER_USER_IDS": "", "MANAGER_USERGROUP": GROUP}]
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_a_manager_removed_from_the_group_cannot_approve_a_minute_later(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    clock: ManualClock,
) -> None:
    fake_slack.usergroups[GROUP] = ["U_BOSS"]
    pi, _ = paid(fake_stripe)
    first, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    second, _ = await request(client, fake_slack, deps, f"{pi['id']} 6")
    await approve(client, fake_slack, first, "U_BOSS")
    await status_becomes(deps, first, "succeeded")

    fake_slack.usergroups[GROUP] = []  # an admin takes U_BOSS out of the group
    clock.advance(61)
    url = await approve(client, fake_slack, second, "U_BOSS")
    assert "Only managers" in await answer_to(fake_slack, url)
    assert (await request_row(deps, second)).status == "pending"
    assert len(fake_stripe.refunds) == 1


async def test_someone_just_added_to_the_group_may_approve_at_once(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    fake_slack.usergroups[GROUP] = ["U_BOSS"]
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    url = await approve(client, fake_slack, request_id, "U_NEWBOSS")
    assert "Only managers" in await answer_to(fake_slack, url)

    fake_slack.usergroups[GROUP] = ["U_BOSS", "U_NEWBOSS"]  # no time passes
    await approve(client, fake_slack, request_id, "U_NEWBOSS")
    done = await status_becomes(deps, request_id, "succeeded")
    assert done.decided_by == "U_NEWBOSS"


async def test_a_slack_error_is_a_no_that_is_not_remembered(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    fake_slack.usergroups[GROUP] = ["U_BOSS"]
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_slack.fail_next("usergroups.users.list", status=200, error="missing_scope")
    url = await approve(client, fake_slack, request_id, "U_BOSS")
    assert "Only managers" in await answer_to(fake_slack, url)
    assert (await request_row(deps, request_id)).status == "pending"

    await approve(client, fake_slack, request_id, "U_BOSS")
    await status_becomes(deps, request_id, "succeeded")
