"""Learning the ranking: the exported trees agree with scikit-learn, and a model is only adopted
when it ranks held-out runs better than the heuristic."""

from __future__ import annotations

import random

import pytest

from greenline.errors import UsageError
from greenline.selection import FEATURES
from greenline.selection.learn import Example, TreeEnsemble, auc, train

FOCUS = FEATURES.index("focus")
AFFINITY = FEATURES.index("file_affinity")


def history(runs: int, seed: int = 0) -> list[Example]:
    """Synthetic examples where failures follow focus and file affinity (plus noise)."""
    rng = random.Random(seed)
    out = []
    for run_id in range(1, runs + 1):
        for _ in range(20):
            values = [rng.random() for _ in FEATURES]
            values[AFFINITY] = float(rng.random() < 0.3)
            p = 0.05 + 0.6 * values[FOCUS] * (0.5 + values[AFFINITY])
            out.append(Example(run_id, tuple(values), rng.random() < p))
    return out


def test_auc() -> None:
    assert auc([0.9, 0.8, 0.1], [True, False, False]) == 1.0
    assert auc([0.1, 0.8, 0.9], [True, False, False]) == 0.0
    assert auc([0.5, 0.5], [True, False]) == 0.5


def test_the_exported_trees_predict_what_scikit_learn_predicts() -> None:
    pytest.importorskip("sklearn")
    from sklearn.ensemble import GradientBoostingClassifier

    from greenline.selection.learn import _export

    examples = history(30)
    model = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0)
    model.fit([list(e.features) for e in examples], [int(e.failed) for e in examples])
    rows = [e.features for e in examples[:50]]
    ours = TreeEnsemble(_export(model)).predict(rows)
    theirs = model.predict_proba([list(r) for r in rows])[:, 1]
    assert ours == pytest.approx(list(theirs), abs=1e-9)


def test_training_judges_the_model_on_the_newest_runs() -> None:
    pytest.importorskip("sklearn")
    doc = train(history(40))
    held = doc["held_out"]
    assert held["examples"] > 0 and "auc_model" in held and "auc_heuristic" in held
    assert doc["adopted"] == (held["auc_model"] >= held["auc_heuristic"])
    assert doc["examples"] == 800 and len(doc["trees"]) == 100
    model = TreeEnsemble(doc)
    likely, unlikely = [0.5] * len(FEATURES), [0.5] * len(FEATURES)
    likely[FOCUS], likely[AFFINITY] = 1.0, 1.0
    unlikely[FOCUS], unlikely[AFFINITY] = 0.0, 0.0
    high, low = model.predict([likely, unlikely])
    assert high > low, "it learned that focused, named tests fail more"


def test_too_little_history_is_refused_with_a_hint() -> None:
    with pytest.raises(UsageError, match="too little history") as err:
        train(history(2))
    assert "heuristic" in (err.value.hint or "")


def test_a_model_for_other_features_is_refused() -> None:
    with pytest.raises(ValueError, match="features"):
        TreeEnsemble({"format": "greenline.gbt/1", "features": ["x"], "trees": []})
