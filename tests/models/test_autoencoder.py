"""The autoencoder detector: the OCDN paper's architecture, events off a 2-D subspace detected, and
the SSE loss of Ruff's DCAE (summed per event, averaged over events)."""

from __future__ import annotations

from functools import partial

import lightning.pytorch as L
import numpy as np
import pytest
import torch

from oneclass.metrics import roc_auc
from oneclass.models.autoencoder import Autoencoder
from oneclass.models.pretrain import sse_loss
from oneclass.nets import DenseEncoder


def cpu_trainer(epochs: int) -> L.Trainer:
    return L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False)


def test_autoencoder_architecture_is_the_papers():
    model = Autoencoder(n_features=5)
    enc = [type(m).__name__ for m in model.encoder]
    dec = [type(m).__name__ for m in model.decoder]
    assert enc == ["Linear", "ReLU", "BatchNorm1d", "Linear", "ReLU", "Linear"]
    assert dec == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert model.encoder[-1].out_features == 2 and model.decoder[-1].out_features == 5


def test_autoencoder_detects_events_off_a_2d_subspace():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    plane, normal = basis[:, :2], basis[:, 2:]
    x_train = (rng.normal(size=(2000, 2)) * 2) @ plane.T
    x_normal = (rng.normal(size=(500, 2)) * 2) @ plane.T
    # anomalies: on-plane like the normal events, plus an off-plane component of length 2
    off = rng.normal(size=(500, 3))
    x_anom = (rng.normal(size=(500, 2)) * 2) @ plane.T + 2 * (off / np.linalg.norm(off, axis=1, keepdims=True)) @ normal.T
    x_test = np.concatenate([x_normal, x_anom]).astype(np.float32)
    y_test = np.r_[np.zeros(500), np.ones(500)].astype(np.int8)
    L.seed_everything(0, verbose=False)
    model = Autoencoder(n_features=5, net=partial(DenseEncoder, hidden=[64, 64], rep_dim=2), batch_size=64)
    model.fit(x_train.astype(np.float32), trainer=cpu_trainer(8))
    assert roc_auc(model.score(x_test), y_test) > 0.9


def test_sse_loss_is_summed_per_event_and_averaged_over_events():
    x = torch.zeros(2, 1, 2, 2)
    x_hat = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]], [[[2.0, 0.0], [0.0, 0.0]]]])
    assert sse_loss(x_hat, x).item() == pytest.approx((2.0 + 4.0) / 2)
