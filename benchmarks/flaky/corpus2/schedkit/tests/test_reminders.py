from datetime import datetime, timedelta

import time_machine
from schedkit.reminders import Reminder, age_label, remind_in


def test_reminder_in_the_past_is_due():
    assert Reminder("standup", datetime.now() - timedelta(seconds=1)).is_due()


def test_reminder_is_not_due_yet(remote):
    reminder = remind_in("deploy", milliseconds=150)
    remote.call()
    assert not reminder.is_due()


def test_fresh_job_is_just_now(remote):
    created = datetime.now() - timedelta(milliseconds=850)
    remote.call(slow=0.2)
    assert age_label(created) == "just now"


@time_machine.travel("2024-05-01 12:00:00", tick=False)
def test_age_label_in_seconds():
    assert age_label(datetime(2024, 5, 1, 11, 59, 55)) == "5 seconds ago"


@time_machine.travel("2024-05-01 12:00:00", tick=False)
def test_one_second_ago():
    assert age_label(datetime(2024, 5, 1, 11, 59, 59)) == "1 second ago"


def test_far_future_reminder_is_not_due():
    assert not remind_in("retire", days=3650).is_due()


def test_clock_moves_forward():
    first = datetime.now()
    assert datetime.now() >= first
