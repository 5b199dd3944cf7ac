from __future__ import annotations

import pytest

from greenline import errors


@pytest.mark.parametrize(
    ("cls", "exit_code", "status"),
    [
        (errors.UsageError, 4, 400),
        (errors.ConfigError, 4, 400),
        (errors.InputError, 4, 422),
        (errors.VcsError, 4, 400),
        (errors.StoreError, 4, 503),
        (errors.NoDataError, 5, 404),
    ],
)
def test_each_class_has_its_exit_code_and_status(
    cls: type[errors.GreenlineError], exit_code: int, status: int
) -> None:
    exc = cls("something is off", hint="do this")
    assert isinstance(exc, errors.GreenlineError)
    assert (exc.exit_code, exc.http_status) == (exit_code, status)
    assert str(exc) == "something is off\nHint: do this"


def test_message_without_hint() -> None:
    assert str(errors.NoDataError("nothing")) == "nothing"
