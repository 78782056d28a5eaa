"""Prometheus metrics, on a registry of the app's own (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.webhooks = Counter(
            "stripe_webhooks_total",
            "Stripe webhook deliveries by outcome: stored, duplicate, rejected.",
            ["outcome"],
            registry=r,
        )
        # Webhook intake counts on every request: the children looked up once.
        self.webhooks_stored = self.webhooks.labels("stored")
        self.webhooks_duplicate = self.webhooks.labels("duplicate")
        self.webhooks_rejected = self.webhooks.labels("rejected")
        self.events_processed = Counter(
            "stripe_events_processed_total",
            "Stored Stripe events processed, by type.",
            ["type"],
            registry=r,
        )
        self.event_failures = Counter(
            "stripe_event_processing_failures_total",
            "Processing attempts of stored Stripe events that raised (retried).",
            ["type"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "slack_outbox_depth", "Slack messages waiting in the outbox.", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "slack_outbox_oldest_age_seconds",
            "Age of the oldest message waiting in the outbox.",
            registry=r,
        )
        self.outbox_sent = Counter(
            "slack_outbox_messages_sent_total",
            "Slack messages sent from the outbox, by kind: single, digest, update.",
            ["kind"],
            registry=r,
        )
        self.slack_calls = Counter(
            "slack_api_calls_total",
            "Slack Web API calls by method and outcome (ok, or Slack's error).",
            ["method", "outcome"],
            registry=r,
        )
        self.slack_latency = Histogram(
            "slack_api_call_seconds",
            "Slack Web API call latency, retries included.",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stripe_calls = Counter(
            "stripe_api_calls_total",
            "Stripe API calls by operation and outcome (ok, or the error type).",
            ["operation", "outcome"],
            registry=r,
        )
        self.stripe_latency = Histogram(
            "stripe_api_call_seconds",
            "Stripe API call latency, retries included.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.refunds = Counter(
            "refund_requests_total",
            "Refund requests by outcome: requested, approved, denied, succeeded, "
            "failed, expired.",
            ["outcome"],
            registry=r,
        )
