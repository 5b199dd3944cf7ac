"""The products a shop sells."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: int  # cents
    category: str = "general"


class Catalogue:
    def __init__(self, products: list[Product] | None = None) -> None:
        self._products: dict[str, Product] = {}
        for product in products or []:
            self.add(product)

    def add(self, product: Product) -> None:
        if product.sku in self._products:
            raise ValueError(f"duplicate sku {product.sku}")
        if product.price < 0:
            raise ValueError("price must not be negative")
        self._products[product.sku] = product

    def get(self, sku: str) -> Product:
        try:
            return self._products[sku]
        except KeyError:
            raise KeyError(f"unknown sku {sku}") from None

    def in_category(self, category: str) -> list[Product]:
        return sorted(
            (p for p in self._products.values() if p.category == category), key=lambda p: p.sku
        )

    def search(self, text: str) -> list[Product]:
        needle = text.lower()
        return [p for p in self._products.values() if needle in p.name.lower()]

    def __len__(self) -> int:
        return len(self._products)
