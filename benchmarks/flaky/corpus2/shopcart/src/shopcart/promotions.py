"""Promotions: each registered promotion says how much it takes off an order."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from shopcart.orders import Order
from shopcart.pricing import round_money

Promotion = Callable[[Order], Decimal]
PROMOTIONS: dict[str, Promotion] = {}


def promotion(name: str) -> Callable[[Promotion], Promotion]:
    def register(func: Promotion) -> Promotion:
        PROMOTIONS[name] = func
        return func

    return register


@promotion("bulk")
def bulk(order: Order) -> Decimal:
    """5% off orders of ten items or more."""
    return round_money(order.subtotal * Decimal("0.05")) if order.items >= 10 else Decimal("0")


@promotion("big-spender")
def big_spender(order: Order) -> Decimal:
    """10 euros off orders over 200 euros."""
    return Decimal("10") if order.subtotal > 200 else Decimal("0")


def applicable(order: Order) -> list[str]:
    return [name for name, promo in PROMOTIONS.items() if promo(order) > 0]


def best_discount(order: Order) -> Decimal:
    return max((promo(order) for promo in PROMOTIONS.values()), default=Decimal("0"))
