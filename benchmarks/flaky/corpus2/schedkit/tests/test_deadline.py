import pytest
from schedkit.deadline import Deadline, DeadlineExceeded


def test_quick_step_leaves_time(remote):
    deadline = Deadline(0.2)
    remote.call(slow=0.3)
    deadline.check()


def test_generous_deadline_has_time_left():
    assert Deadline(60).remaining() > 59


def test_passed_deadline_raises():
    deadline = Deadline(-1)
    with pytest.raises(DeadlineExceeded):
        deadline.check()
