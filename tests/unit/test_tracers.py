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
