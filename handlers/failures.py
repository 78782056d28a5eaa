"""One way for every Slack listener to refuse and to apologise.

Bolt's error handler does not see lazy listeners, so each listener is wrapped
instead: a `Refused` from the domain is shown to the person who clicked or
typed, in its own words; anything else is logged with the request's
correlation id and answered with one apology. Either way the answer goes where
the person is (response_url, an ephemeral in the channel, else a DM).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from bot.blocks.refusals import APOLOGY, refusal_text
from bot.deps import Deps
from bot.refusals import Refused
from bot.tell import tell_user

log = logging.getLogger(__name__)

P = ParamSpec("P")


def tell_on_failure(
    deps: Deps, what: str
) -> Callable[[Callable[P, Awaitable[None]]], Callable[P, Awaitable[None]]]:
    """Wrap a listener that takes `body`: its refusals and failures reach the
    person behind the request. `what` names the listener in the log."""

    def wrap(listener: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
        # Bolt passes arguments by the names the listener declares (it reads
        # them through functools.wraps); `body` is how we find the person.
        if "body" not in inspect.signature(listener).parameters:
            raise TypeError(f"{listener.__qualname__} must take `body` to be told")

        @functools.wraps(listener)
        async def wrapped(*args: P.args, **kwargs: P.kwargs) -> None:
            body: dict[str, Any] = kwargs.get("body") or {}  # type: ignore[assignment]
            try:
                await listener(*args, **kwargs)
            except Refused as refused:
                log.info("%s refused: %s", what, type(refused).__name__)
                await tell_user(deps, body, refusal_text(refused))
            except Exception:
                log.exception("%s failed", what)
                await tell_user(deps, body, APOLOGY)

        return wrapped

    return wrap
