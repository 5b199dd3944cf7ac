"""Plugins that ship with eventbus."""
