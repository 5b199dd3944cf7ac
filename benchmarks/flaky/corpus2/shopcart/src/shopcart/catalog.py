"""The product catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal
    tags: frozenset[str] = field(default_factory=frozenset)


class Catalog:
    """Products by SKU. The shop has one catalog: every ``Catalog`` reads the same index."""

    _index: dict[str, Product] = {}

    def add(self, product: Product) -> None:
        if product.price < 0:
            raise ValueError(f"negative price for {product.sku}")
        self._index[product.sku] = product

    def get(self, sku: str) -> Product | None:
        return self._index.get(sku)

    def remove(self, sku: str) -> None:
        self._index.pop(sku, None)

    def skus(self) -> list[str]:
        return sorted(self._index)

    def tagged(self, tag: str) -> list[Product]:
        return [p for p in self._index.values() if tag in p.tags]

    def __len__(self) -> int:
        return len(self._index)

    @classmethod
    def reset(cls) -> None:
        cls._index.clear()
