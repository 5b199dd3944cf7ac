import importlib
import sys

from eventbus.contrib.metrics import MetricsPlugin
from eventbus.plugins import PluginManager


def test_manager_loads_metrics_plugin():
    plugin = PluginManager().load("eventbus.contrib.metrics")
    assert isinstance(plugin, MetricsPlugin)


def test_metrics_count_topics():
    plugin = MetricsPlugin()
    for topic in ("a", "b", "a"):
        plugin.record(topic)
    assert plugin.counts == {"a": 2, "b": 1}


def test_metrics_module_reloads_cleanly():
    sys.modules.pop("eventbus.contrib.metrics")
    fresh = importlib.import_module("eventbus.contrib.metrics")
    assert fresh.create().counts == {}
