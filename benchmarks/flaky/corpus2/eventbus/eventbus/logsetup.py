"""Logging for the eventbus daemon."""

from __future__ import annotations

import logging.config


def configure(level: str = "INFO") -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(name)s %(message)s"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "root": {"level": level, "handlers": ["console"]},
        }
    )
