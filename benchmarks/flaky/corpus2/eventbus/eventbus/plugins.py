"""Plugins extend the bus; the manager loads them by module name."""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger("eventbus.plugins")


class Plugin:
    name = "plugin"

    def describe(self) -> str:
        return f"{self.name} ({type(self).__module__})"


class CorePlugin(Plugin):
    name = "core"


class PluginManager:
    def __init__(self) -> None:
        self.plugins: list[Plugin] = []
        self._by_name: dict[str, Plugin] = {}

    def register(self, plugin: Plugin) -> Plugin:
        if plugin.name in self._by_name:
            raise ValueError(f"plugin {plugin.name} is already loaded")
        self.plugins.append(plugin)
        self._by_name[plugin.name] = plugin
        log.info("loaded plugin %s", plugin.name)
        return plugin

    def load(self, module_name: str) -> Plugin:
        module = importlib.import_module(module_name)
        return self.register(module.create())

    def get(self, name: str) -> Plugin | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return [p.name for p in self.plugins]


manager = PluginManager()
manager.register(CorePlugin())
