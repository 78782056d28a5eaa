"""Money as integer minor units, with Stripe's currency exponents."""

import re
import unicodedata
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

# Stripe's special cases: two-decimal in the API, but refunds (and charges)
# in whole units only (ISK since 2023; HUF and TWD as Stripe documents them;
# UGX, zero-decimal here, trivially so).
WHOLE_UNITS: frozenset[str] = frozenset({"huf", "isk", "twd", "ugx"})

# ISO 4217 codes in use: a word that is one of these is a currency, not a note.
_ISO_4217 = """
aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob bov
brl bsd btn bwp byn bzd cad cdf che chf chw clf clp cny cop cou crc cup cve czk
djf dkk dop dzd egp ern etb eur fjd fkp gbp gel ghs gip gmd gnf gtq gyd hkd hnl
htg huf idr ils inr iqd irr isk jmd jod jpy kes kgs khr kmf kpw krw kwd kyd kzt
lak lbp lkr lrd lsl lyd mad mdl mga mkd mmk mnt mop mru mur mvr mwk mxn mxv myr
mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf
sar sbd scr sdg sek sgd shp sle sll sos srd ssp stn svc syp szl thb tjs tmt tnd
top try ttd twd tzs uah ugx usd uyu uzs ved ves vnd vuv wst xaf xcd xcg xof xpf
yer zar zmw zwg zwl
"""
ISO_CURRENCIES: frozenset[str] = frozenset(_ISO_4217.split())
# Codes that are also everyday English words: written in lower case they
# start a note ("all of it"); in capitals they are still currencies.
_WORD_CODES: frozenset[str] = frozenset(
    {"all", "bob", "cup", "gel", "mad", "mop", "pen", "sos", "top", "try"}
)

# Letters that a hurried hand types for digits: l2.50, O.50.
_DIGIT_LOOKALIKES = frozenset("lIoO")

# Plain digits with at most one decimal point; thousands commas only in the
# whole part and only in groups of three. ASCII digits only: `\d` would also
# accept other scripts' digits, which nobody means to type into a refund.
_AMOUNT_RE = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")

# One comma and three digits, no decimal point: "1,250" is 1250 to some
# and 1.25 to others, so it is read as neither.
_AMBIGUOUS_COMMA = re.compile(r"[0-9]{1,3},[0-9]{3}")

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


def example_amount(currency: str) -> str:
    """A well-formed amount in this currency, for messages: "12.50", "500"."""
    return _example(currency)


def currency_code(word: str) -> str | None:
    """The lower-case ISO code a word names ("EUR", "usd"), or None.

    Everyday words that are also codes count only in capitals ("ALL" is the
    lek, "all" is a word).
    """
    if len(word) != 3 or not word.isascii() or not word.isalpha():
        return None
    code = word.lower()
    if code not in ISO_CURRENCIES:
        return None
    if code in _WORD_CODES and not word.isupper():
        return None
    return code


def looks_like_amount(word: str) -> bool:
    """Was this word meant as an amount? Digits of any script, a currency
    symbol, a sign or point first, or digit look-alikes around a point."""
    if not word:
        return False
    if any(unicodedata.category(ch) in ("Nd", "Sc") for ch in word):
        return True
    if word[0] in "+-.,":
        return True
    body = word.replace(".", "").replace(",", "")
    return body != word and bool(body) and all(ch in _DIGIT_LOOKALIKES for ch in body)


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
    if any(ch.isdigit() and not ch.isascii() for ch in cleaned):
        raise AmountError(
            f"Write the amount with the digits 0-9 (half-width), like {example} "
            f"for {code}."
        )
    if any(ch in _DIGIT_LOOKALIKES for ch in cleaned) and any(
        ch.isdigit() or ch in ".," for ch in cleaned
    ):
        raise AmountError(
            "That amount has a letter where a digit should be (l for 1, O for "
            f"0?). Write it in digits, like {example} for {code}."
        )
    if _AMBIGUOUS_COMMA.fullmatch(cleaned):
        whole, _, frac = cleaned.partition(",")
        raise AmountError(
            f"{cleaned} could mean {whole}{frac} or {whole}.{frac}. Write it "
            f"without the comma, with a point for decimals, like {example} for "
            f"{code}."
        )
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


def parse_refund_amount(text: str, currency: str) -> int:
    """An amount to refund: `parse_amount`, and whole units where Stripe
    refunds no fractions (ISK, HUF, TWD, UGX)."""
    minor = parse_amount(text, currency)
    check_refundable_units(minor, currency)
    return minor


def check_refundable_units(minor: int, currency: str) -> None:
    """AmountError if Stripe would refuse to refund this many minor units."""
    code = currency.strip().lower()
    unit = 10 ** exponent(code)
    if code in WHOLE_UNITS and unit > 1 and minor % unit:
        raise AmountError(
            f"Stripe refunds {code.upper()} in whole units only (no fractions), "
            f"like {minor // unit or 1}."
        )
