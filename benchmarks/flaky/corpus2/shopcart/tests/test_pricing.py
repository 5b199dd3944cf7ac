from decimal import Decimal

import pytest
from shopcart import pricing
from shopcart.pricing import FxClient, TaxTable, fx, price_with_tax


class TestTaxes:
    def test_german_vat(self):
        assert price_with_tax(Decimal("10.00"), "DE") == Decimal("11.90")

    def test_french_vat(self):
        assert price_with_tax(Decimal("10.00"), "FR") == Decimal("12.00")

    def test_unknown_country_pays_no_tax(self):
        assert price_with_tax(Decimal("10.00"), "XX") == Decimal("10.00")

    def test_own_tax_table(self):
        table = TaxTable()
        table.rates["DE"] = Decimal("0.07")
        assert price_with_tax(Decimal("10.00"), "DE", table) == Decimal("10.70")


class TestFx:
    def test_first_conversion_asks_the_service(self):
        before = fx.lookups
        fx.convert(Decimal("10"), "USD")
        assert fx.lookups == before + 1

    def test_second_conversion_is_cached(self):
        client = FxClient()
        client.convert(Decimal("10"), "USD")
        client.convert(Decimal("20"), "USD")
        assert client.lookups == 1

    def test_convert_to_pounds(self):
        assert FxClient().convert(Decimal("100"), "GBP") == Decimal("85.00")

    def test_unknown_currency(self):
        with pytest.raises(ValueError, match="unknown currency"):
            FxClient().convert(Decimal("1"), "XYZ")

    def test_stubbed_rate(self, monkeypatch):
        monkeypatch.setattr(pricing, "exchange_rate", lambda currency: Decimal("2"))
        assert FxClient().convert(Decimal("5"), "USD") == Decimal("10.00")
