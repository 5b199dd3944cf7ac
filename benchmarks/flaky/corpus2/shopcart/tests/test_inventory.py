import pytest
from shopcart.inventory import Inventory

from tests.conftest import CUP, MUG, PLATE


class TestLevels:
    def test_receive_and_take(self, inventory):
        inventory.take(MUG.sku, 2)
        assert inventory.level(MUG.sku) == 10

    def test_cannot_take_more_than_stock(self, inventory):
        with pytest.raises(ValueError, match="not enough"):
            inventory.take(PLATE.sku, 4)

    def test_restock_list_in_receiving_order(self, inventory):
        assert inventory.restock_list() == ["P-200", "S-300"]

    def test_discontinued_items_are_not_restocked(self, inventory):
        inventory.discontinue(PLATE.sku)
        assert inventory.restock_list() == ["S-300"]


class TestReports:
    def test_discontinued_report(self, inventory):
        inventory.discontinue("S-300")
        inventory.discontinue("P-200")
        assert inventory.discontinued_report() == "- P-200\n- S-300"

    def test_discontinued_report_keeps_the_order_they_were_discontinued_in(self):
        inv = Inventory()
        for sku in ("Z-9", "A-1", "K-5"):
            inv.discontinue(sku)
        assert inv.discontinued_report() == "- Z-9\n- A-1\n- K-5"

    def test_tags_in_stock(self, inventory, catalog):
        assert inventory.tags_in_stock(catalog) == ["gift", "kitchen"]

    def test_cheapest_gift_in_stock(self, inventory, catalog):
        inventory.receive(CUP.sku, 4)
        assert inventory.cheapest_in_stock(catalog, "gift") == "C-400"

    def test_no_cheapest_when_nothing_in_stock(self, catalog):
        assert Inventory().cheapest_in_stock(catalog, "gift") is None
