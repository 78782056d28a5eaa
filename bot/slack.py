"""The Slack Web API client: slack-sdk's retry handlers plus our metrics."""

from __future__ import annotations

import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
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


def make_slack_client(
    *, token: str, base_url: str, metrics: Metrics | None, timeout: int = 10
) -> InstrumentedWebClient:
    client = InstrumentedWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            # Sleeps Slack's Retry-After, then tries once more; the outbox
            # waits out anything longer without holding a request open.
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )
    client.metrics = metrics
    return client
