import pytest

from shop import Catalogue, Product


def test_lookup(catalogue):
    assert catalogue.get("K1").name == "Keyboard"


def test_unknown_sku(catalogue):
    with pytest.raises(KeyError, match="unknown sku Z9"):
        catalogue.get("Z9")


def test_duplicate_sku(catalogue):
    with pytest.raises(ValueError, match="duplicate"):
        catalogue.add(Product("A1", "Another apple", 60, "food"))


def test_negative_price():
    with pytest.raises(ValueError):
        Catalogue([Product("X", "Broken", -1)])


def test_category(catalogue):
    assert [p.sku for p in catalogue.in_category("general")] == ["K1", "M1"]


def test_search_is_case_insensitive(catalogue):
    assert [p.sku for p in catalogue.search("BOOK")] == ["B1"]


def test_len(catalogue):
    assert len(catalogue) == 4


@pytest.mark.skip(reason="search by price range is not built yet")
def test_search_by_price(catalogue):
    raise AssertionError
