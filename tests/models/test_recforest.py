"""RecForest (Xu et al., SDM 2021; issue 15, NRCAN part B2): it separates off-manifold points from a
2-D manifold in R^8, its boxes contain the training points and match a plain tree walk, and bad
settings are one line. The contract is in test_contract.py."""

from __future__ import annotations

import numpy as np
import pytest

from oneclass.errors import ConfigError, TrainingError
from oneclass.models.recforest import RecForest

from nrcan_toys import manifold, one_line, scores_separate  # noqa: F401 (manifold: a fixture)


def test_off_manifold_points_score_higher(manifold):
    x_train, x_test, y_test = manifold
    forest = RecForest(input_shape=(8,), random_state=0)
    assert forest.fit(x_train) is forest
    scores_separate(forest.score(x_test), y_test, "recforest")


def walked_box(tree, x, lower, upper):
    """The box of one row in one tree by walking it node by node (the official code's traversal)."""
    t = tree.tree_
    lower, upper = lower.copy(), upper.copy()
    node = 0
    while t.children_left[node] != -1:
        f, thr = t.feature[node], t.threshold[node]
        if np.float32(x[f]) <= thr:
            upper[f] = min(upper[f], thr)
            node = t.children_left[node]
        else:
            lower[f] = max(lower[f], thr)
            node = t.children_right[node]
    return lower, upper


def test_recforest_boxes_contain_the_training_points_and_match_a_tree_walk(manifold):
    x_train, x_test, _ = manifold
    forest = RecForest(input_shape=(8,), n_estimators=5, random_state=3).fit(x_train)
    lower, upper = forest.boxes(x_train)
    assert (lower <= x_train).all() and (x_train <= upper).all()  # each training point lies in its own box
    # rows outside the training range too: the intersection of the walked boxes, inside [min, max]
    rows = np.r_[x_train[:20], x_test[-20:], 10 * x_test[-5:]]
    lower, upper = forest.boxes(rows)
    for i, x in enumerate(rows):
        lo, up = forest.amin_.copy(), forest.amax_.copy()
        for tree in forest.forest_.estimators_:
            lo, up = walked_box(tree, x, lo, up)
        np.testing.assert_array_equal(lower[i], lo)
        np.testing.assert_array_equal(upper[i], up)
    assert (forest.amin_ <= lower).all() and (lower <= upper).all() and (upper <= forest.amax_).all()
    assert forest.score(10 * x_test[-5:]).min() > forest.score(x_train).max()  # far outside: the corner box
    # reconstruction = the box centre; score = squared error
    centre = 0.5 * (lower + upper)
    np.testing.assert_allclose(forest.reconstruct(rows), centre)
    np.testing.assert_allclose(forest.score(rows), ((rows.astype(np.float64) - centre) ** 2).sum(1))
    # the seed decides the forest
    again = RecForest(input_shape=(8,), n_estimators=5, random_state=3).fit(x_train).score(x_test)
    other = RecForest(input_shape=(8,), n_estimators=5, random_state=4).fit(x_train).score(x_test)
    np.testing.assert_array_equal(forest.score(x_test), again)
    assert not np.array_equal(again, other)


def test_recforest_errors_are_one_line():
    for kwargs, message in [({"n_estimators": 0}, "model.n_estimators must be an integer >= 1"),
                            ({"n_estimators": 1.5}, "model.n_estimators must be an integer"),
                            ({"max_depth": 0}, "model.max_depth must be an integer >= 1 or null"),
                            ({"min_samples_leaf": 0}, "model.min_samples_leaf must be an integer >= 1"),
                            ({"random_state": "seed"}, "model.random_state must be an integer")]:
        with pytest.raises(ConfigError) as err:
            RecForest(input_shape=(8,), **kwargs)
        assert message in one_line(err)
    forest = RecForest(input_shape=(8,))
    with pytest.raises(TrainingError) as err:
        forest.score(np.zeros((2, 8)))
    assert "before fit" in one_line(err)
    with pytest.raises(ConfigError) as err:
        forest.fit(np.zeros((10, 5)))
    assert "shape (n, 8)" in one_line(err)
    with pytest.raises(TrainingError) as err:
        forest.fit(np.full((10, 8), np.nan))
    assert "NaN" in one_line(err)
    # images are flattened, as the other scikit-learn style adapters do
    images = np.random.default_rng(0).normal(size=(50, 1, 4, 4))
    assert RecForest(input_shape=(1, 4, 4), n_estimators=3, random_state=0).fit(images).score(images).shape == (50,)
