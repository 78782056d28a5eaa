"""`/stripe customer`: the customer, saved PaymentMethods, payments, disputes.

Pure builders from `bot.stripe_lookup` records; every Stripe string is escaped
where it enters mrkdwn.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import DividerBlock

from bot.blocks import (
    MESSAGE_BLOCKS_MAX,
    clip,
    context,
    dashboard_url,
    date_token,
    escape,
    link,
    section,
)
from bot.blocks.refunds import refund_button, section_with_button
from bot.money import format_amount
from bot.stripe_lookup import (
    CustomerView,
    DisputeInfo,
    Lookup,
    Payment,
    PaymentMethodInfo,
)

USAGE = (
    "Write it as `/stripe customer &lt;email | cus_… | pi_… | ch_…&gt;`, e.g. "
    "`/stripe customer jenny@example.com` or `/stripe customer pi_3Abc…`."
)

# Blocks a customer takes besides its payments: details, payment methods,
# payments heading, disputes, divider.
_FIXED_PER_CUSTOMER = 5


def _id_link(object_id: str, livemode: bool, account: str | None = None) -> str:
    return link(dashboard_url(object_id, livemode=livemode, account=account), object_id)


def _words(code: str | None) -> str:
    return escape(code.replace("_", " ")) if code else "unknown"


def _payment_method_line(pm: PaymentMethodInfo) -> str:
    parts = [f"`{escape(pm.id)}`"]
    if pm.brand or pm.last4:
        brand = escape((pm.brand or pm.type).replace("_", " ").title())
        parts.append(f"{brand} •••• {escape(pm.last4 or '????')}")
    else:
        parts.append(_words(pm.type))
    if pm.exp_month and pm.exp_year:
        parts.append(f"expires {pm.exp_month:02d}/{pm.exp_year}")
    line = " · ".join(parts)
    return f"{line} · *default*" if pm.is_default else line


def _dispute_state(dispute: DisputeInfo) -> str:
    kind = "inquiry" if dispute.status.startswith("warning_") else "dispute"
    return f"{kind} {_words(dispute.status.removeprefix('warning_'))}"


def payment_line(payment: Payment, account: str | None = None) -> str:
    """One payment: ID, amount, status, refunded, disputed, date."""
    money = escape(format_amount(payment.amount, payment.currency))
    parts = [
        f"*{money}*",
        _id_link(payment.id, payment.livemode, account),
        _words(payment.status),
    ]
    if payment.amount_refunded:
        refunded = escape(format_amount(payment.amount_refunded, payment.currency))
        fully = payment.amount_refunded >= payment.amount_captured
        parts.append(f"{'fully ' if fully else ''}refunded {refunded}")
    if payment.disputed:
        states = ", ".join(_dispute_state(d) for d in payment.disputes)
        parts.append(f":rotating_light: disputed ({states})" if states else "disputed")
    else:
        parts.append("not disputed")
    if payment.created:
        parts.append(date_token(payment.created, "{date_short_pretty}"))
    line = " · ".join(parts)
    if payment.description:
        line += f"\n{clip(payment.description, 200)}"
    return line


def _refundable(payment: Payment) -> bool:
    return payment.remaining > 0 and payment.blocking_dispute is None


def payment_block(payment: Payment, account: str | None = None) -> dict[str, Any]:
    button = refund_button(payment, account) if _refundable(payment) else None
    return section_with_button(payment_line(payment, account), button)


def _dispute_line(
    dispute: DisputeInfo, livemode: bool, account: str | None = None
) -> str:
    parts = [
        _id_link(dispute.id, livemode, account),
        f"*{escape(format_amount(dispute.amount, dispute.currency))}*",
        _words(dispute.reason),
        _dispute_state(dispute),
    ]
    if dispute.due_by:
        parts.append(f"respond by {date_token(dispute.due_by)}")
    command = f"/stripe dispute {dispute.id}"
    if account is not None:
        command += f" --account {account}"
    return " · ".join(parts) + f" (`{escape(command)}`)"


def _customer_blocks(
    view: CustomerView, payments_shown: int, account: str | None
) -> list[dict[str, Any]]:
    c = view.customer
    live = c.livemode
    facts = [
        f"*Name*\n{clip(c.name, 300) if c.name else 'none'}",
        f"*Email*\n{clip(c.email, 300) if c.email else 'none'}",
        f"*Customer*\n{_id_link(c.id, live, account)}",
        f"*Created*\n{date_token(c.created) if c.created else 'unknown'}",
    ]
    if c.deleted:
        return [section(f"Customer `{escape(c.id)}` has been deleted in Stripe.")]
    blocks = [section(fields=facts)]
    if view.payment_methods:
        lines = [_payment_method_line(pm) for pm in view.payment_methods]
        blocks.append(section("*Saved payment methods*\n" + "\n".join(lines)))
    else:
        blocks.append(section("*Saved payment methods*\nnone"))
    shown = view.payments[:payments_shown]
    if shown:
        heading = "*Recent payments*"
        if len(view.payments) > len(shown) or view.more_payments:
            heading += (
                f" (newest {len(shown)}; "
                + link(
                    dashboard_url(c.id, livemode=live, account=account),
                    "all in the Dashboard",
                )
                + ")"
            )
        blocks.append(section(heading))
        blocks.extend(payment_block(p, account) for p in shown)
    else:
        blocks.append(section("*Recent payments*\nnone"))
    if view.disputes:
        lines = [_dispute_line(d, live, account) for d in view.disputes]
        blocks.append(section("*Open disputes*\n" + "\n".join(lines)))
    else:
        blocks.append(section("*Open disputes*\nnone"))
    return blocks


def customer_answer(
    lookup: Lookup, *, account: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The whole answer, fitted into one message's 50 blocks; `account`: the
    connected account it was looked up in (Connect)."""
    blocks: list[dict[str, Any]] = []
    if account is not None:
        blocks.append(context(f"In connected account `{escape(account)}`"))
    count = len(lookup.customers)
    if lookup.query.kind == "email" and count > 1:
        more = " (and more: search the Dashboard)" if lookup.more_customers else ""
        blocks.append(
            section(
                f"*{count} customers* have the email "
                f"`{escape(lookup.query.value)}`{more}."
            )
        )
    if not lookup.customers and lookup.payment is not None:
        payment = lookup.payment
        blocks.append(section("*Payment* (no Stripe customer attached)"))
        blocks.append(payment_block(payment, account))
        open_disputes = [d for d in payment.disputes if d.open]
        if open_disputes:
            lines = [_dispute_line(d, payment.livemode, account) for d in open_disputes]
            blocks.append(section("*Open disputes*\n" + "\n".join(lines)))
        return f"Payment {escape(payment.id)}", blocks
    if count:
        room = MESSAGE_BLOCKS_MAX - len(blocks) - 1
        per_customer = max(1, min(10, room // count - _FIXED_PER_CUSTOMER))
        for index, view in enumerate(lookup.customers):
            if index:
                blocks.append(DividerBlock().to_dict())
            blocks.extend(_customer_blocks(view, per_customer, account))
    if len(blocks) > MESSAGE_BLOCKS_MAX:
        blocks = blocks[: MESSAGE_BLOCKS_MAX - 1]
        blocks.append(context("More than fits in one message; ask by customer ID."))
    first = lookup.customers[0].customer if lookup.customers else None
    if first is None:
        return "Nothing found", blocks
    name = first.name or first.email or first.id
    text = f"Customer {escape(name)} ({escape(first.id)})"
    if count > 1:
        text = f"{count} customers for {escape(lookup.query.value)}"
    return text, blocks


def not_found(query_text: str) -> str:
    return f"Nothing in Stripe matches `{escape(query_text)}`. {USAGE}"


def malformed(query_text: str) -> str:
    if not query_text:
        return f"Which customer? {USAGE}"
    return (
        f"`{escape(query_text)}` is not an email or a Stripe ID I can look up. {USAGE}"
    )
