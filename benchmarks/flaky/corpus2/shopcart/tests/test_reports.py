from decimal import Decimal

from shopcart import pricing
from shopcart.orders import Order
from shopcart.pricing import FxClient, fx
from shopcart.promotions import applicable, promotion


def test_report_in_dollars():
    assert fx.convert(Decimal("100"), "USD") == Decimal("110.00")


def test_report_in_pounds_with_the_live_rate():
    published = pricing.exchange_rate
    pricing.exchange_rate = lambda c: Decimal("0.80") if c == "GBP" else published(c)
    assert FxClient().convert(Decimal("100"), "GBP") == Decimal("80.00")


def test_summer_campaign():
    @promotion("summer")
    def summer(order):
        return order.subtotal * Decimal("0.10")

    order = Order("DE")
    order.add("M-100", 12, Decimal("3.00"))
    assert applicable(order) == ["bulk", "summer"]


def test_reduced_rate_for_books():
    pricing.default_taxes.rates["DE"] = Decimal("0.07")
    assert pricing.price_with_tax(Decimal("20.00"), "DE") == Decimal("21.40")
