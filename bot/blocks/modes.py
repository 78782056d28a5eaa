"""What a message says about where its object lives: test mode, a mode the
bot's key cannot act in, and the connected account (Connect)."""

from __future__ import annotations

from bot.blocks import Place, clip, one_line


def mode_mismatch(livemode: bool, *, key_live: bool | None) -> bool:
    """Does the object live in the other mode than the bot's key? A live key
    cannot touch test objects, nor a test key live ones."""
    return key_live is not None and key_live != livemode


def mismatch_line(livemode: bool, *, key_live: bool | None) -> str | None:
    """The warning a message carries instead of buttons that would fail."""
    if not mode_mismatch(livemode, key_live=key_live):
        return None
    mode, key = ("live", "test") if livemode else ("test", "live")
    return (
        f":warning: This is a *{mode}-mode* object, and stripe-ops runs with a "
        f"{key}-mode key, so it cannot act on it: open it in Stripe instead."
    )


def account_line(where: Place, *, name: str | None) -> str | None:
    """The connected account an object belongs to, by name when we know it;
    the link opens the account's page in the platform's Dashboard."""
    if where.account is None:
        return None
    shown = Place(where.livemode).link(where.account)
    if name:
        return f"Connected account *{clip(one_line(name), 200)}* ({shown})"
    return f"Connected account {shown}"


def place_lines(
    where: Place, *, key_live: bool | None, account_name: str | None = None
) -> list[str]:
    """Lines for a message about an object that lives at `where`."""
    lines = (
        account_line(where, name=account_name),
        mismatch_line(where.livemode, key_live=key_live),
    )
    return [line for line in lines if line is not None]
