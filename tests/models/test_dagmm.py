"""The NRCAN deep detectors DAGMM, SOM-DAGMM, DSEBM, MemAE and DUAD (issue 15): each separates
off-manifold points from a 2-D manifold in R^8, and each keeps its method's invariant (checked
against hand-computed values). The contract (fit returns self, float64 finite scores, determinism)
is in test_contract.py, which runs every model config."""

from __future__ import annotations

import math
from functools import partial

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from oneclass.errors import ConfigError, TrainingError
from oneclass.metrics import roc_auc
from oneclass.models.dagmm import DAGMM, gmm_parameters, regularised_cholesky, sample_energy
from oneclass.models.dsebm import DSEBM
from oneclass.models.duad import DUAD, cluster_labels, low_variance_selection
from oneclass.models.memae import MemAE, hard_shrink_addressing
from oneclass.models.som_dagmm import SOMDAGMM, fit_som, som_coordinates
from oneclass.nets import MLP, DenseEncoder
from nrcan_toys import manifold, one_line, trainer  # noqa: F401 (manifold: a fixture)


AE = partial(DenseEncoder, hidden=[32, 16], rep_dim=2, batch_norm=False)
DETECTORS = {
    # the covariance penalty at the paper's lambda_2 = 0.005 slows the autoencoder down on this toy
    "dagmm": (lambda: DAGMM(input_shape=(8,), net=AE, lr=3e-3, batch_size=32, n_mixtures=2, lambda_cov=1e-4), 10),
    "som_dagmm": (lambda: SOMDAGMM(input_shape=(8,), net=AE, lr=3e-3, batch_size=32, n_mixtures=2, lambda_cov=1e-4,
                                   som_rows=6, som_cols=6, som_iterations=500), 8),
    "dsebm": (lambda: DSEBM(input_shape=(8,), net=partial(MLP, hidden=[64], rep_dim=64, activation="softplus"),
                            lr=1e-3, batch_size=32, noise_std=0.5), 5),
    "memae": (lambda: MemAE(input_shape=(8,), net=AE, lr=1e-3, batch_size=32), 5),
    "duad": (lambda: DUAD(input_shape=(8,), net=AE, lr=1e-3, batch_size=32, r=2, n_clusters=8), 5),
}


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_off_manifold_points_score_higher(manifold, name):
    x_train, x_test, y_test = manifold
    make, epochs = DETECTORS[name]
    L.seed_everything(0, verbose=False)
    torch.set_num_threads(1)
    model = make()
    assert model.fit(x_train, trainer=trainer(epochs)) is model
    scores = model.score(x_test)
    assert scores.dtype == np.float64 and scores.shape == (300,) and np.isfinite(scores).all()
    assert roc_auc(scores, y_test) > 0.9, name


# ------------------------------------------------------------------------------------------- DAGMM
def test_gmm_parameters_and_energy_match_hand_computed_values():
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [5.0, 5.0], [7.0, 5.0]], dtype=torch.float64)
    gamma = torch.tensor([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]], dtype=torch.float64)
    phi, mu, cov = gmm_parameters(z, gamma)
    np.testing.assert_allclose(phi, [0.6, 0.4])
    np.testing.assert_allclose(mu, [[2 / 3, 2 / 3], [6.0, 5.0]])
    first = np.cov(z[:3].numpy().T, bias=True)  # the maximum-likelihood (1/N) covariance
    np.testing.assert_allclose(cov[0], first)
    np.testing.assert_allclose(cov[1], [[1.0, 0.0], [0.0, 0.0]])
    # energy = -log sum_k phi_k N(z | mu_k, Sigma_k + reg I), as scipy computes it
    reg = 0.1
    chol = regularised_cholesky(cov, reg)
    points = torch.tensor([[1.0, 1.0], [6.0, 4.0], [20.0, -3.0]], dtype=torch.float64)
    want = [-math.log(sum(phi[k].item() * multivariate_normal(mu[k].numpy(), cov[k].numpy() + reg * np.eye(2)).pdf(p)
                          for k in range(2))) for p in points.numpy()[:2]]
    np.testing.assert_allclose(sample_energy(points, phi, mu, chol)[:2], want, rtol=1e-10)
    assert torch.isfinite(sample_energy(points, phi, mu, chol)).all()  # far points: log-sum-exp, no underflow


def test_dagmm_training_gmm_weights_sum_to_one_and_covariances_are_positive_definite(manifold):
    x_train, _, _ = manifold
    L.seed_everything(1, verbose=False)
    model = DAGMM(input_shape=(8,), net=AE, lr=1e-3, batch_size=64, n_mixtures=3).fit(x_train, trainer=trainer(3))
    assert model.z_dim == 2 + 2 and model.estimation[0].in_features == 4
    assert float(model.phi.sum()) == pytest.approx(1.0, abs=1e-12) and (model.phi > 0).all()
    cov = model.chol @ model.chol.transpose(-1, -2)
    assert (torch.linalg.eigvalsh(cov) > 0).all()
    gamma = model.memberships(model.compress(torch.as_tensor(x_train[:50]))[1])
    np.testing.assert_allclose(gamma.sum(dim=1).detach(), 1.0, rtol=1e-6)
    # the scores are the energies under the stored training-set GMM
    x = torch.as_tensor(x_train[:5])
    _, z = model.eval().compress(x)
    np.testing.assert_allclose(model.score(x_train[:5]), sample_energy(z.double(), model.phi, model.mu, model.chol).detach())


def test_dagmm_errors_are_one_line():
    flat = torch.zeros(10, 3, dtype=torch.float64)  # every point identical: covariance 0
    phi, mu, cov = gmm_parameters(flat, torch.ones(10, 1, dtype=torch.float64))
    with pytest.raises(TrainingError) as err:
        regularised_cholesky(cov, 0.0)
    assert "covariance of GMM component 0 is singular even with reg_covar=0; raise model.reg_covar" in one_line(err)
    assert torch.allclose(regularised_cholesky(cov, 1e-6), 1e-3 * torch.eye(3, dtype=torch.float64).expand(1, 3, 3))
    for kwargs, message in [({"n_mixtures": 0}, "model.n_mixtures must be an integer >= 1"),
                            ({"lambda_energy": -0.1}, "model.lambda_energy must be >= 0"),
                            ({"lambda_cov": -1}, "model.lambda_cov must be >= 0"),
                            ({"dropout": 1.0}, "model.dropout must be in [0, 1)")]:
        with pytest.raises(ConfigError) as err:
            DAGMM(input_shape=(8,), net=AE, **kwargs)
        assert message in one_line(err)
    with pytest.raises(TrainingError, match="call fit"):
        DAGMM(input_shape=(8,), net=AE).score(np.zeros((2, 8), np.float32))


# --------------------------------------------------------------------------------------- SOM-DAGMM
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


# ------------------------------------------------------------------------------------------- DSEBM
def test_dsebm_energy_reconstruction_and_score_matching_target():
    torch.manual_seed(0)
    linear = partial(MLP, hidden=[], rep_dim=5)  # h(x) = W x + c
    energy_model = DSEBM(input_shape=(4,), net=linear, score="energy", noise_std=1.0)
    recon_model = DSEBM(input_shape=(4,), net=linear, score="reconstruction", noise_std=1.0)
    recon_model.load_state_dict(energy_model.state_dict())
    with torch.no_grad():
        energy_model.b_prime.copy_(torch.tensor([0.5, -1.0, 0.0, 2.0]))
        recon_model.b_prime.copy_(energy_model.b_prime)
    W, c, b = energy_model.net.out.weight.detach(), energy_model.net.out.bias.detach(), energy_model.b_prime.detach()
    x = torch.randn(6, 4)
    # E(x) = |x - b'|^2 / 2 - sum softplus(W x + c)
    energy = 0.5 * (x - b).pow(2).sum(1) - torch.nn.functional.softplus(x @ W.T + c).sum(1)
    np.testing.assert_allclose(energy_model.score(x.numpy()), energy.double(), rtol=1e-5)
    # grad E = x - b' - W^T sigmoid(W x + c): the reconstruction is a tied-weight autoencoder
    grad = x - b - torch.sigmoid(x @ W.T + c) @ W
    np.testing.assert_allclose(recon_model.score(x.numpy()), grad.norm(dim=1).double(), rtol=1e-5)
    # with W = 0 the energy is |x - b'|^2 / 2 and denoising score matching's target x~ - grad E(x~)
    # is b' whatever the noise: the loss is exactly mean |x - b'|^2
    with torch.no_grad():
        energy_model.net.out.weight.zero_()
    np.testing.assert_allclose(energy_model.training_loss(x).item(), (x - b).pow(2).sum(1).mean().item(), rtol=1e-5)
    with pytest.raises(ConfigError) as err:
        DSEBM(input_shape=(4,), score="likelihood")
    assert "model.score must be one of ['energy', 'reconstruction']" in one_line(err)


# ------------------------------------------------------------------------------------------- MemAE
def test_memae_hard_shrink_addressing_is_a_sparse_distribution(manifold):
    logits = torch.tensor([[3.0, 0.0, -5.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    w = hard_shrink_addressing(logits, shrink=0.1)
    soft = torch.softmax(logits, dim=1)
    kept = soft > 0.1
    np.testing.assert_allclose(w, torch.where(kept, soft, 0.0) / torch.where(kept, soft, 0.0).sum(1, keepdim=True),
                               atol=1e-6)  # max(w - l, 0) w / |w - l| = w where w > l, renormalised
    assert (w[0, 1:3] == 0).all() and torch.allclose(w[1], torch.full((4,), 0.25))
    x_train, _, _ = manifold
    L.seed_everything(3, verbose=False)
    model = MemAE(input_shape=(8,), net=AE, mem_dim=20, shrink_threshold=0.02, lr=1e-3, batch_size=64)
    model.fit(x_train, trainer=trainer(2))
    w = model.address(model.encoder(torch.as_tensor(x_train))).detach()
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(dim=1), 1.0, rtol=1e-5)
    with pytest.raises(ConfigError) as err:
        MemAE(input_shape=(8,), net=AE, mem_dim=50, shrink_threshold=0.05)
    assert "model.shrink_threshold must be in [0, 1/mem_dim) = [0, 0.02)" in one_line(err)


# -------------------------------------------------------------------------------------------- DUAD
def planted(rng):
    """Seven tight blobs (normal, 100 rows each) and three diffuse groups (planted anomalies, 20 each)."""
    angles = np.linspace(0, 2 * np.pi, 7, endpoint=False)
    blobs = 5 * np.c_[np.cos(angles), np.sin(angles)]
    normal = np.concatenate([c + 0.2 * rng.normal(size=(100, 2)) for c in blobs])
    anomalies = np.concatenate([c + 3.0 * rng.normal(size=(20, 2)) for c in [[40, 0], [-40, 10], [0, -40]]])
    return np.r_[normal, anomalies], np.r_[np.zeros(700, bool), np.ones(60, bool)]


@pytest.mark.parametrize("method", ["gmm", "kmeans"])
def test_duad_selection_drops_the_most_spread_out_clusters(method):
    x, is_anomaly = planted(np.random.default_rng(4))
    labels = cluster_labels(x, 10, method, seed=0)
    keep = low_variance_selection(x, labels, drop_percent=30)
    variances = {c: ((x[labels == c] - x[labels == c].mean(0)) ** 2).sum(1).mean() for c in np.unique(labels)}
    dropped = {c for c in variances if not keep[labels == c].any()}
    assert len(dropped) == 3  # 30 % of the 10 clusters, the three largest variances
    assert min(variances[c] for c in dropped) > max(v for c, v in variances.items() if c not in dropped)
    assert not keep[is_anomaly].any() and keep[~is_anomaly].all()


def test_duad_trains_on_the_selection_and_records_the_dropped_rows():
    rng = np.random.default_rng(5)
    x, is_anomaly = planted(rng)
    x8 = np.c_[x, 0.1 * rng.normal(size=(len(x), 6))].astype(np.float32)
    L.seed_everything(5, verbose=False)
    model = DUAD(input_shape=(8,), net=AE, lr=1e-3, batch_size=64, r=2, p0=30, p=20, n_clusters=10,
                 clustering="kmeans")
    seen = []
    original = model.training_loss
    model.training_loss = lambda batch: (seen.append(len(batch)), original(batch))[1]
    model.fit(x8, trainer=trainer(5))
    history = model.selection_history_
    assert [h["epoch"] for h in history] == [0, 1, 3]  # before training, then after epochs 2 and 4
    assert all(h["kept"] + h["dropped"] == len(x8) and h["dropped"] > 0 for h in history)
    assert model.n_dropped_ == history[-1]["dropped"]
    assert sum(seen[: math.ceil(history[0]["kept"] / 64)]) == history[0]["kept"]  # epoch 1 saw the kept rows only
    for kwargs, message in [({"p0": 100}, "model.p0 must be a percentage in [0, 100)"),
                            ({"n_clusters": 1}, "model.n_clusters must be an integer >= 2"),
                            ({"clustering": "dbscan"}, "model.clustering must be one of ['gmm', 'kmeans']")]:
        with pytest.raises(ConfigError) as err:
            DUAD(input_shape=(8,), net=AE, **kwargs)
        assert message in one_line(err)
