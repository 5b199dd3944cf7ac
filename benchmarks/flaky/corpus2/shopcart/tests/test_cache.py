from shopcart.cache import PriceCache


def test_fresh_price_is_served_from_the_cache(backend):
    cache = PriceCache(ttl=0.1)
    cache.get("M-100", lambda: backend.price("M-100"))
    cache.get("P-200", lambda: backend.price("P-200"))
    cache.get("M-100", lambda: backend.price("M-100"))
    assert cache.misses == 2


def test_invalidate_forces_a_reload(backend):
    cache = PriceCache(ttl=60)
    cache.get("M-100", lambda: 1)
    cache.invalidate("M-100")
    assert cache.get("M-100", lambda: 2) == 2


def test_expired_entry_is_reloaded():
    ticks = iter([0.0, 0.0, 10.0, 10.0])
    cache = PriceCache(ttl=5, timer=lambda: next(ticks))
    cache.get("a", lambda: 1)
    assert cache.get("a", lambda: 2) == 2
