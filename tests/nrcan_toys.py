"""Shared pieces of the NRCAN detector tests (tests/models/: DAGMM, SOM-DAGMM, DSEBM, MemAE, DUAD, DROCC,
NeuTraL AD, ALAD, RecForest): the toy where the answer is known (normal rows on a 2-D plane in R^8,
anomalies uniform in a box), the check each detector passes on it, a quiet CPU trainer, the small
autoencoder net and the one-line error check."""

from __future__ import annotations

from functools import partial

import lightning.pytorch as L
import numpy as np
import pytest
import torch

from oneclass.metrics import roc_auc
from oneclass.nets import DenseEncoder

AE = partial(DenseEncoder, hidden=[32, 16], rep_dim=2, batch_norm=False)


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def trainer(epochs: int) -> L.Trainer:
    return L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False)


@pytest.fixture(scope="module")
def manifold():
    """Normal: a 2-D plane in R^8 (plus 0.05 noise); anomalies: uniform in the box [-3, 3]^8."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(8, 2)))[0]
    plane = lambda n: rng.normal(size=(n, 2)) @ basis.T + 0.05 * rng.normal(size=(n, 8))  # noqa: E731
    x_train = plane(600).astype(np.float32)
    x_test = np.r_[plane(200), rng.uniform(-3, 3, size=(100, 8))].astype(np.float32)
    y_test = np.r_[np.zeros(200), np.ones(100)]
    return x_train, x_test, y_test


def scores_separate(scores: np.ndarray, y_test: np.ndarray, name: str) -> None:
    """One float64, finite score per test row, the off-manifold points scoring higher (AUC > 0.9)."""
    assert scores.dtype == np.float64 and scores.shape == (300,) and np.isfinite(scores).all()
    assert roc_auc(scores, y_test) > 0.9, name


def off_manifold_points_score_higher(manifold, make, epochs: int, name: str) -> None:
    """``make()`` trained ``epochs`` epochs on the manifold (seed 0, one thread): fit returns the model
    and its scores separate (:func:`scores_separate`)."""
    x_train, x_test, y_test = manifold
    L.seed_everything(0, verbose=False)
    torch.set_num_threads(1)
    model = make()
    assert model.fit(x_train, trainer=trainer(epochs)) is model
    scores_separate(model.score(x_test), y_test, name)
