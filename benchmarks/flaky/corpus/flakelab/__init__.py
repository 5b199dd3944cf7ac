"""A small library whose test suite is the flaky-test benchmark's corpus."""
