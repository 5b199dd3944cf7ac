import unittest

from confkit.schema import Schema


class SchemaTests(unittest.TestCase):
    def test_complete_config_has_no_errors(self):
        schema = Schema(["host", "port"])
        self.assertEqual(schema.errors({"host": "Db1", "port": "5432"}), [])

    def test_registered_check_applies_to_every_schema(self):
        @Schema.check
        def lowercase_host(config):
            host = config.get("host")
            return None if host is None or host.islower() else f"host {host!r} must be lower case"

        self.assertEqual(Schema(["host"]).errors({"host": "DB"}), ["host 'DB' must be lower case"])

    def test_missing_key(self):
        self.assertEqual(Schema(["host"]).errors({}), ["missing host"])

    def test_missing_keys_are_all_reported(self):
        errors = Schema(["host", "port", "user"]).errors({})
        self.assertEqual(errors, ["missing host", "missing port", "missing user"])

    def test_port_must_be_a_number(self):
        self.assertEqual(Schema([]).errors({"port": "http"}), ["port 'http' is not a number"])
