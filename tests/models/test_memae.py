"""MemAE (Gong et al., ICCV 2019; issue 15, NRCAN part A): it separates off-manifold points from a 2-D
manifold in R^8, and its hard-shrink addressing is a sparse distribution over the memory. The
contract is in test_contract.py."""

from __future__ import annotations

import lightning.pytorch as L
import numpy as np
import pytest
import torch

from oneclass.errors import ConfigError
from oneclass.models.memae import MemAE, hard_shrink_addressing
from nrcan_toys import AE, manifold, off_manifold_points_score_higher, one_line, trainer  # noqa: F401 (manifold: a fixture)


def test_off_manifold_points_score_higher(manifold):
    off_manifold_points_score_higher(manifold, lambda: MemAE(input_shape=(8,), net=AE, lr=1e-3, batch_size=32), 5,
                                     "memae")


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
