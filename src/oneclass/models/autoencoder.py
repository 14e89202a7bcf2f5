"""Bottleneck autoencoder: events that the background-trained network reconstructs badly are anomalous.

The OCDN paper's architecture (appendix, built in Keras by the authors):
encoder Dense(512, ReLU) -> BatchNorm -> Dense(512, ReLU) -> Dense(2);
decoder Dense(512, ReLU) -> Dense(512, ReLU) -> Dense(n_features); MSE loss, Adam lr 1e-3.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from oneclass.config import require_positive
from oneclass.errors import ConfigError
from oneclass.models.base import LightningDetector
from oneclass.models.components import activation, glorot_init, hidden_sizes

# Keras' BatchNormalization defaults (momentum 0.99 of the old value = torch momentum 0.01, eps 1e-3).
KERAS_BN = {"momentum": 0.01, "eps": 1e-3}


def dense_stack(n_in: int, hidden: Sequence[int], n_out: int, act: str, batch_norm_after: Sequence[int] = ()) -> nn.Sequential:
    """``n_in -> hidden... -> n_out`` with ``act`` after each hidden layer and a BatchNorm after
    hidden layer ``i`` for each ``i`` in ``batch_norm_after``; the output layer is linear."""
    layers: list[nn.Module] = []
    width = n_in
    for i, h in enumerate(hidden):
        layers += [nn.Linear(width, h), activation(act)]
        if i in batch_norm_after:
            layers.append(nn.BatchNorm1d(h, **KERAS_BN))
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class Autoencoder(LightningDetector):
    """Bottleneck autoencoder scored by the Euclidean norm of its reconstruction error.

    Parameters
    ----------
    hidden : encoder hidden widths (paper: [512, 512]); the decoder mirrors them.
    latent : bottleneck dimension (paper: 2).
    activation : hidden-layer activation (paper: relu).
    batch_norm : put a BatchNorm between consecutive encoder hidden layers (paper: after the
        first; the decoder has none).
    init : ``glorot`` (Keras default, as in the authors' code) or ``torch``.
    """

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int] = (512, 512),
        latent: int = 2,
        activation: str = "relu",
        batch_norm: bool = True,
        lr: float = 1e-3,
        batch_size: int = 32,
        weight_decay: float = 0.0,
        init: str = "glorot",
        batches_per_step: int | None = None,
    ) -> None:
        super().__init__(n_features=n_features, lr=lr, weight_decay=weight_decay, batch_size=batch_size,
                         batches_per_step=batches_per_step)
        sizes = hidden_sizes(hidden)
        latent = require_positive(latent, "model.latent", integer=True)
        if init not in ("glorot", "torch"):
            raise ConfigError(f"model.init must be 'glorot' or 'torch', got {init!r}")
        if not isinstance(batch_norm, bool):
            raise ConfigError(f"model.batch_norm must be true or false, got {batch_norm!r}")
        self.save_hyperparameters()
        bn_after = range(len(sizes) - 1) if batch_norm else ()
        self.encoder = dense_stack(self.n_features, sizes, latent, activation, bn_after)
        self.decoder = dense_stack(latent, sizes[::-1], self.n_features, activation)
        if init == "glorot":
            glorot_init(self)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """|x - AE(x)|_2 of each event, shape (n,)."""
        return (x - self.reconstruct(x)).norm(dim=1)

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.reconstruct(x), x)
