"""More kinds of fix on real pytest runs, each verified by greenline and passed by the guard:
a state-setter whose statements need a fixture and define a handler (borrowed, on the state as
it was before any test), a unittest method that needs an earlier method's setup, a set kept in
an attribute and a tie under ``min(..., key=...)`` in the code under test (sorted there), a
timing threshold the code under test measures (a fake clock) beside one the test measures (the
contract: explained, no patch), and the project's own random generator (seeded). Then what
``flaky explain --format json`` gives an agent to write a patch itself."""

from __future__ import annotations

import json
import sys

import pytest

from greenline.flaky.fixes import Patch
from greenline.flaky.rewrites import check_patch
from tests.conftest import init_repo

pytestmark = pytest.mark.usefixtures("without_plugin_autoload")

APP = {
    "jobs.py": (
        "JOBS = {}\n\n\n"
        "def job(name):\n"
        "    def register(func):\n"
        "        if name in JOBS:\n"
        "            raise ValueError(f'job {name} exists')\n"
        "        JOBS[name] = func\n"
        "        return func\n"
        "    return register\n\n\n"
        "def run(name):\n"
        "    return JOBS[name]()\n"
    ),
    "stock.py": (
        "class Stock:\n"
        "    def __init__(self):\n"
        "        self._gone = set()\n\n"
        "    def drop(self, sku):\n"
        "        self._gone.add(sku)\n\n"
        "    def report(self):\n"
        "        return ', '.join(self._gone)\n\n\n"
        "def cheapest(prices):\n"
        "    names = set(prices)\n"
        "    return min(names, key=lambda n: prices[n])\n"
    ),
    "bucket.py": (
        "import time\n\n\n"
        "class Bucket:\n"
        "    def __init__(self, rate):\n"
        "        self.rate, self.tokens, self.at = rate, 1.0, time.monotonic()\n\n"
        "    def take(self):\n"
        "        now = time.monotonic()\n"
        "        self.tokens = min(1.0, self.tokens + (now - self.at) * self.rate)\n"
        "        self.at = now\n"
        "        if self.tokens >= 1:\n"
        "            self.tokens -= 1\n"
        "            return True\n"
        "        return False\n"
    ),
    "ids.py": (
        "import random\n\n_rng = random.Random()\n\n\n"
        "def short_id():\n"
        "    return ''.join(_rng.choices('abcdef', k=2))\n"
    ),
    "load.py": (
        "import os\nimport time\n\n\n"
        "def busy():\n"
        "    # the machine is loaded every other time (a coin no seed controls)\n"
        "    time.sleep(0.08 if os.urandom(1)[0] < 128 else 0.0)\n"
    ),
}
TESTS = {
    "test_jobs.py": "import pytest\n\nfrom app import jobs\n\n\n"
    "def test_register_report(tmp_path):\n"
    "    @jobs.job('report')\n"
    "    def report():\n"
    "        return 'sent'\n\n"
    "    (tmp_path / 'x').write_text('1')\n"
    "    assert 'report' in jobs.JOBS\n\n\n"
    "def test_run_report():\n    assert jobs.run('report') == 'sent'\n",
    "test_cache.py": "import unittest\n\nCACHE = {}\n\n\n"
    "class CacheTests(unittest.TestCase):\n"
    "    def test_1_fill(self):\n        CACHE['a'] = 1\n"
    "        self.assertEqual(CACHE['a'], 1)\n\n"
    "    def test_2_read(self):\n        self.assertEqual(CACHE.get('a'), 1)\n",
    "test_stock.py": "from app.stock import Stock, cheapest\n\n\n"
    "def test_report():\n    stock = Stock()\n    stock.drop('b-2')\n    stock.drop('a-1')\n"
    "    assert stock.report() == 'a-1, b-2'\n\n\n"
    "def test_cheapest():\n    assert cheapest({'pear': 1, 'fig': 1, 'kiwi': 3}) == 'fig'\n",
    "test_bucket.py": "import time\n\nfrom app import load\nfrom app.bucket import Bucket\n\n\n"
    "def test_no_refill_yet():\n    bucket = Bucket(rate=20)\n    assert bucket.take()\n"
    "    load.busy()\n    assert not bucket.take()\n\n\n"
    "def test_quick_enough():\n    start = time.perf_counter()\n    load.busy()\n"
    "    assert time.perf_counter() - start < 0.05\n",
    "test_ids.py": "from app.ids import short_id\n\n\n"
    "def test_ids_differ():\n    assert len({short_id() for _ in range(7)}) == 7\n",
}
FIXES = {
    "tests/test_jobs.py::test_run_report": ("tests/test_jobs.py", "on the state as it was"),
    "tests/test_cache.py::CacheTests::test_2_read": ("tests/test_cache.py", "test_1_fill"),
    "tests/test_stock.py::test_report": ("app/stock.py", "report in app/stock.py"),
    "tests/test_stock.py::test_cheapest": ("app/stock.py", "cheapest in app/stock.py"),
    "tests/test_bucket.py::test_no_refill_yet": ("tests/test_bucket.py", "a fake clock"),
    "tests/test_ids.py::test_ids_differ": ("tests/test_ids.py", "app.ids:_rng"),
}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkpydir("app")
    for name, text in APP.items():
        (pytester.path / "app" / name).write_text(text)
    (pytester.path / "tests").mkdir()
    for name, text in TESTS.items():
        (pytester.path / "tests" / name).write_text(text)
    pytester.makeini("[pytest]\npythonpath = .\n")
    init_repo(pytester.path)
    return pytester


def greenline(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.run(sys.executable, "-m", "greenline", *args)


def test_each_kind_gets_a_verified_patch_the_guard_passes(project: pytest.Pytester) -> None:
    scan = greenline(project, "flaky", "scan", "--runs", "8", "--workers", "2", "-f", "json")
    assert scan.ret == 0, scan.stderr.str()
    found = {t["test_id"]: t for t in json.loads(scan.stdout.str())["tests"]}
    assert found["tests/test_bucket.py::test_quick_enough"]["category"] == "timing"
    for victim, (path, what) in FIXES.items():
        assert found[victim]["verdict"] == "flaky", (victim, found[victim])
        result = greenline(
            project, "flaky", "fix", victim, "--apply", "--verify-runs", "10", "-f", "json"
        )
        assert result.ret == 0, (victim, result.stdout.str(), result.stderr.str())
        doc = json.loads(result.stdout.str())
        assert doc["patch"]["path"] == path and what in doc["patch"]["description"], doc
        before = project.run("git", "show", f"HEAD:{path}").stdout.str() + "\n"
        after = (project.path / path).read_text()
        check_patch(Patch(path, before, after, "the applied fix"))
        project.run("git", "checkout", "-q", "--", path)  # the next fix reuses the scan
    contract = greenline(
        project, "flaky", "fix", "tests/test_bucket.py::test_quick_enough", "-f", "json"
    )
    assert contract.ret == 1
    assert "never widens a threshold" in " ".join(json.loads(contract.stdout.str())["not_offered"])


def test_explain_gives_an_agent_what_a_patch_needs(project: pytest.Pytester) -> None:
    scan = greenline(project, "flaky", "scan", "--runs", "6", "--workers", "2")
    assert scan.ret == 0, scan.stderr.str()
    victim = "tests/test_jobs.py::test_run_report"
    failed = greenline(project, "flaky", "fix", victim, "--verify-runs", "10", "-f", "json")
    assert failed.ret in (0, 1), failed.stderr.str()
    doc = json.loads(greenline(project, "flaky", "explain", victim, "-f", "json").stdout.str())
    diagnosis = doc["diagnosis"]
    assert diagnosis["root_cause"] == "order-dependent"
    assert "fails alone" in diagnosis["summary"]
    assert diagnosis["test"]["path"] == "tests/test_jobs.py" and diagnosis["test"]["line"] > 1
    assert "jobs.run('report')" in diagnosis["test"]["source"]
    setter = diagnosis["polluters"][0]
    assert setter["test_id"] == "tests/test_jobs.py::test_register_report"
    assert "@jobs.job('report')" in setter["source"]
    assert "KeyError" in diagnosis["failure"]["said"]
    attempts = diagnosis["fix_attempts"]
    assert attempts and attempts[-1]["by"] == "flaky fix" and "tried" in attempts[-1]
    assert "verify" in diagnosis["next_step"]
