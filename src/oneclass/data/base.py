"""The dataset contract.

Conventions (as in Ruff et al.'s ``BaseADDataset``): label 0 = normal/background, 1 = anomaly/
signal. Training data is background-only unless a dataset is asked to contaminate it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oneclass.errors import DataError


@dataclass(frozen=True)
class DataBundle:
    """Arrays for one experiment.

    Attributes
    ----------
    name : dataset name (used as the default MLflow experiment name).
    x_train : (n_train, d) float32, the (background-only) training events.
    x_test : (n_test, d) float32.
    y_test : (n_test,) int8, 0 = background, 1 = signal.
    feature_names : d names, in column order.
    info : extra facts worth logging (counts, selections, preprocessing statistics).
    """

    name: str
    x_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"dataset '{self.name}'"
        for split, x in (("training", self.x_train), ("test", self.x_test)):
            if x.ndim != 2:
                raise DataError(f"{where}: {split} features must be 2-D (events, features), got shape {x.shape}")
            if len(x) == 0:
                raise DataError(f"{where}: the {split} set is empty; loosen the selection or raise its event counts")
            if not np.isfinite(x).all():
                bad = int((~np.isfinite(x)).any(axis=1).sum())
                raise DataError(f"{where}: {bad} {split} events have NaN or infinite features")
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise DataError(f"{where}: training has {self.x_train.shape[1]} features but test has {self.x_test.shape[1]}")
        if len(self.feature_names) != self.x_train.shape[1]:
            raise DataError(f"{where}: {len(self.feature_names)} feature names for {self.x_train.shape[1]} columns")
        if self.y_test.shape != (len(self.x_test),):
            raise DataError(f"{where}: {self.y_test.shape} test labels for {len(self.x_test)} test events")
        labels = set(np.unique(self.y_test).tolist())
        if not labels <= {0, 1}:
            raise DataError(f"{where}: test labels must be 0 (background) or 1 (signal), found {sorted(labels)}")
        if labels != {0, 1}:
            raise DataError(f"{where}: the test set needs both background and signal events, found only label(s) {sorted(labels)}")

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


class Dataset(ABC):
    """A configured dataset. ``load(seed)`` builds the arrays.

    The seed is the run's seed. Datasets that are generated (the Gaussian toy) draw from it;
    datasets read from files split with their own fixed ``split_seed`` so that a seed sweep
    varies only the training, as in the paper.
    """

    name: str

    @abstractmethod
    def load(self, seed: int) -> DataBundle:
        """Return the training and test arrays for a run with this seed."""
