"""DAGMM (Zong et al., ICLR 2018; issue 15, NRCAN part A): it separates off-manifold points from a 2-D
manifold in R^8, its GMM parameters and sample energy match hand-computed values, the trained
mixture is a distribution with positive-definite covariances, and bad settings are one line. The
contract (fit returns self, float64 finite scores, determinism) is in test_contract.py, which runs
every model config."""

from __future__ import annotations

import math

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from oneclass.errors import ConfigError, TrainingError
from oneclass.models.dagmm import DAGMM, gmm_parameters, regularised_cholesky, sample_energy
from nrcan_toys import AE, manifold, off_manifold_points_score_higher, one_line, trainer  # noqa: F401 (manifold: a fixture)


def test_off_manifold_points_score_higher(manifold):
    # the covariance penalty at the paper's lambda_2 = 0.005 slows the autoencoder down on this toy
    off_manifold_points_score_higher(
        manifold, lambda: DAGMM(input_shape=(8,), net=AE, lr=3e-3, batch_size=32, n_mixtures=2, lambda_cov=1e-4), 10,
        "dagmm")


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
