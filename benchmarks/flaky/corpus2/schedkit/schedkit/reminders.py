"""Reminders that fall due at a wall-clock time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Reminder:
    text: str
    at: datetime

    def is_due(self) -> bool:
        return datetime.now() >= self.at


def remind_in(text: str, **delay: float) -> Reminder:
    return Reminder(text, datetime.now() + timedelta(**delay))


def age_label(created: datetime) -> str:
    seconds = int((datetime.now() - created).total_seconds())
    if seconds < 1:
        return "just now"
    return f"{seconds} second{'s' if seconds != 1 else ''} ago"
