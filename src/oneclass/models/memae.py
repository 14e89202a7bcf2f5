"""MemAE: memory-augmented autoencoder (Gong et al., ICCV 2019).

The encoder's code z does not go to the decoder directly: it addresses a memory M of ``mem_dim``
learned prototypes (rows of size rep_dim), and the decoder reconstructs from their weighted sum

    w_i = softmax_i(z . m_i)                                   (paper Eq. 5; dot-product similarity)
    w^_i = max(w_i - lambda, 0) w_i / (|w_i - lambda| + eps)   (Eq. 7, hard shrinkage)
    w^ <- w^ / |w^|_1,   z^ = w^ M                            (renormalised, Eq. 7-8)

so an anomaly is reconstructed from normal prototypes and reconstructs badly. The loss is the
reconstruction error plus alpha times the mean entropy of w^ (Eq. 10: sparse addressing); the score
is |x - x'| (higher = more anomalous). Defaults: NRCAN's (mem_dim 50, shrink 0.0025, alpha 2e-4, a
ReLU funnel d -> d/2 -> ... -> latent 3 with 4 layers, MSE reconstruction).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from oneclass.config import require_number, require_positive
from oneclass.errors import ConfigError
from oneclass.models.autoencoder import Autoencoder

EPS = 1e-12


def hard_shrink_addressing(logits: torch.Tensor, shrink: float) -> torch.Tensor:
    """Softmax addressing weights, hard-shrunk at ``shrink`` and L1-renormalised (MemAE Eq. 5, 7)."""
    w = torch.softmax(logits, dim=1)
    if shrink > 0:
        w = F.relu(w - shrink) * w / ((w - shrink).abs() + EPS)
        w = w / w.sum(dim=1, keepdim=True).clamp_min(EPS)
    return w


class MemAE(Autoencoder):
    """Memory-augmented autoencoder scored by |x - decoder(w^ M)|.

    Parameters
    ----------
    net : the encoder (``conf/model/net/``) with a ``decoder()``; the memory's slots have its rep_dim.
    mem_dim : number of memory slots (NRCAN: 50).
    shrink_threshold : lambda of the hard shrinkage (NRCAN: 0.0025); must be below 1 / mem_dim
        (the largest softmax weight is at least that, so some slot always survives). 0 = none.
    alpha : weight of the addressing entropy in the loss (NRCAN: 2e-4).
    Other parameters: :class:`~oneclass.models.autoencoder.Autoencoder`.
    """

    image_net = None  # tabular: its dense nets refuse images

    cannot_vectorise = "its memory is a parameter outside its nets"  # oneclass.vectorised

    def __init__(self, input_shape: Any = None, mem_dim: int = 50, shrink_threshold: float = 0.0025,
                 alpha: float = 2e-4, **kwargs: Any) -> None:
        kwargs.setdefault("init", "torch")
        super().__init__(input_shape=input_shape, **kwargs)
        self.mem_dim = require_positive(mem_dim, "model.mem_dim", integer=True)
        self.shrink_threshold = require_number(shrink_threshold, "model.shrink_threshold")
        if not 0 <= self.shrink_threshold < 1.0 / self.mem_dim:
            raise ConfigError(f"model.shrink_threshold must be in [0, 1/mem_dim) = [0, {1.0 / self.mem_dim:.4g}) so that "
                              f"some memory slot always survives the shrinkage, got {shrink_threshold!r}")
        self.alpha = require_number(alpha, "model.alpha")
        if self.alpha < 0:
            raise ConfigError(f"model.alpha must be >= 0, got {alpha!r}")
        rep_dim = int(self.encoder.rep_dim)
        bound = 1.0 / math.sqrt(rep_dim)
        self.memory = nn.Parameter(torch.empty(self.mem_dim, rep_dim).uniform_(-bound, bound))

    def address(self, code: torch.Tensor) -> torch.Tensor:
        """The shrunk, renormalised addressing weights w^ of each code, shape (n, mem_dim)."""
        return hard_shrink_addressing(code.flatten(1) @ self.memory.T, self.shrink_threshold)

    def reconstruct_with_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.address(self.encoder(x))
        return self.decoder(w @ self.memory), w

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct_with_weights(x)[0]

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        x_hat, w = self.reconstruct_with_weights(x)
        recon = F.mse_loss(x_hat, x) if self.loss == "mse" else (x_hat - x).flatten(1).pow(2).sum(dim=1).mean()
        entropy = -(w * torch.log(w + EPS)).sum(dim=1).mean()
        return recon + self.alpha * entropy
