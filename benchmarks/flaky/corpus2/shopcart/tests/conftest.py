from __future__ import annotations

import random
import time
from decimal import Decimal

import pytest
from shopcart.catalog import Catalog, Product
from shopcart.inventory import Inventory

MUG = Product("M-100", "Mug", Decimal("4.50"), frozenset({"kitchen", "gift"}))
PLATE = Product("P-200", "Plate", Decimal("6.00"), frozenset({"kitchen"}))
SCARF = Product("S-300", "Scarf", Decimal("19.90"), frozenset({"gift", "sale"}))
CUP = Product("C-400", "Cup", Decimal("4.50"), frozenset({"kitchen", "gift"}))


@pytest.fixture
def catalog():
    cat = Catalog()
    for product in (MUG, PLATE, SCARF, CUP):
        cat.add(product)
    yield cat
    for product in (MUG, PLATE, SCARF, CUP):
        cat.remove(product.sku)


@pytest.fixture
def inventory():
    inv = Inventory()
    inv.receive(MUG.sku, 12)
    inv.receive(PLATE.sku, 3)
    inv.receive(SCARF.sku, 0)
    return inv


class SlowBackend:
    """Stands in for the pricing back end: its answers take as long as the real one's do
    on a busy day (anything up to 120 ms)."""

    def __init__(self) -> None:
        self.calls = 0
        self._latency = random.SystemRandom()

    def price(self, sku: str) -> Decimal:
        self.calls += 1
        time.sleep(self._latency.choice([0.0, 0.0, 0.12]))
        return Decimal("9.99")


@pytest.fixture
def backend():
    return SlowBackend()
