"""The OCDN: the paper's known answers on the Gaussian toy, saturation-proof scores, and the
training path computing exactly what a plain PyTorch loop computes."""

from functools import partial
from math import erf, sqrt

import lightning.pytorch as L
import numpy as np
import pytest
import torch

from oneclass.data.gaussian import GaussianToy
from oneclass.errors import ConfigError
from oneclass.metrics import roc_auc
from oneclass.models.ocdn import OCDN
from oneclass.nets import MLP
from oneclass.run.snapshots import ScoreSnapshots


def phi(z: float) -> float:
    return 0.5 * (1 + erf(z / sqrt(2)))


def trainer(epochs: int, callbacks: list | None = None) -> L.Trainer:
    return L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)


def fit_logreg(data, epochs: int, seed: int = 0, callbacks: list | None = None) -> OCDN:
    L.seed_everything(seed, verbose=False)
    model = OCDN(n_features=1, net=partial(MLP, hidden=[]), batch_size=256)
    return model.fit(data.x_train, trainer=trainer(epochs, callbacks))


@pytest.mark.slow
@pytest.mark.parametrize("signal_mean", [0.0, -4.0])
def test_logistic_ocdn_reaches_the_analytic_auc_at_every_epoch(signal_mean):
    """A monotone score gives AUC = Phi((mu_s + 2) / sqrt 2): 0.9214 (mu_s = 0), 0.0786 (mu_s = -4),
    and the logistic OCDN's AUC is the same after 5 and 50 epochs (the paper's universality)."""
    # 20k training events are plenty for a 2-parameter convex model (79 steps an epoch); the large
    # test set keeps the AUC's sampling error (~0.001) well inside the tolerance
    data = GaussianToy(signal_mean=signal_mean, n_train=20_000, n_test_background=100_000,
                       n_test_signal=100_000).load(seed=0)
    expected = phi((signal_mean + 2) / sqrt(2))
    # one training of 50 epochs, test scores snapshotted after epochs 5 and 50
    snaps = ScoreSnapshots([5, 50], data.x_test, data.y_test)
    fit_logreg(data, 50, callbacks=[snaps])
    assert snaps.saved_epochs == [5, 50]
    auc5, auc50 = (roc_auc(s, data.y_test) for s in snaps.scores)
    assert auc50 == pytest.approx(expected, abs=0.01)
    assert auc5 == pytest.approx(auc50, abs=0.005)


def test_scores_rank_correctly_where_float32_sigmoids_tie():
    model = OCDN(n_features=1, net=partial(MLP, hidden=[]))
    with torch.no_grad():
        model.net.out.weight.fill_(1.0)
        model.net.out.bias.fill_(0.0)
    x = np.array([[-120.0], [-110.0]], dtype=np.float32)
    sigmoid32 = torch.sigmoid(torch.tensor(x[:, 0]))
    assert sigmoid32[0] == sigmoid32[1] == 0  # the paper's score underflows and ties ...
    scores = model.score(x)
    assert scores.dtype == np.float64 and scores[1] > scores[0]  # ... ours keeps the order
    assert roc_auc(scores, np.array([0, 1])) == 1.0


def test_training_path_computes_exactly_the_plain_loop():
    """Same batches, same optimizer steps: weights after 2 epochs are bitwise identical to a plain
    PyTorch loop, whatever the number of mini-batches per Lightning step."""
    x = np.random.default_rng(0).normal(size=(3000, 5)).astype(np.float32)

    def plain():
        torch.manual_seed(0)
        m = OCDN(n_features=5, batch_size=32)
        opt = m.configure_optimizers()
        xt = torch.as_tensor(x)
        for _ in range(2):
            for batch in xt[torch.randperm(len(xt))].split(32):
                opt.zero_grad()
                m.training_loss(batch).backward()
                opt.step()
        return m

    def ours(batches_per_step):
        torch.manual_seed(0)
        m = OCDN(n_features=5, batch_size=32, batches_per_step=batches_per_step)
        tr = trainer(2)
        m.fit(x, trainer=tr)
        assert tr.global_step == 2 * 94  # one global step per optimizer step
        return m

    reference = plain()
    for bps in (1, 7, None):
        model = ours(bps)
        for p, q in zip(reference.parameters(), model.parameters()):
            assert torch.equal(p, q)


def test_activity_regularisation_adds_the_l2_of_hidden_activations():
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    plain = OCDN(n_features=3, net=partial(MLP, hidden=[8, 8]), reg=0.0)
    reg = OCDN(n_features=3, net=partial(MLP, hidden=[8, 8]), reg=0.5)
    reg.load_state_dict(plain.state_dict())
    _, acts = plain.net(x, return_hidden=True)
    penalty = sum(a.pow(2).sum(1).mean() for a in acts)
    assert reg.training_loss(x).item() == pytest.approx(plain.training_loss(x).item() + 0.5 * penalty.item(), rel=1e-6)


def test_bce_against_zero_is_softplus_of_the_logit():
    model = OCDN(n_features=2, net=partial(MLP, hidden=[4]))
    x = torch.randn(10, 2)
    assert model.training_loss(x).item() == pytest.approx(torch.nn.functional.softplus(model(x)).mean().item(), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"batch_size": 0}, "model.batch_size must be positive"), ({"lr": -1.0}, "model.lr must be positive"),
     ({"net": partial(MLP, hidden=[128, -1])}, "model.net.hidden must be a list of positive integers"),
     ({"reg": -0.1}, "model.reg must be >= 0"),
     ({"init": "he"}, "model.init must be 'glorot' or 'torch'")],
)
def test_bad_hyperparameters_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        OCDN(n_features=1, **kwargs)
