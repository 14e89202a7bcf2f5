"""Dense (fully connected) networks for flat inputs ``(n, d)``.

* :class:`MLP` - ``d -> hidden... -> rep_dim`` with an activation after every hidden layer (the
  OCDN's 3 x 128 ReLU network; ``hidden=[]`` is a linear map);
* :class:`DenseEncoder` - the OCDN paper's autoencoder encoder (Keras-style BatchNorm between
  hidden layers); its ``decoder()`` mirrors the widths without BatchNorm;
* :class:`SVDDMLP` - Deep SVDD's dense network, by default under Ruff's rules (no bias terms,
  BatchNorm without affine parameters, an unbounded activation); with biases, affine BatchNorm and
  dropout it is the OCDN authors' LHCO network (``conf/model/net/paper_fc.yaml``).

Every dense net can be sized from the input instead of fixed ``hidden`` widths (NRCAN's tabular
networks): ``compression_factor=f, n_layers=L`` gives L Linear layers ``d -> d // f -> d // f**2 ...``
(:func:`funnel_widths`, each at least ``min_width``), the last being ``rep_dim`` (or, with
``rep_dim`` null, ``d // f**L``).

Each layer stack is an ``nn.Sequential`` (or has named ``hidden``/``out`` layers), created in the
same order as the networks of earlier versions, so seeded initial weights are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from oneclass.config import require_positive
from oneclass.errors import ConfigError
from oneclass.nets.base import Dropout, flat_features, make_activation, hidden_sizes, shape_of

# Keras' BatchNormalization defaults (momentum 0.99 of the old value = torch momentum 0.01, eps 1e-3).
KERAS_BN = {"momentum": 0.01, "eps": 1e-3}


def _rep_dim(rep_dim: int) -> int:
    return require_positive(rep_dim, "model.net.rep_dim", integer=True)


class MLP(nn.Module):
    """``d -> hidden... -> rep_dim``, ``activation`` after each hidden layer, linear output.

    ``forward(x, return_hidden=True)`` also returns the hidden activations (activity regularisation).
    """

    flat_only = True  # takes (n, d) only (nets.make: a model's image default replaces it on images)

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] | None = (128, 128, 128), rep_dim: int | None = 1,
                 activation: str = "relu", bias: bool = True, compression_factor: float | None = None,
                 n_layers: int | None = None, min_width: int = 1) -> None:
        super().__init__()
        self.input_shape = shape_of(input_shape)
        n_in = flat_features(type(self).__name__, self.input_shape)
        hidden, rep_dim = sized_hidden(n_in, hidden, rep_dim, compression_factor, n_layers, min_width)
        self.rep_dim = _rep_dim(rep_dim)
        sizes = [n_in, *hidden]
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

    flat_only = True

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] | None = (512, 512), rep_dim: int | None = 2,
                 activation: str = "relu", batch_norm: bool = True, compression_factor: float | None = None,
                 n_layers: int | None = None, min_width: int = 1) -> None:
        if not isinstance(batch_norm, bool):
            raise ConfigError(f"model.net.batch_norm must be true or false, got {batch_norm!r}")
        shape = shape_of(input_shape)
        n_in = flat_features(type(self).__name__, shape)
        sizes, rep_dim = sized_hidden(n_in, hidden, rep_dim, compression_factor, n_layers, min_width)
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

    flat_only = True

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] | None = (512, 512), rep_dim: int | None = 128,
                 activation: str = "leaky_relu", batch_norm: bool = True, bias: bool = False,
                 bn_affine: bool = False, bn_eps: float = 1e-4, dropout: float = 0.0,
                 compression_factor: float | None = None, n_layers: int | None = None, min_width: int = 1) -> None:
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
        hidden, rep_dim = sized_hidden(n_in, hidden, rep_dim, compression_factor, n_layers, min_width)
        super().__init__(*self._layers(n_in, hidden, _rep_dim(rep_dim), **self.options))
        self.input_shape, self.rep_dim, self.widths = shape, rep_dim, hidden

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
                layers.append(Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_out, bias=False))
        return layers

    def decoder(self) -> nn.Sequential:
        return nn.Sequential(*self._layers(self.rep_dim, self.widths[::-1], self.input_shape[0], **self.options))


# ----------------------------------------------------------------------------------------------
# Widths sized from the input (NRCAN's tabular networks)


def sized_hidden(n_in: int, hidden: Sequence[int] | None, rep_dim: int | None, compression_factor: float | None,
                 n_layers: int | None, min_width: int = 1) -> tuple[list[int], int]:
    """(hidden widths, rep_dim): ``hidden`` and ``rep_dim`` as given, or - with ``compression_factor``
    - NRCAN's sizing from the input: ``n_layers`` Linear layers whose widths are
    :func:`funnel_widths`; the last is the output (``rep_dim`` null) or replaced by ``rep_dim``."""
    if compression_factor is None:
        if rep_dim is None:
            raise ConfigError("model.net.rep_dim is null; give it, or size the net from the input with "
                              "model.net.compression_factor and model.net.n_layers")
        return hidden_sizes(hidden), rep_dim
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ConfigError(f"model.net.n_layers must be an integer >= 1 with model.net.compression_factor, got {n_layers!r}")
    if hidden:
        raise ConfigError("model.net: give either hidden (fixed widths) or compression_factor + n_layers (sized "
                          "from the input), not both; set model.net.hidden=null")
    widths = funnel_widths(n_in, compression_factor, n_layers, min_width)
    return widths[:-1], widths[-1] if rep_dim is None else rep_dim


def funnel_widths(n_in: int, compression_factor: float, n_layers: int, min_width: int = 1,
                  name: str = "model.net") -> list[int]:
    """NRCAN's layer sizing: ``n_in // f, n_in // f**2, ...`` (``n_layers`` widths, each at least
    ``min_width``). ``f = 1`` keeps the input width (NRCAN's arrhythmia autoencoder)."""
    f = require_positive(compression_factor, f"{name}.compression_factor")
    if f < 1:
        raise ConfigError(f"{name}.compression_factor must be >= 1 (each layer n_in // factor wide), got {compression_factor!r}")
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 0:
        raise ConfigError(f"{name}.n_layers must be an integer >= 1, got {n_layers!r}")
    low = require_positive(min_width, f"{name}.min_width", integer=True)
    return [max(low, int(n_in // f**k)) for k in range(1, n_layers + 1)]
