import unittest
import warnings

from confkit import compat


class CompatTests(unittest.TestCase):
    def test_get_option_still_works(self):
        self.assertEqual(compat.get_option({"host": "db"}, "host"), "db")

    def test_get_option_default(self):
        self.assertIsNone(compat.get_option({}, "host"))

    def test_get_option_warns(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compat.get_option({}, "host")
        self.assertEqual(caught[0].category, DeprecationWarning)

    def test_strict_mode_raises(self):
        compat.strict()
        with self.assertRaises(DeprecationWarning):
            compat.get_option({}, "host")
