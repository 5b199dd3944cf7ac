import pytest


def test_empty(cart):
    assert cart.is_empty()
    assert cart.subtotal() == 0


def test_add_and_count(cart):
    cart.add("A1", 3)
    cart.add("K1")
    assert cart.item_count() == 4
    assert cart.subtotal() == 3 * 50 + 4999


def test_add_merges_lines(cart):
    cart.add("M1")
    cart.add("M1", 2)
    assert cart.lines["M1"].quantity == 3


def test_add_rejects_zero(cart):
    with pytest.raises(ValueError):
        cart.add("M1", 0)


def test_quantity_limit(cart):
    cart.add("A1", 99)
    with pytest.raises(ValueError, match="at most 99"):
        cart.add("A1")


def test_remove_some(cart):
    cart.add("A1", 5)
    cart.remove("A1", 2)
    assert cart.lines["A1"].quantity == 3


def test_remove_all(cart):
    cart.add("A1", 5)
    cart.remove("A1")
    assert cart.is_empty()


def test_unknown_product(cart):
    with pytest.raises(KeyError):
        cart.add("nope")
