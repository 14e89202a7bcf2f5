"""NeuTraL AD: Neural Transformation Learning for anomaly detection (Qiu et al., ICML 2021).

K learnable transformations T_1..T_K (small networks, ``n_transforms``) and an encoder f are
trained together so that each view x_k = T_k(x) stays recognisably related to x yet distinct from
the other views. With z = f(x), z_k = f(x_k) (L2-normalised) and h(a, b) = exp(a . b / tau), the
deterministic contrastive loss (DCL, paper Eq. 2) of an event is

    L(x) = - sum_k log [ h(z_k, z) / (h(z_k, z) + sum_{l != k} h(z_k, z_l)) ],

scaled by 1 / (K log K) (as the official code; a constant). Training minimises its mean over the
training events; the score is L(x) itself (higher = more anomalous): on an anomaly the views no
longer point back to their original. A transformation is a residual x + M_k(x) or a
multiplicative mask sigmoid(M_k(x)) * x (``transform``), M_k a ReLU network d -> hidden -> d.
The K transformations are evaluated together as one batched matrix product per layer.

Defaults: K = 11 and tau = 0.1 (paper), the official tabular networks (encoder: 4 hidden layers of
64, output 32, ReLU, no biases; transformations: 2 layers, hidden width = the input's, no biases),
Adam at lr 5e-4. The official per-set settings (thyroid, arrhythmia: raw features, residual
transformations; KDD: multiplicative masks) are in conf/experiment/nrcan/kdd_neutralad.yaml and
benchmarks/bench_tabular.py.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from oneclass import nets
from oneclass.nets.base import flat_features
from oneclass.config import require_int, require_positive
from oneclass.errors import ConfigError
from oneclass.models.base import LightningDetector

TRANSFORMS = ("residual", "mul")


class TransformBank(nn.Module):
    """K independent ReLU networks d -> hidden -> ... -> d, evaluated as batched matmuls: maps
    (n, d) to (K, n, d). Each layer's weights are initialised as ``nn.Linear``'s (uniform in
    +-1/sqrt(fan_in))."""

    def __init__(self, n_transforms: int, n_features: int, hidden: int, n_layers: int, bias: bool) -> None:
        super().__init__()
        sizes = [n_features] + [hidden] * (n_layers - 1) + [n_features]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList() if bias else None
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(a)
            self.weights.append(nn.Parameter(torch.empty(n_transforms, a, b).uniform_(-bound, bound)))
            if bias:
                self.biases.append(nn.Parameter(torch.empty(n_transforms, 1, b).uniform_(-bound, bound)))
        self.n_transforms = n_transforms

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(0).expand(self.n_transforms, *x.shape)
        last = len(self.weights) - 1
        for i, w in enumerate(self.weights):
            h = torch.bmm(h, w) if self.biases is None else torch.baddbmm(self.biases[i], h, w)
            if i < last:
                h = F.relu(h)
        return h


def dcl_loss(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-event DCL of embeddings ``z`` of shape (n, K + 1, r) (view 0 = the original), shape (n,).

    Equals 1 for every event whose K + 1 embeddings coincide (each term is then log K)."""
    z = F.normalize(z, dim=-1)
    k = z.shape[1] - 1
    sim = torch.bmm(z, z.transpose(1, 2)) / temperature  # (n, K+1, K+1) cosine similarities / tau
    others = ~torch.eye(k + 1, dtype=torch.bool, device=z.device)
    # log sum_{l != k} exp(sim_kl) over all other views (the original included), for each transformed view k
    log_denominator = torch.logsumexp(sim[:, 1:].masked_fill(~others[1:], float("-inf")), dim=-1)  # (n, K)
    log_positive = sim[:, 1:, 0]  # (n, K)
    return (log_denominator - log_positive).sum(dim=1) / (k * math.log(k))


class NeuTraLAD(LightningDetector):
    """NeuTraL AD detector; ``forward`` is the event's DCL.

    Parameters
    ----------
    net : the encoder f (``conf/model/net/``), applied to the original and every view. None =
        :class:`oneclass.nets.SVDDMLP` with 4 hidden layers of 64 and output 32, ReLU, no bias,
        no BatchNorm (the official tabular encoder).
    n_transforms : K (>= 2; paper: 11).
    transform : ``residual`` (x + M_k(x)) or ``mul`` (sigmoid(M_k(x)) * x).
    transform_hidden : hidden width of each M_k (None = the input's width).
    transform_layers : Linear layers of each M_k (>= 1). transform_bias : their biases.
    temperature : tau of the contrastive loss (paper: 0.1).
    Other parameters: :class:`~oneclass.models.base.LightningDetector`.
    """

    cannot_vectorise = "its learnable transformations are parameters outside its nets"  # oneclass.vectorised

    score_name = "DCL"

    training_defaults = {"lr": 5e-4, "batch_size": 128}

    def __init__(
        self,
        input_shape: Any = None,
        net: Any = None,
        n_transforms: int = 11,
        transform: str = "residual",
        transform_hidden: int | None = None,
        transform_layers: int = 2,
        transform_bias: bool = False,
        temperature: float = 0.1,
        **training: Any,
    ) -> None:
        super().__init__(input_shape=input_shape, **training)
        self.n_transforms = require_int(n_transforms, "model.n_transforms")
        if self.n_transforms < 2:
            raise ConfigError(f"model.n_transforms must be an integer >= 2 (the views are contrasted with each "
                              f"other), got {n_transforms!r}")
        if transform not in TRANSFORMS:
            raise ConfigError(f"model.transform must be one of {list(TRANSFORMS)}, got {transform!r}")
        self.transform = transform
        if transform_hidden is not None:
            require_positive(transform_hidden, "model.transform_hidden", integer=True)
        layers = require_positive(transform_layers, "model.transform_layers", integer=True)
        if not isinstance(transform_bias, bool):
            raise ConfigError(f"model.transform_bias must be true or false, got {transform_bias!r}")
        self.temperature = require_positive(temperature, "model.temperature")
        self.save_hyperparameters()
        self.net = nets.make(net, self.input_shape, nets.SVDDMLP, hidden=[64] * 4, rep_dim=32, activation="relu",
                             batch_norm=False, bias=False)
        d = flat_features(f"{type(self.net).__name__} (NeuTraLAD)", self.input_shape)
        hidden = d if transform_hidden is None else transform_hidden
        self.transforms = TransformBank(self.n_transforms, d, hidden, layers, transform_bias)

    def views(self, x: torch.Tensor) -> torch.Tensor:
        """The K transformed views of ``x`` (n, d), shape (n, K, d)."""
        out = self.transforms(x)  # (K, n, d)
        out = x + out if self.transform == "residual" else torch.sigmoid(out) * x
        return out.transpose(0, 1)

    def embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """f of the original and its K views, shape (n, K + 1, rep_dim); one encoder pass over all."""
        stacked = torch.cat([x.unsqueeze(1), self.views(x)], dim=1)  # (n, K+1, d)
        z = self.net(stacked.reshape(-1, x.shape[1]))
        return z.reshape(len(x), self.n_transforms + 1, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dcl_loss(self.embeddings(x), self.temperature)

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).mean()
