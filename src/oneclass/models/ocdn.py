"""One-Class Dense Network (Karr, Nachman, Shih, "One-Class Dense Networks for Anomaly Detection").

A classifier f(x) = sigmoid(g(x)) trained with binary cross-entropy on background-only data, every
target 0. The loss is minimised by f = 0; at any finite epoch f decreases fastest where the
background has support, so f (equivalently the logit g) is an anomaly score.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from oneclass import nets
from oneclass.config import require_number
from oneclass.errors import ConfigError
from oneclass.models.base import LightningDetector

INITS = ("glorot", "torch")


class OCDN(LightningDetector):
    """A network ``g`` with one output, trained as a classifier against target 0 (``net``: default
    the 3 x 128 ReLU :class:`oneclass.nets.MLP`; ``hidden=[]`` is logistic regression).

    Scores are the logits g(x): they rank events exactly as the paper's sigmoid output does, but do
    not saturate (a float32 sigmoid of a well-trained OCDN underflows to exactly 0 for part of the
    events, creating ties that bias the AUC).

    Parameters
    ----------
    net : the network (``conf/model/net/``: a class or partial called with ``input_shape``, or a
        built module); must have ``rep_dim`` 1. None = the 3 x 128 ReLU MLP.
    reg : L2 activity regularisation of the hidden activations (nets that return them, as
        :class:`~oneclass.nets.MLP`), added to the loss as reg * mean over the batch of sum over
        units of a^2 (Keras ``activity_regularizer=l2(reg)``).
    init : ``torch`` (PyTorch default) or ``glorot`` (Keras default, as in the authors' code).
    Other parameters: :class:`~oneclass.models.base.LightningDetector`.
    """

    def __init__(
        self,
        input_shape: Any = None,
        net: Any = None,
        reg: float = 0.0,
        init: str = "torch",
        **training: Any,
    ) -> None:
        super().__init__(input_shape=input_shape, **training)
        self.reg = require_number(reg, "model.reg")
        if self.reg < 0:
            raise ConfigError(f"model.reg must be >= 0, got {reg!r}")
        if init not in INITS:
            raise ConfigError(f"model.init must be 'glorot' or 'torch', got {init!r}")
        self.save_hyperparameters()
        self.net = nets.make(net, self.input_shape, nets.MLP)
        nets.require_rep_dim(self.net, 1, "the OCDN")
        if init == "glorot":
            nets.glorot_init(self.net)

    score_name = "logit"

    def _logits(self, x: torch.Tensor, return_hidden: bool = False):
        if return_hidden:
            out, acts = self.net(x, return_hidden=True)
            return out.squeeze(-1), acts
        return self.net(x).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logit g(x) of each event, shape (n,); the paper's score is sigmoid(g(x))."""
        return self._logits(x)

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Mean BCE against target 0 (+ activity penalty) of the batch ``x`` (B, d): a scalar. Every
        reduction runs over the trailing (event, unit) axes, so a stack of members' batches
        (members, B, d) through a stacked net gives each member's own loss, shape (members,)
        (:mod:`oneclass.vectorised`)."""
        if self.reg > 0:
            logits, acts = self._logits(x, return_hidden=True)
            penalty = sum(a.pow(2).sum(dim=-1).mean(dim=-1) for a in acts)
        else:
            logits, penalty = self._logits(x), 0.0
        # BCE against target 0 in its stable logits form: -log(1 - sigmoid(g)) = softplus(g).
        if logits.dim() == 1:  # one model: the fused mean (its backward rounds differently from mean(-1))
            bce = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
        else:
            bce = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none").mean(dim=-1)
        return bce + self.reg * penalty
