"""Tests that flake by themselves: randomness, hash order, time, network, concurrency, ..."""

import asyncio
import os
import random
import socket
import threading
import time
from datetime import datetime
from pathlib import Path


def coin() -> bool:
    """A fair coin that no seed controls."""
    return os.urandom(1)[0] < 128


# randomness ------------------------------------------------------------------------------


def test_random_threshold():
    assert random.random() < 0.5


def test_random_choice():
    assert random.choice(["red", "green"]) == "red"


def test_random_die():
    assert random.randint(1, 6) <= 3


def test_random_sample_order():
    assert random.sample([1, 2, 3], 3)[0] == 1


# unordered collections -------------------------------------------------------------------


def test_set_first_element():
    assert next(iter({"alpha", "beta", "gamma"})) == "alpha"


def test_set_to_list():
    assert list({"x", "y"}) == ["x", "y"]


def test_joined_tags():
    assert ",".join({"db", "web", "cache"}).startswith("cache")


def test_frozenset_order():
    assert [t for t in frozenset({"north", "south"})][0] == "north"


# time -------------------------------------------------------------------------------------


def test_even_microsecond():
    now = datetime.now()
    assert now.microsecond % 2 == 0, f"odd microsecond at {now.isoformat()}"


def test_timestamp_parity():
    now = datetime.now()
    assert int(now.timestamp() * 1000) % 2 == 0, f"at {now:%Y-%m-%d %H:%M:%S.%f}"


def test_first_half_of_millisecond():
    now = datetime.now()
    assert now.microsecond % 1000 < 500, f"too late in the millisecond: {now.isoformat()}"


# network ----------------------------------------------------------------------------------


def test_fetch_status():
    # the service is up only some of the time: a local port that may not be listening
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    if coin():
        server.listen()
    try:
        with socket.create_connection(server.getsockname(), timeout=1) as conn:
            assert conn.getpeername() == server.getsockname()
    finally:
        server.close()


def test_resolve_host():
    # a lookup that a flaky resolver answers only some of the time
    service = 80 if coin() else "flakelab-status"
    assert socket.getaddrinfo("127.0.0.1", service, type=socket.SOCK_STREAM)


def test_download():
    # a local server that is sometimes slower than the client's read timeout
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    delay = 0.2 if coin() else 0.0

    def serve():
        conn, _ = server.accept()
        time.sleep(delay)
        conn.sendall(b"payload")
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(server.getsockname(), timeout=0.1) as conn:
            assert conn.recv(16) == b"payload"
    finally:
        thread.join()
        server.close()


# floating point ---------------------------------------------------------------------------


def _shuffled(values: list[float]) -> list[float]:
    return sorted(values, key=lambda _: os.urandom(2))


def test_float_sum_order():
    values = _shuffled([0.1, 0.2, 0.3, 0.4, 1e-17, 0.7])
    assert sum(values) == 1.7000000000000002


def test_float_mean():
    values = _shuffled([0.1] * 3 + [0.3] * 3 + [1e-16])
    assert sum(values) / len(values) == 0.17142857142857146


def test_float_accumulate():
    total = 0.0
    for v in _shuffled([0.1, 0.7, 0.2, 1e-16, 0.05]):
        total += v
    assert total == 1.05


# concurrency ------------------------------------------------------------------------------


def test_counter_race():
    counter = [0]

    interleave = coin()  # whether the scheduler switches threads mid-update this time

    def bump():
        for _ in range(50):
            value = counter[0]
            if interleave:
                time.sleep(0)
            counter[0] = value + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter[0] == 200, f"threads lost updates: {counter[0]}"


def test_list_append_race():
    seen = []

    interleave = coin()

    def add():
        for i in range(30):
            if i not in seen:
                if interleave:
                    time.sleep(0)
                seen.append(i)

    threads = [threading.Thread(target=add) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 30, f"threading race: {len(seen)} entries"


def test_result_order_race():
    results = []

    def work(n):
        time.sleep(0.001 if coin() else 0)
        results.append(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0, 1], f"threads finished as {results}"


# async waits ------------------------------------------------------------------------------


def test_wait_for_reply():
    async def reply():
        await asyncio.sleep(0.02 if coin() else 0.001)

    async def main():
        await asyncio.wait_for(reply(), timeout=0.01)

    asyncio.run(main())


def test_event_set_in_time():
    async def main():
        event = asyncio.Event()

        async def setter():
            await asyncio.sleep(0.02 if coin() else 0.001)
            event.set()

        task = asyncio.create_task(setter())
        await asyncio.wait_for(event.wait(), timeout=0.01)
        await task

    asyncio.run(main())


# files ------------------------------------------------------------------------------------


def test_shared_report_file(tmp_path_factory):
    shared = Path(tmp_path_factory.getbasetemp()).parent / "flakelab-report.txt"
    if coin():
        shared.write_text("ok")
    else:
        shared.unlink(missing_ok=True)
    assert shared.read_text() == "ok"


def test_lock_file(tmp_path_factory):
    lock = Path(tmp_path_factory.getbasetemp()).parent / "flakelab.lock"
    if coin():
        lock.write_text("")
    else:
        lock.unlink(missing_ok=True)
    with open(lock) as handle:
        assert handle.read() == ""
