"""Ranking: features, the heuristic and its order, on literal plans (the engine is pure)."""

from __future__ import annotations

from greenline.model import Block, Change, FileChange, FileStatus, Outcome, Reason, ReasonKind
from greenline.selection import FEATURES, Baseline, History, plan_selection
from greenline.selection.ranking import ChangeFeatures, features, heuristic

F = Block("pkg/strutils.py", "slugify", "s1")
OTHER = [Block("pkg/other.py", f"f{i}", f"o{i}") for i in range(19)]
CHANGE = Change("b" * 40, (FileChange("pkg/strutils.py", FileStatus.MODIFIED),))
CHANGED = Reason(ReasonKind.CHANGED_BLOCK, "pkg/strutils.py::slugify")


def row(test_id: str, stale: list[Block], size: int, **kw: object) -> dict[str, float]:
    values = features(
        test_id,
        test_id.split("::")[0],
        kw.get("reasons", [CHANGED]),  # type: ignore[arg-type]
        stale,
        size,
        CHANGE,
        1,
        kw.get("history", History()),  # type: ignore[arg-type]
        0.01,
    )
    return dict(zip(FEATURES, values, strict=True))


def test_features_say_how_focused_and_how_close_a_test_is() -> None:
    unit = row("tests/test_strutils.py::test_slugify_spaces", [F], 2)
    broad = row("tests/integration/test_site.py::test_render", [F], 20)
    assert unit["focus"] == 0.5 and broad["focus"] == 0.05
    assert unit["file_affinity"] == 1 and broad["file_affinity"] == 0
    assert unit["name_affinity"] == 1 and broad["name_affinity"] == 0
    assert unit["path_distance"] == 2 and broad["path_distance"] == 3
    assert unit["changed_blocks"] == 1 and unit["coverage_size"] == 2


def test_a_branch_is_named_by_its_function() -> None:
    branch = Block("pkg/strutils.py", "slugify#if1.else", "s2")
    assert row("tests/test_strutils.py::test_slugify_spaces", [branch], 2)["name_affinity"] == 1
    assert row("tests/test_strutils.py::test_else", [branch], 2)["name_affinity"] == 0


def test_the_heuristic_prefers_focused_named_tests_and_remembers_failures() -> None:
    unit = heuristic(tuple(row("tests/test_strutils.py::test_slugify", [F], 2).values()))
    broad = heuristic(tuple(row("tests/test_site.py::test_render", [F], 20).values()))
    assert 0 < broad < unit <= 0.95
    flaky = History(
        failures={"tests/test_site.py::test_render": 1}, runs={"tests/test_site.py::test_render": 2}
    )
    shaky = heuristic(
        tuple(row("tests/test_site.py::test_render", [F], 20, history=flaky).values())
    )
    assert shaky > broad
    failed = row(
        "tests/test_site.py::test_render",
        [],
        20,
        reasons=[Reason(ReasonKind.FAILED_LAST_TIME, "failed")],
    )
    assert heuristic(tuple(failed.values())) == 0.9


def test_plans_run_the_likeliest_per_second_first_and_failures_before_all() -> None:
    unit, broad, slow, failed = (
        "tests/test_strutils.py::test_slugify",
        "tests/test_site.py::test_render",
        "tests/test_strutils.py::test_slugify_slow",
        "tests/test_site.py::test_broken",
    )
    coverage = {
        unit: frozenset({F, OTHER[0]}),
        broad: frozenset({F, *OTHER}),
        slow: frozenset({F, OTHER[0]}),
        failed: frozenset(OTHER[:3]),
    }
    outcomes = dict.fromkeys(coverage, Outcome.PASSED) | {failed: Outcome.FAILED}
    base = Baseline(
        run_id=1,
        base="b" * 40,
        environment=None,
        coverage=coverage,
        outcomes=outcomes,
        durations={unit: 0.01, broad: 0.01, slow: 5.0, failed: 3.0},
        paths={t: t.split("::")[0] for t in coverage},
    )
    plan = plan_selection(base, CHANGE, {"pkg/strutils.py": frozenset({("slugify", "s2")})}, None)
    assert [t.test_id for t in plan.selected] == [failed, unit, broad, slow]
    assert plan.ranker == "heuristic"
    by_id = {t.test_id: t for t in plan.selected}
    assert by_id[unit].likelihood > by_id[broad].likelihood
    assert len(by_id[unit].features) == len(FEATURES)


class Backwards:
    """A stand-in learned model that believes the broad test is the likelier."""

    def predict(self, rows):  # type: ignore[no-untyped-def]
        return [1.0 - r[FEATURES.index("focus")] for r in rows]


def test_a_learned_model_ranks_when_there_is_one() -> None:
    unit, broad = "tests/test_strutils.py::test_slugify", "tests/test_site.py::test_render"
    coverage = {unit: frozenset({F, OTHER[0]}), broad: frozenset({F, *OTHER})}
    base = Baseline(
        run_id=1,
        base="b" * 40,
        environment=None,
        coverage=coverage,
        outcomes=dict.fromkeys(coverage, Outcome.PASSED),
        durations=dict.fromkeys(coverage, 0.01),
        paths={t: t.split("::")[0] for t in coverage},
    )
    now = {"pkg/strutils.py": frozenset({("slugify", "s2")})}
    plan = plan_selection(base, CHANGE, now, None, model=("model 3", Backwards()))
    assert [t.test_id for t in plan.selected] == [broad, unit]
    assert plan.ranker == "model 3"


def test_what_a_change_says_of_a_test_file_is_worked_out_once_for_all_its_tests() -> None:
    files = [FileChange(f"pkg/m{i}.py", FileStatus.MODIFIED) for i in range(300)]
    change = Change("b" * 40, (*files, FileChange("pkg/sub/strutils.py", FileStatus.MODIFIED)))
    shared = ChangeFeatures(change)
    assert shared.folders == ["pkg", "pkg/sub"], "a release diff's files, by folder"
    for test_id in ("tests/test_strutils.py::test_a", "tests/deep/er/test_site.py::test_b"):
        path = test_id.split("::")[0]
        args = (test_id, path, [CHANGED], [F], 2, change, 1, History(), 0.01)
        assert features(*args, shared) == features(*args)
    assert shared.of("tests/test_strutils.py") == (True, 2)
    assert shared.of("tests/deep/er/test_site.py") == (False, 4)
