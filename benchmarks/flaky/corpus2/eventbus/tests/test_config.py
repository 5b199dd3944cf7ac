import os

from eventbus.config import Settings


def test_retries_from_environment(monkeypatch):
    monkeypatch.setenv("EVENTBUS_MAX_RETRIES", "5")
    assert Settings.from_env().max_retries == 5


def test_broker_from_environment():
    os.environ["EVENTBUS_BROKER"] = "redis://cache:6379/0"
    assert Settings.from_env().broker == "redis://cache:6379/0"


def test_settings_are_frozen():
    settings = Settings()
    try:
        settings.broker = "x"  # type: ignore[misc]
    except AttributeError:
        return
    raise AssertionError("Settings should be frozen")
