"""DSEBM: Deep Structured Energy-Based Model (Zhai et al., ICML 2016), trained by denoising score matching.

The energy of an event is

    E(x) = 1/2 |x - b'|^2 - sum_j softplus(h(x)_j),

with h a network (``model.net``; NRCAN: d -> 128 -> 512 with softplus) and b' a learned vector.
Denoising score matching (paper Sec. 3.2) trains -grad E to point from a corrupted event
x~ = x + sigma * eps back to the clean one: the reconstruction is f(x~) = x~ - sigma^2 grad_x E(x~)
and the loss is mean |x - f(x~)|^2 (at sigma = 1, the paper's and NRCAN's x~ - grad E). With a
linear h(x) = W x + c the reconstruction is b' + W^T sigmoid(W f + c): a tied-weight autoencoder.

Two scores (``score``): the energy E(x) (DSEBM-e) or the reconstruction error
|x - f(x)| = sigma^2 |grad_x E(x)| (DSEBM-r); both higher = more anomalous.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from oneclass import nets
from oneclass.config import require_positive
from oneclass.errors import ConfigError
from oneclass.models.base import LightningDetector

SCORES = ("energy", "reconstruction")


class DSEBM(LightningDetector):
    """DSEBM detector; ``forward`` is the energy or the score-matching reconstruction error.

    Parameters
    ----------
    net : h (``conf/model/net/``), called with ``input_shape``; its outputs enter the energy
        through softplus. None = :class:`oneclass.nets.MLP` d -> 128 -> 512 with softplus (NRCAN).
    score : ``energy`` (DSEBM-e) or ``reconstruction`` (DSEBM-r).
    noise_std : sigma of the Gaussian corruption (NRCAN: 1).
    Other parameters: :class:`~oneclass.models.base.LightningDetector` (NRCAN: Adam with
    betas (0.5, 0.999), set in conf/model/dsebm.yaml).
    """

    cannot_vectorise = "its score matching differentiates the energy of the inputs and holds parameters outside its nets"  # oneclass.vectorised

    training_defaults = {"lr": 1e-4, "batch_size": 128}

    def __init__(
        self,
        input_shape: Any = None,
        net: Any = None,
        score: str = "energy",
        noise_std: float = 1.0,
        **training: Any,
    ) -> None:
        super().__init__(input_shape=input_shape, **training)
        if score not in SCORES:
            raise ConfigError(f"model.score must be one of {list(SCORES)}, got {score!r}")
        self.score_kind = score
        self.noise_std = require_positive(noise_std, "model.noise_std")
        self.save_hyperparameters()
        self.net = nets.make(net, self.input_shape, nets.MLP, hidden=[128], rep_dim=512, activation="softplus")
        self.b_prime = nn.Parameter(torch.zeros(self.input_shape))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) = 1/2 |x - b'|^2 - sum_j softplus(h(x)_j), shape (n,)."""
        quad = 0.5 * (x - self.b_prime).flatten(1).pow(2).sum(dim=1)
        return quad - F.softplus(self.net(x)).flatten(1).sum(dim=1)

    def energy_gradient(self, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """grad_x E(x), same shape as ``x`` (computed with autograd also under ``torch.no_grad``)."""
        with torch.enable_grad():
            x = x if x.requires_grad else x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.energy(x).sum(), x, create_graph=create_graph)
        return grad

    def reconstruct(self, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """f(x) = x - sigma^2 grad_x E(x): the denoiser that score matching trains."""
        return x - self.noise_std**2 * self.energy_gradient(x, create_graph=create_graph)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) (``score=energy``) or |x - f(x)| (``score=reconstruction``), shape (n,)."""
        if self.score_kind == "energy":
            return self.energy(x)
        return (x - self.reconstruct(x)).flatten(1).norm(dim=1)

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        noisy = (x + self.noise_std * torch.randn_like(x)).requires_grad_(True)
        return (x - self.reconstruct(noisy, create_graph=True)).flatten(1).pow(2).sum(dim=1).mean()
