import logging

from eventbus.plugins import CorePlugin, Plugin, PluginManager, manager


class EchoPlugin(Plugin):
    name = "echo"


def test_only_core_plugin_by_default():
    assert manager.names() == ["core"]


def test_loading_a_plugin_is_logged(caplog):
    caplog.set_level(logging.INFO)
    PluginManager().register(EchoPlugin())
    assert "loaded plugin echo" in caplog.text


def test_plugin_loaded_twice_is_refused():
    plugins = PluginManager()
    plugins.register(EchoPlugin())
    try:
        plugins.register(EchoPlugin())
    except ValueError as exc:
        assert "already loaded" in str(exc)
    else:
        raise AssertionError("expected a ValueError")


def test_describe():
    assert CorePlugin().describe() == "core (eventbus.plugins)"


def test_load_metrics_plugin():
    plugin = manager.load("eventbus.contrib.metrics")
    assert manager.get("metrics") is plugin
