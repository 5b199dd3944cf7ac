"""A small shop: catalogue, cart, pricing and receipts."""

from shop.cart import Cart
from shop.catalogue import Catalogue, Product

__all__ = ["Cart", "Catalogue", "Product"]
