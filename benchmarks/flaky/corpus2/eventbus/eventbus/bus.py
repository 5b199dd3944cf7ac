"""Topics, subscribers and publishing."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger("eventbus.bus")
Handler = Callable[[Any], Any]
_subscribers: defaultdict[str, list[Handler]] = defaultdict(list)


def subscribe(topic: str, handler: Handler) -> Handler:
    _subscribers[topic].append(handler)
    return handler


def unsubscribe(topic: str, handler: Handler) -> None:
    _subscribers[topic].remove(handler)


def subscribers(topic: str) -> list[Handler]:
    return list(_subscribers.get(topic, ()))


def publish(topic: str, payload: Any) -> list[Any]:
    """Deliver ``payload`` to every subscriber of ``topic`` in subscription order."""
    results = [handler(payload) for handler in _subscribers.get(topic, ())]
    log.info("published %s to %d subscriber(s)", topic, len(results))
    return results


def active_topics(namespace: str) -> str:
    """The topics under ``namespace`` (``shipping`` covers ``shipping.label``) that have
    subscribers."""
    prefix = namespace + "."
    return ", ".join(
        {topic for topic, handlers in _subscribers.items() if handlers and topic.startswith(prefix)}
    )
