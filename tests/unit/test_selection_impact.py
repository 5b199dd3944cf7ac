"""The impact rules on literal baselines and changes (the engine is pure)."""

from __future__ import annotations

from greenline.model import (
    Block,
    Change,
    Environment,
    FileChange,
    FileStatus,
    Outcome,
    ReasonKind,
)
from greenline.selection import Baseline, plan_selection

ENV = Environment("cpython-3.11.7", "linux-x86_64", "pkgs1")
ADD = Block("shop/cart.py", "Cart.add", "a1")
REMOVE = Block("shop/cart.py", "Cart.remove", "r1")
CART_MODULE = Block("shop/cart.py", "<module>", "m1")
PERCENT = Block("shop/money.py", "percent_of", "p1")
MONEY_MODULE = Block("shop/money.py", "<module>", "mm1")
TEST_MODULE = Block("tests/test_cart.py", "<module>", "t0")


def baseline(failed: tuple[str, ...] = ()) -> Baseline:
    coverage = {
        "tests/test_cart.py::test_add": frozenset({ADD, CART_MODULE, TEST_MODULE}),
        "tests/test_cart.py::test_remove": frozenset({REMOVE, CART_MODULE, TEST_MODULE}),
        "tests/test_money.py::test_percent": frozenset({PERCENT, MONEY_MODULE}),
    }
    results = dict.fromkeys([*coverage, "tests/test_skip.py::test_skipped"], Outcome.PASSED)
    results.update(dict.fromkeys(failed, Outcome.FAILED))
    return Baseline(
        run_id=7,
        base="b" * 40,
        environment=ENV,
        coverage=coverage,
        outcomes=results,
        durations=dict.fromkeys(results, 1.0) | {"tests/test_money.py::test_percent": 0.1},
        paths={t: t.split("::")[0] for t in results},
    )


def change(*files: FileChange) -> Change:
    return Change(base="b" * 40, files=files)


CART_NOW = frozenset({("Cart.add", "a1"), ("Cart.remove", "r1"), ("<module>", "m1")})


def selected(plan) -> dict[str, set[tuple[ReasonKind, str]]]:  # type: ignore[no-untyped-def]
    return {t.test_id: {(r.kind, r.detail) for r in t.reasons} for t in plan.selected}


def test_a_changed_function_selects_the_tests_that_ran_it() -> None:
    now = {"shop/cart.py": CART_NOW - {("Cart.add", "a1")} | {("Cart.add", "a2")}}
    plan = plan_selection(
        baseline(), change(FileChange("shop/cart.py", FileStatus.MODIFIED)), now, ENV
    )
    assert selected(plan) == {
        "tests/test_cart.py::test_add": {(ReasonKind.CHANGED_BLOCK, "shop/cart.py::Cart.add")},
        "tests/test_skip.py::test_skipped": {(ReasonKind.NO_COVERAGE, "the baseline has none")},
    }
    assert "tests/test_cart.py::test_remove" in plan.unaffected
    assert plan.full_suite is None
    assert plan.suite_duration == 3.1


def test_formatting_only_selects_nothing_new() -> None:
    now = {"shop/cart.py": CART_NOW}
    plan = plan_selection(
        baseline(), change(FileChange("shop/cart.py", FileStatus.MODIFIED)), now, ENV
    )
    assert set(selected(plan)) == {"tests/test_skip.py::test_skipped"}


def test_a_removed_function_and_a_deleted_file() -> None:
    now = {"shop/cart.py": CART_NOW - {("Cart.remove", "r1")}}
    plan = plan_selection(
        baseline(), change(FileChange("shop/cart.py", FileStatus.MODIFIED)), now, ENV
    )
    assert (ReasonKind.REMOVED_BLOCK, "shop/cart.py::Cart.remove") in selected(plan)[
        "tests/test_cart.py::test_remove"
    ]
    gone = plan_selection(
        baseline(), change(FileChange("shop/money.py", FileStatus.DELETED)), {}, ENV
    )
    reasons = selected(gone)["tests/test_money.py::test_percent"]
    assert {kind for kind, _ in reasons} == {ReasonKind.REMOVED_BLOCK}
    assert "tests/test_cart.py::test_add" in gone.unaffected


def test_a_renamed_file_is_compared_with_its_new_content() -> None:
    moved = FileChange("shop/basket.py", FileStatus.RENAMED, old_path="shop/cart.py")
    same = plan_selection(baseline(), change(moved), {"shop/basket.py": CART_NOW}, ENV)
    assert "tests/test_cart.py::test_add" in same.unaffected
    edited = CART_NOW - {("Cart.remove", "r1")} | {("Cart.remove", "r2")}
    plan = plan_selection(baseline(), change(moved), {"shop/basket.py": edited}, ENV)
    assert "tests/test_cart.py::test_remove" in selected(plan)


def test_failed_tests_run_first() -> None:
    now = {"shop/cart.py": CART_NOW - {("Cart.add", "a1")} | {("Cart.add", "a2")}}
    plan = plan_selection(
        baseline(failed=("tests/test_money.py::test_percent",)),
        change(FileChange("shop/cart.py", FileStatus.MODIFIED)),
        now,
        ENV,
    )
    assert plan.selected[0].test_id == "tests/test_money.py::test_percent"
    assert plan.selected[0].reasons[0].kind is ReasonKind.FAILED_LAST_TIME


def test_new_test_files_run_whole() -> None:
    plan = plan_selection(
        baseline(),
        change(
            FileChange("tests/test_new.py", FileStatus.ADDED),
            FileChange("shop/helpers.py", FileStatus.ADDED),
        ),
        {},
        ENV,
    )
    assert plan.new_test_files == ("tests/test_new.py",)
    assert plan.full_suite is None, "a new module matters only through a file that imports it"


def test_what_cannot_be_judged_runs_everything() -> None:
    cases = [
        (change(), Environment("cpython-3.12.1", "linux-x86_64", "pkgs1"), "Python changed"),
        (change(), Environment("cpython-3.11.7", "linux-x86_64", "pkgs2"), "packages changed"),
        (change(FileChange("tests/conftest.py", FileStatus.MODIFIED)), ENV, "conftest.py"),
        (change(FileChange("shop/consts.py", FileStatus.MODIFIED)), ENV, "not in any test's"),
        (change(FileChange("shop/__init__.py", FileStatus.ADDED)), ENV, "not in any test's"),
    ]
    for the_change, env, words in cases:
        plan = plan_selection(baseline(), the_change, {}, env)
        assert plan.full_suite is not None and words in plan.full_suite.detail, words
        assert len(plan.selected) == 4 and plan.unaffected == ()


def test_non_python_files_do_not_force_anything() -> None:
    plan = plan_selection(baseline(), change(FileChange("README.md", FileStatus.MODIFIED)), {}, ENV)
    assert plan.full_suite is None
    assert set(selected(plan)) == {"tests/test_skip.py::test_skipped"}


def test_an_uncovered_module_selects_the_tests_that_import_it() -> None:
    consts = change(FileChange("shop/consts.py", FileStatus.MODIFIED))
    importers = {
        "shop/consts.py": {
            "shop/cart.py": "shop/consts.py",
            "tests/test_cart.py": "shop/cart.py",
        }
    }
    plan = plan_selection(baseline(), consts, {}, ENV, importers)
    assert plan.full_suite is None
    detail = "tests/test_cart.py imports shop/consts.py (through shop/cart.py)"
    assert selected(plan)["tests/test_cart.py::test_add"] == {
        (ReasonKind.IMPORTS_CHANGED_FILE, detail)
    }
    assert "tests/test_money.py::test_percent" in plan.unaffected
    nobody = plan_selection(baseline(), consts, {}, ENV, {"shop/consts.py": {}})
    assert set(selected(nobody)) == {"tests/test_skip.py::test_skipped"}


def test_always_run_patterns() -> None:
    plan = plan_selection(baseline(), change(), {}, ENV, always_run=("tests/test_money.py::*",))
    assert selected(plan)["tests/test_money.py::test_percent"] == {
        (ReasonKind.ALWAYS_RUN, "matches 'tests/test_money.py::*'")
    }


def test_tests_that_read_a_changed_data_file() -> None:
    base = baseline()
    with_files = Baseline(
        **{
            **base.__dict__,
            "files": {"tests/test_cart.py::test_add": frozenset({"data/prices.json"})},
        }
    )
    plan = plan_selection(
        with_files, change(FileChange("data/prices.json", FileStatus.MODIFIED)), {}, ENV
    )
    assert selected(plan)["tests/test_cart.py::test_add"] == {
        (ReasonKind.READS_CHANGED_FILE, "data/prices.json")
    }
    moved = FileChange("data/p.json", FileStatus.RENAMED, old_path="data/prices.json")
    assert "tests/test_cart.py::test_add" in selected(
        plan_selection(with_files, change(moved), {}, ENV)
    )
