"""The scikit-learn adapter base (oneclass.models.adapter): what every adapter gets from it."""

import numpy as np
import pytest

from oneclass.errors import ConfigError, TrainingError
from oneclass.models.adapter import Adapter


class Mean(Adapter):
    """A minimal adapter: distance to the training mean, or a fixed bad value."""

    def __init__(self, input_shape=None, bad=None, n_features=None):
        self.input_shape, self.bad, self.n_features = input_shape, bad, n_features

    def check_params(self):
        if self.bad == "param":
            raise ConfigError("model.bad must not be 'param'")

    def fit_rows(self, x):
        self.estimator_ = x.mean(axis=0)

    def score_rows(self, x):
        return np.full(len(x), np.nan) if self.bad == "nan" else ((x - self.estimator_) ** 2).sum(axis=1)


def test_an_adapter_writes_only_its_estimator():
    images = np.random.default_rng(0).normal(size=(20, 1, 2, 2))
    det = Mean(input_shape=(1, 2, 2))
    with pytest.raises(TrainingError, match=r"^Mean.score called before fit$"):
        det.score(images)
    assert det.fit(images) is det and det.n_train_ == 20
    scores = det.score(images)
    assert scores.shape == (20,) and scores.dtype == np.float64
    with pytest.raises(ConfigError, match=r"built for inputs of shape \(n, 1, 2, 2\) but got flat events"):
        det.score(np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="model.bad must not be 'param'"):
        Mean(input_shape=(4,), bad="param").fit(np.zeros((3, 4)))
    with pytest.raises(TrainingError, match=r"^Mean produced 3 non-finite scores$"):
        Mean(n_features=4, bad="nan").fit(np.zeros((3, 4))).score(np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="a detector needs input_shape"):
        Mean().fit(np.zeros((3, 4)))
