"""Fix synthesis on literal sources: sorted sets, float noise, a frozen clock, restored state,
seeds, and the guard that rejects any patch that would weaken a test."""

from __future__ import annotations

import ast
import textwrap

import pytest

from greenline.flaky.causes import with_observations
from greenline.flaky.fixes import FixError, Leak, Patch, ensure_import, restore_state, seed_random
from greenline.flaky.rewrites import approx_floats, check_patch, float_noise, freeze_clock
from greenline.flaky.set_order import sort_unordered
from greenline.model import FlakyCategory


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip()


SETS = src(
    """
    import os

    def test_sets():
        tags = {"db", "web"}
        assert list(tags) == ["db", "web"]
        assert ",".join({"a", "b"} | {"c"}).startswith("a")
        assert [t for t in frozenset(("x", "y"))][0] == "x"
        for name in set(os.environ) & {"HOME"}:
            assert name
        assert sorted({"q", "r"}) == ["q", "r"]
        assert len({"q", "r"}) == 2
        assert [1, 2] == list([1, 2])
    """
)


def test_sets_iterated_in_order_are_sorted_and_nothing_else_is() -> None:
    patch = sort_unordered("t.py", SETS, "test_sets")
    after = patch.after
    assert "assert list(sorted(tags)) ==" in after
    assert '",".join(sorted({"a", "b"} | {"c"}))' in after
    assert 'for t in sorted(frozenset(("x", "y")))' in after
    assert 'for name in sorted(set(os.environ) & {"HOME"}):' in after
    # already sorted, order-insensitive or not a set: untouched
    assert 'assert sorted({"q", "r"}) == ["q", "r"]' in after
    assert 'assert len({"q", "r"}) == 2' in after
    assert "assert [1, 2] == list([1, 2])" in after
    assert patch.description == "iterate 4 set(s) in sorted order"
    check_patch(patch)


def test_a_test_that_iterates_no_set_gets_no_sorting() -> None:
    with pytest.raises(FixError, match="iterates no set"):
        sort_unordered("t.py", "def test_x():\n    assert list([2, 1]) == [2, 1]\n", "test_x")


def test_non_ascii_text_before_a_set_keeps_its_place() -> None:
    source = 'def test_x():\n    assert "é" + ",".join({"ü", "ö"}) == "éü,ö"\n'
    after = sort_unordered("t.py", source, "test_x").after
    assert 'assert "é" + ",".join(sorted({"ü", "ö"})) == "éü,ö"' in after


FLOATS = src(
    '''
    """Floats."""
    import math

    def test_total():
        values = [0.1, 0.2]
        assert len(values) == 2
        assert sum(values) == 0.30000000000000004
    '''
)
NOISE = """
    def test_total():
        values = [0.1, 0.2]
        assert len(values) == 2
>       assert sum(values) == 0.30000000000000004
E       assert 0.30000000000000003 == 0.30000000000000004
E        +  where 0.30000000000000003 = sum([0.2, 0.1])
"""


def test_float_noise_gets_a_tight_approx_on_the_failing_comparison_only() -> None:
    patch = approx_floats("t.py", FLOATS, "test_total", [NOISE])
    assert "assert sum(values) == pytest.approx(0.30000000000000004, rel=1e-12)" in patch.after
    assert "assert len(values) == 2\n" in patch.after
    assert patch.after.index("import pytest") > patch.after.index("import math")
    check_patch(patch)


def test_differences_larger_than_noise_get_no_approx() -> None:
    real = NOISE.replace("E       assert 0.30000000000000003", "E       assert 0.31")
    with pytest.raises(FixError, match="more than float noise"):
        approx_floats("t.py", FLOATS, "test_total", [real])
    with pytest.raises(FixError, match="does not show two floats"):
        float_noise(["E   AssertionError: boom"])
    with pytest.raises(FixError, match="no failure message"):
        float_noise([])


def test_a_clock_fix_freezes_time_above_the_decorators() -> None:
    source = src(
        """
        import pytest
        from datetime import datetime

        @pytest.mark.slow
        def test_now():
            assert datetime.now().microsecond % 2 == 0
        """
    )
    patch = freeze_clock("t.py", source, "test_now", "2000-01-01T00:00:00+00:00")
    lines = patch.after.splitlines()
    at = lines.index('@time_machine.travel("2000-01-01T00:00:00+00:00", tick=False)')
    assert lines[at - 1].startswith("# greenline:") and lines[at + 1] == "@pytest.mark.slow"
    assert "import time_machine" in lines[:4]
    check_patch(patch)


def test_leaked_state_is_restored_in_place_or_rebound() -> None:
    source = src(
        """
        from app import state
        import app.config as cfg

        SEEN = []

        def test_victim():
            assert not state.FLAGS
        """
    )
    leaks = [
        Leak("app.state", "app/state.py", "FLAGS", "{'beta': False}", rebound=False),
        Leak("app.state", "app/state.py", "ITEMS", "[1, 2]", rebound=False),
        Leak("app.state", "app/state.py", "MODE", "'default'", rebound=True),
        Leak("app.config", "app/config.py", "NAMES", "set()", rebound=False),
        Leak("app.other", "app/other.py", "LIMIT", "3", rebound=True),
        Leak("tests.test_x", "tests/test_x.py", "SEEN", "[]", rebound=False),
    ]
    patch = restore_state("tests/test_x.py", source, "test_victim", leaks)
    body = patch.after.split("def test_victim():\n", 1)[1]
    assert body.splitlines()[1:9] == [
        "    state.FLAGS.clear()",
        "    state.FLAGS.update({'beta': False})",
        "    state.ITEMS[:] = [1, 2]",
        "    state.MODE = 'default'",
        "    cfg.NAMES.clear()",
        "    cfg.NAMES.update(set())",
        "    app.other.LIMIT = 3",
        "    SEEN[:] = []",
    ]
    assert "import app.other\n" in patch.after
    check_patch(patch)
    with pytest.raises(FixError, match="nothing changed"):
        restore_state("t.py", source, "test_victim", [])


def test_seeds_and_imports() -> None:
    patch = seed_random("t.py", "def test_x():\n    assert True\n", "test_x", seed=3)
    assert patch.after == (
        "import random\ndef test_x():\n    # greenline: the test's outcome depended on "
        "unseeded random numbers\n    random.seed(3)\n    assert True\n"
    )
    assert ensure_import("import random\n", "random") == "import random\n"


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        ("assert x == 0.1\n", "assert x == pytest.approx(0.1, rel=1e-3)\n", "change an assert"),
        ("assert x == 0.1\n", "assert x == pytest.approx(0.1)\n", "change an assert"),
        ("assert x == [2, 1]\n", "assert sorted(x) == [2, 1]\n", "change an assert"),
        ("assert x\nassert y\n", "assert x\n", "change an assert"),
        ("assert x\n", "assert x or True\n", "change an assert"),
        ("assert x\n", "if False:\n    assert x\n", "change an assert"),
        ("def t():\n    assert x\n", "def t():\n    try:\n        assert x\n    except"
         " AssertionError:\n        pass\n", "change an assert"),
        # unittest's assertions and pytest.raises are assertions too
        ("self.assertEqual(a, 1)\n", "a\n", "change an assert"),
        ("self.assertEqual(a, 1)\n", "self.assertAlmostEqual(a, 1)\n", "change an assert"),
        ("with pytest.raises(KeyError):\n    f()\n", "f()\n", "change an assert"),
        ("with pytest.raises(KeyError):\n    f()\n", "with pytest.raises(Exception):\n"
         "    f()\n", "change an assert"),
        ("import time\nassert x\n", "import time\ntime.sleep(1)\nassert x\n", "add sleep"),
        ("assert x\n", "pytest.skip('flaky')\nassert x\n", "add skip"),
        ("def t():\n    assert x\n", "@pytest.mark.xfail\ndef t():\n    assert x\n", "xfail"),
        ("def t():\n    assert x\n", "@flaky(max_runs=3)\ndef t():\n    assert x\n", "flaky"),
        ("def t():\n    assert x\n", "@pytest.mark.flaky(reruns=3)\ndef t():\n    assert x\n",
         "flaky"),
        ("assert x\n", "for _ in retry(3):\n    assert x\n", "change an assert"),
    ],
)  # fmt: skip
def test_the_guard_rejects_anything_that_weakens_a_test(
    before: str, after: str, reason: str
) -> None:
    ast.parse(after)
    with pytest.raises(FixError, match=reason):
        check_patch(Patch("t.py", before, after, "x"))


def test_the_guard_lets_a_patch_add_assertions_and_setup() -> None:
    before = "def test_t():\n    assert x\n"
    after = "def test_t(tmp_path):\n    y = 1\n    assert y\n    assert x\n"
    check_patch(Patch("t.py", before, after, "x"))


def test_observations_confirm_or_replace_a_guess_from_messages() -> None:
    touched = {"network": ["socket.connect ('127.0.0.1', 80)"], "threads": ["Thread.start"]}
    category, detail = with_observations(FlakyCategory.NETWORK, touched)
    assert category is FlakyCategory.NETWORK
    assert detail == (
        "alone it used the network (socket.connect ('127.0.0.1', 80)); "
        "started threads (Thread.start)"
    )
    # an unexplained failure in a test that starts threads
    assert with_observations(FlakyCategory.UNKNOWN, {"threads": ["t"]})[0] is (
        FlakyCategory.CONCURRENCY
    )
    # the message named time, but the test only talked to the network
    assert with_observations(FlakyCategory.TIME, {"network": ["n"]})[0] is FlakyCategory.NETWORK
    # float noise in a test that reads the clock stays float noise
    assert with_observations(FlakyCategory.FLOATING_POINT, {"clock": ["time.time"]})[0] is (
        FlakyCategory.FLOATING_POINT
    )
    assert with_observations(FlakyCategory.RANDOMNESS, {"random": ["x"]}) == (
        FlakyCategory.RANDOMNESS,
        None,
    )


def test_float_noise_is_read_through_the_arithmetic_pytest_prints() -> None:
    shown = "E       assert (1.2 / 7) == 0.17142857142857146\nE        +  where 1.2 = sum([...])"
    assert float_noise([shown]) == [(1.2 / 7, 0.17142857142857146)]
    with pytest.raises(FixError, match="not a comparison of two numbers"):
        float_noise(["E       assert [0.1, 0.2] == [0.1, 0.3]"])
    with pytest.raises(FixError, match="not a comparison of two numbers"):
        float_noise(["E       assert (1 / 0) == 0.5"])
