"""Orders and checkout."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from shopcart.catalog import Catalog
from shopcart.pricing import price_with_tax, round_money


@dataclass
class Line:
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class Order:
    country: str = "DE"
    lines: list[Line] = field(default_factory=list)

    def add(self, sku: str, quantity: int, unit_price: Decimal) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self.lines.append(Line(sku, quantity, unit_price))

    @property
    def items(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0"))


def order_from_catalog(catalog: Catalog, quantities: dict[str, int], country: str) -> Order:
    order = Order(country)
    for sku, quantity in quantities.items():
        product = catalog.get(sku)
        if product is None:
            raise KeyError(sku)
        order.add(sku, quantity, product.price)
    return order


def checkout_total(order: Order, discount: Decimal = Decimal("0")) -> Decimal:
    return price_with_tax(round_money(order.subtotal - discount), order.country)
