"""`python -m bot` serves; `python -m bot check` reports; `… migrate` migrates;
`… summary` posts (or prints) the daily summary now.
`… sandbox` runs the bot against a local Slack and Stripe in the browser.

The only place that reads the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys

from aiohttp import web

from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging

log = logging.getLogger("bot")


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


async def _freeze_startup_objects(_app: web.Application) -> None:
    """Keep what start-up built (modules, the app, SQL caches) out of the
    garbage collector's full passes: one over all of it stalls the event loop
    for tens of milliseconds, and every webhook waiting for its 200 with it.
    Runs once the app's resources are up (after the cleanup contexts)."""
    gc.collect()
    gc.freeze()


def serve(settings: Settings) -> None:
    from bot.deps import Deps
    from bot.server import SchemaNotReady, create_app

    async def _app() -> web.Application:
        app = create_app(Deps.create(settings))
        app.on_startup.append(_freeze_startup_objects)
        return app

    log.info(
        "stripe-ops listening on %s:%s (%s mode)",
        settings.HOST,
        settings.PORT,
        "Socket" if settings.socket_mode else "HTTP",
    )
    try:
        web.run_app(
            _app(),
            host=settings.HOST,
            port=settings.PORT,
            print=None,
            access_log=None,
            handle_signals=True,
        )
    except SchemaNotReady as exc:
        print(f"stripe-ops cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def migrate(settings: Settings) -> None:
    from storage.engine import make_engine
    from storage.migrate import current_revision, upgrade

    async def _run() -> str | None:
        engine = make_engine(settings.DATABASE_URL)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(_run())
    print(f"database schema is at revision {revision}")


def check(settings: Settings) -> int:
    from bot.check import run_check

    return asyncio.run(run_check(settings))


def summary(
    settings: Settings, *, day: str | None, print_only: bool, chart: str | None
) -> int:
    from bot.daily.cli import run_summary

    return asyncio.run(
        run_summary(settings, day=day, print_only=print_only, chart_path=chart)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="stripe-ops: Stripe support work in Slack."
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "check", "migrate", "summary", "sandbox"],
        help="serve (default): run the server; check: report on the "
        "configuration and connections; migrate: bring the database schema up "
        "to date; summary: the daily summary now; sandbox: the bot against a "
        "local Slack and Stripe, in the browser, no accounts needed",
    )
    parser.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="summary: the local day to summarize (default: yesterday in TIMEZONE)",
    )
    parser.add_argument(
        "--print",
        dest="print_only",
        action="store_true",
        help="summary: print the text and write the chart file instead of posting",
    )
    parser.add_argument(
        "--chart",
        metavar="PATH",
        help="summary --print: where to write the chart (default: "
        "./daily-summary-YYYY-MM-DD.png)",
    )
    parser.add_argument(
        "--port", type=int, default=3000, help="sandbox: the page's port"
    )
    args = parser.parse_args(argv)
    if args.command != "summary" and (args.date or args.print_only or args.chart):
        parser.error("--date, --print and --chart go with the summary command")
    if args.command == "sandbox":
        # Needs no settings: it makes its own, pointing at its simulators.
        from bot.sandbox import run

        configure_logging(fmt="text", level="WARNING")
        run(port=args.port)
        return
    settings = _settings_or_exit()
    configure_logging(fmt=settings.LOG_FORMAT, level=settings.LOG_LEVEL)
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "summary":
        raise SystemExit(
            summary(
                settings,
                day=args.date,
                print_only=args.print_only,
                chart=args.chart,
            )
        )
    elif args.command == "check":
        raise SystemExit(check(settings))
    else:
        serve(settings)


if __name__ == "__main__":
    main()
