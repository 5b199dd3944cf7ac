"""Alembic migrations of the store; they only move forward and never drop data."""
