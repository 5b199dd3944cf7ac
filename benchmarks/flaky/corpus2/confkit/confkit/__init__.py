"""Layered configuration: files, environment, plugins and schema checks."""
