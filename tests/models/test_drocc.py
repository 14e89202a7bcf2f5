"""DROCC (Goyal et al., ICML 2020; issue 15, NRCAN part B1): it separates off-manifold points from a
2-D manifold in R^8, its negatives lie on the shell r <= |h| <= gamma * r around their event, the
score is the anomaly logit, the warm-up trains on the normal cross-entropy alone, and bad settings
are refused in one line before training. The contract (fit returns self, float64 finite scores,
determinism) is in test_contract.py."""

from __future__ import annotations

import math
from functools import partial

import lightning.pytorch as L
import numpy as np
import pytest
import torch

from oneclass.errors import ConfigError, OneClassError
from oneclass.models.drocc import DROCC, drocc_lr_factor, project_to_shell
from oneclass.nets import MLP
from nrcan_toys import manifold, off_manifold_points_score_higher, one_line, trainer  # noqa: F401 (manifold: a fixture)


CLASSIFIER = partial(MLP, hidden=[32], rep_dim=1)


def test_off_manifold_points_score_higher(manifold):
    off_manifold_points_score_higher(
        manifold, lambda: DROCC(input_shape=(8,), net=CLASSIFIER, radius=0.5, gamma=2.0, ascent_steps=10,
                                ascent_step_size=0.05, project_every=5, only_ce_epochs=1, lr=1e-2, batch_size=64), 10,
        "drocc")


def test_drocc_negatives_lie_on_the_shell_around_their_event(manifold):
    x_train, _, _ = manifold
    L.seed_everything(1, verbose=False)
    model = DROCC(input_shape=(8,), net=CLASSIFIER, radius=0.4, gamma=1.5, ascent_steps=7, ascent_step_size=0.2,
                  project_every=3, only_ce_epochs=1, batch_size=64)
    model.fit(x_train, trainer=trainer(2))
    x = torch.as_tensor(x_train[:200])
    # initial noise of std 1 (|h| ~ 2.8 in R^8) and 7 steps of 0.2 leave the shell; 7 is not a multiple
    # of project_every, so the last projection is the one after the last step
    points = model.adversarial_points(x)
    dist = (points - x).norm(dim=1)
    assert (dist >= 0.4 - 1e-5).all() and (dist <= 0.6 + 1e-5).all()
    assert not points.requires_grad
    # the ascent moves towards what f calls normal: the negatives look more normal than their start
    L.seed_everything(2, verbose=False)
    start = project_to_shell(x, x + torch.randn_like(x), 0.4, 0.6)
    L.seed_everything(2, verbose=False)
    searched = model.adversarial_points(x)
    with torch.no_grad():
        assert model.logit(searched).mean() > model.logit(start).mean()
    # projection: inside keeps its norm, outside is clipped, the direction kept
    h = torch.tensor([[0.1, 0.0], [0.0, 0.3], [3.0, 4.0]])
    np.testing.assert_allclose(project_to_shell(torch.zeros(3, 2), h, 0.2, 2.0), [[0.2, 0.0], [0.0, 0.3], [0.24, 0.32]],
                               rtol=1e-5)


def test_drocc_score_is_the_anomaly_logit_and_the_schedule_steps_down():
    torch.manual_seed(0)
    model = DROCC(input_shape=(8,), net=CLASSIFIER)
    x = torch.randn(5, 8)
    np.testing.assert_allclose(model.score(x.numpy()), -model.net(x).detach().reshape(-1).double(), rtol=1e-6)
    # 50 warm-up epochs of 200: full lr until 50 + 45, then x0.1, x0.01, x0.001
    factors = [drocc_lr_factor(e, 50, 200) for e in (0, 49, 95, 96, 140, 141, 185, 186, 199)]
    assert factors == [1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


def test_drocc_warm_up_trains_on_the_normal_cross_entropy_alone(manifold):
    x_train, _, _ = manifold
    L.seed_everything(3, verbose=False)
    model = DROCC(input_shape=(8,), net=CLASSIFIER, only_ce_epochs=1, ascent_steps=2, batch_size=128)
    calls = []
    original = model.adversarial_points
    model.adversarial_points = lambda x: (calls.append(model.current_epoch), original(x))[1]
    model.fit(x_train, trainer=trainer(3))
    assert sorted(set(calls)) == [1, 2] and len(calls) == 2 * math.ceil(600 / 128)


@pytest.mark.parametrize("kwargs, message", [
    ({"gamma": 1.0}, "model.gamma must be > 1"),
    ({"radius": 0}, "model.radius must be positive"),
    ({"radius": -2.0}, "model.radius must be positive"),
    ({"lamb": -1}, "model.lamb must be >= 0"),
    ({"ascent_steps": 0}, "model.ascent_steps must be positive"),
    ({"only_ce_epochs": -1}, "model.only_ce_epochs must be an integer >= 0"),
    ({"lr_schedule": "cosine"}, "model.lr_schedule must be one of ['drocc', 'constant']"),
    ({"net": partial(MLP, hidden=[8], rep_dim=2)}, "model.net.rep_dim is 2 but DROCC needs a net with 1 output"),
])
def test_drocc_bad_settings_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ConfigError) as err:
        DROCC(input_shape=(8,), **kwargs)
    assert message in one_line(err)


def test_drocc_warm_up_longer_than_training_is_refused_before_training(manifold):
    x_train, _, _ = manifold
    model = DROCC(input_shape=(8,), net=CLASSIFIER, only_ce_epochs=3)
    model.training_loss = lambda x: pytest.fail("trained")  # noqa: ARG005
    with pytest.raises(OneClassError) as err:
        model.fit(x_train, trainer=trainer(3))
    assert "model.only_ce_epochs=3 warm-up epochs leave none of the trainer.max_epochs=3" in one_line(err)
