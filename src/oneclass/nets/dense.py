"""Dense (fully connected) networks for flat inputs ``(n, d)``.

* :class:`MLP` - ``d -> hidden... -> rep_dim`` with an activation after every hidden layer (the
  OCDN's 3 x 128 ReLU network; ``hidden=[]`` is a linear map);
* :class:`DenseEncoder` - the OCDN paper's autoencoder encoder (Keras-style BatchNorm between
  hidden layers); its ``decoder()`` mirrors the widths without BatchNorm;
* :class:`SVDDMLP` - Deep SVDD's dense network, by default under Ruff's rules (no bias terms,
  BatchNorm without affine parameters, an unbounded activation); with biases, affine BatchNorm and
  dropout it is the OCDN authors' LHCO network (``conf/model/net/paper_fc.yaml``).

Each layer stack is an ``nn.Sequential`` (or has named ``hidden``/``out`` layers), created in the
same order as the networks of earlier versions, so seeded initial weights are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from oneclass.config import require_positive
from oneclass.errors import ConfigError
from oneclass.nets.base import flat_features, make_activation, hidden_sizes, shape_of

# Keras' BatchNormalization defaults (momentum 0.99 of the old value = torch momentum 0.01, eps 1e-3).
KERAS_BN = {"momentum": 0.01, "eps": 1e-3}


def _rep_dim(rep_dim: int) -> int:
    return require_positive(rep_dim, "model.net.rep_dim", integer=True)


class MLP(nn.Module):
    """``d -> hidden... -> rep_dim``, ``activation`` after each hidden layer, linear output.

    ``forward(x, return_hidden=True)`` also returns the hidden activations (activity regularisation).
    """

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] = (128, 128, 128), rep_dim: int = 1,
                 activation: str = "relu", bias: bool = True) -> None:
        super().__init__()
        self.input_shape = shape_of(input_shape)
        self.rep_dim = _rep_dim(rep_dim)
        n_in = flat_features(type(self).__name__, self.input_shape)
        sizes = [n_in, *hidden_sizes(hidden)]
        self.hidden = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = make_activation(activation)
        self.out = nn.Linear(sizes[-1], self.rep_dim, bias=bias)
        self.widths, self.activation_name, self.bias = sizes[1:], activation, bias

    def forward(self, x: torch.Tensor, return_hidden: bool = False):
        acts = []
        for layer in self.hidden:
            x = self.act(layer(x))
            acts.append(x)
        y = self.out(x)
        return (y, acts) if return_hidden else y

    def decoder(self) -> nn.Sequential:
        return nn.Sequential(*_dense_layers(self.rep_dim, self.widths[::-1], self.input_shape[0],
                                            self.activation_name, bias=self.bias))


class DenseEncoder(nn.Sequential):
    """``d -> hidden... -> rep_dim`` with ``activation`` after each hidden layer and a (Keras-style)
    BatchNorm between consecutive hidden layers when ``batch_norm`` (the OCDN paper's AE encoder:
    Dense(512, ReLU) -> BatchNorm -> Dense(512, ReLU) -> Dense(2)). ``decoder()``: the mirrored
    widths, no BatchNorm, linear output of size d."""

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] = (512, 512), rep_dim: int = 2,
                 activation: str = "relu", batch_norm: bool = True) -> None:
        if not isinstance(batch_norm, bool):
            raise ConfigError(f"model.net.batch_norm must be true or false, got {batch_norm!r}")
        shape = shape_of(input_shape)
        n_in = flat_features(type(self).__name__, shape)
        sizes = hidden_sizes(hidden)
        bn_after = range(len(sizes) - 1) if batch_norm else ()
        super().__init__(*_dense_layers(n_in, sizes, _rep_dim(rep_dim), activation, bn_after))
        self.input_shape, self.rep_dim = shape, rep_dim
        self.widths, self.activation_name = sizes, activation

    def decoder(self) -> nn.Sequential:
        return nn.Sequential(*_dense_layers(self.rep_dim, self.widths[::-1], self.input_shape[0], self.activation_name, ()))


def _dense_layers(n_in: int, hidden: Sequence[int], n_out: int, act: str, batch_norm_after=(),
                  bias: bool = True) -> list[nn.Module]:
    """Linear + activation per hidden layer (+ Keras BatchNorm after hidden layer i in
    ``batch_norm_after``), then a linear output."""
    layers: list[nn.Module] = []
    width = n_in
    for i, h in enumerate(hidden):
        layers += [nn.Linear(width, h, bias=bias), make_activation(act)]
        if i in batch_norm_after:
            layers.append(nn.BatchNorm1d(h, **KERAS_BN))
        width = h
    layers.append(nn.Linear(width, n_out, bias=bias))
    return layers


class SVDDMLP(nn.Sequential):
    """Deep SVDD's dense network: per hidden layer Linear -> BatchNorm (``batch_norm``) ->
    activation -> Dropout (``dropout`` > 0), then a bias-free Linear to ``rep_dim``.

    The defaults follow Ruff's rules: no bias terms, BatchNorm without affine parameters (eps
    1e-4), an unbounded activation, no dropout. The OCDN authors' LHCO network (``paper_fc``) is
    the same stack with ``bias``, ``bn_affine``, ``bn_eps=1e-5``, ReLU and ``dropout=0.5``: its biases
    and affine BatchNorm break Ruff's no-bias rule, so Deep SVDD takes it only with ``allow_bias``.
    ``decoder()`` mirrors the stack (same options, output size d).
    """

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] = (512, 512), rep_dim: int = 128,
                 activation: str = "leaky_relu", batch_norm: bool = True, bias: bool = False,
                 bn_affine: bool = False, bn_eps: float = 1e-4, dropout: float = 0.0) -> None:
        for name, flag in (("batch_norm", batch_norm), ("bias", bias), ("bn_affine", bn_affine)):
            if not isinstance(flag, bool):
                raise ConfigError(f"model.net.{name} must be true or false, got {flag!r}")
        if isinstance(dropout, bool) or not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise ConfigError(f"model.net.dropout must be in [0, 1), got {dropout!r}")
        require_positive(bn_eps, "model.net.bn_eps")
        shape = shape_of(input_shape)
        n_in = flat_features(type(self).__name__, shape)
        self.options = {"act": activation, "batch_norm": batch_norm, "bias": bias, "bn_affine": bn_affine,
                        "bn_eps": float(bn_eps), "dropout": float(dropout)}
        super().__init__(*self._layers(n_in, hidden_sizes(hidden), _rep_dim(rep_dim), **self.options))
        self.input_shape, self.rep_dim, self.widths = shape, rep_dim, hidden_sizes(hidden)

    @staticmethod
    def _layers(n_in: int, hidden: Sequence[int], n_out: int, act: str, batch_norm: bool, bias: bool,
                bn_affine: bool, bn_eps: float, dropout: float) -> list[nn.Module]:
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers.append(nn.Linear(width, h, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h, eps=bn_eps, affine=bn_affine))
            layers.append(make_activation(act))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_out, bias=False))
        return layers

    def decoder(self) -> nn.Sequential:
        return nn.Sequential(*self._layers(self.rep_dim, self.widths[::-1], self.input_shape[0], **self.options))
