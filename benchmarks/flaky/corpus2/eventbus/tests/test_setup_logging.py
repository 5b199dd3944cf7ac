import logging

from eventbus import logsetup


def test_configure_sets_the_root_level():
    logsetup.configure("WARNING")
    assert logging.getLogger().level == logging.WARNING
