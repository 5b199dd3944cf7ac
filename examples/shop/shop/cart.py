"""A shopping cart: lines of products and quantities."""

from __future__ import annotations

from dataclasses import dataclass

from shop.catalogue import Catalogue, Product


@dataclass
class Line:
    product: Product
    quantity: int

    @property
    def subtotal(self) -> int:
        return self.product.price * self.quantity


class Cart:
    MAX_QUANTITY = 99

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.lines: dict[str, Line] = {}

    def add(self, sku: str, quantity: int = 1) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        product = self.catalogue.get(sku)
        line = self.lines.get(sku)
        total = quantity + (line.quantity if line else 0)
        if total > self.MAX_QUANTITY:
            raise ValueError(f"at most {self.MAX_QUANTITY} of one product")
        self.lines[sku] = Line(product, total)

    def remove(self, sku: str, quantity: int | None = None) -> None:
        line = self.lines[sku]
        if quantity is None or quantity >= line.quantity:
            del self.lines[sku]
        else:
            line.quantity -= quantity

    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines.values())

    def subtotal(self) -> int:
        return sum(line.subtotal for line in self.lines.values())

    def is_empty(self) -> bool:
        return not self.lines
