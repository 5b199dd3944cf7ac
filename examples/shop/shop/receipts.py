"""Receipts: the text a customer takes home."""

from __future__ import annotations

from shop.cart import Cart
from shop.money import format_cents
from shop.pricing import DiscountCode, bulk_discount, code_discount, tax, total


def render_receipt(cart: Cart, code: DiscountCode | None = None) -> str:
    if cart.is_empty():
        raise ValueError("cannot print a receipt for an empty cart")
    lines = []
    for sku in sorted(cart.lines):
        line = cart.lines[sku]
        lines.append(f"{line.quantity:>3} x {line.product.name:<20} {format_cents(line.subtotal)}")
    lines.append(f"{'subtotal':<26} {format_cents(cart.subtotal())}")
    if bulk := bulk_discount(cart):
        lines.append(f"{'bulk discount':<26} {format_cents(-bulk)}")
    if discount := code_discount(cart, code):
        assert code is not None
        lines.append(f"{'code ' + code.code:<26} {format_cents(-discount)}")
    lines.append(f"{'tax':<26} {format_cents(tax(cart))}")
    lines.append(f"{'total':<26} {format_cents(total(cart, code))}")
    return "\n".join(lines)
