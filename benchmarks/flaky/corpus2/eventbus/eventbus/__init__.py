"""In-process publish/subscribe with plugins, webhooks and a TCP transport."""

import logging

logging.getLogger("eventbus").addHandler(logging.NullHandler())


def quiet() -> None:
    """Keep the plugin machinery to warnings (for noisy deployments)."""
    logging.getLogger("eventbus.plugins").setLevel(logging.WARNING)
