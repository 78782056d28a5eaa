"""Log scrubbing: no credential or card number reaches a log line whole."""

from __future__ import annotations

import logging

import pytest

from bot.logs import ScrubFilter, scrub


@pytest.mark.parametrize(
    "secret",
    [
        "xoxb-123456-abcdefABCDEF",
        "xapp-1-A0123-456-abcdef",
        "sk_live_51Habcdefghijklmnop",
        "rk_test_51Habcdefghijklmnop",
        "whsec_abcdefghijklmnop",
    ],
)
def test_credentials_are_cut_to_their_kind(secret: str) -> None:
    line = scrub(f"calling with {secret} now")
    assert secret not in line
    assert secret[:5] in line
    assert "[redacted]" in line


def test_card_numbers_are_removed() -> None:
    line = scrub("card 4242 4242 4242 4242 and 5555555555554444 declined")
    assert "4242 4242" not in line
    assert "5555555555554444" not in line
    assert "card number redacted" in line


def test_ids_and_amounts_survive() -> None:
    line = "refund re_123 of 1250 on ch_3Abc for cus_X at 1700000000"
    assert scrub(line) == line


def test_filter_scrubs_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "key %s", ("sk_test_abcdef123",), None
    )
    try:
        raise RuntimeError("token xoxb-999-secret")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    ScrubFilter().filter(record)
    assert "sk_test_abcdef123" not in record.getMessage()
    assert record.exc_text is not None
    assert "xoxb-999-secret" not in record.exc_text
