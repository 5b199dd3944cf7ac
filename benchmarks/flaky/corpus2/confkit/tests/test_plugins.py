import sys
import unittest
from pathlib import Path

from confkit.plugins import discover

FIXTURES = Path(__file__).parent / "fixtures" / "plugins"


class DiscoverTests(unittest.TestCase):
    def test_clean_environment_has_no_plugins(self):
        self.assertEqual(discover(), [])

    def test_discovers_plugins_on_the_path(self):
        sys.path.insert(0, str(FIXTURES))
        self.assertEqual(discover(), ["confkit_yaml"])
