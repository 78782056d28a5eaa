"""The Slack Web API client: slack-sdk's retry handlers plus our metrics."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import ClientConnectorError, ConnectionTimeoutError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.metrics import Metrics


class InstrumentedWebClient(AsyncWebClient):
    """AsyncWebClient that counts every call by method and outcome."""

    metrics: Metrics | None = None

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            outcome = str(exc.response.get("error") or exc.response.status_code)
            raise
        except Exception as exc:
            outcome = type(exc).__name__
            raise
        finally:
            if self.metrics is not None:
                self.metrics.slack_calls.labels(api_method, outcome).inc()
                self.metrics.slack_latency.labels(api_method).observe(
                    time.perf_counter() - started
                )


# Methods that make something new on every call: sent twice, a message shows
# twice. After an answer that may have come after Slack acted (a dropped
# connection, a read timeout, a 5xx), they are not resent here; the outbox
# resends posts itself, after looking for them in the channel.
NOT_REPEATABLE = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.scheduleMessage",
        "chat.meMessage",
        "files.upload",
        "files.completeUploadExternal",
    }
)


def _repeatable(request: HttpRequest) -> bool:
    return request.url.rstrip("/").rsplit("/", 1)[-1] not in NOT_REPEATABLE


class ConnectionErrorRetry(AsyncConnectionErrorRetryHandler):
    """Retries connection errors; a post only when it never left us."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        ):
            return False
        # No connection, no request: nothing can have reached Slack.
        never_sent = isinstance(error, ClientConnectorError | ConnectionTimeoutError)
        return never_sent or _repeatable(request)


class ServerErrorRetry(AsyncServerErrorRetryHandler):
    """Retries 500/503, except for posts (Slack may have posted first)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return _repeatable(request) and await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


def make_slack_client(
    *, token: str, base_url: str, metrics: Metrics | None, timeout: int = 10
) -> InstrumentedWebClient:
    client = InstrumentedWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetry(max_retry_count=2),
            # Sleeps Slack's Retry-After, then tries once more; the outbox
            # waits out anything longer without holding a request open.
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            ServerErrorRetry(max_retry_count=2),
        ],
    )
    client.metrics = metrics
    return client
