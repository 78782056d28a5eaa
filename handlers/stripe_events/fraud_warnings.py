"""Early fraud warnings, and the charge events that end their refund offer."""

from __future__ import annotations

from bot import fraud_warnings
from bot.event_router import EventContext
from bot.stripe_shapes import as_int, as_str, event_account, expandable_id
from handlers.stripe_events.alerts import alert_key, send_alert


async def warning_created(ctx: EventContext) -> None:
    """The alert, and the warning noted so the check job can offer a refund."""
    # Never folded into a digest: the alert is edited to carry a button.
    await send_alert(ctx, in_digest=False)
    await fraud_warnings.note_warning(
        ctx.session,
        ctx.obj,
        event_id=ctx.id,
        alert_key=alert_key(ctx.id),
        livemode=ctx.event.get("livemode") is True,
        # Validated: it goes out as Stripe-Account on every call about the charge.
        account=event_account(ctx.event),
        key_live=ctx.deps.settings.stripe_live,
        now=ctx.now,
    )


async def charge_disputed(ctx: EventContext) -> None:
    """A dispute on the charge: its warnings offer no refund any more."""
    charge_id = expandable_id(ctx.obj.get("charge"))
    if charge_id:
        # At the round's end (after its alerts are queued, so a warning
        # alerted in the same round has its alert edited too), once per charge.
        await ctx.later(fraud_warnings.close_on_charges, (charge_id, "disputed"))


async def refund_seen(ctx: EventContext) -> None:
    """A refund on the charge: all refunded ends the offer; less, a new look."""
    obj = ctx.obj
    if obj.get("object") == "charge":
        charge_id = as_str(obj.get("id"))
        captured = as_int(obj.get("amount_captured"))
        refunded = as_int(obj.get("amount_refunded")) or 0
        full = obj.get("refunded") is True or (
            captured is not None and 0 < captured <= refunded
        )
    else:
        charge_id = expandable_id(obj.get("charge"))
        full = False
    if not charge_id:
        return
    if full:
        await ctx.later(fraud_warnings.close_on_charges, (charge_id, "refunded"))
    else:
        # One UPDATE for the round's refunds, not one per refund event.
        await ctx.later(fraud_warnings.recheck_on_charges, charge_id)


async def charge_refunded(ctx: EventContext) -> None:
    """`charge.refunded`: warnings first (same transaction), then the alert."""
    await refund_seen(ctx)
    await send_alert(ctx)
