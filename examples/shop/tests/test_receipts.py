import pytest

from shop.pricing import DiscountCode
from shop.receipts import render_receipt


def test_receipt_lines(cart):
    cart.add("M1", 2)
    text = render_receipt(cart)
    assert "2 x Mouse" in text
    assert text.splitlines()[-1].endswith("47.98 EUR")


def test_receipt_shows_discounts(cart):
    cart.add("A1", 10)
    text = render_receipt(cart, DiscountCode("HELLO", 5))
    assert "bulk discount" in text
    assert "code HELLO" in text


def test_empty_receipt(cart):
    with pytest.raises(ValueError):
        render_receipt(cart)
