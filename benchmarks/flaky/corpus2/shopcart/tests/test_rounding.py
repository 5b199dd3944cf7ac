import decimal
from decimal import Decimal

from shopcart.pricing import round_money


def test_half_cent_rounds_up():
    assert round_money(Decimal("0.005")) == Decimal("0.01")


def test_six_significant_digits():
    decimal.getcontext().prec = 6
    assert Decimal("1") / Decimal("3") == Decimal("0.333333")


def test_negative_amounts():
    assert round_money(Decimal("-1.234")) == Decimal("-1.23")
