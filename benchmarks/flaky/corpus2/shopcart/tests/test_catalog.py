from decimal import Decimal

import pytest
from shopcart.catalog import Catalog, Product

from tests.conftest import MUG, SCARF


class TestCatalog:
    def test_new_catalog_is_empty(self):
        assert len(Catalog()) == 0

    def test_add_and_get(self, catalog):
        assert catalog.get("M-100") == MUG

    def test_unknown_sku(self, catalog):
        assert catalog.get("X-999") is None

    def test_negative_price_is_refused(self, catalog):
        with pytest.raises(ValueError, match="negative price"):
            catalog.add(Product("N-1", "Broken", Decimal("-1")))

    def test_skus_are_sorted(self, catalog):
        assert catalog.skus() == ["C-400", "M-100", "P-200", "S-300"]


class TestTags:
    def test_tagged(self, catalog):
        assert {p.sku for p in catalog.tagged("gift")} == {"M-100", "S-300", "C-400"}

    def test_sale_items(self, catalog):
        assert catalog.tagged("sale") == [SCARF]

    def test_product_tags_are_a_set(self):
        assert MUG.tags == frozenset({"gift", "kitchen"})
