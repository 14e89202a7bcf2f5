"""Network building blocks shared by detectors."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from oneclass.errors import ConfigError

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def activation(name: str) -> nn.Module:
    """An activation module by name (``relu``, ``leaky_relu``, ``elu``, ``tanh``, ``sigmoid``)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def hidden_sizes(hidden: Sequence[int] | None, name: str = "model.hidden") -> list[int]:
    """Validated list of hidden-layer widths (may be empty)."""
    sizes = list(hidden or [])
    for h in sizes:
        if isinstance(h, bool) or not isinstance(h, int) or h <= 0:
            raise ConfigError(f"{name} must be a list of positive integers, got {list(hidden or [])!r}")
    return sizes


def glorot_init(module: nn.Module) -> None:
    """Keras' default initialisation (Glorot-uniform weights, zero biases) for Linear layers."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class MLP(nn.Module):
    """Dense network ``in -> hidden... -> out`` with an activation after every hidden layer.

    ``forward(x, return_hidden=True)`` also returns the hidden activations (for activity
    regularisation).
    """

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, act: str = "relu", bias: bool = True) -> None:
        super().__init__()
        sizes = [n_in, *hidden_sizes(hidden)]
        self.hidden = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = activation(act)
        self.out = nn.Linear(sizes[-1], n_out, bias=bias)

    def forward(self, x: torch.Tensor, return_hidden: bool = False):
        acts = []
        for layer in self.hidden:
            x = self.act(layer(x))
            acts.append(x)
        y = self.out(x)
        return (y, acts) if return_hidden else y
