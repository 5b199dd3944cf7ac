from decimal import Decimal

from shopcart.orders import Order
from shopcart.promotions import applicable, best_discount, bulk


def order_of(items: int, unit: str = "3.00") -> Order:
    order = Order("DE")
    order.add("M-100", items, Decimal(unit))
    return order


def test_bulk_discount():
    assert bulk(order_of(10)) == Decimal("1.50")


def test_no_bulk_discount_below_ten():
    assert bulk(order_of(9)) == Decimal("0")


def test_only_bulk_applies():
    assert applicable(order_of(12)) == ["bulk"]


def test_nothing_applies_to_small_orders():
    assert applicable(order_of(1, "2.00")) == []


def test_best_discount_for_big_spenders():
    assert best_discount(order_of(2, "150.00")) == Decimal("10")
