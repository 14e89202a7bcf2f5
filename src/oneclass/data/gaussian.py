"""The paper's Gaussian toy (Fig. 1): background N(-2, 1), signal N(mu_s, 1).

For any score that is monotone increasing along the signal direction, the test AUC is
Phi((mu_s - mu_b) / sqrt(2)) per dimension shifted (1-D: 0.9214 for mu_s = 0, 0.0786 for -4).
"""

from __future__ import annotations

import numpy as np

from oneclass.config import require_int, require_number, require_positive
from oneclass.data.base import DataBundle, Dataset
from oneclass.data.splits import contamination, validation_counts


class GaussianToy(Dataset):
    """Isotropic unit-variance Gaussians in ``dim`` dimensions, generated from the run's seed.

    Background has every coordinate at ``background_mean``; signal every coordinate at
    ``signal_mean``. Training is background-only. ``n_val`` > 0 adds a labelled validation split of
    ``n_val`` background and ``n_val`` signal events (for model selection); ``train_signal_fraction``
    f adds round(n_train f / (1 - f)) signal events to the training set (contamination studies, the
    supervised baseline).
    """

    kind = "physics"  # signal and background events, like LHCO (the physics metrics and report)

    def __init__(
        self,
        name: str = "gaussian",
        dim: int = 1,
        background_mean: float = -2.0,
        signal_mean: float = 0.0,
        n_train: int = 100_000,
        n_test_background: int = 100_000,
        n_test_signal: int = 100_000,
        n_val: int = 0,
        train_signal_fraction: float = 0.0,
    ) -> None:
        self.name = name
        self.dim = require_positive(dim, "dataset.dim", integer=True)
        self.background_mean = require_number(background_mean, "dataset.background_mean")
        self.signal_mean = require_number(signal_mean, "dataset.signal_mean")
        self.n_train = require_positive(n_train, "dataset.n_train", integer=True)
        self.n_test_background = require_positive(n_test_background, "dataset.n_test_background", integer=True)
        self.n_test_signal = require_positive(n_test_signal, "dataset.n_test_signal", integer=True)
        self.n_val, _ = validation_counts(n_val)
        self.train_signal_fraction = contamination(train_signal_fraction)

    def input_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    def load(self, seed: int) -> DataBundle:
        rng = np.random.default_rng(require_int(seed, "seed"))
        d = self.dim
        x_train = rng.normal(self.background_mean, 1.0, size=(self.n_train, d))
        x_bkg = rng.normal(self.background_mean, 1.0, size=(self.n_test_background, d))
        x_sig = rng.normal(self.signal_mean, 1.0, size=(self.n_test_signal, d))
        x_test = np.concatenate([x_bkg, x_sig])
        y_test = np.concatenate([np.zeros(len(x_bkg), np.int8), np.ones(len(x_sig), np.int8)])
        names = ("x",) if d == 1 else tuple(f"x{i}" for i in range(d))
        x_val = y_val = None
        if self.n_val:  # drawn after the test set: the other arrays do not depend on n_val
            x_val = np.concatenate([rng.normal(self.background_mean, 1.0, size=(self.n_val, d)),
                                    rng.normal(self.signal_mean, 1.0, size=(self.n_val, d))]).astype(np.float32)
            y_val = np.r_[np.zeros(self.n_val, np.int8), np.ones(self.n_val, np.int8)]
        f = self.train_signal_fraction
        n_sig_train = int(round(self.n_train * f / (1.0 - f))) if f > 0 else 0
        y_train = np.zeros(self.n_train + n_sig_train, np.int8)
        if n_sig_train:  # contamination, drawn last: the other arrays do not depend on it
            x_train = np.concatenate([x_train, rng.normal(self.signal_mean, 1.0, size=(n_sig_train, d))])
            y_train[self.n_train:] = 1
        return DataBundle(
            name=self.name,
            x_train=x_train.astype(np.float32),
            x_test=x_test.astype(np.float32),
            y_test=y_test,
            feature_names=names,
            info={"n_train": self.n_train, "n_test_background": self.n_test_background, "n_test_signal": self.n_test_signal,
                  "n_val": self.n_val, "n_train_signal": n_sig_train},
            x_val=x_val,
            y_val=y_val,
            y_train=y_train,
        )
