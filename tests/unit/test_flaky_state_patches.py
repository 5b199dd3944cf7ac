"""Patches that restore state no literal writes back (objects kept at import, put back by an
autouse fixture), process state beyond the working directory and the environment, borrowed
statements that bring what they need, fake timers and seeded generators: literal sources in,
patched sources out, each still Python and passing the guard."""

from __future__ import annotations

import ast
import textwrap

import pytest

from greenline.flaky.borrow import borrow_reset
from greenline.flaky.fixes import FixError, Leak, restore_state, seed_random
from greenline.flaky.process_fix import PROCESS
from greenline.flaky.rewrites import check_patch
from greenline.flaky.timer_fix import fake_timer


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip()


VICTIM = src(
    """
    from shop.catalog import Catalog


    def test_empty():
        assert len(Catalog()) == 0
    """
)


def leak(name: str, change: str, **more: object) -> Leak:
    fields: dict[str, object] = {"initial": None, "rebound": change in ("rebound", "added")}
    fields.update(more)
    return Leak("shop.catalog", "shop/catalog.py", name, change=change, **fields)  # type: ignore[arg-type]


def test_objects_no_literal_writes_are_kept_at_import_and_put_back_in_place() -> None:
    leaks = [
        leak("Catalog._index", "shallow", container="dict", owner="class"),
        leak("registry.handlers", "deep", container="list", owner="object"),
        leak("fetch", "rebound"),
        leak("Catalog.cached", "added", owner="class"),
    ]
    patch = restore_state("tests/test_c.py", VICTIM, "test_empty", leaks)
    after = patch.after
    assert "import shop.catalog as _greenline_shop_catalog\n" in after
    kept = "_GREENLINE_KEPT['shop.catalog.Catalog._index']"
    assert f"{kept} = copy.copy(_greenline_shop_catalog.Catalog._index)" in after
    assert "    _greenline_shop_catalog.Catalog._index.clear()\n" in after
    assert f"    _greenline_shop_catalog.Catalog._index.update({kept})\n" in after
    deep = "_GREENLINE_KEPT['shop.catalog.registry.handlers']"
    assert f"    _greenline_shop_catalog.registry.handlers[:] = copy.deepcopy({deep})\n" in after
    assert "vars(_greenline_shop_catalog).get('fetch', _GREENLINE_MISSING)" in after
    assert "    if 'cached' in vars(_greenline_shop_catalog.Catalog):\n" in after
    assert "@pytest.fixture(autouse=True)\ndef _greenline_restore_state():\n" in after
    assert "shop.catalog.Catalog._index" in patch.description
    ast.parse(after)
    check_patch(patch)
    # a second fix in the same module gets fixtures and names of its own
    again = restore_state("tests/test_c.py", after, "test_empty", leaks[:1]).after
    assert "def _greenline_restore_state_2():\n" in again and "_GREENLINE_KEPT_2 = {}" in again
    assert again.count("def _greenline_restore_state():\n") == 1
    ast.parse(again)


def process(name: str) -> Leak:
    return Leak(PROCESS, None, name, "x", rebound=True, owner="process")


def test_process_state_beyond_the_environment_is_restored_by_the_fixture() -> None:
    leaks = [
        process("warnings.filters"),
        process("decimal.getcontext()"),
        process("logging.getLogger('app.db')"),
        process("logging.disable"),
        process("logging.root.handlers"),
        process("socket.getdefaulttimeout()"),
    ]
    after = restore_state("tests/test_c.py", VICTIM, "test_empty", leaks).after
    for kept, restored in [
        (
            "_GREENLINE_WARNINGS = list(warnings.filters)",
            "warnings.filters[:] = _GREENLINE_WARNINGS",
        ),
        ("_GREENLINE_DECIMAL = decimal.getcontext().copy()", "decimal.setcontext("),
        ("for n in ['app.db']", "logger.propagate, logger.disabled = propagate, disabled"),
        ("_GREENLINE_LOGGING_DISABLE = ", "logging.disable(_GREENLINE_LOGGING_DISABLE)"),
        ("_GREENLINE_ROOT_LOGGER = ", "logging.root.removeHandler(handler)"),
        ("_GREENLINE_SOCKET_TIMEOUT = ", "socket.setdefaulttimeout(_GREENLINE_SOCKET_TIMEOUT)"),
    ]:
        assert kept in after and restored in after, (kept, restored)
    # pytest's own capture handlers are never removed (caplog keeps working)
    assert "type(handler).__module__.startswith('_pytest')" in after
    for module in ("warnings", "decimal", "logging", "socket", "pytest"):
        assert f"import {module}\n" in after
    namespace: dict[str, object] = {}
    exec(compile(after.replace("from shop.catalog import Catalog\n", ""), "t", "exec"), namespace)


def test_values_a_literal_writes_back_stay_first_statements() -> None:
    leaks = [Leak("shop.catalog", "shop/catalog.py", "LIMIT", "3", rebound=True)]
    after = restore_state("tests/test_c.py", VICTIM, "test_empty", leaks).after
    assert "    shop.catalog.LIMIT = 3\n    assert len(Catalog()) == 0\n" in after
    assert "autouse" not in after


def test_a_state_setter_brings_its_fixtures_imports_and_nested_definitions() -> None:
    donor = src(
        """
        import json
        from jobs import registry


        def test_register(tmp_path, monkeypatch):
            @registry.job("nightly")
            def nightly():
                return json.dumps({"sent": True})

            monkeypatch.setenv("JOBS_DIR", str(tmp_path))
            assert "nightly" in registry.JOBS
        """
    )
    victim = src(
        """
        from jobs import registry


        def test_run(monkeypatch):
            assert registry.run("nightly") == '{"sent": true}'
        """
    )
    patch = borrow_reset(
        "tests/test_run.py", victim, "test_run", donor, "tests/test_a.py::test_register",
        "state-setter",
    )  # fmt: skip
    after = patch.after
    assert "def test_run(monkeypatch, tmp_path):\n" in after
    assert "    import json\n" in after
    assert "    @registry.job('nightly')\n    def nightly():\n" in after
    assert "        return json.dumps({'sent': True})\n" in after
    assert "'nightly' in registry.JOBS" not in after  # the donor's assertion stays behind
    check_patch(patch)


def test_a_method_borrows_from_its_own_class_and_never_from_another_s_self() -> None:
    source = src(
        """
        import unittest

        from conf import loader


        class CacheTests(unittest.TestCase):
            def test_1_load(self):
                self.config = loader.load_cached("a.ini")
                self.assertEqual(self.config["name"], "a")

            def test_2_cached(self):
                self.assertIsNotNone(loader.cached("a.ini"))


        class OtherTests(unittest.TestCase):
            def test_other(self):
                self.assertIsNotNone(loader.cached("a.ini"))
        """
    )
    donor = "tests/test_l.py::CacheTests::test_1_load"
    patch = borrow_reset(
        "tests/test_l.py", source, "CacheTests::test_2_cached", source, donor, "state-setter"
    )
    assert "        self.config = loader.load_cached('a.ini')\n" in patch.after
    assert patch.after.count("assertEqual") == 1
    check_patch(patch)
    with pytest.raises(FixError, match="own test class's self"):
        borrow_reset("tests/test_l.py", source, "OtherTests::test_other", source, donor, "x")


def test_helpers_of_the_donor_module_do_not_travel() -> None:
    donor = "def _helper():\n    return 1\n\n\ndef test_a():\n    _helper()\n"
    with pytest.raises(FixError, match="_helper of their own module"):
        borrow_reset("t.py", "def test_b():\n    assert 1\n", "test_b", donor, "a.py::test_a", "x")


CODE = {
    "sched.bucket": "import time\n\n\ndef now():\n    return time.monotonic()\n",
    "sched.deadline": (
        "from time import perf_counter\n\n\ndef left(d):\n    return d - perf_counter()\n"
    ),
    "sched.cache": src(
        """
        import time


        class Cache:
            def __init__(self, ttl, timer=time.monotonic, *, clock=time.perf_counter):
                self.timer = timer
        """
    ),
}


def test_a_fake_timer_reaches_every_way_the_code_reads_it() -> None:
    test = "from sched import bucket\n\n\ndef test_b(remote):\n    assert bucket.now()\n"
    timers = {"time.monotonic", "time.perf_counter"}
    patch = fake_timer("tests/test_b.py", test, "test_b", CODE, timers)
    after = patch.after
    assert '@unittest.mock.patch("time.monotonic", _greenline_fake_timer)\n' in after
    assert '@unittest.mock.patch("sched.deadline.perf_counter", _greenline_fake_timer)\n' in after
    assert '    _greenline_sched_cache.Cache.__init__,\n    "__defaults__",\n' in after
    assert '    "__kwdefaults__",\n' in after
    assert "_GREENLINE_CLOCK = itertools.count(1_000.0, 0.000_001)\n" in after
    assert after.index("@unittest.mock.patch") < after.index("def test_b(remote):")
    check_patch(patch)
    with pytest.raises(FixError, match="no place"):
        fake_timer("t.py", test, "test_b", {"sched.pure": "def f():\n    return 1\n"}, timers)


def test_the_project_s_own_generators_are_seeded_too() -> None:
    test = "from sched import ids\n\n\ndef test_ids():\n    assert ids.job_id()\n"
    patch = seed_random("t.py", test, "test_ids", 2, ["sched.ids:_rng", "sched.ids:pool.rng"])
    assert "import sched.ids as _greenline_sched_ids\n" in patch.after
    assert "    random.seed(2)\n    _greenline_sched_ids._rng.seed(2)\n" in patch.after
    assert "    _greenline_sched_ids.pool.rng.seed(2)\n" in patch.after
    assert (
        patch.description
        == "seed random, sched.ids:_rng, sched.ids:pool.rng with 2 at the start of the test"
    )
    check_patch(patch)
