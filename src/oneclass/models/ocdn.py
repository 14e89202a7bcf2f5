"""One-Class Dense Network (Karr, Nachman, Shih, "One-Class Dense Networks for Anomaly Detection").

A classifier f(x) = sigmoid(g(x)) trained with binary cross-entropy on background-only data, every
target 0. The loss is minimised by f = 0; at any finite epoch f decreases fastest where the
background has support, so f (equivalently the logit g) is an anomaly score.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from oneclass.models.base import LightningDetector
from oneclass.models.components import MLP, glorot_init
from oneclass.config import require_number
from oneclass.errors import ConfigError


class OCDN(LightningDetector):
    """MLP with ``hidden`` ReLU layers and one sigmoid output (``hidden=[]``: logistic regression).

    Scores are the logits g(x): they rank events exactly as the paper's sigmoid output does, but do
    not saturate (a float32 sigmoid of a well-trained OCDN underflows to exactly 0 for part of the
    events, creating ties that bias the AUC).

    Parameters
    ----------
    hidden : widths of the hidden layers (paper: [128, 128, 128]).
    reg : L2 activity regularisation of the hidden activations, added to the loss as
        reg * mean over the batch of sum over units of a^2 (Keras ``activity_regularizer=l2(reg)``).
    init : ``torch`` (PyTorch default) or ``glorot`` (Keras default, as in the authors' code).
    """

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int] = (128, 128, 128),
        lr: float = 1e-3,
        reg: float = 0.0,
        batch_size: int = 256,
        weight_decay: float = 0.0,
        init: str = "torch",
        batches_per_step: int | None = None,
    ) -> None:
        super().__init__(n_features=n_features, lr=lr, weight_decay=weight_decay, batch_size=batch_size,
                         batches_per_step=batches_per_step)
        self.reg = require_number(reg, "model.reg")
        if self.reg < 0:
            raise ConfigError(f"model.reg must be >= 0, got {reg!r}")
        if init not in ("glorot", "torch"):
            raise ConfigError(f"model.init must be 'glorot' or 'torch', got {init!r}")
        self.save_hyperparameters()
        self.net = MLP(self.n_features, list(hidden), 1)
        if init == "glorot":
            glorot_init(self.net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logit g(x) of each event, shape (n,); the paper's score is sigmoid(g(x))."""
        return self.net(x).squeeze(-1)

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        if self.reg > 0:
            logits, acts = self.net(x, return_hidden=True)
            penalty = sum(a.pow(2).sum(dim=1).mean() for a in acts)
        else:
            logits, penalty = self.net(x), 0.0
        # BCE against target 0 in its stable logits form: -log(1 - sigmoid(g)) = softplus(g).
        bce = F.binary_cross_entropy_with_logits(logits.squeeze(-1), torch.zeros_like(logits.squeeze(-1)))
        return bce + self.reg * penalty
