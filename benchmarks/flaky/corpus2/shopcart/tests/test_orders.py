from decimal import Decimal

import pytest
from shopcart.catalog import Catalog, Product
from shopcart.orders import Order, checkout_total, order_from_catalog


class TestOrder:
    def test_subtotal(self):
        order = Order()
        order.add("M-100", 2, Decimal("4.50"))
        order.add("P-200", 1, Decimal("6.00"))
        assert order.subtotal == Decimal("15.00")
        assert order.items == 3

    def test_quantity_must_be_positive(self):
        with pytest.raises(ValueError):
            Order().add("M-100", 0, Decimal("1"))

    def test_order_from_catalog(self, catalog):
        order = order_from_catalog(catalog, {"M-100": 2}, "FR")
        assert order.subtotal == Decimal("9.00")

    def test_unknown_sku_in_order(self, catalog):
        with pytest.raises(KeyError):
            order_from_catalog(catalog, {"X-1": 1}, "FR")


class TestCheckout:
    def test_total_with_tax(self):
        order = Order("DE")
        order.add("M-100", 2, Decimal("5.00"))
        assert checkout_total(order) == Decimal("11.90")

    def test_total_of_large_order(self):
        order = Order("NL")
        order.add("B-1", 120, Decimal("87.30"))
        assert checkout_total(order) == Decimal("12675.96")

    def test_discount_before_tax(self):
        order = Order("US")
        order.add("M-100", 10, Decimal("3.00"))
        assert checkout_total(order, Decimal("1.50")) == Decimal("28.50")

    def test_checkout_uses_catalog_prices(self):
        shop = Catalog()
        shop.add(Product("T-1", "Teapot", Decimal("25.00")))
        order = order_from_catalog(shop, {"T-1": 1}, "FR")
        assert checkout_total(order) == Decimal("30.00")
