"""RecForest: reconstruction-based anomaly detection with a completely random forest (Xu et al., SDM 2021).

A forest of completely random trees (scikit-learn's ``RandomTreesEmbedding``: each split picks a
random feature and a uniform threshold between the node's smallest and largest value; grown until
the leaves cannot be split) is fitted on the training rows. An event's path down a tree confines
it to a hyper-rectangle: every split it passes bounds the split's feature from above (it went
left, x_f <= t) or below (right, x_f > t), inside the training range [min, max] of each feature.
The intersection of its boxes over all trees is a small box around the event in dense training
regions and a large one where training data are sparse or absent. The reconstruction is the
intersection's centre (the official code's; the nearest point of the box would be the event
itself, which always lies in its own box unless outside the training range), and the score is
the squared reconstruction error sum_f (x_f - centre_f)^2, higher = more anomalous.

The box of a feature that no split on an event's paths ever uses stays the whole training range:
its centre is the range's midpoint. Events in large groups of identical training rows (which no
split can separate) therefore get loose boxes, see docs/results/tabular.md (ALAD, RecForest) on KDD.

Defaults: the official package's and NRCAN's (100 trees, unlimited depth).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oneclass.config import require_int
from oneclass.errors import ConfigError, TrainingError
from oneclass.models.adapter import Adapter


def leaf_boxes(tree: Any, x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
    """Shrink the boxes ``lower``/``upper`` (n, d, in place) of the rows of ``x`` (n, d) to their
    path's box in the fitted scikit-learn ``tree``: each split the row passes bounds its feature."""
    x32 = np.asarray(x, dtype=np.float32)  # scikit-learn trees compare float32 values with the thresholds
    path = tree.decision_path(x32)
    nodes = path.indices
    rows = np.repeat(np.arange(len(x32)), np.diff(path.indptr))
    t = tree.tree_
    internal = t.children_left[nodes] != -1
    rows, nodes = rows[internal], nodes[internal]
    feature, threshold = t.feature[nodes], t.threshold[nodes]
    left = x32[rows, feature] <= threshold
    np.minimum.at(upper, (rows[left], feature[left]), threshold[left])
    np.maximum.at(lower, (rows[~left], feature[~left]), threshold[~left])


class RecForest(Adapter):
    """RecForest adapter (:class:`~oneclass.models.adapter.Adapter`); ``score(x)`` = |x - centre of x's box intersection|^2 (higher = more anomalous).

    Parameters
    ----------
    input_shape : shape of one event (from the pipeline); images are flattened to vectors.
    n_estimators : number of completely random trees (official: 100).
    max_depth : the trees' depth limit; None = grown until no leaf can be split (official).
    min_samples_leaf : the fewest training rows in a leaf (official: 1).
    random_state : seed of the trees (the config passes the run's seed).
    chunk : rows whose boxes are computed at once when scoring (memory only: 2 * chunk * d floats).
    """

    fitted = "forest_"

    def __init__(self, input_shape: Any = None, n_estimators: int = 100, max_depth: int | None = None,
                 min_samples_leaf: int = 1, random_state: int | None = None, chunk: int = 32768,
                 n_features: int | None = None) -> None:
        self.input_shape = input_shape
        self.n_features = n_features
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self.chunk = chunk
        self.validate()  # now, before any data are read

    def check_params(self) -> None:
        for name in ("n_estimators", "min_samples_leaf", "chunk"):
            if require_int(getattr(self, name), f"model.{name}") < 1:
                raise ConfigError(f"model.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.max_depth is not None and require_int(self.max_depth, "model.max_depth") < 1:
            raise ConfigError(f"model.max_depth must be an integer >= 1 or null (unlimited), got {self.max_depth!r}")
        if self.random_state is not None:
            require_int(self.random_state, "model.random_state")

    def check_rows(self, x: np.ndarray) -> None:
        if len(x) < 2:
            raise TrainingError(f"RecForest needs at least 2 training rows, got {len(x)}")
        if not np.all(np.isfinite(x)):
            raise TrainingError("RecForest: the training data hold NaN or infinite values")

    def fit_rows(self, x: np.ndarray) -> None:
        """Grow the forest on ``x`` (n, d) and keep the training range of each feature."""
        from sklearn.ensemble import RandomTreesEmbedding

        forest = RandomTreesEmbedding(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                      min_samples_leaf=self.min_samples_leaf, random_state=self.random_state)
        forest.fit(x)
        self.forest_ = forest
        self.amin_ = x.min(axis=0)
        self.amax_ = x.max(axis=0)

    def boxes(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper), each (n, d): the intersection over all trees of each row's leaf boxes,
        inside the training range."""
        self.check_fitted()
        return self._boxes(self.rows(x))

    def _boxes(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lower = np.repeat(self.amin_[None], len(x), axis=0)
        upper = np.repeat(self.amax_[None], len(x), axis=0)
        for tree in self.forest_.estimators_:
            leaf_boxes(tree, x, lower, upper)
        return lower, upper

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """The centres of the rows' box intersections, (n, d)."""
        lower, upper = self.boxes(x)
        return 0.5 * (lower + upper)

    def score_rows(self, x: np.ndarray) -> np.ndarray:
        """Squared reconstruction error of each row, in chunks of ``chunk`` rows."""
        parts = []
        for i in range(0, len(x), self.chunk):
            rows = x[i : i + self.chunk]
            lower, upper = self._boxes(rows)
            parts.append(((rows - 0.5 * (lower + upper)) ** 2).sum(axis=1))
        return np.concatenate(parts) if parts else np.zeros(0)
