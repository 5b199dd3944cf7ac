"""Deterministic tests, among them decoys that look like flaky ones but are not."""

import asyncio
import os
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from flakelab import maths, state


@pytest.mark.parametrize(("n", "expected"), [(0, 0), (1, 1), (2, 1), (10, 55), (20, 6765)])
def test_fib(n, expected):
    assert maths.fib(n) == expected


@pytest.mark.parametrize("x", range(-5, 15))
def test_clamp(x):
    assert 0 <= maths.clamp(x, 0, 9) <= 9


@pytest.mark.parametrize("values", [[1.0], [1.0, 3.0], [2.0, 4.0, 6.0], [0.5, 0.5]])
def test_mean(values):
    assert maths.mean(values) == sum(values) / len(values)


@pytest.mark.parametrize("word", ["alpha", "beta", "gamma", "delta", "epsilon"])
def test_upper(word):
    assert word.upper().lower() == word


def test_lookup_missing():
    assert state.lookup("never-registered") is None


# decoys: they look like the flaky ones, but every run agrees --------------------------------


def test_seeded_random():
    rng = random.Random(42)
    assert [rng.randint(1, 6) for _ in range(3)] == [6, 1, 1]


def test_random_in_range():
    assert 0 <= random.random() < 1


def test_shuffle_keeps_elements():
    items = [3, 1, 2]
    random.shuffle(items)
    assert sorted(items) == [1, 2, 3]


def test_sorted_set():
    assert sorted({"gamma", "alpha", "beta"}) == ["alpha", "beta", "gamma"]


def test_set_equality():
    assert {"x", "y"} == {"y", "x"}


def test_set_length():
    assert len({"db", "web", "cache"}) == 3


def test_fixed_datetime():
    when = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert (when + timedelta(days=1)).day == 2


def test_now_is_after_2020():
    assert datetime.now().year >= 2020


def test_elapsed_is_positive():
    start = time.monotonic()
    assert time.monotonic() >= start


def test_float_approx():
    assert sum([0.1, 0.2]) == pytest.approx(0.3)


def test_float_sorted_sum():
    assert sum(sorted([0.3, 0.1, 0.2])) == 0.6000000000000001


def test_locked_counter():
    counter = [0]
    lock = threading.Lock()

    def bump():
        for _ in range(50):
            with lock:
                value = counter[0]
                time.sleep(0)
                counter[0] = value + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter[0] == 200


def test_thread_results_sorted():
    results = []
    lock = threading.Lock()

    def work(n):
        with lock:
            results.append(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2]


def test_generous_wait():
    async def reply():
        await asyncio.sleep(0.001)

    asyncio.run(asyncio.wait_for(reply(), timeout=5))


def test_gather():
    async def double(x):
        await asyncio.sleep(0)
        return 2 * x

    async def main():
        return await asyncio.gather(*(double(i) for i in range(3)))

    assert asyncio.run(main()) == [0, 2, 4]


def test_private_file(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("ok")
    assert path.read_text() == "ok"


def test_environment_default():
    assert os.environ.get("FLAKELAB_NEVER_SET", "fallback") == "fallback"


def test_connection_refused_is_an_oserror():
    with pytest.raises(OSError):
        raise ConnectionRefusedError("expected")


def test_timeout_is_raised():
    async def slow():
        await asyncio.sleep(1)

    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(slow(), timeout=0.001))
