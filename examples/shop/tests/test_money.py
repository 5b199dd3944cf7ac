import pytest

from shop.money import format_cents, percent_of, to_cents


@pytest.mark.parametrize(
    ("text", "cents"), [("12.50", 1250), ("0.05", 5), ("7", 700), ("-3.2", -320), ("10.0", 1000)]
)
def test_to_cents(text, cents):
    assert to_cents(text) == cents


@pytest.mark.parametrize("bad", ["", "abc", "1.234", "1.x", "--1"])
def test_to_cents_rejects(bad):
    with pytest.raises(ValueError):
        to_cents(bad)


def test_format_cents():
    assert format_cents(1250) == "12.50 EUR"
    assert format_cents(-5, "USD") == "-0.05 USD"


def test_percent_rounds_half_up():
    assert percent_of(1005, 10) == 101
    assert percent_of(0, 50) == 0
