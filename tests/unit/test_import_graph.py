from __future__ import annotations

from greenline.selection.imports import ImportGraph, dotted_names, imported_names


def test_dotted_names_cover_every_import_root() -> None:
    assert dotted_names("src/shop/money.py") == ["src.shop.money", "shop.money", "money"]
    assert dotted_names("shop/__init__.py") == ["shop"]


def test_imports_absolute_relative_and_parents() -> None:
    source = "import os.path\nfrom . import money\nfrom .cart import Cart\nfrom ..x import y\n"
    names = imported_names(source, "src/shop/pricing.py")
    assert {"os", "os.path", "src.shop.money", "src.shop.cart", "src.x.y"} <= names
    assert imported_names("def (:", "broken.py") == set()


def test_transitive_importers_with_the_step_towards_the_file() -> None:
    graph = ImportGraph(
        {
            "src/shop/__init__.py": "from shop.cart import Cart\n",
            "src/shop/cart.py": "from .consts import LIMIT\n",
            "src/shop/consts.py": "LIMIT = 1\n",
            "tests/test_cart.py": "from shop import Cart\n",
            "tests/test_os.py": "import os\n",
        }
    )
    assert graph.reached_from("src/shop/consts.py") == {
        "src/shop/cart.py": "src/shop/consts.py",
        "src/shop/__init__.py": "src/shop/cart.py",
        "tests/test_cart.py": "src/shop/__init__.py",
    }
    assert graph.reached_from("tests/test_os.py") == {}
