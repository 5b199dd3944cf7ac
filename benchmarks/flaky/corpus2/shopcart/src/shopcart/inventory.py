"""Stock levels."""

from __future__ import annotations

from shopcart.catalog import Catalog

LOW_STOCK = 5


class Inventory:
    def __init__(self) -> None:
        self._levels: dict[str, int] = {}
        self._discontinued: set[str] = set()

    def receive(self, sku: str, quantity: int) -> None:
        self._levels[sku] = self._levels.get(sku, 0) + quantity

    def take(self, sku: str, quantity: int) -> None:
        if self._levels.get(sku, 0) < quantity:
            raise ValueError(f"not enough {sku} in stock")
        self._levels[sku] -= quantity

    def level(self, sku: str) -> int:
        return self._levels.get(sku, 0)

    def discontinue(self, sku: str) -> None:
        self._discontinued.add(sku)

    def restock_list(self) -> list[str]:
        return [
            sku
            for sku, level in self._levels.items()
            if level < LOW_STOCK and sku not in self._discontinued
        ]

    def discontinued_report(self) -> str:
        return "\n".join(f"- {sku}" for sku in self._discontinued)

    def tags_in_stock(self, catalog: Catalog) -> list[str]:
        tags: set[str] = set()
        for sku, level in self._levels.items():
            product = catalog.get(sku)
            if level > 0 and product is not None:
                tags |= product.tags
        return list(tags)

    def cheapest_in_stock(self, catalog: Catalog, tag: str) -> str | None:
        candidates = {
            p
            for p in catalog.tagged(tag)
            if self.level(p.sku) > 0 and p.sku not in self._discontinued
        }
        if not candidates:
            return None
        return min(candidates, key=lambda p: p.price).sku
