"""Money as integer cents, so sums never drift."""

from __future__ import annotations


def to_cents(amount: str) -> int:
    """Parse '12.50' into 1250 cents."""
    whole, _, frac = amount.strip().partition(".")
    if not whole.lstrip("-").isdigit() or (frac and not frac.isdigit()) or len(frac) > 2:
        raise ValueError(f"not an amount: {amount!r}")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int(frac.ljust(2, "0") or 0))


def format_cents(cents: int, currency: str = "EUR") -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d} {currency}"


def percent_of(cents: int, percent: int) -> int:
    """``percent`` % of ``cents``, rounded half up to the cent."""
    return (cents * percent + 50) // 100
