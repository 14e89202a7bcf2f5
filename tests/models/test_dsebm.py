"""DSEBM (Zhai et al., ICML 2016; issue 15, NRCAN part A): it separates off-manifold points from a 2-D
manifold in R^8, and its energy, reconstruction score and denoising score-matching target match
hand-computed values. The contract is in test_contract.py."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from oneclass.errors import ConfigError
from oneclass.models.dsebm import DSEBM
from oneclass.nets import MLP
from nrcan_toys import manifold, off_manifold_points_score_higher, one_line  # noqa: F401 (manifold: a fixture)


def test_off_manifold_points_score_higher(manifold):
    off_manifold_points_score_higher(
        manifold, lambda: DSEBM(input_shape=(8,), net=partial(MLP, hidden=[64], rep_dim=64, activation="softplus"),
                                lr=1e-3, batch_size=32, noise_std=0.5), 5, "dsebm")


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
