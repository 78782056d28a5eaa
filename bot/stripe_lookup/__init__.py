"""Reading customers, payments, disputes and refunds from Stripe.

Shared by `/stripe customer`, `/stripe refund` and `/stripe refunds`. Every call
goes through `bot.stripe_api.call`; objects come back as small frozen records
so that Block Kit builders and checks never touch a live StripeObject.

- `query`: what a person typed, as an email or an ID of an allowed kind;
- `records`: the records lookups return;
- `payments`: a payment (PaymentIntent and charge) and its disputes;
- `customers`: `/stripe customer`;
- `refunds`: `/stripe refunds`, and finding a refund by its metadata.
"""

from bot.stripe_lookup.customers import (
    CUSTOMERS_SHOWN,
    PAYMENT_METHODS_SHOWN,
    PAYMENTS_SHOWN,
    customer_lookup,
)
from bot.stripe_lookup.payments import (
    customer_label,
    dispute_from,
    fetch_disputes,
    fetch_payment,
    payment_from_charge,
    payment_from_intent,
)
from bot.stripe_lookup.query import LookupKind, Query, parse_query
from bot.stripe_lookup.records import (
    OPEN_DISPUTE_STATUSES,
    CustomerInfo,
    CustomerView,
    DisputeInfo,
    Lookup,
    Payment,
    PaymentMethodInfo,
    RefundInfo,
    RefundsLookup,
)
from bot.stripe_lookup.refunds import (
    REFUNDS_SHOWN,
    find_refund_by_metadata,
    refund_from,
    refunds_lookup,
)

__all__ = [
    "CUSTOMERS_SHOWN",
    "OPEN_DISPUTE_STATUSES",
    "PAYMENTS_SHOWN",
    "PAYMENT_METHODS_SHOWN",
    "REFUNDS_SHOWN",
    "CustomerInfo",
    "CustomerView",
    "DisputeInfo",
    "Lookup",
    "LookupKind",
    "Payment",
    "PaymentMethodInfo",
    "Query",
    "RefundInfo",
    "RefundsLookup",
    "customer_label",
    "customer_lookup",
    "dispute_from",
    "fetch_disputes",
    "fetch_payment",
    "find_refund_by_metadata",
    "parse_query",
    "payment_from_charge",
    "payment_from_intent",
    "refund_from",
    "refunds_lookup",
]
