"""SOM-DAGMM (Chen et al., "SOM-DAGMM: a self-organizing map-enhanced deep autoencoding Gaussian
mixture model", 2020): DAGMM whose estimation network and GMM also see where each event falls on a
self-organising map fitted on the training data.

The SOM is fitted once, on the raw training events, before the networks train: a ``rows`` x
``cols`` grid of prototypes initialised from random training events and updated online (one random
training event per iteration) towards the event, weighted by a neighbourhood of its winning unit
(``gaussian`` or ``bubble``) whose radius shrinks geometrically from ``sigma`` to 1 and whose learning rate
decays as ``lr / (1 + t / (T / 2))`` (MiniSom's schedule, used by the NRCAN collection). An event's
SOM feature is its winner's grid coordinates scaled to [0, 1]; z = [z_c, z_r, row, col] (latent +
4 dimensions). Everything else is :class:`~oneclass.models.dagmm.DAGMM`.

Defaults: the NRCAN collection's SOM (32 x 32, lr 0.6, bubble - "as suggested in the paper" for KDD -,
2000 iterations) with a neighbourhood that starts at half the grid (theirs stays at the winner), and
DAGMM's settings; the collection lists no tuned rows for SOM-DAGMM.
"""

from __future__ import annotations

from typing import Any

import torch

from oneclass.config import require_int, require_positive
from oneclass.errors import ConfigError
from oneclass.models.dagmm import DAGMM

NEIGHBOURHOODS = ("gaussian", "bubble")


def fit_som(x: torch.Tensor, rows: int, cols: int, iterations: int, lr: float, sigma: float,
            neighbourhood: str = "bubble") -> torch.Tensor:
    """Prototypes (rows * cols, d) of a SOM trained online on random rows of ``x`` (n, d).

    Random draws come from torch's global generator (they follow the run's seed).
    """
    n, d = x.shape
    x = x.detach().double()
    weights = x[torch.randint(n, (rows * cols,), device=x.device)].clone()
    grid = torch.stack(torch.meshgrid(torch.arange(rows, device=x.device), torch.arange(cols, device=x.device),
                                      indexing="ij"), dim=-1).reshape(-1, 2).double()
    picks = torch.randint(n, (iterations,), device=x.device)
    half = max(iterations / 2.0, 1.0)
    for t in range(iterations):
        v = x[picks[t]]
        winner = (weights - v).pow(2).sum(dim=1).argmin()
        decay = 1.0 / (1.0 + t / half)
        radius = max(1.0, sigma) ** (1.0 - t / max(iterations, 1))  # geometric, from sigma to 1
        dist2 = (grid - grid[winner]).pow(2).sum(dim=1)
        if neighbourhood == "gaussian":
            h = torch.exp(-dist2 / (2 * radius**2))
        else:  # bubble: every unit within the radius (Chebyshev distance) moves fully
            h = ((grid - grid[winner]).abs().amax(dim=1) < radius).double()
        weights += (lr * decay) * h[:, None] * (v - weights)
    return weights


def som_coordinates(x: torch.Tensor, weights: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Each row's winning unit as (row / (rows - 1), col / (cols - 1)) in [0, 1], shape (n, 2)."""
    x = x.flatten(1).to(weights.dtype)
    d2 = x.pow(2).sum(1, keepdim=True) - 2 * x @ weights.T + weights.pow(2).sum(1)[None]
    winner = d2.argmin(dim=1)
    r = torch.div(winner, cols, rounding_mode="floor").to(x.dtype)
    c = (winner % cols).to(x.dtype)
    return torch.stack([r / max(rows - 1, 1), c / max(cols - 1, 1)], dim=1)


class SOMDAGMM(DAGMM):
    """SOM-DAGMM detector: DAGMM with the SOM winner's normalised coordinates appended to z.

    Parameters
    ----------
    som_rows, som_cols : the map's grid (NRCAN: 32 x 32).
    som_iterations : online updates (NRCAN: 2000, one random training event each).
    som_lr : initial learning rate (NRCAN: 0.6 for KDD, "as suggested in the paper").
    som_sigma : initial neighbourhood radius in grid units (shrinks to 1); null = half the
        larger grid side. (NRCAN keeps MiniSom's sigma 1, with which a bubble moves the winner alone:
        the map does not self-organise and a coordinate is an arbitrary unit's index.)
    som_neighbourhood : ``bubble`` or ``gaussian``.
    Other parameters: :class:`~oneclass.models.dagmm.DAGMM`.
    """

    EXTRA_DIMS = 2

    def __init__(self, input_shape: Any = None, som_rows: int = 32, som_cols: int = 32, som_iterations: int = 2000,
                 som_lr: float = 0.6, som_sigma: float | None = None, som_neighbourhood: str = "bubble",
                 **kwargs: Any) -> None:
        super().__init__(input_shape=input_shape, **kwargs)
        self.som_rows = require_positive(som_rows, "model.som_rows", integer=True)
        self.som_cols = require_positive(som_cols, "model.som_cols", integer=True)
        self.som_iterations = require_int(som_iterations, "model.som_iterations")
        if self.som_iterations < 0:
            raise ConfigError(f"model.som_iterations must be >= 0, got {som_iterations!r}")
        self.som_lr = require_positive(som_lr, "model.som_lr")
        self.som_sigma = (max(self.som_rows, self.som_cols) / 2.0 if som_sigma is None
                          else require_positive(som_sigma, "model.som_sigma"))
        if som_neighbourhood not in NEIGHBOURHOODS:
            raise ConfigError(f"model.som_neighbourhood must be one of {list(NEIGHBOURHOODS)}, got {som_neighbourhood!r}")
        self.som_neighbourhood = som_neighbourhood
        self.register_buffer("som", torch.zeros(self.som_rows * self.som_cols, self.n_features, dtype=torch.float64))
        self.register_buffer("som_fitted", torch.tensor(False))

    def on_fit_start(self) -> None:
        if not bool(self.som_fitted):  # a resumed run keeps its map
            self.som.copy_(fit_som(self.train_data.flatten(1), self.som_rows, self.som_cols, self.som_iterations,
                                   self.som_lr, self.som_sigma, self.som_neighbourhood))
            self.som_fitted.fill_(True)
        super().on_fit_start()

    def som_features(self, x: torch.Tensor) -> torch.Tensor:
        """The SOM winner's (row, col) in [0, 1] of each event, shape (n, 2)."""
        return som_coordinates(x, self.som, self.som_rows, self.som_cols)

    def gmm_input(self, x: torch.Tensor, code: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        z = super().gmm_input(x, code, x_hat)
        return torch.cat([z, self.som_features(x).to(z.dtype)], dim=1)
