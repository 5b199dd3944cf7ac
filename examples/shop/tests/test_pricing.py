import pytest

from shop.pricing import DiscountCode, bulk_discount, code_discount, tax, total


def test_no_bulk_below_threshold(cart):
    cart.add("A1", 9)
    assert bulk_discount(cart) == 0


def test_bulk_discount(cart):
    cart.add("A1", 10)
    assert bulk_discount(cart) == 50


def test_code_discount(cart):
    cart.add("K1")
    assert code_discount(cart, DiscountCode("SAVE10", 10)) == 500


def test_code_minimum_not_met(cart):
    cart.add("A1")
    assert code_discount(cart, DiscountCode("BIG", 20, minimum=10_000)) == 0


def test_no_code(cart):
    cart.add("A1")
    assert code_discount(cart, None) == 0


@pytest.mark.parametrize(("sku", "expected"), [("A1", 3), ("B1", 0), ("K1", 1000)])
def test_tax_by_category(cart, sku, expected):
    cart.add(sku)
    assert tax(cart) == expected


def test_total(cart):
    cart.add("K1")
    cart.add("A1", 10)
    code = DiscountCode("SAVE10", 10)
    subtotal = 4999 + 500
    bulk = 50
    discount = (subtotal - bulk) * 10 // 100 + 1
    assert total(cart, code) == subtotal - bulk - discount + 1000 + 25


@pytest.mark.xfail(reason="tax on discounted prices is an open question", strict=True)
def test_tax_after_discount(cart):
    cart.add("K1")
    assert tax(cart) == 900
