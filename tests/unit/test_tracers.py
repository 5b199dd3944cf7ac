from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from greenline.tracing.tracers import TRACERS, Tracer, make_tracer

HERE = str(Path(__file__).resolve().parent) + "/"


def helper_a() -> int:
    return sum(helper_b(i) for i in range(100))


def helper_b(i: int) -> int:
    return i * 2


def available() -> list[str]:
    names = ["python-profile"]
    try:
        from greenline import _ctracer  # noqa: F401

        names.append("c-profile")
    except ImportError:
        pass
    if sys.version_info >= (3, 12):
        names.append("sys.monitoring")
    return names


@pytest.fixture(params=available())
def tracer_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(tracer_name: str) -> Iterator[Callable[[tuple[str, ...], tuple[str, ...]], Tracer]]:
    made: list[Tracer] = []

    def factory(include: tuple[str, ...], exclude: tuple[str, ...]) -> Tracer:
        made.append(TRACERS[tracer_name](include, exclude))
        return made[-1]

    yield factory
    for tracer in made:
        tracer.close()


def names_of(codes: list) -> set[str]:  # type: ignore[type-arg]
    return {c.co_name for c in codes}


def test_records_each_code_object_once_per_collect(make: Callable[..., Tracer]) -> None:
    tracer = make((HERE,), ("site-packages",))
    tracer.begin()
    helper_a()
    helper_a()
    tracer.pause()
    codes = tracer.take()
    assert {"helper_a", "helper_b"} <= names_of(codes)
    assert len(codes) == len(set(codes)), "each code object is reported once"
    tracer.begin()
    helper_b(1)
    tracer.pause()
    assert names_of(tracer.take()) == {"helper_b"}


def test_code_run_between_tests_is_seen_again_in_the_next(make: Callable[..., Tracer]) -> None:
    tracer = make((HERE,), ())
    tracer.begin()
    tracer.pause()
    tracer.take()
    helper_b(1)  # pytest's reporting between two tests may run project code (conftest hooks)
    tracer.begin()
    helper_b(2)
    tracer.pause()
    assert "helper_b" in names_of(tracer.take())


def test_ignores_code_outside_the_prefixes(make: Callable[..., Tracer]) -> None:
    tracer = make((HERE,), ())
    tracer.begin()
    Path(__file__).read_text()  # runs pathlib and io code from the standard library
    helper_b(1)
    tracer.pause()
    codes = tracer.take()
    assert all(c.co_filename.startswith(HERE) for c in codes)
    assert "helper_b" in names_of(codes)


def test_excluded_fragments_are_ignored(make: Callable[..., Tracer]) -> None:
    tracer = make((HERE,), ("unit",))
    tracer.begin()
    helper_b(1)
    tracer.pause()
    assert tracer.take() == []


def test_threads_started_during_a_test_are_traced(make: Callable[..., Tracer]) -> None:
    tracer = make((HERE,), ())
    tracer.begin()
    worker = threading.Thread(target=helper_a)
    worker.start()
    worker.join()
    tracer.pause()
    assert "helper_a" in names_of(tracer.take())


def test_function_tracers_leave_a_trace_function_alone(make: Callable[..., Tracer]) -> None:
    def other(frame: object, event: str, arg: object) -> None:
        return None

    before = sys.gettrace()
    sys.settrace(other)
    try:
        tracer = make((HERE,), ())
        tracer.begin()
        helper_b(1)
        tracer.pause()
        assert sys.gettrace() is other, "coverage.py's trace function survives a test"
    finally:
        sys.settrace(before)


def test_make_tracer_picks_the_fastest_available() -> None:
    if sys.version_info >= (3, 12):
        expected = "sys.monitoring"
    else:
        expected = "c-profile" if "c-profile" in available() else "python-profile"
    tracer = make_tracer((HERE,))
    try:
        assert tracer.name == expected
    finally:
        tracer.close()


def branchy(n: int) -> str:
    if n < 0:
        return "negative"
    return "non-negative"


def line_of(text: str, function: Callable[..., object] = branchy) -> int:
    code = function.__code__
    lines = Path(code.co_filename).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line and i > code.co_firstlineno)


@pytest.fixture
def make_lines(tracer_name: str) -> Iterator[Callable[[tuple[str, ...]], Tracer]]:
    if sys.gettrace() is not None:
        pytest.skip("another trace function is installed (coverage or a debugger)")
    made: list[Tracer] = []

    def factory(include: tuple[str, ...]) -> Tracer:
        made.append(TRACERS[tracer_name](include, (), True))  # type: ignore[call-arg]
        return made[-1]

    yield factory
    for tracer in made:
        tracer.close()


def lines_by_name(tracer: Tracer) -> dict[str, set[int]]:
    tracer.pause()
    tracer.take()
    return {code.co_name: lines for code, lines in tracer.take_lines().items()}


def test_lines_run_in_each_test_are_recorded(make_lines: Callable[..., Tracer]) -> None:
    tracer = make_lines((HERE,))
    negative, positive = line_of('return "negative"'), line_of('return "non-negative"')
    tracer.begin()
    branchy(-1)
    branchy(-2)
    lines = lines_by_name(tracer)["branchy"]
    assert negative in lines and positive not in lines
    tracer.begin()
    branchy(1)
    lines = lines_by_name(tracer)["branchy"]
    assert positive in lines and negative not in lines, "each test starts afresh"
    tracer.begin()
    branchy(-1)
    assert negative in lines_by_name(tracer)["branchy"], "a line seen before is seen again"


def test_lines_of_threads_are_recorded(make_lines: Callable[..., Tracer]) -> None:
    tracer = make_lines((HERE,))
    tracer.begin()
    worker = threading.Thread(target=branchy, args=(1,))
    worker.start()
    worker.join()
    assert line_of('return "non-negative"') in lines_by_name(tracer)["branchy"]


def test_lines_outside_the_prefixes_are_ignored(make_lines: Callable[..., Tracer]) -> None:
    tracer = make_lines((HERE,))
    tracer.begin()
    Path(__file__).read_text()
    branchy(1)
    tracer.pause()
    assert all(c.co_filename.startswith(HERE) for c in tracer.take())
    assert all(c.co_filename.startswith(HERE) for c in tracer.take_lines())


def test_function_tracers_report_no_lines(make: Callable[..., Tracer]) -> None:
    tracer = make((HERE,), ())
    tracer.begin()
    branchy(1)
    tracer.pause()
    assert "branchy" in names_of(tracer.take())
    assert tracer.take_lines() == {}


def test_a_line_tracer_leaves_another_trace_function_alone() -> None:
    if sys.gettrace() is not None:
        pytest.skip("another trace function is installed (coverage or a debugger)")

    def other(frame: object, event: str, arg: object) -> None:
        return None

    sys.settrace(other)
    try:
        for name in set(available()) - {"sys.monitoring"}:
            with pytest.raises(RuntimeError, match="another trace function"):
                TRACERS[name]((HERE,), (), True)  # type: ignore[call-arg]
        if sys.version_info < (3, 12):
            with pytest.raises(RuntimeError, match="another trace function"):
                make_tracer((HERE,), lines=True)
        assert sys.gettrace() is other
    finally:
        sys.settrace(None)
