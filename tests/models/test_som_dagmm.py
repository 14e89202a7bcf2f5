"""SOM-DAGMM (Chen et al. 2020; issue 15, NRCAN part A): it separates off-manifold points from a 2-D
manifold in R^8, the map coordinates are the winner's grid position in the unit square and a fitted
map self-organises, and the GMM's input carries the two map coordinates. The contract is in
test_contract.py."""

from __future__ import annotations

import lightning.pytorch as L
import numpy as np
import torch

from oneclass.models.som_dagmm import SOMDAGMM, fit_som, som_coordinates
from nrcan_toys import AE, manifold, off_manifold_points_score_higher, trainer  # noqa: F401 (manifold: a fixture)


def test_off_manifold_points_score_higher(manifold):
    off_manifold_points_score_higher(
        manifold, lambda: SOMDAGMM(input_shape=(8,), net=AE, lr=3e-3, batch_size=32, n_mixtures=2, lambda_cov=1e-4,
                                   som_rows=6, som_cols=6, som_iterations=500), 8, "som_dagmm")


def test_som_coordinates_are_the_winners_grid_position_in_the_unit_square():
    rows, cols = 3, 4
    grid = torch.tensor([[r, c] for r in range(rows) for c in range(cols)], dtype=torch.float64)
    units = torch.cat([grid, torch.zeros(rows * cols, 1, dtype=torch.float64)], dim=1)  # unit (r, c) at (r, c, 0)
    x = torch.tensor([[0.1, -0.2, 0.3], [2.2, 2.9, 0.0], [1.0, 1.0, 5.0]])
    np.testing.assert_allclose(som_coordinates(x, units, rows, cols), [[0, 0], [1, 1], [0.5, 1 / 3]], rtol=1e-12)
    # a fitted map on a line keeps the line's order along the grid (it self-organises)
    torch.manual_seed(0)
    line = torch.linspace(0, 1, 200)[:, None].repeat(1, 2)
    som = fit_som(line, 1, 10, iterations=2000, lr=0.5, sigma=5.0, neighbourhood="gaussian")
    steps = np.diff(som[:, 0].numpy())
    assert (steps > 0).all() or (steps < 0).all()


def test_som_dagmm_gmm_input_has_the_two_map_coordinates(manifold):
    x_train, _, _ = manifold
    L.seed_everything(2, verbose=False)
    model = SOMDAGMM(input_shape=(8,), net=AE, batch_size=64, som_rows=5, som_cols=7, som_iterations=300)
    model.fit(x_train, trainer=trainer(1))
    x = torch.as_tensor(x_train[:100])
    code = model.encoder(x)
    z = model.gmm_input(x, code, model.decoder(code))
    assert z.shape == (100, 2 + 2 + 2) and model.estimation[0].in_features == 6
    coords = z[:, -2:].detach()
    assert (coords >= 0).all() and (coords <= 1).all()
    np.testing.assert_allclose(coords, som_coordinates(x, model.som, 5, 7))
    np.testing.assert_allclose(coords[:, 0] * 4, np.round(coords[:, 0] * 4), atol=1e-6)  # grid rows 0..4
    assert bool(model.som_fitted) and model.som.shape == (35, 8)
