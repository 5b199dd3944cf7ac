import random
import threading
import time

from eventbus import bus
from eventbus.parallel import DeliveryStats, SafeStats, publish_parallel

_latency = random.SystemRandom()


def _slow(name):
    def handler(payload):
        time.sleep(_latency.choice([0.0, 0.004]))
        return name

    return handler


def test_parallel_publish_returns_one_result_per_subscriber():
    handlers = [bus.subscribe("report", _slow(n)) for n in ("pdf", "csv", "html")]
    try:
        assert sorted(publish_parallel("report", None)) == ["csv", "html", "pdf"]
    finally:
        for handler in handlers:
            bus.unsubscribe("report", handler)


def test_parallel_publish_keeps_subscription_order():
    handlers = [bus.subscribe("export", _slow(n)) for n in ("pdf", "csv")]
    try:
        assert publish_parallel("export", None) == ["pdf", "csv"]
    finally:
        for handler in handlers:
            bus.unsubscribe("export", handler)


def _deliver_concurrently(stats, topic, deliveries):
    def arrive():
        time.sleep(_latency.choice([0.0, 0.006]))  # events reach the bus when they arrive
        stats.record(topic)

    threads = [threading.Thread(target=arrive) for _ in range(deliveries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_concurrent_deliveries_are_all_counted():
    stats = DeliveryStats()
    _deliver_concurrently(stats, "orders", 2)
    assert stats.delivered["orders"] == 2


def test_locked_stats_count_every_delivery():
    stats = SafeStats()
    _deliver_concurrently(stats, "orders", 4)
    assert stats.delivered["orders"] == 4
