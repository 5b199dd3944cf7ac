"""The plugin's experiment options on real pytest runs: what a test touches, what state it leaves
changed, and a frozen clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def rows(path: Path) -> dict[str, dict[str, object]]:
    return {r["test_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_the_probe_sees_what_each_test_touches(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_touch="""
        import asyncio, random, socket, threading, time
        from datetime import datetime

        def test_clock():
            assert datetime.now().year > 2000 and time.time() > 0

        def test_network():
            server = socket.socket()
            server.bind(("127.0.0.1", 0))
            server.listen()
            with socket.create_connection(server.getsockname()):
                pass
            server.close()

        def test_threads():
            t = threading.Thread(target=lambda: time.sleep(0))
            t.start()
            t.join()

        def test_async():
            async def main():
                await asyncio.wait_for(asyncio.sleep(0), timeout=1)
            asyncio.run(main())

        def test_random():
            assert random.randint(1, 6) > 0

        def test_files(tmp_path, tmp_path_factory):
            (tmp_path / "private.txt").write_text("mine")  # its own: not telling
            shared = tmp_path_factory.getbasetemp().parent / "greenline-probe-shared.txt"
            shared.write_text("everyone's")

        def test_pure():
            assert sum([1, 2]) == 3
        """
    )
    out = pytester.path / "probe.jsonl"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--greenline-probe={out}")
    result.assert_outcomes(passed=7)
    seen = rows(out)
    assert seen["test_touch.py::test_clock"]["clock"] == ["datetime.now", "time.time"]
    network = seen["test_touch.py::test_network"]["network"]
    assert any(n.startswith("socket.connect ('127.0.0.1', ") for n in network), network
    assert seen["test_touch.py::test_threads"]["threads"] == ["threading.Thread.start"]
    assert seen["test_touch.py::test_async"]["async"] == ["asyncio.sleep", "asyncio.wait_for"]
    assert "random.randint" in seen["test_touch.py::test_random"]["random"]
    files = seen["test_touch.py::test_files"]["files"]
    assert len(files) == 1 and "greenline-probe-shared.txt (w)" in files[0], files
    pure = seen["test_touch.py::test_pure"]
    assert not any(pure[k] for k in pure if k != "test_id"), pure


def test_the_state_probe_reports_leaked_module_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        state="MODE = 'default'\nITEMS = {}\nLIMIT = 3\nHANDLE = object()\n",
        test_state="""
        import state

        def test_pollutes():
            state.MODE = "fast"
            state.ITEMS["x"] = 1
            state.HANDLE = object()  # no literal writes it back: kept by identity

        def test_cleans():
            state.ITEMS.clear()

        def test_reads():
            assert state.LIMIT == 3
        """,
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    out = pytester.path / "state.jsonl"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--greenline-state={out}")
    result.assert_outcomes(passed=3)
    seen = rows(out)
    changed = {c["name"]: c for c in seen["test_state.py::test_pollutes"]["changed"]}
    assert set(changed) == {"MODE", "ITEMS", "HANDLE"}
    mode, items, handle = changed["MODE"], changed["ITEMS"], changed["HANDLE"]
    assert (mode["file"], mode["initial"], mode["change"]) == ("state.py", "'default'", "rebound")
    assert (mode["before"], mode["after"]) == ("'default'", "'fast'")
    assert (items["initial"], items["change"], items["container"]) == ("{}", "shallow", "dict")
    assert (items["before"], items["after"], items["rebound"]) == ("{}", "{'x': 1}", False)
    assert handle["initial"] is None and handle["change"] == "rebound"
    assert handle["before"].startswith("<object object at ")
    # cumulative against the start: ITEMS is back, MODE and HANDLE are still changed
    assert {c["name"] for c in seen["test_state.py::test_cleans"]["changed"]} == {"MODE", "HANDLE"}


def test_the_state_probe_follows_objects_functions_and_process_state(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        app="""
        class Session:
            def __init__(self):
                self.headers = {}

        class Client:
            registry = []

            def __init__(self):
                self.session = Session()

        client = Client()
        """,
        test_objects="""
        import decimal, json, logging, app

        def test_pollutes():
            app.client.session.headers["Authorization"] = "Bearer t"
            app.Client.registry.append(print)
            app.Client.extra = 1
            json.dumps = lambda value: "stub"
            decimal.getcontext().prec = 5
            logging.getLogger("app.db").setLevel(logging.ERROR)
        """,
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    out = pytester.path / "state.jsonl"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--greenline-state={out}")
    result.assert_outcomes(passed=1)
    changed = {
        (c["module"], c["name"]): c for c in rows(out)["test_objects.py::test_pollutes"]["changed"]
    }
    headers = changed[("app", "client.session.headers")]
    assert (headers["owner"], headers["change"], headers["initial"]) == ("object", "shallow", "{}")
    registry = changed[("app", "Client.registry")]
    assert (registry["owner"], registry["initial"]) == ("class", "[]")
    assert registry["after"] == "[<built-in function print>]"
    assert changed[("app", "Client.extra")]["change"] == "added"
    assert changed[("json", "dumps")]["change"] == "rebound"
    assert changed[("<process>", "decimal.getcontext()")]["after"].startswith("(5, ")
    assert ("<process>", "logging.getLogger('app.db')") in changed


def test_a_frozen_clock_stops_time_for_every_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_clock="""
        import time
        from datetime import datetime, timezone

        def test_now():
            assert datetime.now(timezone.utc).isoformat() == "2000-01-01T00:00:00+00:00"
            first = time.time()
            time.sleep(0.01)
            assert time.time() == first == 946684800.0
        """
    )
    frozen = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--greenline-clock=2000-01-01T00:00:00+00:00"
    )
    frozen.assert_outcomes(passed=1)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(failed=1)


def test_offline_runs_refuse_sockets_inside_tests_only(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import socket

        def pytest_sessionstart():
            socket.getaddrinfo("127.0.0.1", 80)  # pytest's own start-up is not blocked
        """
    )
    pytester.makepyfile(
        test_net="""
        import socket

        def test_lookup():
            socket.getaddrinfo("127.0.0.1", 80)

        def test_pure():
            assert True
        """
    )
    offline = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--greenline-offline")
    offline.assert_outcomes(passed=1, failed=1)
    offline.stdout.fnmatch_lines(["*the network is blocked (socket.getaddrinfo)*"])
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
