"""The one aiohttp server: Slack, Stripe webhooks, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy import text

import handlers
from bot.deps import Deps
from bot.event_router import EventRouter
from bot.ingest import EventIngest
from bot.logs import correlation_id
from bot.stripe_webhook import NotAnEvent, parse_event, verify_signature
from bot.workers import EventWorker, OutboxSender, WorkerPolicy
from storage import outbox, storms
from storage.checkpoints import WalCheckpointer
from storage.engine import is_sqlite
from storage.migrate import current_revision, head_revision, upgrade

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """Worker timings, and whether to read Stripe at start (tests skip it)."""

    policy: WorkerPolicy = field(default_factory=WorkerPolicy)
    # Read Stripe (e.g. its open disputes) at start, in the background.
    sync_at_start: bool = True
    # SQLite: how often the write-ahead log is checkpointed, off the commit
    # path (storage.checkpoints).
    checkpoint_seconds: float = 1.0


DEPS = web.AppKey("deps", Deps)
BOLT = web.AppKey("bolt", AsyncApp)
ROUTER = web.AppKey("router", EventRouter)
EVENT_WORKER = web.AppKey("event_worker", EventWorker)
OUTBOX_SENDER = web.AppKey("outbox_sender", OutboxSender)
INGEST = web.AppKey("ingest", EventIngest)
CHECKPOINTER = web.AppKey("checkpointer", WalCheckpointer)


def build_bolt_app(deps: Deps) -> AsyncApp:
    settings = deps.settings
    signing_secret = (
        settings.SLACK_SIGNING_SECRET.get_secret_value()
        if settings.SLACK_SIGNING_SECRET
        else ""
    )
    bolt = AsyncApp(
        # The token travels with `client`; Bolt warns when given both.
        signing_secret=signing_secret,
        client=deps.slack,
        # Socket Mode has no HTTP requests to verify; HTTP mode always does.
        request_verification_enabled=not settings.socket_mode,
        logger=logging.getLogger("slack_bolt"),
    )
    handlers.register_slack(bolt, deps)
    return bolt


def create_app(deps: Deps, options: Options | None = None) -> web.Application:
    """Build the server around ready-made dependencies (composition root)."""
    options = options or Options()
    # No middleware: each route names its request (name_request), so the
    # webhook route does not pay aiohttp's middleware chain on every delivery.
    app = web.Application(client_max_size=1024**2)
    router = EventRouter()
    handlers.register_stripe_events(router)
    bolt = build_bolt_app(deps)
    app[DEPS] = deps
    app[BOLT] = bolt
    app[ROUTER] = router
    app[INGEST] = EventIngest(deps)
    # SQLite has one writer: event processing gives way to waiting
    # deliveries. PostgreSQL serves both at once.
    app[EVENT_WORKER] = EventWorker(
        deps,
        router,
        options.policy,
        intake_waiting=app[INGEST].waiting if is_sqlite(deps.engine) else None,
    )
    app[OUTBOX_SENDER] = OutboxSender(deps, options.policy)

    app.router.add_post("/stripe/webhook", stripe_webhook)
    if not deps.settings.socket_mode:
        app.router.add_post("/slack/events", _named(slack_events))
    app.router.add_get("/healthz", _named(healthz))
    app.router.add_get("/metrics", _named(metrics))

    app.cleanup_ctx.append(_dependencies)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_ingest)
    database = deps.engine.url.database
    if is_sqlite(deps.engine) and database and database != ":memory:":
        app[CHECKPOINTER] = WalCheckpointer(
            database, interval=options.checkpoint_seconds
        )
        app.cleanup_ctx.append(_checkpoints)
    app.cleanup_ctx.append(_startup_recovery)
    app.cleanup_ctx.append(_workers)
    app.cleanup_ctx.append(_scheduler)
    if options.sync_at_start:
        app.cleanup_ctx.append(_sync_at_start)
    if deps.settings.socket_mode:
        app.cleanup_ctx.append(_socket_mode)
    return app


# -- resources ---------------------------------------------------------------


async def _cancel(tasks: Sequence[asyncio.Future[None]]) -> None:
    """Stop background tasks and wait until each has stopped."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _dependencies(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[DEPS].aclose()


class SchemaNotReady(RuntimeError):
    """The database is not at the newest migration."""


async def _database(app: web.Application) -> AsyncIterator[None]:
    deps = app[DEPS]
    if is_sqlite(deps.engine):
        # The embedded default keeps itself current; on SQLite there is one
        # process, so claims left by a killed predecessor are free to take.
        await upgrade(deps.engine)
        async with deps.sessions() as session, session.begin():
            await outbox.release_claims(session)
            await storms.release_claims(session)
    else:
        current, head = await current_revision(deps.engine), head_revision()
        if current != head:
            raise SchemaNotReady(
                f"the database schema is at {current or 'nothing'}, the code needs "
                f"{head}: run `python -m bot migrate` (the Procfile's release step)"
            )
    yield


async def _ingest(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[INGEST].run(), name="event-ingest")
    yield
    await _cancel([task])


async def _checkpoints(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[CHECKPOINTER].run(), name="wal-checkpoints")
    yield
    await _cancel([task])


async def _startup_recovery(app: web.Application) -> AsyncIterator[None]:
    deps = app[DEPS]
    for recover in handlers.startup_tasks():
        await recover(deps)
    yield


async def _workers(app: web.Application) -> AsyncIterator[None]:
    tasks = [
        asyncio.create_task(app[EVENT_WORKER].run(), name="event-worker"),
        asyncio.create_task(app[OUTBOX_SENDER].run(), name="outbox-sender"),
    ]
    app[DEPS].wake.events.set()
    app[DEPS].wake.outbox.set()
    yield
    await _cancel(tasks)
    # Hand back what this process held, so another instance or the next
    # start need not wait for the leases to run out.
    deps = app[DEPS]
    try:
        async with deps.sessions() as session, session.begin():
            await outbox.release_claims(session, claimant=deps.instance_id)
            await storms.release_claims(session, claimant=deps.instance_id)
    except Exception as exc:
        # The leases run out by themselves; shutting down must not fail.
        log.warning("could not release claims at shutdown: %s", type(exc).__name__)


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    scheduler = AsyncIOScheduler(timezone="UTC")
    handlers.register_jobs(scheduler, app[DEPS])
    scheduler.start()
    yield
    scheduler.shutdown(wait=False)


async def _sync_at_start(app: web.Application) -> AsyncIterator[None]:
    # Tasks, not awaited here: Slack acks and webhook 200s never wait for
    # Stripe's listings; until they finish the bot says it is still reading.
    tasks = [
        asyncio.ensure_future(sync(app[DEPS]))
        for sync in handlers.background_startup_tasks()
    ]
    yield
    await _cancel(tasks)


async def _socket_mode(app: web.Application) -> AsyncIterator[None]:
    deps = app[DEPS]
    token = deps.settings.SLACK_APP_TOKEN
    assert token is not None
    handler = AsyncSocketModeHandler(
        app[BOLT], token.get_secret_value(), web_client=deps.slack
    )
    await handler.connect_async()  # type: ignore[no-untyped-call]
    yield
    await handler.close_async()  # type: ignore[no-untyped-call]


# -- routes ------------------------------------------------------------------


def name_request(request: web.Request) -> None:
    """Name the request on every log line it causes (lazy listeners inherit it)."""
    given = request.headers.get("X-Request-Id", "")
    rid = given[:64] if given.isascii() and given.isprintable() and given else None
    # Names log lines, no secret: random's generator, not uuid4's system
    # call on every request (a webhook names itself by its event id).
    correlation_id.set(rid or f"req_{random.getrandbits(48):012x}")


def _named(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def named(request: web.Request) -> web.StreamResponse:
        name_request(request)
        return await handler(request)

    return named


async def slack_events(request: web.Request) -> web.StreamResponse:
    """Slash commands, interactivity and events: Bolt verifies and dispatches."""
    bolt = request.app[BOLT]
    try:
        # Slack sends UTF-8; Bolt's adapter would raise on anything else (a
        # 500), and Bolt parses the body before it checks the signature.
        text = (await request.read()).decode("utf-8")
        bolt_request = AsyncBoltRequest(
            body=text,
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        log.warning("rejected a Slack request: %s", type(exc).__name__)
        return web.json_response(
            {"error": "the body is not a Slack request (UTF-8 form or JSON)"},
            status=400,
        )
    response = await bolt.async_dispatch(bolt_request)
    return await to_aiohttp_response(response)


def _reject(request: web.Request, reason: str) -> web.Response:
    request.app[DEPS].metrics.webhooks_rejected.inc()
    log.warning("rejected a Stripe webhook: %s", reason)
    return web.json_response({"error": reason}, status=400)


# The two answers to a stored delivery, encoded once rather than per request.
_STORED = json.dumps({"received": True, "duplicate": False}).encode()
_DUPLICATE = json.dumps({"received": True, "duplicate": True}).encode()


async def stripe_webhook(request: web.Request) -> web.Response:
    """Verify, store durably, then 200; processing happens after."""
    name_request(request)  # until the event names it
    deps = request.app[DEPS]
    payload = await request.read()
    try:
        # Stripe signs and sends UTF-8; the signature is over that text.
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return _reject(request, "the body is not UTF-8 text")
    header = request.headers.get("Stripe-Signature")
    if not verify_signature(text, header, deps.settings.webhook_secrets):
        return _reject(request, "invalid or expired Stripe-Signature")
    try:
        parsed = parse_event(text)
    except NotAnEvent as exc:
        return _reject(request, f"signed, but not a Stripe event: {exc}")
    correlation_id.set(parsed.id)
    event_id, event_type = parsed.id, parsed.type
    new = await request.app[INGEST].store(parsed)
    (deps.metrics.webhooks_stored if new else deps.metrics.webhooks_duplicate).inc()
    log.debug("%s %s (%s)", "stored" if new else "duplicate", event_id, event_type)
    return web.Response(
        body=_STORED if new else _DUPLICATE,
        content_type="application/json",
        charset="utf-8",
    )


async def healthz(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    try:
        async with deps.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        log.error("health check: database unreachable: %s", type(exc).__name__)
        return web.json_response(
            {"status": "error", "database": "unreachable"}, status=503
        )
    return web.json_response({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    async with deps.sessions() as session:
        backlog = await outbox.stats(session, now=deps.clock.now())
    deps.metrics.outbox_depth.set(backlog.depth)
    deps.metrics.outbox_oldest_age.set(backlog.oldest_age)
    body = generate_latest(deps.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
