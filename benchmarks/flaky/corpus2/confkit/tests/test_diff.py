import unittest

from confkit.diff import changed_keys, format_changes

OLD = {"host": "db1", "port": "5432", "user": "app"}
NEW = {"host": "db2", "port": "6432", "user": "app"}


class DiffTests(unittest.TestCase):
    def test_changed_keys(self):
        self.assertEqual(changed_keys(OLD, NEW), {"host": ("db1", "db2"), "port": ("5432", "6432")})

    def test_no_changes(self):
        self.assertEqual(changed_keys(OLD, dict(OLD)), {})

    def test_added_key(self):
        self.assertEqual(changed_keys({}, {"tls": "on"}), {"tls": (None, "on")})

    def test_changes_are_listed_by_key(self):
        text = format_changes(changed_keys(OLD, NEW))
        self.assertEqual(text, "host: db1 -> db2\nport: 5432 -> 6432")
