"""Order dependence through state no literal writes back, on real pytest runs: a class-level
index of the project's objects, a registry of handler functions, a monkeypatched function never
put back, a function of the standard library replaced, the decimal context, a named logger a
logging configuration disabled, warnings filters (pytest's warnings plugin off), an attribute
two objects deep. The state probe finds what each polluter leaves changed; the fix keeps it at
import and restores it (or writes the literal back), verified, and the guard passes it."""

from __future__ import annotations

import json
import sys

import pytest

from greenline.flaky.fixes import Patch
from greenline.flaky.rewrites import check_patch
from tests.conftest import init_repo

pytestmark = pytest.mark.usefixtures("without_plugin_autoload")

APP = {
    "catalog.py": (
        "class Product:\n"
        "    def __init__(self, sku):\n"
        "        self.sku = sku\n\n\n"
        "class Catalog:\n"
        "    index = {}\n\n"
        "    def add(self, product):\n"
        "        self.index[product.sku] = product\n"
    ),
    "events.py": (
        "HANDLERS = {}\n\n\n"
        "def on(topic, handler):\n"
        "    HANDLERS.setdefault(topic, []).append(handler)\n\n\n"
        "def emit(topic):\n"
        "    return [h() for h in HANDLERS.get(topic, [])]\n"
    ),
    "rates.py": (
        "import decimal\n"
        "import json\n"
        "import logging\n"
        "import warnings\n\n"
        "log = logging.getLogger('app.rates')\n\n\n"
        "def rate():\n"
        "    return 2\n\n\n"
        "def total(n):\n"
        "    log.info('total of %s', n)\n"
        "    return n * rate()\n\n\n"
        "def third():\n"
        "    return decimal.Decimal(1) / decimal.Decimal(3)\n\n\n"
        "def as_json(value):\n"
        "    return json.dumps(value)\n\n\n"
        "def old_api():\n"
        "    warnings.warn('old_api is deprecated', DeprecationWarning, stacklevel=2)\n"
        "    return 1\n"
    ),
    "client.py": (
        "class Session:\n"
        "    def __init__(self):\n"
        "        self.headers = {'User-Agent': 'app'}\n\n\n"
        "class Client:\n"
        "    def __init__(self):\n"
        "        self.session = Session()\n\n\n"
        "default = Client()\n"
    ),
}
VICTIMS = {
    "tests/test_catalog.py::test_starts_empty": "app.catalog.Catalog.index",
    "tests/test_events.py::test_no_handlers": "app.events.HANDLERS",
    "tests/test_rates.py::test_total": "app.rates.rate",
    "tests/test_rates.py::test_json": "json.dumps",
    "tests/test_rates.py::test_third": "decimal.getcontext()",
    "tests/test_rates.py::test_total_is_logged": "logging.getLogger('app.rates')",
    "tests/test_rates.py::test_old_api_still_answers": "warnings.filters",
    "tests/test_client.py::test_anonymous": "app.client.default.session.headers",
}
TESTS = {
    "test_catalog.py": "from app.catalog import Catalog\n\n\ndef test_starts_empty():\n"
    "    assert len(Catalog().index) == 0\n",
    "test_events.py": "from app import events\n\n\ndef test_no_handlers():\n"
    "    assert events.emit('saved') == []\n",
    "test_rates.py": "import decimal\nimport logging\n\nfrom app import rates\n\n\n"
    "def test_total():\n    assert rates.total(3) == 6\n\n\n"
    "def test_json():\n    assert rates.as_json([1]) == '[1]'\n\n\n"
    "def test_third():\n"
    "    assert rates.third() == decimal.Decimal('0.3333333333333333333333333333')\n\n\n"
    "def test_total_is_logged(caplog):\n    caplog.set_level(logging.INFO)\n"
    "    rates.total(1)\n    assert 'total of 1' in caplog.text\n\n\n"
    "def test_old_api_still_answers():\n    assert rates.old_api() == 1\n",
    "test_client.py": "from app import client\n\n\ndef test_anonymous():\n"
    "    assert 'Authorization' not in client.default.session.headers\n",
    # the polluters run first (pytest runs files in name order: test_a... before the rest)
    "test_a_polluters.py": "import decimal, json, logging.config, warnings\n"
    "from app import client, events, rates\nfrom app.catalog import Catalog, Product\n\n\n"
    "def test_adds_a_product():\n    Catalog().add(Product('A-1'))\n\n\n"
    "def test_registers_a_handler():\n    events.on('saved', lambda: 'audit')\n\n\n"
    "def test_stubs_the_rate():\n    rates.rate = lambda: 10\n\n\n"
    "def test_stubs_json():\n    json.dumps = lambda value: 'stub'\n\n\n"
    "def test_rounds_to_four_digits():\n    decimal.getcontext().prec = 4\n\n\n"
    "def test_configures_logging():\n"
    "    logging.config.dictConfig({'version': 1, 'root': {'level': 'WARNING'}})\n\n\n"
    "def test_strict_deprecations():\n    warnings.simplefilter('error', DeprecationWarning)\n\n\n"
    "def test_logs_in():\n    client.default.session.headers['Authorization'] = 'Bearer t'\n",
}


def git_show(project: pytest.Pytester, path: str) -> str:
    return project.run("git", "show", f"HEAD:{path}").stdout.str() + "\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkpydir("app")
    for name, text in APP.items():
        (pytester.path / "app" / name).write_text(text)
    (pytester.path / "tests").mkdir()
    for name, text in TESTS.items():
        (pytester.path / "tests" / name).write_text(text)
    # this project manages its own warnings: pytest's warnings plugin is off
    pytester.makeini("[pytest]\npythonpath = .\naddopts = -p no:warnings\n")
    init_repo(pytester.path)
    return pytester


def test_state_no_literal_writes_back_is_kept_and_restored(project: pytest.Pytester) -> None:
    scan = project.run(sys.executable, "-m", "greenline", "flaky", "scan", "--runs", "4")
    assert scan.ret == 0, scan.stderr.str()
    for victim, state in VICTIMS.items():
        path = victim.split("::")[0]
        result = project.run(
            sys.executable, "-m", "greenline", "flaky", "fix", victim, "--apply",
            "--verify-runs", "10", "-f", "json",
        )  # fmt: skip
        assert result.ret == 0, (victim, result.stdout.str(), result.stderr.str())
        doc = json.loads(result.stdout.str())
        assert doc["test"]["category"] == "order-dependent", victim
        assert state in doc["patch"]["description"], (victim, doc["patch"]["description"])
        before = git_show(project, path)
        after = (project.path / path).read_text()
        check_patch(Patch(path, before, after, "the applied fix"))  # the guard passes it
        assert "/tmp" not in doc["patch"]["diff"] and "0x" not in doc["patch"]["diff"]
        # each victim after its polluter, in a fresh process: it passes now
        polluter = next(t for t in doc["test"]["polluters"])
        run = project.run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          polluter, victim)  # fmt: skip
        assert run.ret == 0, (victim, run.stdout.str())
        project.run("git", "checkout", "-q", "--", path)  # the next fix reuses the scan
