import logging

import eventbus


def test_quiet_mode_keeps_plugins_to_warnings():
    eventbus.quiet()
    assert not logging.getLogger("eventbus.plugins").isEnabledFor(logging.INFO)
