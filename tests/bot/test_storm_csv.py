"""The storm CSV: every event a row, money right, nothing a spreadsheet would run."""

from __future__ import annotations

import csv
import io

import pytest

from bot.storm_csv import StormRow, build_csv, storm_row
from tests.support import charge, early_fraud_warning, event


def parse(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


@pytest.mark.parametrize(
    "hostile", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("x")']
)
def test_stripe_text_that_looks_like_a_formula_is_kept_as_text(hostile: str) -> None:
    row = StormRow(1, "evt_1", "charge.succeeded", hostile, 5, "usd", hostile, hostile)
    [parsed] = parse(build_csv([row]))
    for column in ("object_id", "status", "customer"):
        assert parsed[column] == "'" + hostile


def test_amounts_in_minor_and_major_units_by_the_currency_exponent() -> None:
    rows = [
        StormRow(1_700_000_000, "evt_1", "charge.failed", "ch_1", 1500, "jpy", "", ""),
        StormRow(1_700_000_000, "evt_2", "charge.failed", "ch_2", 1250, "kwd", "", ""),
        StormRow(1_700_000_000, "evt_3", "charge.failed", "ch_3", 1250, "usd", "", ""),
        StormRow(1_700_000_000, "evt_4", "radar.x", "issfr_1", None, None, None, None),
    ]
    parsed = parse(build_csv(rows))
    assert [(r["amount_minor"], r["amount"], r["currency"]) for r in parsed] == [
        ("1500", "1500", "JPY"),
        ("1250", "1.250", "KWD"),
        ("1250", "12.50", "USD"),
        ("", "", ""),
    ]
    assert parsed[0]["created"] == "2023-11-14T22:13:20Z"


def test_a_refunded_charge_counts_its_refunded_amount() -> None:
    evt = event("charge.refunded", charge(amount=5000, amount_refunded=1200))
    row = storm_row(evt)
    assert (row.amount, row.currency, row.object_id) == (1200, "usd", row.object_id)
    assert row.customer == "cus_T1"
    assert StormRow.from_facts(row.as_facts()) == row


def test_an_early_fraud_warning_has_no_amount() -> None:
    row = storm_row(event("radar.early_fraud_warning.created", early_fraud_warning()))
    assert (row.amount, row.currency) == (None, None)
