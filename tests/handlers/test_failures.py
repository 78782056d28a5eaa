"""The one failure wrapper: refusals and failures reach the person who asked."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.exc import OperationalError

from bot.blocks import refusals as words
from bot.blocks.refusals import APOLOGY
from bot.deps import Deps
from bot.logs import ScrubFilter, correlation_id
from bot.refusals import NotAManager, Refused
from handlers.failures import tell_on_failure
from simulators.slack import FakeSlack
from tests.handlers.helpers import Client, command

Json = dict[str, Any]


class _Sample(Refused):
    """A refusal the tests give words to."""


@pytest.fixture
def sample_words(monkeypatch: pytest.MonkeyPatch) -> None:
    # Domain refusals get their words in bot.blocks.refusals; this test's own
    # refusal gets them here (the one patch: a test-only case, no code path).
    original = words.refusal_text

    def refusal_text(refused: Refused) -> str:
        if isinstance(refused, _Sample):
            return "Not that one: try `/stripe help`."
        return original(refused)

    monkeypatch.setattr("handlers.failures.refusal_text", refusal_text)


async def test_a_failure_is_logged_with_the_correlation_id_and_apologised_for(
    deps: Deps, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    url = fake_slack.response_url()

    @tell_on_failure(deps, "approve click")
    async def listener(body: Json) -> None:
        raise RuntimeError("database went away")

    caplog.handler.addFilter(ScrubFilter())  # what stamps the id on each line
    token = correlation_id.set("req-123")
    try:
        with caplog.at_level(logging.ERROR):
            await listener(body={"response_url": url, "user": {"id": "U_AGENT"}})
    finally:
        correlation_id.reset(token)
    (answer,) = await fake_slack.wait_for_response(url)
    assert answer["text"] == APOLOGY
    assert answer["response_type"] == "ephemeral"
    (record,) = [r for r in caplog.records if r.name == "handlers.failures"]
    assert record.getMessage() == "approve click failed"
    assert record.exc_info is not None
    assert getattr(record, "correlation_id", None) == "req-123"


@pytest.mark.usefixtures("sample_words")
async def test_a_refusal_is_told_in_its_own_words(
    deps: Deps, fake_slack: FakeSlack
) -> None:
    url = fake_slack.response_url()

    @tell_on_failure(deps, "deny click")
    async def listener(body: Json) -> None:
        raise _Sample

    await listener(body={"response_url": url, "user": {"id": "U_AGENT"}})
    (answer,) = await fake_slack.wait_for_response(url)
    assert answer["text"] == "Not that one: try `/stripe help`."


async def test_without_a_response_url_the_person_gets_a_dm(
    deps: Deps, fake_slack: FakeSlack
) -> None:
    @tell_on_failure(deps, "home opened")
    async def listener(body: Json) -> None:
        raise RuntimeError("boom")

    # An Events API envelope (App Home): no response_url, no channel.
    await listener(body={"event": {"type": "app_home_opened", "user": "U_AGENT"}})
    (call,) = fake_slack.calls_to("chat.postMessage")
    assert call.args["channel"] == "U_AGENT"
    assert call.args["text"] == APOLOGY


def test_a_listener_that_cannot_say_who_asked_is_refused_at_registration(
    deps: Deps,
) -> None:
    async def listener(ack: Any) -> None:
        return None

    with pytest.raises(TypeError, match="must take `body`"):
        tell_on_failure(deps, "x")(listener)


async def test_not_a_manager_names_what_only_managers_may_do(
    deps: Deps, fake_slack: FakeSlack
) -> None:
    url = fake_slack.response_url()

    @tell_on_failure(deps, "accept click")
    async def listener(body: Json) -> None:
        raise NotAManager("accept disputes")

    await listener(body={"response_url": url, "user": {"id": "U_AGENT"}})
    (answer,) = await fake_slack.wait_for_response(url)
    assert answer["text"] == (
        "Only managers can accept disputes (MANAGER_USER_IDS or the "
        "MANAGER_USERGROUP). Nothing was changed."
    )


async def test_a_stripe_command_that_fails_is_apologised_for_where_it_was_typed(
    client: Client, deps: Deps, fake_slack: FakeSlack
) -> None:
    # The database refuses to read disputes (the one failure `/stripe disputes`
    # can meet on our side); the asker learns it, in the channel, only them.
    def refuse_reads(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM dispute" in statement:
            raise OperationalError(statement, None, Exception("disk I/O error"))

    sa_event.listen(deps.engine.sync_engine, "before_cursor_execute", refuse_reads)
    answer = await command(client, fake_slack, "disputes")
    assert answer["text"] == APOLOGY
    assert answer["response_type"] == "ephemeral"
    assert fake_slack.calls_to("chat.postMessage") == []
