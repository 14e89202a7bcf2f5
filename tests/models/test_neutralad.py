"""NeuTraL AD (Qiu et al., ICML 2021; issue 15, NRCAN part B1): it separates off-manifold points from a
2-D manifold in R^8, its learnt transformations are not the identity, its DCL matches hand-computed
values, and bad settings are refused in one line before training. The contract is in
test_contract.py."""

from __future__ import annotations

import math
from functools import partial

import lightning.pytorch as L
import numpy as np
import pytest
import torch

from oneclass.errors import ConfigError
from oneclass.models.neutralad import NeuTraLAD, dcl_loss
from oneclass.nets import SVDDMLP
from nrcan_toys import manifold, off_manifold_points_score_higher, one_line, trainer  # noqa: F401 (manifold: a fixture)


ENCODER = partial(SVDDMLP, hidden=[32, 32], rep_dim=16, activation="relu", batch_norm=False, bias=False)


def test_off_manifold_points_score_higher(manifold):
    off_manifold_points_score_higher(
        manifold, lambda: NeuTraLAD(input_shape=(8,), net=ENCODER, n_transforms=6, lr=3e-3, batch_size=64), 10,
        "neutralad")


def test_dcl_matches_hand_computed_values():
    # every view's embedding identical: each term is log(K e^{1/tau}) - log(e^{1/tau}) = log K, total 1
    z = torch.ones(3, 5, 4)
    np.testing.assert_allclose(dcl_loss(z, 0.1), [1.0, 1.0, 1.0], rtol=1e-6)
    # two transformed views (K = 2) in R^2: original e1, views e1 and e2
    z = torch.tensor([[[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]]])
    tau = 0.5
    e = math.exp
    view1 = -math.log(e(1 / tau) / (e(1 / tau) + e(0.0)))  # sims: original 1, other view 0
    view2 = -math.log(e(0.0) / (e(0.0) + e(0.0)))  # sims: original 0, other view 0
    np.testing.assert_allclose(dcl_loss(z, tau), [(view1 + view2) / (2 * math.log(2))], rtol=1e-6)


def test_neutralad_transformations_are_learnt_and_not_the_identity(manifold):
    x_train, _, _ = manifold
    x = torch.as_tensor(x_train[:100])
    for transform in ("residual", "mul"):
        L.seed_everything(4, verbose=False)
        model = NeuTraLAD(input_shape=(8,), net=ENCODER, n_transforms=5, transform=transform, lr=3e-3, batch_size=64)
        before = [p.detach().clone() for p in model.transforms.parameters()]
        loss_before = model(x).mean().item()
        model.fit(x_train, trainer=trainer(5))
        assert any(not torch.equal(b, p) for b, p in zip(before, model.transforms.parameters()))
        assert model(x).mean().item() < loss_before
        with torch.no_grad():
            views = model.views(x)  # (n, K, d)
        assert views.shape == (100, 5, 8)
        # each view moves the events by a sizeable fraction of their norm, and the views differ
        moved = (views - x[:, None]).norm(dim=2) / x.norm(dim=1, keepdim=True)
        assert (moved.mean(dim=0) > 0.05).all(), transform
        apart = (views[:, :, None] - views[:, None]).norm(dim=3).mean(dim=0)
        assert (apart + torch.eye(5) > 0.05).all(), transform
        # the score is the DCL of the event's embeddings
        np.testing.assert_allclose(model.score(x.numpy()), dcl_loss(model.eval().embeddings(x), 0.1).detach().double(),
                                   rtol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_transforms": 1}, "model.n_transforms must be an integer >= 2"),
    ({"transform": "affine"}, "model.transform must be one of ['residual', 'mul']"),
    ({"temperature": 0.0}, "model.temperature must be positive"),
    ({"transform_layers": 0}, "model.transform_layers must be positive"),
    ({"transform_hidden": 0}, "model.transform_hidden must be positive"),
])
def test_neutralad_bad_settings_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ConfigError) as err:
        NeuTraLAD(input_shape=(8,), **kwargs)
    assert message in one_line(err)
    with pytest.raises(ConfigError) as err:
        NeuTraLAD(input_shape=(1, 4, 4))
    assert "takes flat" in one_line(err)
