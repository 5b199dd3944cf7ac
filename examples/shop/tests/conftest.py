import pytest

from shop import Cart, Catalogue, Product


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue(
        [
            Product("A1", "Apple", 50, "food"),
            Product("B1", "Python Book", 3500, "books"),
            Product("K1", "Keyboard", 4999),
            Product("M1", "Mouse", 1999),
        ]
    )


@pytest.fixture
def cart(catalogue: Catalogue) -> Cart:
    return Cart(catalogue)
