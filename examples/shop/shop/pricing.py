"""Pricing rules: bulk discounts, discount codes and tax."""

from __future__ import annotations

from dataclasses import dataclass

from shop.cart import Cart
from shop.money import percent_of

TAX_PERCENT = {"general": 20, "food": 5, "books": 0}
BULK_THRESHOLD = 10
BULK_PERCENT = 10


@dataclass(frozen=True)
class DiscountCode:
    code: str
    percent: int
    minimum: int = 0  # cents


def bulk_discount(cart: Cart) -> int:
    """10% off each line of at least 10 items."""
    return sum(
        percent_of(line.subtotal, BULK_PERCENT)
        for line in cart.lines.values()
        if line.quantity >= BULK_THRESHOLD
    )


def code_discount(cart: Cart, code: DiscountCode | None) -> int:
    if code is None:
        return 0
    base = cart.subtotal() - bulk_discount(cart)
    if base < code.minimum:
        return 0
    return percent_of(base, code.percent)


def tax(cart: Cart) -> int:
    return sum(
        percent_of(line.subtotal, TAX_PERCENT.get(line.product.category, 20))
        for line in cart.lines.values()
    )


def total(cart: Cart, code: DiscountCode | None = None) -> int:
    return cart.subtotal() - bulk_discount(cart) - code_discount(cart, code) + tax(cart)
