import unittest
from pathlib import Path

from confkit import loader

HERE = Path(__file__).parent
OTHER = HERE / "data" / "other.ini"


class LoadTests(unittest.TestCase):
    def test_defaults_from_the_project_file(self):
        config = loader.load()
        self.assertEqual(config["name"], "demo")
        self.assertEqual(config["port"], "8000")

    def test_explicit_path(self):
        self.assertEqual(loader.load(OTHER)["port"], "9100")

    def test_missing_file(self):
        with self.assertRaises(FileNotFoundError):
            loader.load(HERE / "data" / "nope.ini")


class CacheTests(unittest.TestCase):
    def test_1_load_fills_the_cache(self):
        config = loader.load_cached(OTHER)
        self.assertEqual(config["name"], "other")

    def test_2_cached_config_is_reused(self):
        self.assertIsNotNone(loader.cached(OTHER))
        self.assertIs(loader.cached(OTHER), loader.load_cached(OTHER))

    def test_uncached_path(self):
        self.assertIsNone(loader.cached(HERE / "data" / "never-loaded.ini"))


class MergeTests(unittest.TestCase):
    def test_default_server_has_one_port(self):
        self.assertEqual(loader.server_defaults()["ports"], [8000])

    def test_merge_overrides_values(self):
        merged = loader.merge({"a": {"x": 1}}, {"a": {"x": 2}})
        self.assertEqual(merged, {"a": {"x": 2}})

    def test_merge_extends_ports(self):
        merged = loader.merge(loader.DEFAULTS, {"server": {"ports": [8443]}})
        self.assertEqual(merged["server"]["ports"], [8000, 8443])
