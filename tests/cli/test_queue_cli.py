"""greenline queue simulate on the command line: one strategy or all side by side, as text and
JSON, the same numbers for the same seed, and clear errors for impossible scenarios."""

from __future__ import annotations

from tests.cli.conftest import Cli

SMALL = ("--changes", "120", "--runners", "8", "--ci-minutes", "20")


def test_compare_prints_every_strategy_and_json_has_the_numbers(cli: Cli) -> None:
    text = cli("queue", "simulate", *SMALL, "--compare")
    assert text.code == 0, text.err
    for name in ("serial", "batch-bisect", "optimistic", "greenline", "CI runs per merge"):
        assert name in text.out
    doc = cli("queue", "simulate", *SMALL, "--compare", "-f", "json").json()
    assert doc["schema"] == "greenline.queue-simulation/1"
    assert doc["scenario"]["arrival_per_hour"] == round(0.7 * 8 / (1.7 * 20) * 60, 3)
    by = {r["strategy"]: r for r in doc["strategies"]}
    assert list(by) == ["serial", "batch-bisect", "optimistic", "greenline"]
    for result in by.values():
        assert result["merged"] + result["rejected"] == 120 and result["main_green_share"] == 1.0
    assert by["greenline"]["merge_p95_ci"] < by["serial"]["merge_p95_ci"]
    one = cli("queue", "simulate", *SMALL, "--strategy", "greenline", "-f", "json").json()
    assert one["strategies"] == [by["greenline"]], "the same seed, the same run"


def test_impossible_scenarios_are_refused_with_a_hint(cli: Cli) -> None:
    for args, message in (
        (("--fail-rate", "1.5"), "--fail-rate 1.5: a probability from 0 up to 1"),
        (("--runners", "0"), "--runners 0: at least 1"),
        (("--ci-minutes", "0"), "--ci-minutes 0.0: must be positive"),
        (("--arrival-rate", "-2"), "--arrival-rate -2.0: changes per hour"),
    ):
        result = cli("queue", "simulate", *args)
        assert result.code == 4 and message in result.err, result.err
        assert "Hint:" in result.err
    wrong = cli("queue", "simulate", "--strategy", "yolo")
    assert wrong.code != 0 and "yolo" in wrong.err
