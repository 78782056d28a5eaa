"""Money: integer minor units, Stripe's currency exponents, typed amounts."""

import pytest

from bot.money import (
    THREE_DECIMAL,
    ZERO_DECIMAL,
    AmountError,
    currency_code,
    exponent,
    format_amount,
    looks_like_amount,
    parse_amount,
    parse_refund_amount,
    to_major_str,
)


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("usd", 2),
        ("USD", 2),
        ("eur", 2),
        ("jpy", 0),
        ("JPY", 0),
        ("krw", 0),
        ("kwd", 3),
        ("BHD", 3),
        ("tnd", 3),
    ],
)
def test_exponent(currency: str, expected: int) -> None:
    assert exponent(currency) == expected


def test_currency_lists_match_stripe() -> None:
    assert {"jpy", "krw", "vnd", "clp", "xof"} <= ZERO_DECIMAL
    assert len(ZERO_DECIMAL) == 16
    assert frozenset({"bhd", "jod", "kwd", "omr", "tnd"}) == THREE_DECIMAL


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1250, "usd", "12.50 USD"),
        (5, "usd", "0.05 USD"),
        (0, "usd", "0.00 USD"),
        (123450, "usd", "1,234.50 USD"),
        (100000000, "usd", "1,000,000.00 USD"),
        (-1250, "usd", "-12.50 USD"),
        (-5, "usd", "-0.05 USD"),
        (500, "jpy", "500 JPY"),
        (1234567, "JPY", "1,234,567 JPY"),
        (50000, "krw", "50,000 KRW"),
        (1250, "kwd", "1.250 KWD"),
        (1234005, "bhd", "1,234.005 BHD"),
        (7, "bhd", "0.007 BHD"),
    ],
)
def test_format_amount(amount: int, currency: str, expected: str) -> None:
    assert format_amount(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1250, "usd", "12.50"),
        (123450, "usd", "1234.50"),
        (5, "usd", "0.05"),
        (500, "jpy", "500"),
        (1250, "kwd", "1.250"),
        (-1250, "usd", "-12.50"),
    ],
)
def test_to_major_str(amount: int, currency: str, expected: str) -> None:
    assert to_major_str(amount, currency) == expected


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("12.50", "usd", 1250),
        ("12", "usd", 1200),
        ("12.5", "usd", 1250),
        ("0.01", "usd", 1),
        ("1,234.50", "usd", 123450),
        ("1,234,567", "usd", 123456700),
        (" 12.50 ", "usd", 1250),
        ("12.500", "usd", 1250),
        ("500", "jpy", 500),
        ("500", "JPY", 500),
        ("500.00", "jpy", 500),
        ("50,000,000", "krw", 50000000),
        ("1.250", "kwd", 1250),
        ("1.25", "kwd", 1250),
        ("0.005", "bhd", 5),
        ("1,234.005", "bhd", 1234005),
        # Far past float precision: must still be exact.
        ("9007199254740993.01", "usd", 900719925474099301),
    ],
)
def test_parse_amount(text: str, currency: str, expected: int) -> None:
    assert parse_amount(text, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(1250, "usd"), (1, "usd"), (500, "jpy"), (1250, "kwd"), (123456789, "bhd")],
)
def test_round_trip(amount: int, currency: str) -> None:
    assert parse_amount(to_major_str(amount, currency), currency) == amount
    shown = format_amount(amount, currency).split(" ")[0]
    assert parse_amount(shown, currency) == amount


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        (
            "500.5",
            "jpy",
            "JPY has no minor unit, so the amount must be a whole number, like 500.",
        ),
        (
            "1.5",
            "krw",
            "KRW has no minor unit, so the amount must be a whole number, like 500.",
        ),
        ("1.2505", "kwd", "KWD amounts have at most 3 decimal places, like 1.250."),
        ("0.0001", "bhd", "BHD amounts have at most 3 decimal places, like 1.250."),
        ("12.505", "usd", "USD amounts have at most 2 decimal places, like 12.50."),
        ("0", "usd", "The amount must be more than zero, like 12.50."),
        ("0.00", "usd", "The amount must be more than zero, like 12.50."),
        ("-5", "usd", "The amount must be more than zero, like 12.50."),
        ("-5", "jpy", "The amount must be more than zero, like 500."),
        ("", "usd", "Enter an amount in USD, like 12.50."),
        ("   ", "jpy", "Enter an amount in JPY, like 500."),
        (
            "1,250",
            "usd",
            "1,250 could mean 1250 or 1.250. Write it without the comma, with a "
            "point for decimals, like 12.50 for USD.",
        ),
        (
            "50,000",
            "krw",
            "50,000 could mean 50000 or 50.000. Write it without the comma, with a "
            "point for decimals, like 500 for KRW.",
        ),
        (
            "５００",
            "jpy",
            "Write the amount with the digits 0-9 (half-width), like 500 for JPY.",
        ),
        (
            "l2.50",
            "usd",
            "That amount has a letter where a digit should be (l for 1, O for 0?). "
            "Write it in digits, like 12.50 for USD.",
        ),
    ],
)
def test_parse_amount_errors(text: str, currency: str, message: str) -> None:
    with pytest.raises(AmountError) as excinfo:
        parse_amount(text, currency)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "1e3",
        "NaN",
        "Infinity",
        "$12.50",
        "12.50 USD",
        "12,50",
        "1,23",
        "1,2345",
        "12.",
        ".5",
        "1.2.3",
        "+5",
        "1 000",
        "١٢",  # Arabic-Indic digits
        "１２.５０",  # full-width digits
        "O.50",
        "1,250",
        "9" * 40,
    ],
)
def test_parse_amount_rejects_malformed(text: str) -> None:
    with pytest.raises(AmountError) as excinfo:
        parse_amount(text, "usd")
    message = str(excinfo.value)
    assert message.endswith(".")
    assert "USD" in message


def test_amount_error_is_value_error() -> None:
    assert issubclass(AmountError, ValueError)


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [("500", "isk", 50000), ("1500", "huf", 150000), ("40", "twd", 4000)],
)
def test_whole_unit_currencies_refund_whole_units(
    text: str, currency: str, expected: int
) -> None:
    assert parse_refund_amount(text, currency) == expected
    # Elsewhere (a charge, an alert rule) these currencies keep their fractions.
    assert parse_amount(f"{text}.50", currency) == expected + 50


@pytest.mark.parametrize("currency", ["isk", "huf", "twd"])
def test_whole_unit_currencies_refuse_fractions(currency: str) -> None:
    with pytest.raises(AmountError) as excinfo:
        parse_refund_amount("10.50", currency)
    assert str(excinfo.value) == (
        f"Stripe refunds {currency.upper()} in whole units only (no fractions), "
        "like 10."
    )


@pytest.mark.parametrize(
    ("word", "code"),
    [("EUR", "eur"), ("usd", "usd"), ("Jpy", "jpy"), ("ALL", "all"), ("TRY", "try")],
)
def test_currency_codes(word: str, code: str) -> None:
    assert currency_code(word) == code


@pytest.mark.parametrize("word", ["all", "try", "top", "the", "abc", "EURO", "€"])
def test_words_that_are_not_currency_codes(word: str) -> None:
    assert currency_code(word) is None


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("12.50", True),
        ("l2.50", True),
        ("O.50", True),
        ("lO.O", True),
        ("５００", True),
        ("١٢", True),
        ("€5", True),
        ("-3", True),
        (".5", True),
        ("I", False),
        ("Oh", False),
        ("duplicate", False),
        ("lol", False),
    ],
)
def test_words_meant_as_amounts(word: str, expected: bool) -> None:
    assert looks_like_amount(word) is expected
