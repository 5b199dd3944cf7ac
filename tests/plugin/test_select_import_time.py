"""Import-time dependencies: what runs while the project's modules are imported, before the first
test, is recorded per module, and a change there selects the tests that depend on that module."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from greenline.api import Greenline
from greenline.store import reads
from tests.conftest import git, init_repo

RECORD = ("--greenline-record", "-p", "no:cacheprovider")

GRAMMAR = """
def plus(a, b):
    return a + b


def minus(a, b):
    return a - b


def make_rules():
    return {"add": plus, "sub": minus}


def unused_at_import():
    return 0
"""

REGISTRY = """
from shop.grammar import make_rules

RULES = make_rules()


def lookup(name):
    return RULES[name]
"""

TABLES = """
def build_table():
    return [n * n for n in range(5)]


SQUARES = build_table()
"""


def select_ids(project: pytest.Pytester, *args: str) -> list[str]:
    result = project.run(sys.executable, "-m", "greenline", "select", "-f", "ids", *args)
    assert result.ret == 0, result.stderr.str()
    return result.stdout.lines


def select_doc(project: pytest.Pytester) -> dict[str, object]:
    result = project.run(sys.executable, "-m", "greenline", "select", "-f", "json")
    assert result.ret == 0, result.stderr.str()
    doc: dict[str, object] = json.loads(result.stdout.str())
    return doc


@pytest.fixture
def shop(pytester: pytest.Pytester) -> pytest.Pytester:
    """A package whose registry is built at import by a function of another module: the tests
    use the registry's rules but never call ``make_rules``."""
    pkg = pytester.mkpydir("shop")
    (pkg / "grammar.py").write_text(GRAMMAR)
    (pkg / "registry.py").write_text(REGISTRY)
    (pkg / "tables.py").write_text(TABLES)
    pytester.makepyfile(
        test_registry="""
        from shop import registry

        def test_add_rule():
            assert registry.RULES["add"](2, 3) == 5
        """,
        test_through=(
            "import shop.registry as r\n\n\n"
            "def test_sub_rule():\n"
            "    assert r.RULES['sub'](5, 3) == 2\n"
        ),
        test_tables="""
        from shop.tables import SQUARES

        def test_squares():
            assert SQUARES[3] == 9
        """,
        test_other="""
        def test_unrelated():
            assert 1 + 1 == 2
        """,
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / ".gitignore").write_text("__pycache__/\n")
    init_repo(pytester.path)
    pytester.runpytest_subprocess(*RECORD).assert_outcomes(passed=4)
    return pytester


def edit(project: pytest.Pytester, path: str, old: str, new: str) -> None:
    file = project.path / path
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new))


def test_import_time_sites_are_recorded_per_module(shop: pytest.Pytester) -> None:
    with Greenline.open(shop.path) as gl, gl.store.read() as conn:
        run = gl.runs.list_runs(limit=1)[0]
        modules = reads.run_import_coverage(conn, run.id)
        coverage = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run.id)}
    names = {module: {b.name for b in blocks} for module, blocks in modules.items()}
    assert "make_rules" in names["shop/registry.py"], "registry's import ran make_rules"
    assert "build_table" in names["shop/tables.py"]
    assert "unused_at_import" not in names["shop/registry.py"]
    # no test ran make_rules itself: per-test tracing alone would never select anything for it
    assert all(b.name != "make_rules" for blocks in coverage.values() for b in blocks)


def test_a_change_in_code_run_at_import_selects_the_dependent_tests(
    shop: pytest.Pytester,
) -> None:
    edit(shop, "shop/grammar.py", '"sub": minus', '"sub": plus')
    assert sorted(select_ids(shop)) == [
        "test_registry.py::test_add_rule",
        "test_through.py::test_sub_rule",
    ]
    doc = select_doc(shop)
    kinds = {
        t["test_id"]: [r["kind"] for r in t["reasons"]]  # type: ignore[index]
        for t in doc["selected"]  # type: ignore[attr-defined]
    }
    assert kinds["test_through.py::test_sub_rule"] == ["import-time"]
    detail = doc["selected"][0]["reasons"][0]["detail"]  # type: ignore[index]
    assert "shop/grammar.py::make_rules ran while shop/registry.py was imported" in detail
    # the selected tests fail on the change: selection caught what breaks
    shop.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3, failed=1)


def test_module_level_code_built_at_import_selects_its_importers(shop: pytest.Pytester) -> None:
    edit(shop, "shop/tables.py", "n * n for n", "n + n for n")
    assert select_ids(shop) == ["test_tables.py::test_squares"]


def test_code_not_run_at_import_selects_nothing_through_imports(shop: pytest.Pytester) -> None:
    edit(shop, "shop/grammar.py", "return 0", "return 1")
    assert select_ids(shop) == []


def test_a_module_imported_by_conftest_selects_the_tests_below_it(
    pytester: pytest.Pytester,
) -> None:
    pkg = pytester.mkpydir("lib")
    (pkg / "codes.py").write_text(
        "def load():\n    return {'ok': 200}\n\n\nCODES = load()\n\n\ndef code(name):\n"
        "    return CODES[name]\n"
    )
    tests = pytester.mkdir("tests")
    (tests / "conftest.py").write_text(
        "import pytest\nfrom lib.codes import CODES\n\n\n@pytest.fixture\ndef ok():\n"
        "    return CODES['ok']\n"
    )
    (tests / "test_a.py").write_text("def test_ok(ok):\n    assert ok == 200\n")
    (pytester.path / "test_top.py").write_text("def test_top():\n    assert True\n")
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / ".gitignore").write_text("__pycache__/\n")
    init_repo(pytester.path)
    pytester.runpytest_subprocess(*RECORD).assert_outcomes(passed=2)
    edit(pytester, "lib/codes.py", "return {'ok': 200}", "return {'ok': 201}")
    assert select_ids(pytester) == ["tests/test_a.py::test_ok"]


def test_code_run_during_collection_outside_imports_runs_everything(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        ids="def name_of(value):\n    return f'case-{value}'\n",
        conftest=(
            "def pytest_generate_tests(metafunc):\n"
            "    if 'value' in metafunc.fixturenames:\n"
            "        from ids import name_of\n"
            "        metafunc.parametrize('value', [1, 2], ids=name_of)\n"
        ),
        test_cases="def test_value(value):\n    assert value > 0\n",
        test_plain="def test_plain():\n    assert True\n",
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / ".gitignore").write_text("__pycache__/\n")
    init_repo(pytester.path)
    pytester.runpytest_subprocess(*RECORD).assert_outcomes(passed=3)
    edit(pytester, "ids.py", "f'case-{value}'", "f'value-{value}'")
    doc = select_doc(pytester)
    full = doc["full_suite"]
    assert full is not None and full["kind"] == "import-time"  # type: ignore[index]
    assert "ids.py::name_of ran while tests were collected" in full["detail"]  # type: ignore[index]
    assert len(doc["selected"]) == 3  # type: ignore[arg-type]


def test_a_test_module_whose_tests_were_all_deselected_runs_nothing_for_its_import(
    pytester: pytest.Pytester,
) -> None:
    """packaging's property tests, left out by ``-m "not property"``, still build their
    strategies at import: a change to what they call concerns their own tests only."""
    pkg = pytester.mkpydir("lib")
    (pkg / "ranges.py").write_text(
        "def bound(n):\n    return n + 1\n\n\ndef used(n):\n    return n * 2\n"
    )
    pytester.makepyfile(
        test_property=(
            "import pytest\nfrom lib.ranges import bound\n\nBOUNDS = [bound(n) for n in range(3)]"
            "\n\n\n@pytest.mark.slow\ndef test_bounds():\n    assert BOUNDS == [1, 2, 3]\n"
        ),
        test_used="from lib.ranges import used\n\n\ndef test_used():\n    assert used(2) == 4\n",
    )
    pytester.makeini(
        "[pytest]\npythonpath = .\nmarkers =\n    slow: slow\naddopts = -m 'not slow'\n"
    )
    (pytester.path / ".gitignore").write_text("__pycache__/\n")
    init_repo(pytester.path)
    pytester.runpytest_subprocess(*RECORD).assert_outcomes(passed=1, deselected=1)
    edit(pytester, "lib/ranges.py", "return n + 1", "return n + 2")
    doc = select_doc(pytester)
    assert doc["full_suite"] is None, doc["full_suite"]
    assert doc["selected"] == [], "test_used never ran bound"
    # the module's tests, run, do see the change (they are not the baseline's)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "slow").assert_outcomes(failed=1)


def test_import_time_recording_under_xdist(shop: pytest.Pytester) -> None:
    git(shop.path, "commit", "-q", "--allow-empty", "-m", "again")
    shop.runpytest_subprocess(*RECORD, "-n", "2").assert_outcomes(passed=4)
    edit(shop, "shop/grammar.py", '"add": plus', '"add": minus')
    assert "test_registry.py::test_add_rule" in select_ids(shop)


def test_a_baseline_file_carries_import_time(shop: pytest.Pytester, tmp_path: Path) -> None:
    exported = tmp_path / "baseline.json.gz"
    out = shop.run(sys.executable, "-m", "greenline", "baseline", "export", str(exported))
    assert out.ret == 0, out.stderr.str()
    shutil.rmtree(shop.path / ".greenline")
    back = shop.run(sys.executable, "-m", "greenline", "baseline", "import", str(exported))
    assert back.ret == 0, back.stderr.str()
    edit(shop, "shop/grammar.py", '"sub": minus', '"sub": plus')
    assert sorted(select_ids(shop)) == [
        "test_registry.py::test_add_rule",
        "test_through.py::test_sub_rule",
    ]
