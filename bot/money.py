"""Money as integer minor units, with Stripe's currency exponents."""

import re
from decimal import Decimal, localcontext

# Stripe's zero-decimal currencies: amounts are sent in whole units.
ZERO_DECIMAL: frozenset[str] = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
# Stripe's three-decimal currencies: amounts are sent in thousandths.
THREE_DECIMAL: frozenset[str] = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

# Plain digits with at most one decimal point; thousands commas only in the
# whole part and only in groups of three. ASCII digits only: `\d` would also
# accept other scripts' digits, which nobody means to type into a refund.
_AMOUNT_RE = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")

_EXAMPLES = {0: "500", 2: "12.50", 3: "1.250"}

# Far beyond any amount Stripe accepts; keeps the parser away from absurd input.
_MAX_CHARS = 32


class AmountError(ValueError):
    """An amount a person typed that we cannot use; str() says how to fix it."""


def exponent(currency: str) -> int:
    """Number of minor-unit digits of a currency (0, 2 or 3)."""
    code = currency.strip().lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def _split(amount: int, currency: str) -> tuple[str, int, str]:
    exp = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    frac_str = f".{frac:0{exp}d}" if exp else ""
    return sign, whole, frac_str


def format_amount(amount: int, currency: str) -> str:
    """Minor units to a display string: 123450, "usd" -> "1,234.50 USD"."""
    sign, whole, frac = _split(amount, currency)
    return f"{sign}{whole:,}{frac} {currency.strip().upper()}"


def to_major_str(amount: int, currency: str) -> str:
    """Minor units to plain major units for prefilling inputs: 1250 -> "12.50"."""
    sign, whole, frac = _split(amount, currency)
    return f"{sign}{whole}{frac}"


def _example(currency: str) -> str:
    return _EXAMPLES[exponent(currency)]


def parse_amount(text: str, currency: str) -> int:
    """Major-unit text a person typed to minor units, e.g. "12.50" USD -> 1250."""
    code = currency.strip().upper()
    exp = exponent(currency)
    example = _example(currency)
    cleaned = text.strip()
    if not cleaned:
        raise AmountError(f"Enter an amount in {code}, like {example}.")
    if cleaned.startswith("-"):
        raise AmountError(f"The amount must be more than zero, like {example}.")
    if len(cleaned) > _MAX_CHARS:
        raise AmountError(f"That amount is too large for {code}.")
    if not _AMOUNT_RE.fullmatch(cleaned):
        raise AmountError(
            "Write the amount in digits with at most one decimal point and no "
            f"currency sign, like {example} for {code}."
        )
    # Enough precision for every digit typed, so scaling never rounds.
    with localcontext() as ctx:
        ctx.prec = _MAX_CHARS + 4
        minor = Decimal(cleaned.replace(",", "")).scaleb(exp)
    if minor != minor.to_integral_value():
        if exp == 0:
            raise AmountError(
                f"{code} has no minor unit, so the amount must be a whole number, "
                f"like {example}."
            )
        raise AmountError(
            f"{code} amounts have at most {exp} decimal places, like {example}."
        )
    if minor <= 0:
        raise AmountError(f"The amount must be more than zero, like {example}.")
    return int(minor)
