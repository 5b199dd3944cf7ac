"""Learning the ranking from the store's history: gradient-boosted trees over ranking.FEATURES.

Examples come from recorded runs: when a run is recorded, the tests its change affected get their
features (as selection would have seen them) and, once the run ends, their outcome is the label.
Training needs scikit-learn (``pip install 'greenline[learn]'``); using a model does not: the
trees are exported to plain data and evaluated here, so ranking stays fast and dependency-free.

A model is only adopted when it ranks at least as well as the heuristic on the newest quarter of
the runs (held out, so it is judged on changes it never saw): the mean over those runs of the AUC
of each run's affected tests (ranking orders the tests of one change, so it is judged per
change).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from greenline.errors import UsageError
from greenline.selection.ranking import FEATURES, heuristic

#: Below this, history is too thin to learn from: the heuristic ranks.
MIN_EXAMPLES = 200
MIN_FAILURES = 10
FORMAT = "greenline.gbt/1"


@dataclass(frozen=True, slots=True)
class Example:
    run_id: int
    features: tuple[float, ...]
    failed: bool


class TreeEnsemble:
    """Gradient-boosted regression trees on the log-odds scale, evaluated in plain Python."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        if doc.get("format") != FORMAT or list(doc.get("features", ())) != list(FEATURES):
            raise ValueError("not a model for this version's features")
        self.prior = float(doc["prior"])
        self.rate = float(doc["learning_rate"])
        self.trees: list[tuple[list[int], list[int], list[int], list[float], list[float]]] = [
            (t["left"], t["right"], t["feature"], t["threshold"], t["value"]) for t in doc["trees"]
        ]

    def _raw(self, row: Sequence[float]) -> float:
        total = self.prior
        for left, right, feature, threshold, value in self.trees:
            node = 0
            while left[node] != -1:
                node = left[node] if row[feature[node]] <= threshold[node] else right[node]
            total += self.rate * value[node]
        return total

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        return [1.0 / (1.0 + math.exp(-self._raw(row))) for row in rows]


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The probability that a failing example scores above a passing one (ties count half)."""
    ranked = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return 0.5
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average = (i + j + 1) / 2  # 1-based ranks i+1..j
        rank_sum += average * sum(1 for _, label in ranked[i:j] if label)
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def enough(examples: Sequence[Example]) -> bool:
    return len(examples) >= MIN_EXAMPLES and sum(e.failed for e in examples) >= MIN_FAILURES


def train(examples: Sequence[Example], seed: int = 0) -> dict[str, Any]:
    """Fit trees on the older runs, judge them on the newest quarter against the heuristic, and
    refit on everything. Returns the model document (``adopted`` says if it ranks better)."""
    try:
        from sklearn.ensemble import GradientBoostingClassifier
    except ImportError:
        raise UsageError(
            "learning the ranking needs scikit-learn",
            hint="pip install 'greenline[learn]'",
        ) from None
    if not enough(examples):
        raise UsageError(
            f"too little history to learn from: {len(examples)} examples, "
            f"{sum(e.failed for e in examples)} failing (needs {MIN_EXAMPLES} and {MIN_FAILURES})",
            hint="record more runs with changes (pytest --greenline-record); "
            "the heuristic ranks until then",
        )
    run_ids = sorted({e.run_id for e in examples})
    cut = run_ids[max(1, (3 * len(run_ids)) // 4)] if len(run_ids) > 1 else run_ids[0] + 1
    older = [e for e in examples if e.run_id < cut]
    newer = [e for e in examples if e.run_id >= cut]

    def fit(data: Sequence[Example]) -> Any:
        model = GradientBoostingClassifier(
            n_estimators=100, max_depth=3, learning_rate=0.1, subsample=0.8, random_state=seed
        )
        model.fit([list(e.features) for e in data], [int(e.failed) for e in data])
        return model

    held_out: dict[str, float | int] = {"examples": len(newer), "failing": 0}
    adopted = True
    judged = _runs_with_both(newer)
    if older and judged and sum(e.failed for e in older) > 0:
        trial = TreeEnsemble(_export(fit(older)))
        learned = _mean_auc(judged, trial.predict)
        baseline = _mean_auc(judged, lambda rows: [heuristic(r) for r in rows])
        held_out = {
            "examples": len(newer),
            "failing": sum(e.failed for e in newer),
            "runs": len(judged),
            "auc_model": round(learned, 4),
            "auc_heuristic": round(baseline, 4),
        }
        adopted = learned >= baseline
    doc = _export(fit(examples))
    doc.update(
        examples=len(examples),
        failing=sum(e.failed for e in examples),
        runs=len(run_ids),
        held_out=held_out,
        adopted=adopted,
    )
    return doc


def _runs_with_both(examples: Sequence[Example]) -> list[list[Example]]:
    """The examples grouped by run, keeping runs with both failing and passing tests: ranking
    orders the tests of one change, so it is judged one run at a time."""
    runs: dict[int, list[Example]] = {}
    for e in examples:
        runs.setdefault(e.run_id, []).append(e)
    return [group for group in runs.values() if 0 < sum(e.failed for e in group) < len(group)]


def _mean_auc(
    runs: Sequence[Sequence[Example]], score: Callable[[list[tuple[float, ...]]], list[float]]
) -> float:
    total = sum(auc(score([e.features for e in run]), [e.failed for e in run]) for run in runs)
    return total / len(runs)


def _export(model: Any) -> dict[str, Any]:
    """The fitted classifier's trees as plain lists (sklearn's public ``tree_`` arrays)."""
    prior_p = float(model.init_.class_prior_[1])
    prior_p = min(max(prior_p, 1e-6), 1 - 1e-6)
    trees = []
    for (estimator,) in model.estimators_:
        tree = estimator.tree_
        trees.append(
            {
                "left": [int(x) for x in tree.children_left],
                "right": [int(x) for x in tree.children_right],
                "feature": [max(int(x), 0) for x in tree.feature],
                "threshold": [float(x) for x in tree.threshold],
                "value": [float(v[0][0]) for v in tree.value],
            }
        )
    return {
        "format": FORMAT,
        "features": list(FEATURES),
        "prior": math.log(prior_p / (1 - prior_p)),
        "learning_rate": float(model.learning_rate),
        "trees": trees,
    }
