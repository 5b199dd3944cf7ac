import logging

from eventbus import bus
from eventbus.config import Settings


def test_publish_reaches_subscribers_in_order():
    first = bus.subscribe("invoice.paid", lambda p: ("mail", p))
    second = bus.subscribe("invoice.paid", lambda p: ("ledger", p))
    try:
        assert bus.publish("invoice.paid", 7) == [("mail", 7), ("ledger", 7)]
    finally:
        bus.unsubscribe("invoice.paid", first)
        bus.unsubscribe("invoice.paid", second)


def test_publish_without_subscribers_returns_nothing():
    assert bus.publish("user.deleted", {"id": 1}) == []


def test_unsubscribed_handler_is_not_called():
    calls = []
    handler = bus.subscribe("cart.updated", calls.append)
    bus.unsubscribe("cart.updated", handler)
    bus.publish("cart.updated", 1)
    assert calls == []


def test_publish_logs_the_topic(caplog):
    caplog.set_level(logging.INFO)
    bus.publish("heartbeat", None)
    assert "published heartbeat to 0 subscriber(s)" in caplog.text


def test_active_topics_lists_each_topic_once():
    topics = ("orders.new", "orders.paid", "orders.new")
    handlers = [bus.subscribe(t, print) for t in topics]
    try:
        assert sorted(bus.active_topics("orders").split(", ")) == ["orders.new", "orders.paid"]
    finally:
        for topic, handler in zip(topics, handlers, strict=True):
            bus.unsubscribe(topic, handler)


def test_active_topics_of_two_subscriptions():
    a = bus.subscribe("shipping.pickup", print)
    b = bus.subscribe("shipping.label", print)
    try:
        assert bus.active_topics("shipping") == "shipping.label, shipping.pickup"
    finally:
        bus.unsubscribe("shipping.pickup", a)
        bus.unsubscribe("shipping.label", b)


def test_default_settings():
    assert Settings.from_env() == Settings("memory://", 3)
