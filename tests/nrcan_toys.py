"""Shared pieces of the NRCAN detector tests (test_nrcan_a / _b1 / _b2): the toy where the answer is
known (normal rows on a 2-D plane in R^8, anomalies uniform in a box), a quiet CPU trainer and the
one-line error check."""

from __future__ import annotations

import lightning.pytorch as L
import numpy as np
import pytest


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
