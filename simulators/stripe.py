"""A stateful fake of the Stripe API, served over real HTTP on 127.0.0.1.

The bot talks to it through an unmodified ``stripe.StripeClient``::

    fake = FakeStripe()
    await fake.start()
    client = stripe.StripeClient(
        "sk_test_fake",
        base_addresses={"api": fake.url, "files": fake.url},
        http_client=stripe.AIOHTTPClient(),
        max_network_retries=2,
    )

What it parses is exactly what stripe-python sends: form-encoded bodies (and query
strings for GET) with bracket nesting (``metadata[k]=v``, ``expand[0]=x``,
``expand[]=x``), multipart bodies for ``POST /v1/files``, ``Authorization: Bearer``
(or basic auth), ``Idempotency-Key`` and ``Stripe-Version``. Objects have the field
names and nesting of Stripe's own example objects; errors have Stripe's shape
(``{"error": {"type", "code", "message", "param", "doc_url", "request_log_url"}}``,
keys with no value left out, like Stripe) and every answer carries ``Request-Id``.

Behaviour worth knowing (each mirrors Stripe unless marked "fake"):

* Order of checks: API key (401), route (404 "Unrecognized request URL"),
  restricted-key permission (403), then the endpoint (parameters, 404 for missing
  objects, business rules). So a request with a nonexistent id probes permissions
  without side effects. A ``rak_X_write`` permission implies ``rak_X_read``.
  Expanding a related object needs the read permission of that object too.
* A bad API key answers 401 and a missing permission 403, both with ``type:
  invalid_request_error``: that is what Stripe sends (stripe-python picks
  ``AuthenticationError`` / ``PermissionError`` by status, not by type).
* Unknown parameters answer 400 ``parameter_unknown``; a refund ``amount`` <= 0
  answers 400 ``parameter_invalid_integer`` "Invalid positive integer".
* Refund rules, in order: missing charge / PaymentIntent (404 ``resource_missing``),
  charge not succeeded (``charge_not_refundable``), nothing left
  (``charge_already_refunded``), a dispute that is not refundable (only inquiries,
  ``warning_*``, are) (``charge_disputed``), too much (``amount_too_large``).
  ``refund_status`` ("succeeded", "pending", "failed") sets the new refund's status.
* Idempotency: on POST, the same ``Idempotency-Key`` with the same method, path and
  parameters replays the first answer byte for byte, with ``Idempotent-Replayed:
  true`` and ``Original-Request: req_...`` headers; with different ones it answers 400
  ``idempotency_error``. Errors from parameter validation (unknown parameter, bad
  integer, bad enum value, bad metadata, bad expand) are not saved, as on Stripe, so a
  corrected retry with the same key runs; errors raised by the endpoint's own rules
  (missing object, already refunded, disputed, amount too large, dispute state) are
  saved and replayed. Concurrent requests with the same key are serialised with an
  ``asyncio.Lock`` per key (fake: Stripe would answer 409 to the later ones; here
  they wait and then get the replay), so exactly one object results.
* ``POST /v1/disputes/{id}``: like Stripe, ``submit`` defaults to true whenever the
  request carries ``evidence`` or ``submit``; a request with only ``metadata`` (or
  ``expand``) never submits. Metadata can be changed in any status; evidence only
  while the status is ``needs_response`` / ``warning_needs_response``.
* ``latency`` delays every ``/v1`` answer (before it is worked out, outside the
  idempotency lock). ``fail_next`` injects failures; by default before the request
  is executed (nothing happens, nothing is saved for idempotency), or with
  ``after_execute=True`` after it was executed and its real answer saved under its
  idempotency key (the "response lost on the way back" case).
* ``hold(method, path_prefix)`` keeps matching requests waiting, before they are
  worked out (or, with ``after_execute=True``, after, with their answer) until the
  returned ``Hold`` is released: tests order concurrent callers with it (fake).
* Connect: ``add_connected_account()`` makes a connected account, and objects
  seeded inside ``with fake.on_account(acct_id):`` live in it. A request with
  ``Stripe-Account: acct_…`` sees only that account's objects (another
  account's, or the platform's, are 404 ``resource_missing``) and what it creates
  lives there; an account that is not connected answers 403. Each recorded
  request keeps the header (``StripeRequest.stripe_account``).
  ``GET /v1/accounts/{id}`` reads a connected account (``rak_connected_account_read``).
* Control routes for other processes (no auth, no latency, not recorded):
  ``GET /_requests``, ``GET /_objects/{id}``, ``POST /_latency`` (JSON
  ``{"latency": 2.0}``) and ``POST /_fail_next`` (JSON with ``fail_next``'s
  arguments).

Run it standalone with ``python -m simulators.stripe --port 0 [--latency 2.0]
[--seed]``: it prints ``STRIPE_API_BASE=http://127.0.0.1:PORT`` and, with ``--seed``,
one JSON line of demo object ids (``seed_demo()``: ``customer``, ``payment_method``,
``payments`` [USD 12.00, JPY 5000] and ``disputed_payment`` as ``{"payment_intent",
"charge"}``, ``dispute``), then serves until SIGTERM/SIGINT. ``--api-key KEY`` and
``--restricted-key KEY=rak_a,rak_b`` (repeatable) replace the default key.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import hashlib
import json
import os
import re
import secrets
import signal
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

__all__ = ["FakeStripe", "Hold", "StripeRequest", "format_amount"]

Json = dict[str, Any]

DEFAULT_API_KEY = "sk_test_fake"
DEFAULT_STRIPE_VERSION = "2026-10-28.endive"
MAX_UPLOAD_BYTES = 64 * 1024 * 1024

_ALNUM = string.ascii_letters + string.digits


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ID_LENGTH = {"cus": 14, "req": 14}

ZERO_DECIMAL_CURRENCIES = _words(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf"
)
THREE_DECIMAL_CURRENCIES = _words("bhd jod kwd omr tnd")
_CURRENCY_SYMBOLS = {
    "usd": "$",
    "eur": "€",
    "gbp": "£",
    "jpy": "¥",
    "inr": "₹",
    "krw": "₩",
    "cad": "CA$",
    "aud": "A$",
}

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
DISPUTE_REASONS = _words(
    "bank_cannot_process check_returned credit_not_processed customer_initiated "
    "debit_not_authorized duplicate fraudulent general "
    "incorrect_account_details insufficient_funds noncompliant "
    "product_not_received product_unacceptable subscription_canceled "
    "unrecognized"
)
DISPUTE_STATUSES = _words(
    "warning_needs_response warning_under_review warning_closed needs_response "
    "under_review won lost prevented"
)
_DISPUTE_OPEN = frozenset({"needs_response", "warning_needs_response"})
_DISPUTE_REVIEW = frozenset({"under_review", "warning_under_review"})
_NETWORK_REASON_CODES = {
    "fraudulent": "10.4",
    "duplicate": "12.6.1",
    "product_not_received": "13.1",
    "subscription_canceled": "13.2",
    "product_unacceptable": "13.3",
    "credit_not_processed": "13.6",
    "general": "13.7",
}
EVIDENCE_TEXT_FIELDS = _words(
    "access_activity_log billing_address cancellation_policy_disclosure "
    "cancellation_rebuttal customer_email_address customer_name "
    "customer_purchase_ip duplicate_charge_explanation duplicate_charge_id "
    "product_description refund_policy_disclosure refund_refusal_explanation "
    "service_date shipping_address shipping_carrier shipping_date "
    "shipping_tracking_number uncategorized_text"
)
EVIDENCE_FILE_FIELDS = _words(
    "cancellation_policy customer_communication customer_signature "
    "duplicate_charge_documentation receipt refund_policy service_documentation "
    "shipping_documentation uncategorized_file"
)
EVIDENCE_TEXT_MAX = 20_000
FILE_PURPOSES = _words(
    "account_requirement additional_verification business_icon business_logo "
    "customer_signature dispute_evidence identity_document "
    "issuing_regulatory_reporting pci_document tax_document_user_upload "
    "terminal_reader_splashscreen"
)
_EXPANDABLE = _words(
    "customer latest_charge payment_intent charge payment_method "
    "default_payment_method default_source balance_transaction dispute review "
    "application on_behalf_of invoice source_transfer "
    "failure_balance_transaction transfer_reversal source_transfer_reversal"
)
_READ_PERMISSION = {
    "account": "rak_account_read",
    "balance": "rak_balance_read",
    "customer": "rak_customer_read",
    "payment_method": "rak_payment_method_read",
    "payment_intent": "rak_payment_intent_read",
    "charge": "rak_charge_read",
    "refund": "rak_refund_read",
    "dispute": "rak_dispute_read",
    "file": "rak_file_read",
    "webhook_endpoint": "rak_webhook_read",
}
_MISSING_NAME = {
    "customer": "customer",
    "payment_method": "PaymentMethod",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "refund": "refund",
    "dispute": "dispute",
    "file": "file upload",
    "webhook_endpoint": "webhook endpoint",
}
_LIST_PARAMS = frozenset({"limit", "starting_after", "ending_before", "expand"})


def _random(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_id(prefix: str) -> str:
    """An id shaped like Stripe's: ``prefix_`` and 14 or 24 random alphanumerics."""
    return f"{prefix}_{_random(_ID_LENGTH.get(prefix, 24))}"


def _now() -> int:
    return int(time.time())


def format_amount(amount: int, currency: str) -> str:
    """``1200, "usd"`` -> ``$12.00``; ``5000, "jpy"`` -> ``¥5,000``."""
    cur = currency.lower()
    decimals = (
        0
        if cur in ZERO_DECIMAL_CURRENCIES
        else 3
        if cur in THREE_DECIMAL_CURRENCIES
        else 2
    )
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    text = f"{whole:,}" + (f".{frac:0{decimals}d}" if decimals else "")
    symbol = _CURRENCY_SYMBOLS.get(cur)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {cur.upper()}"


def _redact_key(key: str, *, visible: int, stars: int | None = None) -> str:
    match = re.match(r"^((?:sk|rk|pk)_(?:test|live)_)(.*)$", key)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", key)
    tail = rest[-visible:] if len(rest) > visible else ""
    count = stars if stars is not None else max(len(rest) - len(tail), 0)
    return f"{prefix}{'*' * count}{tail}"


# --------------------------------------------------------------------------- parsing


def _split_key(key: str) -> list[str]:
    match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
    if not match:
        return [key]
    return [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]


def _listify(value: Any, key: str | None = None) -> Any:
    if not isinstance(value, dict):
        return value
    out = {k: _listify(v, k) for k, v in value.items()}
    if out and key != "metadata" and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def decode_params(pairs: Iterable[tuple[str, Any]]) -> Json:
    """Turn flat ``a[b][0]=v`` pairs (as stripe-python encodes them) into nesting.

    Dicts whose keys are all digits become lists (except under ``metadata``); an
    empty bracket (``expand[]``) appends.
    """
    root: Json = {}
    for key, value in pairs:
        parts = _split_key(key)
        node = root
        for part in parts[:-1]:
            name = part if part != "" else str(len(node))
            child = node.get(name)
            if not isinstance(child, dict):
                child = {}
                node[name] = child
            node = child
        last = parts[-1] if parts[-1] != "" else str(len(node))
        node[last] = value
    result = _listify(root)
    assert isinstance(result, dict)
    return result


def _api_key_from(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except ValueError:
            return None
        return decoded.split(":", 1)[0] or None
    return None


# --------------------------------------------------------------------------- errors


class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        save: bool = True,
        extra: Json | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.save = save
        self.extra = extra or {}


def _invalid(
    message: str, *, code: str | None = None, param: str | None = None
) -> _ApiError:
    """A parameter-validation error: 400, never saved for idempotency."""
    return _ApiError(400, message, code=code, param=param, save=False)


def _rule(
    message: str, *, code: str | None = None, param: str | None = None
) -> _ApiError:
    """An error from the endpoint's own rules: 400, saved for idempotency."""
    return _ApiError(400, message, code=code, param=param)


def _missing(kind: str, object_id: str, param: str) -> _ApiError:
    return _ApiError(
        404,
        f"No such {_MISSING_NAME.get(kind, kind)}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


# --------------------------------------------------------------------------- records


@dataclass
class StripeRequest:
    """One request the fake received (control routes excepted)."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    idempotency_key: str | None
    api_key: str | None
    # Uploaded file bodies by form field name (``params`` holds their
    # filename/size/sha256 instead of the bytes).
    files: dict[str, bytes] = field(default_factory=dict)
    # The ``Stripe-Account`` header (Connect), if the request had one.
    stripe_account: str | None = None

    def to_json(self) -> Json:
        return {
            "method": self.method,
            "path": self.path,
            "params": self.params,
            "idempotency_key": self.idempotency_key,
            "stripe_account": self.stripe_account,
        }


@dataclass
class _Ctx:
    request: StripeRequest
    permissions: frozenset[str] | None
    # The connected account the request acts on (``Stripe-Account``).
    account: str | None = None


@dataclass
class _Raw:
    body: bytes
    content_type: str


@dataclass
class _Outcome:
    status: int
    body: bytes
    content_type: str
    save: bool
    request_id: str


@dataclass
class _Saved:
    fingerprint: str
    outcome: _Outcome


@dataclass
class _Failure:
    method: str
    path_prefix: str
    status: int
    count: int
    body: Json
    after_execute: bool
    should_retry: bool | None


@dataclass
class Hold:
    """Matching requests wait here until `release()`; `arrived` counts them."""

    method: str
    path_prefix: str
    after_execute: bool
    arrived: int = 0
    _open: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self._open.set()

    async def wait(self) -> None:
        self.arrived += 1
        await self._open.wait()


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    permission: str | None
    handler: Callable[..., Json | _Raw]


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def _blank_address(address: Json | None) -> Json:
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    source = address or {}
    return {k: source.get(k) for k in keys}


def _card_brand_networks(brand: str) -> Json:
    return {"available": [brand], "preferred": None}


# --------------------------------------------------------------------------- the fake


class FakeStripe:
    """An in-memory Stripe account behind a loopback aiohttp server."""

    def __init__(
        self,
        *,
        api_keys: dict[str, frozenset[str] | None] | None = None,
        account_id: str = "acct_1FAKE",
        livemode: bool = False,
    ) -> None:
        self.api_keys: dict[str, frozenset[str] | None] = (
            dict(api_keys) if api_keys is not None else {DEFAULT_API_KEY: None}
        )
        self.account_id = account_id
        self.livemode = livemode
        self.url = ""
        self.port = 0
        self.latency = 0.0
        # Status given to new refunds: "succeeded", "pending" or "failed".
        self.refund_status = "succeeded"
        self.requests: list[StripeRequest] = []
        self.refunds: list[Json] = []
        self.account: Json = self._new_account()
        # Connect: connected accounts by ID, which account each object lives
        # in (None: the platform), and the account being seeded or served now.
        self.connected_accounts: dict[str, Json] = {}
        self._owner: dict[str, str | None] = {}
        self._scope: str | None = None
        self._objects: dict[str, Json] = {}
        self._seq: dict[str, int] = {}
        self._file_bytes: dict[str, bytes] = {}
        self._idempotency: dict[str, _Saved] = {}
        self._idempotency_locks: dict[str, asyncio.Lock] = {}
        self._failures: list[_Failure] = []
        self._holds: list[Hold] = []
        self._runner: web.AppRunner | None = None
        self._routes = self._build_routes()
        # Called with each POST that changed something, and the object it
        # answered: the sandbox's panel sends the events Stripe would.
        self.watchers: list[Callable[[StripeRequest, Json], None]] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> None:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeStripe:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ inspection

    def requests_to(self, method: str, path_prefix: str) -> list[StripeRequest]:
        return [
            r
            for r in self.requests
            if r.method == method.upper() and r.path.startswith(path_prefix)
        ]

    def object(self, object_id: str) -> Json:
        """The live stored object (mutating it changes what the API answers)."""
        return self._objects[object_id]

    def file_contents(self, file_id: str) -> bytes:
        return self._file_bytes[file_id]

    def fail_next(
        self,
        method: str,
        path_prefix: str,
        *,
        status: int = 500,
        count: int = 1,
        error: dict[str, Any] | None = None,
        after_execute: bool = False,
        should_retry: bool | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status``.

        ``error`` is the inner error object (or a whole body with an ``error`` key);
        by default one fitting ``status`` is used. ``should_retry`` adds the
        ``Stripe-Should-Retry`` header stripe-python obeys.
        """
        if error is None:
            body = {"error": self._default_failure(status)}
        elif "error" in error:
            body = dict(error)
        else:
            body = {"error": dict(error)}
        self._failures.append(
            _Failure(
                method.upper(),
                path_prefix,
                status,
                count,
                body,
                after_execute,
                should_retry,
            )
        )

    def hold(
        self, method: str, path_prefix: str, *, after_execute: bool = False
    ) -> Hold:
        """Keep matching requests waiting until the returned Hold is released."""
        hold = Hold(method.upper(), path_prefix, after_execute)
        self._holds.append(hold)
        return hold

    async def _wait_holds(self, method: str, path: str, *, after: bool) -> None:
        for hold in list(self._holds):
            if (
                hold.after_execute == after
                and hold.method == method
                and path.startswith(hold.path_prefix)
            ):
                await hold.wait()

    @staticmethod
    def _default_failure(status: int) -> Json:
        if status >= 500:
            return {
                "type": "api_error",
                "message": "Sorry, something went wrong. We've already been "
                "notified of the problem, but if you need any help, you can reach "
                "us at support.stripe.com/contact.",
            }
        if status == 429:
            return {
                "type": "invalid_request_error",
                "code": "rate_limit",
                "message": "Request rate limit exceeded. Learn more about rate "
                "limits here https://stripe.com/docs/rate-limits.",
            }
        if status == 409:
            return {
                "type": "invalid_request_error",
                "code": "lock_timeout",
                "message": "This object cannot be accessed right now because "
                "another API request or Stripe process is currently accessing it.",
            }
        if status == 402:
            return {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            }
        return {"type": "invalid_request_error", "message": "Injected failure."}

    # ------------------------------------------------------------------ seeding

    def _store(self, obj: Json) -> Json:
        self._seq[obj["id"]] = len(self._seq)
        self._objects[obj["id"]] = obj
        self._owner[obj["id"]] = self._scope
        return obj

    def _visible(self, obj: Json) -> bool:
        """Does the object live in the account being served (Connect)?"""
        return self._owner.get(obj["id"]) == self._scope

    def _get(self, kind: str, object_id: Any, param: str) -> Json:
        obj = self._objects.get(object_id) if isinstance(object_id, str) else None
        if obj is None or obj.get("object") != kind or not self._visible(obj):
            raise _missing(kind, str(object_id), param)
        return obj

    def add_connected_account(
        self, *, name: str = "Connected Shop", account_id: str | None = None
    ) -> Json:
        """A connected account (Connect) of this platform; seed its objects
        inside ``with fake.on_account(its id):``."""
        saved = self.account_id
        self.account_id = account_id or new_id("acct")
        try:
            account = self._new_account()
        finally:
            self.account_id, account_id = saved, self.account_id
        account["business_profile"]["name"] = name
        account["settings"]["dashboard"]["display_name"] = name
        account["type"] = "express"
        account["controller"] = {"type": "application", "is_controller": True}
        self.connected_accounts[account_id] = account
        return account

    @contextmanager
    def on_account(self, account_id: str | None) -> Iterator[None]:
        """Objects added inside live in `account_id` (None: the platform)."""
        saved, self._scope = self._scope, account_id
        try:
            yield
        finally:
            self._scope = saved

    def _new_account(self) -> Json:
        return {
            "id": self.account_id,
            "object": "account",
            "business_profile": {
                "mcc": "5734",
                "name": "Fake Shop",
                "product_description": None,
                "support_address": None,
                "support_email": "support@example.com",
                "support_phone": None,
                "support_url": None,
                "url": "https://example.com",
            },
            "business_type": "company",
            "capabilities": {"card_payments": "active", "transfers": "active"},
            "charges_enabled": True,
            "controller": {"type": "account"},
            "country": "US",
            "created": _now() - 365 * 86400,
            "default_currency": "usd",
            "details_submitted": True,
            "email": "owner@example.com",
            "external_accounts": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/accounts/{self.account_id}/external_accounts",
            },
            "metadata": {},
            "payouts_enabled": True,
            "requirements": {
                "alternatives": [],
                "current_deadline": None,
                "currently_due": [],
                "disabled_reason": None,
                "errors": [],
                "eventually_due": [],
                "past_due": [],
                "pending_verification": [],
            },
            "settings": {
                "dashboard": {"display_name": "Fake Shop", "timezone": "Etc/UTC"},
                "payments": {"statement_descriptor": "FAKE SHOP"},
                "payouts": {
                    "debit_negative_balances": True,
                    "schedule": {"delay_days": 2, "interval": "daily"},
                    "statement_descriptor": None,
                },
            },
            "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
            "type": "standard",
        }

    def add_customer(
        self,
        *,
        email: str | None = None,
        name: str | None = None,
        created: int | None = None,
        address: dict[str, Any] | None = None,
        shipping: dict[str, Any] | None = None,
        phone: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Json:
        ship = None
        if shipping is not None:
            ship = {
                "address": _blank_address(shipping.get("address")),
                "name": shipping.get("name"),
                "phone": shipping.get("phone"),
            }
        return self._store(
            {
                "id": new_id("cus"),
                "object": "customer",
                "address": _blank_address(address) if address is not None else None,
                "balance": 0,
                "created": created if created is not None else _now(),
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": None,
                "discount": None,
                "email": email,
                "invoice_prefix": _random(8, "0123456789ABCDEF"),
                "invoice_settings": {
                    "custom_fields": None,
                    "default_payment_method": None,
                    "footer": None,
                    "rendering_options": None,
                },
                "livemode": self.livemode,
                "metadata": dict(metadata or {}),
                "name": name,
                "next_invoice_sequence": 1,
                "phone": phone,
                "preferred_locales": [],
                "shipping": ship,
                "tax_exempt": "none",
                "test_clock": None,
            }
        )

    def add_payment_method(
        self,
        customer_id: str | None,
        *,
        brand: str = "visa",
        last4: str = "4242",
        exp_month: int = 12,
        exp_year: int = 2030,
        default: bool = False,
    ) -> Json:
        customer = self._objects[customer_id] if customer_id else None
        pm = self._store(
            {
                "id": new_id("pm"),
                "object": "payment_method",
                "allow_redisplay": "unspecified",
                "billing_details": {
                    "address": _blank_address(customer and customer["address"]),
                    "email": customer and customer["email"],
                    "name": customer and customer["name"],
                    "phone": customer and customer["phone"],
                    "tax_id": None,
                },
                "card": {
                    "brand": brand,
                    "checks": {
                        "address_line1_check": None,
                        "address_postal_code_check": None,
                        "cvc_check": "pass",
                    },
                    "country": "US",
                    "display_brand": brand,
                    "exp_month": exp_month,
                    "exp_year": exp_year,
                    "fingerprint": _random(16),
                    "funding": "credit",
                    "generated_from": None,
                    "last4": last4,
                    "networks": _card_brand_networks(brand),
                    "regulated_status": "unregulated",
                    "three_d_secure_usage": {"supported": True},
                    "wallet": None,
                },
                "created": _now(),
                "customer": customer_id,
                "livemode": self.livemode,
                "metadata": {},
                "type": "card",
            }
        )
        if default and customer is not None:
            customer["invoice_settings"]["default_payment_method"] = pm["id"]
        return pm

    def _payment_method_for(self, customer_id: str | None) -> Json:
        if customer_id:
            customer = self._objects[customer_id]
            default = customer["invoice_settings"]["default_payment_method"]
            if default:
                return self._objects[str(default)]
            for obj in self._objects.values():
                if obj["object"] == "payment_method" and obj["customer"] == customer_id:
                    return obj
        return self.add_payment_method(None)

    def add_payment(
        self,
        *,
        customer_id: str | None,
        amount: int,
        currency: str = "usd",
        status: str = "succeeded",
        created: int | None = None,
        description: str | None = None,
        billing_name: str | None = None,
        billing_email: str | None = None,
        receipt_url: str | None = None,
        payment_method_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> tuple[Json, Json]:
        """A PaymentIntent and its charge.

        ``status``: "succeeded", "failed" (or "requires_payment_method"),
        "processing" (or "pending") or "requires_capture".
        """
        if status == "requires_payment_method":
            status = "failed"
        if status == "pending":
            status = "processing"
        if status not in ("succeeded", "failed", "processing", "requires_capture"):
            raise ValueError(f"unsupported payment status {status!r}")
        currency = currency.lower()
        created = created if created is not None else _now()
        pm = (
            self._objects[payment_method_id]
            if payment_method_id
            else self._payment_method_for(customer_id)
        )
        card = pm["card"]
        pi_id, ch_id = new_id("pi"), new_id("ch")
        billing = copy.deepcopy(pm["billing_details"])
        if billing_name is not None:
            billing["name"] = billing_name
        if billing_email is not None:
            billing["email"] = billing_email
        failed = status == "failed"
        captured = status == "succeeded"
        charge_status = {
            "succeeded": "succeeded",
            "failed": "failed",
            "processing": "pending",
            "requires_capture": "succeeded",
        }[status]
        if failed:
            outcome: Json = {
                "network_status": "declined_by_network",
                "reason": "generic_decline",
                "risk_level": "normal",
                "risk_score": 40,
                "seller_message": "The bank did not return any further details "
                "with this decline.",
                "type": "issuer_declined",
            }
        else:
            outcome = {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "risk_score": 32,
                "seller_message": "Payment complete.",
                "type": "authorized",
            }
        outcome.update(
            advice_code=None, network_advice_code=None, network_decline_code=None
        )
        charge = self._store(
            {
                "id": ch_id,
                "object": "charge",
                "amount": amount,
                "amount_captured": amount if captured else 0,
                "amount_refunded": 0,
                "application": None,
                "application_fee": None,
                "application_fee_amount": None,
                "balance_transaction": None,
                "billing_details": billing,
                "calculated_statement_descriptor": "FAKE SHOP",
                "captured": captured,
                "created": created,
                "currency": currency,
                "customer": customer_id,
                "description": description,
                "disputed": False,
                "failure_balance_transaction": None,
                "failure_code": "card_declined" if failed else None,
                "failure_message": "Your card was declined." if failed else None,
                "fraud_details": {},
                "livemode": self.livemode,
                "metadata": dict(metadata or {}),
                "on_behalf_of": None,
                "outcome": outcome,
                "paid": charge_status == "succeeded",
                "payment_intent": pi_id,
                "payment_method": pm["id"],
                "payment_method_details": {
                    "card": {
                        "amount_authorized": None if failed else amount,
                        "brand": card["brand"],
                        "checks": copy.deepcopy(card["checks"]),
                        "country": card["country"],
                        "exp_month": card["exp_month"],
                        "exp_year": card["exp_year"],
                        "fingerprint": card["fingerprint"],
                        "funding": card["funding"],
                        "last4": card["last4"],
                        "network": card["brand"],
                        "network_transaction_id": _random(15, string.digits),
                        "three_d_secure": None,
                        "wallet": None,
                    },
                    "type": "card",
                },
                "receipt_email": billing_email,
                "receipt_number": None,
                "receipt_url": receipt_url
                if receipt_url is not None
                else (
                    None
                    if failed
                    else f"https://pay.stripe.com/receipts/payment/{_random(60)}"
                ),
                "refunded": False,
                "refunds": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "total_count": 0,
                    "url": f"/v1/charges/{ch_id}/refunds",
                },
                "review": None,
                "shipping": None,
                "source": None,
                "source_transfer": None,
                "statement_descriptor": None,
                "statement_descriptor_suffix": None,
                "status": charge_status,
                "transfer_data": None,
                "transfer_group": None,
            }
        )
        pi = self._store(
            {
                "id": pi_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_capturable": amount if status == "requires_capture" else 0,
                "amount_details": {"tip": {}},
                "amount_received": amount if captured else 0,
                "application": None,
                "application_fee_amount": None,
                "automatic_payment_methods": None,
                "canceled_at": None,
                "cancellation_reason": None,
                "capture_method": "manual"
                if status == "requires_capture"
                else "automatic",
                "client_secret": f"{pi_id}_secret_{_random(25)}",
                "confirmation_method": "automatic",
                "created": created,
                "currency": currency,
                "customer": customer_id,
                "description": description,
                "last_payment_error": {
                    "charge": ch_id,
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                    "message": "Your card was declined.",
                    "payment_method": copy.deepcopy(pm),
                    "type": "card_error",
                }
                if failed
                else None,
                "latest_charge": ch_id,
                "livemode": self.livemode,
                "metadata": dict(metadata or {}),
                "next_action": None,
                "on_behalf_of": None,
                "payment_method": None if failed else pm["id"],
                "payment_method_configuration_details": None,
                "payment_method_options": {
                    "card": {
                        "installments": None,
                        "mandate_options": None,
                        "network": None,
                        "request_three_d_secure": "automatic",
                    }
                },
                "payment_method_types": ["card"],
                "processing": None,
                "receipt_email": billing_email,
                "review": None,
                "setup_future_usage": None,
                "shipping": None,
                "source": None,
                "statement_descriptor": None,
                "statement_descriptor_suffix": None,
                "status": "requires_payment_method" if failed else status,
                "transfer_data": None,
                "transfer_group": None,
            }
        )
        return pi, charge

    def add_dispute(
        self,
        charge_id: str,
        *,
        amount: int | None = None,
        reason: str = "product_not_received",
        status: str = "needs_response",
        due_by: int | None = None,
        created: int | None = None,
    ) -> Json:
        if reason not in DISPUTE_REASONS:
            raise ValueError(f"unknown dispute reason {reason!r}")
        if status not in DISPUTE_STATUSES:
            raise ValueError(f"unknown dispute status {status!r}")
        charge = self._objects[charge_id]
        created = created if created is not None else _now()
        inquiry = status.startswith("warning_")
        card = charge["payment_method_details"]["card"]
        dispute = self._store(
            {
                "id": new_id("dp"),
                "object": "dispute",
                "amount": amount if amount is not None else charge["amount"],
                "balance_transactions": [],
                "charge": charge_id,
                "created": created,
                "currency": charge["currency"],
                "enhanced_eligibility_types": [],
                "evidence": {
                    **dict.fromkeys(
                        sorted(EVIDENCE_TEXT_FIELDS | EVIDENCE_FILE_FIELDS)
                    ),
                    "enhanced_evidence": {},
                },
                "evidence_details": {
                    "due_by": due_by if due_by is not None else _now() + 7 * 86400,
                    "enhanced_eligibility": {},
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": inquiry,
                "livemode": self.livemode,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "payment_method_details": {
                    "card": {
                        "brand": card["brand"],
                        "case_type": "inquiry" if inquiry else "chargeback",
                        "network_reason_code": _NETWORK_REASON_CODES.get(reason),
                    },
                    "type": "card",
                },
                "reason": reason,
                "status": status,
            }
        )
        charge["disputed"] = True
        return dispute

    def add_early_fraud_warning(
        self,
        charge_id: str,
        *,
        fraud_type: str = "made_with_stolen_card",
        actionable: bool | None = None,
        created: int | None = None,
    ) -> Json:
        """A Radar early fraud warning on a charge. Like Stripe, it is
        actionable unless the charge is disputed or fully refunded (at
        creation; pass ``actionable`` to say otherwise)."""
        charge = self._objects[charge_id]
        if actionable is None:
            actionable = not charge["disputed"] and not charge["refunded"]
        return self._store(
            {
                "id": new_id("issfr"),
                "object": "radar.early_fraud_warning",
                "actionable": actionable,
                "charge": charge_id,
                "created": created if created is not None else _now(),
                "fraud_type": fraud_type,
                "livemode": self.livemode,
                "payment_intent": charge["payment_intent"],
            }
        )

    def add_payout(
        self,
        *,
        amount: int,
        currency: str = "usd",
        status: str = "in_transit",
        arrival_date: int | None = None,
    ) -> Json:
        """A payout to the account's bank (the fields of Stripe's example)."""
        return self._store(
            {
                "id": new_id("po"),
                "object": "payout",
                "amount": amount,
                "application_fee": None,
                "application_fee_amount": None,
                "arrival_date": arrival_date or _now() + 2 * 86400,
                "automatic": True,
                "balance_transaction": new_id("txn"),
                "created": _now(),
                "currency": currency.lower(),
                "description": "STRIPE PAYOUT",
                "destination": new_id("ba"),
                "failure_balance_transaction": None,
                "failure_code": None,
                "failure_message": None,
                "livemode": self.livemode,
                "metadata": {},
                "method": "standard",
                "original_payout": None,
                "reconciliation_status": "not_applicable",
                "reversed_by": None,
                "source_type": "card",
                "statement_descriptor": None,
                "status": status,
                "type": "bank_account",
            }
        )

    def add_webhook_endpoint(
        self, *, url: str, enabled_events: list[str], status: str = "enabled"
    ) -> Json:
        return self._store(
            {
                "id": new_id("we"),
                "object": "webhook_endpoint",
                "api_version": None,
                "application": None,
                "created": _now(),
                "description": None,
                "enabled_events": list(enabled_events),
                "livemode": self.livemode,
                "metadata": {},
                "status": status,
                "url": url,
            }
        )

    def seed_demo(self) -> dict[str, Any]:
        """Jenny Rosen with a default visa, two paid payments and a disputed one."""
        day = 86400
        customer = self.add_customer(
            email="jenny@example.com", name="Jenny Rosen", created=_now() - 90 * day
        )
        pm = self.add_payment_method(customer["id"], default=True)
        usd_pi, usd_ch = self.add_payment(
            customer_id=customer["id"],
            amount=1200,
            currency="usd",
            created=_now() - 3 * day,
            description="Order #1001",
        )
        jpy_pi, jpy_ch = self.add_payment(
            customer_id=customer["id"],
            amount=5000,
            currency="jpy",
            created=_now() - 2 * day,
            description="Order #1002",
        )
        dp_pi, dp_ch = self.add_payment(
            customer_id=customer["id"],
            amount=2500,
            currency="usd",
            created=_now() - 20 * day,
            description="Order #0999",
        )
        dispute = self.add_dispute(dp_ch["id"], due_by=_now() + 5 * day)
        return {
            "customer": customer["id"],
            "payment_method": pm["id"],
            "payments": [
                {"payment_intent": usd_pi["id"], "charge": usd_ch["id"]},
                {"payment_intent": jpy_pi["id"], "charge": jpy_ch["id"]},
            ],
            "disputed_payment": {"payment_intent": dp_pi["id"], "charge": dp_ch["id"]},
            "dispute": dispute["id"],
        }

    # ------------------------------------------------------------------ routing

    def _build_routes(self) -> list[_Route]:
        table: list[tuple[str, str, str | None, Callable[..., Json | _Raw]]] = [
            ("GET", "/v1/account", "rak_account_read", self._get_account),
            ("GET", "/v1/balance", "rak_balance_read", self._get_balance),
            (
                "GET",
                "/v1/accounts/{}",
                "rak_connected_account_read",
                self._get_connected_account,
            ),
            ("GET", "/v1/customers", "rak_customer_read", self._list_customers),
            (
                "GET",
                "/v1/customers/search",
                "rak_customer_read",
                self._search_customers,
            ),
            ("GET", "/v1/customers/{}", "rak_customer_read", self._get_customer),
            (
                "GET",
                "/v1/customers/{}/payment_methods",
                "rak_payment_method_read",
                self._list_customer_payment_methods,
            ),
            (
                "GET",
                "/v1/customers/{}/payment_methods/{}",
                "rak_payment_method_read",
                self._get_customer_payment_method,
            ),
            (
                "GET",
                "/v1/payment_methods",
                "rak_payment_method_read",
                self._list_payment_methods,
            ),
            (
                "GET",
                "/v1/payment_methods/{}",
                "rak_payment_method_read",
                self._getter("payment_method"),
            ),
            (
                "GET",
                "/v1/payment_intents",
                "rak_payment_intent_read",
                self._list_payment_intents,
            ),
            (
                "GET",
                "/v1/payment_intents/{}",
                "rak_payment_intent_read",
                self._getter("payment_intent"),
            ),
            ("GET", "/v1/charges", "rak_charge_read", self._list_charges),
            ("GET", "/v1/charges/{}", "rak_charge_read", self._getter("charge")),
            ("GET", "/v1/refunds", "rak_refund_read", self._list_refunds),
            ("POST", "/v1/refunds", "rak_refund_write", self._create_refund),
            ("GET", "/v1/refunds/{}", "rak_refund_read", self._getter("refund")),
            ("GET", "/v1/disputes", "rak_dispute_read", self._list_disputes),
            ("GET", "/v1/disputes/{}", "rak_dispute_read", self._getter("dispute")),
            ("POST", "/v1/disputes/{}", "rak_dispute_write", self._update_dispute),
            (
                "POST",
                "/v1/disputes/{}/close",
                "rak_dispute_write",
                self._close_dispute,
            ),
            ("GET", "/v1/payouts/{}", "rak_payout_read", self._getter("payout")),
            ("POST", "/v1/files", "rak_file_write", self._create_file),
            ("GET", "/v1/files/{}", "rak_file_read", self._getter("file")),
            ("GET", "/v1/files/{}/contents", "rak_file_read", self._file_body),
            (
                "GET",
                "/v1/webhook_endpoints",
                "rak_webhook_read",
                self._list_webhook_endpoints,
            ),
            (
                "GET",
                "/v1/webhook_endpoints/{}",
                "rak_webhook_read",
                self._getter("webhook_endpoint"),
            ),
        ]
        return [
            _Route(
                method,
                re.compile(re.escape(path).replace(r"\{\}", "([^/]+)")),
                permission,
                handler,
            )
            for method, path, permission, handler in table
        ]

    def _match(self, method: str, path: str) -> tuple[_Route, tuple[str, ...]]:
        for route in self._routes:
            if route.method != method:
                continue
            match = route.pattern.fullmatch(path)
            if match:
                return route, match.groups()
        raise _ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            save=False,
        )

    # ------------------------------------------------------------------ auth

    def _authenticate(self, api_key: str | None) -> frozenset[str] | None:
        if api_key is None:
            raise _ApiError(
                401,
                "You did not provide an API key. You need to provide your API key "
                "in the Authorization header, using Bearer auth (e.g. "
                "'Authorization: Bearer YOUR_SECRET_KEY'). See "
                "https://stripe.com/docs/api#authentication for details, or we can "
                "help at https://support.stripe.com/.",
                save=False,
            )
        if api_key not in self.api_keys:
            raise _ApiError(
                401,
                f"Invalid API Key provided: {_redact_key(api_key, visible=4)}",
                save=False,
            )
        return self.api_keys[api_key]

    @staticmethod
    def _has(permissions: frozenset[str] | None, permission: str) -> bool:
        if permissions is None or permission in permissions:
            return True
        return (
            permission.endswith("_read")
            and f"{permission[: -len('_read')]}_write" in permissions
        )

    def _connected(self, record: StripeRequest) -> str | None:
        """The connected account a request acts on; 403 for one that is not
        this platform's."""
        account = record.stripe_account
        if account is None or account == self.account_id:
            return None
        if account not in self.connected_accounts:
            key = _redact_key(record.api_key or "", visible=3, stars=3)
            raise _ApiError(
                403,
                f"The provided key '{key}' does not have access to account "
                f"'{account}' (or that account does not exist). Application "
                "access may have been revoked.",
                type_="invalid_request_error",
                code="account_invalid",
                save=False,
            )
        return account

    def _require(self, ctx: _Ctx, permission: str) -> None:
        if self._has(ctx.permissions, permission):
            return
        key = _redact_key(ctx.request.api_key or "", visible=3, stars=3)
        raise _ApiError(
            403,
            f"The provided key '{key}' does not have the required permissions for "
            f"this endpoint on account '{self.account_id}'. Having the "
            f"'{permission}' permission would allow this request to continue.",
            type_="invalid_request_error",
            save=False,
        )

    # ------------------------------------------------------------------ params

    @staticmethod
    def _allow(params: Json, allowed: Iterable[str]) -> None:
        allowed_set = set(allowed)
        for key in params:
            if key not in allowed_set:
                raise _invalid(
                    f"Received unknown parameter: {key}",
                    code="parameter_unknown",
                    param=key,
                )

    @staticmethod
    def _int(value: Any, param: str) -> int:
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise _invalid(
            f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
        )

    @staticmethod
    def _bool(value: Any, param: str) -> bool:
        if value in ("true", "True", "1"):
            return True
        if value in ("false", "False", "0"):
            return False
        raise _invalid(
            f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=param
        )

    @staticmethod
    def _metadata(value: Any, current: Json | None = None) -> Json:
        result = dict(current or {})
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise _invalid(
                "Invalid hash", code="parameter_invalid_hash", param="metadata"
            )
        for key, val in value.items():
            if not isinstance(val, str):
                raise _invalid(
                    f"Invalid value for metadata[{key}]", param=f"metadata[{key}]"
                )
            if len(key) > 40:
                raise _invalid(
                    "Metadata keys can have up to 40 characters, but you passed in "
                    f"a key that is {len(key)} characters. Invalid key: {key}",
                    param=f"metadata[{key}]",
                )
            if len(val) > 500:
                raise _invalid(
                    "Metadata values can have up to 500 characters, but you passed in "
                    f"a value that is {len(val)} characters. Invalid value: {val}",
                    param=f"metadata[{key}]",
                )
            if val == "":
                result.pop(key, None)
            else:
                result[key] = val
        if len(result) > 50:
            raise _invalid(
                "You can have up to 50 metadata keys, but you passed in "
                f"{len(result)} keys.",
                param="metadata",
            )
        return result

    @staticmethod
    def _expand_list(params: Json) -> list[str]:
        value = params.get("expand")
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise _invalid("Invalid array", code="parameter_invalid_array", param="expand")

    # ------------------------------------------------------------------ rendering

    def _refresh(self, obj: Json) -> None:
        if obj.get("object") == "dispute":
            details = obj["evidence_details"]
            details["past_due"] = bool(
                obj["status"] in _DISPUTE_OPEN
                and details["due_by"]
                and details["due_by"] < _now()
            )

    def _copy(self, obj: Json) -> Json:
        self._refresh(obj)
        return copy.deepcopy(obj)

    def _render(self, ctx: _Ctx, obj: Json, *, prefix: str = "") -> Json:
        """A copy of ``obj`` with the request's ``expand[]`` applied."""
        out = self._copy(obj)
        for path in self._expand_list(ctx.request.params):
            parts = path.split(".")
            if not prefix:
                self._expand(ctx, out, parts, path)
                continue
            if parts[0] != prefix or len(parts) < 2:
                raise _invalid(
                    f"This property cannot be expanded ({path}).", param="expand"
                )
            for item in out[prefix]:
                self._expand(ctx, item, parts[1:], path)
        return out

    def _expand(self, ctx: _Ctx, node: Json, parts: list[str], path: str) -> None:
        if not parts:
            return
        key, rest = parts[0], parts[1:]
        if key not in node:
            raise _invalid(
                f"This property cannot be expanded ({path}).", param="expand"
            )
        value = node[key]
        if value is None:
            return
        if isinstance(value, str) and key in _EXPANDABLE:
            target = self._objects.get(value)
            if target is None:
                return
            perm = _READ_PERMISSION.get(str(target.get("object")))
            if perm:
                self._require(ctx, perm)
            value = self._copy(target)
            node[key] = value
        elif not isinstance(value, dict) or (not rest and key not in _EXPANDABLE):
            raise _invalid(
                f"This property cannot be expanded ({path}).", param="expand"
            )
        self._expand(ctx, value, rest, path)

    def _page(
        self,
        ctx: _Ctx,
        kind: str,
        url: str,
        keep: Callable[[Json], bool] = lambda _: True,
        *,
        extra: Iterable[str] = (),
    ) -> Json:
        params = ctx.request.params
        self._allow(params, _LIST_PARAMS | {"created"} | set(extra))
        limit = self._limit(params)
        created = self._created_filter(params)
        items = sorted(
            (
                o
                for o in self._objects.values()
                if o.get("object") == kind
                and self._visible(o)
                and keep(o)
                and created(o)
            ),
            key=lambda o: (o.get("created", 0), self._seq[o["id"]]),
            reverse=True,
        )
        ids = [o["id"] for o in items]
        after, before = params.get("starting_after"), params.get("ending_before")
        if after is not None:
            if after not in ids:
                raise _missing(kind, str(after), "starting_after")
            items = items[ids.index(after) + 1 :]
            page, has_more = items[:limit], len(items) > limit
        elif before is not None:
            if before not in ids:
                raise _missing(kind, str(before), "ending_before")
            items = items[: ids.index(before)]
            page, has_more = items[-limit:], len(items) > limit
        else:
            page, has_more = items[:limit], len(items) > limit
        result: Json = {
            "object": "list",
            "data": [self._copy(o) for o in page],
            "has_more": has_more,
            "url": url,
        }
        return self._render(ctx, result, prefix="data")

    @classmethod
    def _limit(cls, params: Json) -> int:
        if "limit" not in params:
            return 10
        limit = cls._int(params["limit"], "limit")
        if not 1 <= limit <= 100:
            raise _invalid(
                "Invalid limit: must be an integer between 1 and 100",
                code="parameter_invalid_integer",
                param="limit",
            )
        return limit

    @classmethod
    def _created_filter(cls, params: Json) -> Callable[[Json], bool]:
        spec = params.get("created")
        if spec is None:
            return lambda _: True
        if isinstance(spec, str):
            exact = cls._int(spec, "created")
            return lambda o: bool(o.get("created") == exact)
        if not isinstance(spec, dict):
            raise _invalid("Invalid created", param="created")
        ops: dict[str, Callable[[int, int], bool]] = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        bounds: list[tuple[Callable[[int, int], bool], int]] = []
        for op, raw in spec.items():
            if op not in ops:
                raise _invalid(
                    f"Received unknown parameter: created[{op}]",
                    code="parameter_unknown",
                    param=f"created[{op}]",
                )
            bounds.append((ops[op], cls._int(raw, f"created[{op}]")))
        return lambda o: all(fn(int(o.get("created", 0)), v) for fn, v in bounds)

    # ------------------------------------------------------------------ handlers

    def _getter(self, kind: str) -> Callable[[_Ctx, str], Json]:
        def handler(ctx: _Ctx, object_id: str) -> Json:
            self._allow(ctx.request.params, {"expand"})
            return self._render(ctx, self._get(kind, object_id, "id"))

        return handler

    def _get_account(self, ctx: _Ctx) -> Json:
        self._allow(ctx.request.params, {"expand"})
        if ctx.account is not None:
            return self._render(ctx, self.connected_accounts[ctx.account])
        return self._render(ctx, self.account)

    def _get_connected_account(self, ctx: _Ctx, account_id: str) -> Json:
        self._allow(ctx.request.params, {"expand"})
        account = self.connected_accounts.get(account_id)
        if account is None or ctx.account not in (None, account_id):
            raise _missing("account", account_id, "account")
        return self._render(ctx, account)

    def _get_balance(self, ctx: _Ctx) -> Json:
        self._allow(ctx.request.params, {"expand"})
        totals: dict[str, int] = {}
        for obj in self._objects.values():
            if obj["object"] == "charge" and obj["status"] == "succeeded":
                net = obj["amount_captured"] - obj["amount_refunded"]
                totals[obj["currency"]] = totals.get(obj["currency"], 0) + net
            elif obj["object"] == "dispute" and obj["status"] not in (
                "won",
                "warning_closed",
                "warning_needs_response",
                "warning_under_review",
            ):
                totals[obj["currency"]] = totals.get(obj["currency"], 0) - obj["amount"]
        totals = totals or {"usd": 0}
        return {
            "object": "balance",
            "available": [
                {"amount": v, "currency": c, "source_types": {"card": v}}
                for c, v in sorted(totals.items())
            ],
            "connect_reserved": [],
            "livemode": self.livemode,
            "pending": [
                {"amount": 0, "currency": c, "source_types": {"card": 0}}
                for c in sorted(totals)
            ],
        }

    def _get_customer(self, ctx: _Ctx, customer_id: str) -> Json:
        self._allow(ctx.request.params, {"expand"})
        return self._render(ctx, self._get("customer", customer_id, "id"))

    def _list_customers(self, ctx: _Ctx) -> Json:
        email = ctx.request.params.get("email")
        return self._page(
            ctx,
            "customer",
            "/v1/customers",
            lambda c: email is None or c["email"] == email,
            extra={"email", "test_clock"},
        )

    def _search_customers(self, ctx: _Ctx) -> Json:
        params = ctx.request.params
        self._allow(params, {"query", "limit", "page", "expand"})
        query = params.get("query")
        if not isinstance(query, str) or not query.strip():
            raise _invalid(
                "Missing required param: query.",
                code="parameter_missing",
                param="query",
            )
        match = self._parse_search(query)
        limit = self._limit(params)
        offset = self._int(params["page"], "page") if "page" in params else 0
        items = sorted(
            (
                o
                for o in self._objects.values()
                if o["object"] == "customer" and match(o)
            ),
            key=lambda o: (o["created"], self._seq[o["id"]]),
            reverse=True,
        )
        page = items[offset : offset + limit]
        has_more = len(items) > offset + limit
        result: Json = {
            "object": "search_result",
            "data": [self._copy(o) for o in page],
            "has_more": has_more,
            "next_page": str(offset + limit) if has_more else None,
            "url": "/v1/customers/search",
        }
        return self._render(ctx, result, prefix="data")

    @classmethod
    def _parse_search(cls, query: str) -> Callable[[Json], bool]:
        pieces = re.split(r"\s+(AND|OR)\s+", query.strip())
        clauses, joins = pieces[0::2], set(pieces[1::2])
        if len(joins) > 1:
            raise _invalid("Search query cannot mix AND and OR.", param="query")
        tests = [cls._parse_clause(c) for c in clauses]
        if joins == {"OR"}:
            return lambda o: any(t(o) for t in tests)
        return lambda o: all(t(o) for t in tests)

    @classmethod
    def _parse_clause(cls, clause: str) -> Callable[[Json], bool]:
        match = re.fullmatch(
            r"""(?P<neg>-?)(?P<field>[a-z_]+)(?:\[['"](?P<key>[^'"]*)['"]\])?"""
            r"""\s*(?P<op>:|~|>=|<=|>|<)\s*"""
            r"""(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<num>-?\d+))""",
            clause.strip(),
        )
        if not match:
            raise _invalid(
                f"Invalid search query: could not parse '{clause}'.", param="query"
            )
        fname, key, op = match["field"], match["key"], match["op"]
        text = match["sq"] if match["sq"] is not None else match["dq"]
        if fname not in ("email", "name", "phone", "metadata", "created"):
            raise _invalid(
                f"Field `{fname}` is an unsupported search field for resource "
                "`customers`. See "
                "https://stripe.com/docs/search#query-fields-for-customers for a "
                "list of supported fields.",
                param="query",
            )
        negate = match["neg"] == "-"

        def test(obj: Json) -> bool:
            if fname == "created":
                if match["num"] is None:
                    return False
                a, b = int(obj["created"]), int(match["num"])
                ok = {
                    ":": a == b,
                    ">": a > b,
                    "<": a < b,
                    ">=": a >= b,
                    "<=": a <= b,
                }.get(op, False)
                return ok != negate
            value = obj["metadata"].get(key) if fname == "metadata" else obj[fname]
            wanted = text if text is not None else match["num"]
            if value is None or wanted is None:
                return negate
            if op == ":":
                ok = str(value).lower() == wanted.lower()
            elif op == "~":
                ok = len(wanted) >= 3 and wanted.lower() in str(value).lower()
            else:
                ok = False
            return ok != negate

        return test

    def _list_customer_payment_methods(self, ctx: _Ctx, customer_id: str) -> Json:
        self._get("customer", customer_id, "customer")
        kind = ctx.request.params.get("type")
        return self._page(
            ctx,
            "payment_method",
            f"/v1/customers/{customer_id}/payment_methods",
            lambda pm: (
                pm["customer"] == customer_id and (kind is None or pm["type"] == kind)
            ),
            extra={"type", "allow_redisplay"},
        )

    def _get_customer_payment_method(
        self, ctx: _Ctx, customer_id: str, pm_id: str
    ) -> Json:
        self._allow(ctx.request.params, {"expand"})
        self._get("customer", customer_id, "customer")
        pm = self._get("payment_method", pm_id, "payment_method")
        if pm["customer"] != customer_id:
            raise _missing("payment_method", pm_id, "payment_method")
        return self._render(ctx, pm)

    def _list_payment_methods(self, ctx: _Ctx) -> Json:
        params = ctx.request.params
        customer, kind = params.get("customer"), params.get("type")
        if customer is not None:
            self._get("customer", customer, "customer")
        return self._page(
            ctx,
            "payment_method",
            "/v1/payment_methods",
            lambda pm: (
                (customer is None or pm["customer"] == customer)
                and (kind is None or pm["type"] == kind)
            ),
            extra={"customer", "type", "allow_redisplay"},
        )

    def _list_payment_intents(self, ctx: _Ctx) -> Json:
        customer = ctx.request.params.get("customer")
        return self._page(
            ctx,
            "payment_intent",
            "/v1/payment_intents",
            lambda pi: customer is None or pi["customer"] == customer,
            extra={"customer"},
        )

    def _list_charges(self, ctx: _Ctx) -> Json:
        params = ctx.request.params
        customer, pi = params.get("customer"), params.get("payment_intent")
        return self._page(
            ctx,
            "charge",
            "/v1/charges",
            lambda ch: (
                (customer is None or ch["customer"] == customer)
                and (pi is None or ch["payment_intent"] == pi)
            ),
            extra={"customer", "payment_intent", "transfer_group"},
        )

    def _list_refunds(self, ctx: _Ctx) -> Json:
        params = ctx.request.params
        charge, pi = params.get("charge"), params.get("payment_intent")
        return self._page(
            ctx,
            "refund",
            "/v1/refunds",
            lambda r: (
                (charge is None or r["charge"] == charge)
                and (pi is None or r["payment_intent"] == pi)
            ),
            extra={"charge", "payment_intent"},
        )

    def _list_disputes(self, ctx: _Ctx) -> Json:
        params = ctx.request.params
        charge, pi = params.get("charge"), params.get("payment_intent")
        return self._page(
            ctx,
            "dispute",
            "/v1/disputes",
            lambda d: (
                (charge is None or d["charge"] == charge)
                and (pi is None or d["payment_intent"] == pi)
            ),
            extra={"charge", "payment_intent"},
        )

    def _list_webhook_endpoints(self, ctx: _Ctx) -> Json:
        return self._page(ctx, "webhook_endpoint", "/v1/webhook_endpoints")

    # -- refunds

    def _create_refund(self, ctx: _Ctx) -> Json:
        params = ctx.request.params
        self._allow(
            params,
            {
                "amount",
                "charge",
                "payment_intent",
                "reason",
                "metadata",
                "expand",
                "instructions_email",
                "refund_application_fee",
                "reverse_transfer",
                "origin",
                "currency",
                "customer",
            },
        )
        self._expand_list(params)
        charge_id, pi_id = params.get("charge"), params.get("payment_intent")
        if charge_id is None and pi_id is None:
            raise _invalid(
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise _invalid(
                "Invalid reason: must be one of duplicate, fraudulent, or "
                "requested_by_customer",
                param="reason",
            )
        amount: int | None = None
        if "amount" in params:
            amount = self._int(params["amount"], "amount")
            if amount <= 0:
                raise _invalid(
                    "Invalid positive integer",
                    code="parameter_invalid_integer",
                    param="amount",
                )
        metadata = self._metadata(params.get("metadata", {}))

        pi: Json | None = None
        if pi_id is not None:
            pi = self._get("payment_intent", pi_id, "payment_intent")
        if charge_id is not None:
            charge = self._get("charge", charge_id, "charge")
            if pi is not None and charge["payment_intent"] != pi["id"]:
                raise _rule(
                    f"Charge {charge['id']} does not belong to PaymentIntent "
                    f"{pi['id']}.",
                    param="charge",
                )
        else:
            assert pi is not None
            if pi["status"] != "succeeded" or not pi["latest_charge"]:
                raise _rule(
                    f"This PaymentIntent ({pi['id']}) does not have a successful "
                    "charge to refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
            charge = self._get("charge", pi["latest_charge"], "payment_intent")
        cid = charge["id"]
        if charge["status"] != "succeeded":
            raise _rule(
                f"Charge {cid} has not succeeded; only successful charges can be "
                "refunded.",
                code="charge_not_refundable",
            )
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise _rule(
                f"Charge {cid} has already been refunded.",
                code="charge_already_refunded",
            )
        disputes = [
            d
            for d in self._objects.values()
            if d["object"] == "dispute" and d["charge"] == cid
        ]
        if any(not d["is_charge_refundable"] for d in disputes):
            raise _rule(
                f"Charge {cid} has been charged back; cannot issue a refund.",
                code="charge_disputed",
            )
        amount = remaining if amount is None else amount
        if amount > remaining:
            currency = charge["currency"]
            raise _rule(
                f"Refund amount ({format_amount(amount, currency)}) is greater than "
                f"unrefunded amount on charge ({format_amount(remaining, currency)})",
                code="amount_too_large",
                param="amount",
            )
        if not charge["captured"] and amount != charge["amount"]:
            raise _rule(
                "You cannot partially refund an uncaptured charge. Instead, capture "
                "the charge for an amount less than the original amount",
                param="amount",
            )
        status = self.refund_status
        refund: Json = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": cid,
            "created": _now(),
            "currency": charge["currency"],
            "destination_details": {
                "type": "card",
                "card": {
                    "reference": _random(23, string.digits)
                    if status == "succeeded"
                    else None,
                    "reference_status": "available"
                    if status == "succeeded"
                    else "pending",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
            },
            "metadata": metadata,
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": status,
            "transfer_reversal": None,
        }
        if status == "failed":
            refund["failure_reason"] = "expired_or_canceled_card"
        self._store(refund)
        self.refunds.append(refund)
        if status != "failed":
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        refunds = charge["refunds"]
        refunds["data"].insert(0, refund)
        refunds["total_count"] += 1
        return self._render(ctx, refund)

    # -- disputes

    def _update_dispute(self, ctx: _Ctx, dispute_id: str) -> Json:
        params = ctx.request.params
        self._allow(params, {"evidence", "submit", "metadata", "expand"})
        self._expand_list(params)
        dispute = self._get("dispute", dispute_id, "dispute")
        evidence = params.get("evidence")
        if evidence is not None and not isinstance(evidence, dict):
            raise _invalid(
                "Invalid hash", code="parameter_invalid_hash", param="evidence"
            )
        submit = self._bool(params["submit"], "submit") if "submit" in params else None
        updates: Json = {}
        for key, value in (evidence or {}).items():
            param = f"evidence[{key}]"
            if key == "enhanced_evidence":
                if not isinstance(value, dict):
                    raise _invalid("Invalid hash", param=param)
                updates[key] = value
                continue
            if key not in EVIDENCE_TEXT_FIELDS | EVIDENCE_FILE_FIELDS:
                raise _invalid(
                    f"Received unknown parameter: {param}",
                    code="parameter_unknown",
                    param=param,
                )
            if not isinstance(value, str):
                raise _invalid(f"Invalid string: {value!r}", param=param)
            if key in EVIDENCE_TEXT_FIELDS and len(value) > EVIDENCE_TEXT_MAX:
                raise _invalid(
                    f"Invalid string: {value[:20]}...; must be at most "
                    f"{EVIDENCE_TEXT_MAX} characters",
                    code="parameter_invalid_string",
                    param=param,
                )
            updates[key] = value or None
        metadata = (
            self._metadata(params["metadata"], dispute["metadata"])
            if "metadata" in params
            else None
        )
        for key, value in updates.items():
            if key in EVIDENCE_FILE_FIELDS and value is not None:
                file = self._objects.get(value)
                if file is None or file["object"] != "file":
                    raise _rule(
                        f"No such file upload: '{value}'",
                        code="resource_missing",
                        param=f"evidence[{key}]",
                    )
                if file["purpose"] != "dispute_evidence":
                    raise _rule(
                        f"The file {value} has purpose `{file['purpose']}`; dispute "
                        "evidence must have purpose `dispute_evidence`.",
                        param=f"evidence[{key}]",
                    )
        touches_evidence = evidence is not None or submit is not None
        if touches_evidence and dispute["status"] not in _DISPUTE_OPEN:
            if dispute["status"] in _DISPUTE_REVIEW:
                raise _rule(
                    f"This dispute ({dispute['id']}) has already had evidence "
                    "submitted; evidence cannot be updated after submission."
                )
            raise _rule("This dispute is already closed.")
        if metadata is not None:
            dispute["metadata"] = metadata
        if updates:
            current = dispute["evidence"]
            for key, value in updates.items():
                if key == "enhanced_evidence":
                    current[key] = {**current.get(key, {}), **value}
                else:
                    current[key] = value
            dispute["evidence_details"]["has_evidence"] = True
        if touches_evidence and submit is not False:
            details = dispute["evidence_details"]
            details["submission_count"] += 1
            details["has_evidence"] = True
            dispute["status"] = (
                "warning_under_review"
                if dispute["status"].startswith("warning_")
                else "under_review"
            )
        return self._render(ctx, dispute)

    def _close_dispute(self, ctx: _Ctx, dispute_id: str) -> Json:
        self._allow(ctx.request.params, {"expand"})
        self._expand_list(ctx.request.params)
        dispute = self._get("dispute", dispute_id, "dispute")
        status = dispute["status"]
        if status in _DISPUTE_REVIEW:
            raise _rule(
                f"This dispute ({dispute['id']}) has evidence submitted and is under "
                "review; it can no longer be closed."
            )
        if status not in _DISPUTE_OPEN:
            raise _rule("This dispute is already closed.")
        dispute["status"] = (
            "warning_closed" if status.startswith("warning_") else "lost"
        )
        dispute["is_charge_refundable"] = False
        return self._render(ctx, dispute)

    # -- files

    def _create_file(self, ctx: _Ctx) -> Json:
        params = ctx.request.params
        self._allow(params, {"purpose", "file", "file_link_data", "expand"})
        purpose = params.get("purpose")
        if purpose is None:
            raise _invalid(
                "Missing required param: purpose.",
                code="parameter_missing",
                param="purpose",
            )
        if purpose not in FILE_PURPOSES:
            raise _invalid(
                f"Invalid purpose: must be one of {', '.join(sorted(FILE_PURPOSES))}",
                param="purpose",
            )
        upload = params.get("file")
        data = ctx.request.files.get("file")
        if not isinstance(upload, dict) or data is None:
            raise _invalid(
                "Missing required param: file. Files must be uploaded as "
                "multipart/form-data.",
                code="parameter_missing",
                param="file",
            )
        filename = os.path.basename(str(upload.get("filename") or "blob"))
        kind = self._file_type(data, filename)
        if purpose == "dispute_evidence" and kind not in ("pdf", "png", "jpg"):
            raise _invalid(
                "Invalid file: must be one of the following types for purpose "
                "dispute_evidence: pdf, jpeg, png",
                param="file",
            )
        file_id = new_id("file")
        self._file_bytes[file_id] = data
        obj = self._store(
            {
                "id": file_id,
                "object": "file",
                "created": _now(),
                "expires_at": None,
                "filename": filename,
                "links": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/file_links?file={file_id}",
                },
                "purpose": purpose,
                "size": len(data),
                "title": None,
                "type": kind,
                "url": f"{self.url}/v1/files/{file_id}/contents",
            }
        )
        return self._render(ctx, obj)

    @staticmethod
    def _file_type(data: bytes, filename: str) -> str | None:
        if data.startswith(b"%PDF"):
            return "pdf"
        if data.startswith(b"\x89PNG"):
            return "png"
        if data.startswith(b"\xff\xd8\xff"):
            return "jpg"
        ext = os.path.splitext(filename)[1].lower().lstrip(".")
        return {"jpeg": "jpg"}.get(ext, ext) or None

    def _file_body(self, ctx: _Ctx, file_id: str) -> _Raw:
        obj = self._get("file", file_id, "id")
        content_type = {
            "pdf": "application/pdf",
            "png": "image/png",
            "jpg": "image/jpeg",
        }.get(str(obj["type"]), "application/octet-stream")
        return _Raw(self._file_bytes[file_id], content_type)

    # ------------------------------------------------------------------ HTTP

    async def _read_params(self, request: web.Request) -> tuple[Json, dict[str, bytes]]:
        pairs: list[tuple[str, Any]] = parse_qsl(
            request.query_string, keep_blank_values=True
        )
        files: dict[str, bytes] = {}
        if request.method == "POST":
            if request.content_type == "multipart/form-data":
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        data = value.file.read()
                        files[key] = data
                        pairs.append(
                            (
                                key,
                                {
                                    "filename": value.filename,
                                    "content_type": value.content_type,
                                    "size": len(data),
                                    "sha256": hashlib.sha256(data).hexdigest(),
                                },
                            )
                        )
                    elif isinstance(value, bytes):
                        pairs.append((key, value.decode()))
                    else:
                        pairs.append((key, value))
            else:
                body = (await request.read()).decode()
                pairs.extend(parse_qsl(body, keep_blank_values=True))
        return decode_params(pairs), files

    def _error_body(self, error: _ApiError, request_id: str) -> bytes:
        inner: Json = {}
        if error.code:
            inner["code"] = error.code
            inner["doc_url"] = (
                f"https://stripe.com/docs/error-codes/{error.code.replace('_', '-')}"
            )
        inner["message"] = error.message
        if error.param:
            inner["param"] = error.param
        inner.update(error.extra)
        inner["request_log_url"] = self._log_url(request_id)
        inner["type"] = error.type
        return _dumps({"error": inner})

    def _error_outcome(self, error: _ApiError, *, save: bool = False) -> _Outcome:
        request_id = new_id("req")
        body = self._error_body(error, request_id)
        return _Outcome(error.status, body, "application/json", save, request_id)

    def _log_url(self, request_id: str) -> str:
        mode = "" if self.livemode else "test/"
        return f"https://dashboard.stripe.com/{mode}logs/{request_id}?t={_now()}"

    def _execute(self, route: _Route, ctx: _Ctx, args: tuple[str, ...]) -> _Outcome:
        try:
            # Synchronous: no other request is served while the scope is set.
            with self.on_account(ctx.account):
                result = route.handler(ctx, *args)
        except _ApiError as error:
            return self._error_outcome(error, save=error.save)
        request_id = new_id("req")
        if isinstance(result, _Raw):
            return _Outcome(200, result.body, result.content_type, True, request_id)
        return _Outcome(200, _dumps(result), "application/json", True, request_id)

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        for failure in self._failures:
            if failure.method == method and path.startswith(failure.path_prefix):
                failure.count -= 1
                if failure.count <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    @staticmethod
    def _response(outcome: _Outcome, headers: dict[str, str]) -> web.Response:
        return web.Response(
            status=outcome.status,
            body=outcome.body,
            headers={
                **headers,
                "Content-Type": outcome.content_type,
                "Request-Id": outcome.request_id,
            },
        )

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/_"):
            return await self._control(request)
        method = request.method.upper()
        headers = {"Stripe-Version": DEFAULT_STRIPE_VERSION}
        try:
            params, files = await self._read_params(request)
        except (ValueError, UnicodeDecodeError):
            error = _invalid("Invalid request body.")
            return self._response(self._error_outcome(error), headers)
        idempotency_key = request.headers.get("Idempotency-Key") or None
        record = StripeRequest(
            method=method,
            path=request.path,
            params=params,
            headers={str(k): v for k, v in request.headers.items()},
            idempotency_key=idempotency_key,
            api_key=_api_key_from(request.headers.get("Authorization")),
            files=files,
            stripe_account=request.headers.get("Stripe-Account") or None,
        )
        self.requests.append(record)
        headers["Stripe-Version"] = (
            request.headers.get("Stripe-Version") or DEFAULT_STRIPE_VERSION
        )
        if method == "POST" and idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        await self._wait_holds(method, request.path, after=False)

        failure = self._take_failure(method, request.path)
        if failure is not None and not failure.after_execute:
            return self._failure_response(failure, headers)

        try:
            permissions = self._authenticate(record.api_key)
            route, args = self._match(method, request.path)
            ctx = _Ctx(record, permissions, self._connected(record))
            if route.permission:
                self._require(ctx, route.permission)
        except _ApiError as error:
            return self._response(self._error_outcome(error), headers)

        if method == "POST" and idempotency_key:
            outcome = await self._idempotent(route, ctx, args, idempotency_key, headers)
        else:
            outcome = self._execute(route, ctx, args)
        await self._wait_holds(method, request.path, after=True)
        if (
            method == "POST"
            and outcome.status == 200
            and outcome.content_type == "application/json"
            and "Idempotent-Replayed" not in headers
        ):
            changed = json.loads(outcome.body)
            for watch in list(self.watchers):
                watch(record, changed)
        if failure is not None:
            return self._failure_response(failure, headers)
        return self._response(outcome, headers)

    async def _idempotent(
        self,
        route: _Route,
        ctx: _Ctx,
        args: tuple[str, ...],
        key: str,
        headers: dict[str, str],
    ) -> _Outcome:
        record = ctx.request
        fingerprint = json.dumps(
            [record.method, record.path, record.params], sort_keys=True
        )
        # Stripe keeps idempotency keys per account.
        key = f"{ctx.account}:{key}" if ctx.account else key
        lock = self._idempotency_locks.setdefault(key, asyncio.Lock())
        async with lock:
            saved = self._idempotency.get(key)
            if saved is None:
                outcome = self._execute(route, ctx, args)
                if outcome.save:
                    self._idempotency[key] = _Saved(fingerprint, outcome)
                return outcome
        if saved.fingerprint != fingerprint:
            error = _ApiError(
                400,
                "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with. Try using a key other than "
                f"'{key}' if you meant to execute a different request.",
                type_="idempotency_error",
            )
            return self._error_outcome(error)
        headers["Idempotent-Replayed"] = "true"
        headers["Original-Request"] = saved.outcome.request_id
        original = saved.outcome
        return _Outcome(
            original.status, original.body, original.content_type, True, new_id("req")
        )

    def _failure_response(
        self, failure: _Failure, headers: dict[str, str]
    ) -> web.Response:
        request_id = new_id("req")
        body = copy.deepcopy(failure.body)
        if isinstance(body.get("error"), dict):
            body["error"].setdefault("request_log_url", self._log_url(request_id))
        extra = dict(headers)
        if failure.should_retry is not None:
            extra["Stripe-Should-Retry"] = "true" if failure.should_retry else "false"
        outcome = _Outcome(
            failure.status, _dumps(body), "application/json", False, request_id
        )
        return self._response(outcome, extra)

    async def _control(self, request: web.Request) -> web.Response:
        path = request.path
        if request.method == "GET" and path == "/_requests":
            return web.json_response([r.to_json() for r in self.requests])
        if request.method == "GET" and path.startswith("/_objects/"):
            obj = self._objects.get(path.removeprefix("/_objects/"))
            if obj is None:
                return web.json_response({"error": "not found"}, status=404)
            return web.json_response(self._copy(obj))
        if request.method == "POST" and path == "/_latency":
            body = await request.json()
            self.latency = float(body["latency"])
            return web.json_response({"latency": self.latency})
        if request.method == "POST" and path == "/_fail_next":
            body = await request.json()
            self.fail_next(
                str(body["method"]),
                str(body["path_prefix"]),
                status=int(body.get("status", 500)),
                count=int(body.get("count", 1)),
                error=body.get("error"),
                after_execute=bool(body.get("after_execute", False)),
                should_retry=body.get("should_retry"),
            )
            return web.json_response({"ok": True})
        return web.json_response({"error": "unknown control route"}, status=404)


# --------------------------------------------------------------------------- CLI


async def _serve(args: argparse.Namespace) -> None:
    keys: dict[str, frozenset[str] | None] = dict.fromkeys(
        args.api_key or [DEFAULT_API_KEY]
    )
    for spec in args.restricted_key or []:
        key, _, perms = spec.partition("=")
        keys[key] = frozenset(p for p in perms.split(",") if p)
    fake = FakeStripe(api_keys=keys)
    fake.latency = args.latency
    await fake.start(args.port)
    print(f"STRIPE_API_BASE={fake.url}", flush=True)
    if args.seed:
        print(json.dumps(fake.seed_demo()), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Stripe API.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", action="store_true", help="add demo objects")
    parser.add_argument(
        "--api-key",
        action="append",
        help=f"full-access key (default {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--restricted-key",
        action="append",
        metavar="KEY=PERM,PERM",
        help="restricted key and its permissions, e.g. rk_test_x=rak_charge_read",
    )
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
