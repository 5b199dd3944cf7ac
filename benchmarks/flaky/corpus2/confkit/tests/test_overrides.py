import os
import unittest
from unittest import mock

from confkit import loader


class EnvTests(unittest.TestCase):
    def test_default_port(self):
        self.assertEqual(loader.load()["port"], "8000")

    def test_override_port(self):
        os.environ["CONFKIT_PORT"] = "9000"
        self.assertEqual(loader.load()["port"], "9000")

    def test_overrides_are_lowercased(self):
        with mock.patch.dict(os.environ, {"CONFKIT_LOG_LEVEL": "debug"}):
            self.assertEqual(loader.env_overrides()["log_level"], "debug")

    def test_unrelated_variables_are_ignored(self):
        with mock.patch.dict(os.environ, {"OTHER_PORT": "1"}):
            self.assertNotIn("other_port", loader.load())
