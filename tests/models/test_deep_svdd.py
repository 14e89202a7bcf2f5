"""The paper's comparison detectors on toys where the answer is known: autoencoder, Deep SVDD, OC-SVM."""

from __future__ import annotations

from functools import partial

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from oneclass.cli import config_dir
from oneclass.config import build
from oneclass.errors import ConfigError
from oneclass.metrics import roc_auc
from oneclass.models.autoencoder import Autoencoder
from oneclass.models.deep_svdd import DeepSVDD
from oneclass.models.ocsvm import OneClassSVM
from oneclass.nets import SVDDMLP, DenseEncoder


def cpu_trainer(epochs: int) -> L.Trainer:
    return L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False)


def blob_and_ring(seed: int = 0, n: int = 2000):
    """Normal: a unit Gaussian blob at (1, -1); anomalies: a ring of radius 4 +- 0.3 around it."""
    rng = np.random.default_rng(seed)
    centre = np.array([1.0, -1.0])
    x_train = rng.normal(size=(n, 2)) + centre
    x_normal = rng.normal(size=(n // 2, 2)) + centre
    angle = rng.uniform(0, 2 * np.pi, n // 2)
    radius = rng.normal(4.0, 0.3, n // 2)
    x_ring = centre + radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x_test = np.concatenate([x_normal, x_ring]).astype(np.float32)
    y_test = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(np.int8)
    return x_train.astype(np.float32), x_test, y_test


def small_svdd(net: dict | None = None, **kw) -> DeepSVDD:
    """A small Deep SVDD; ``net`` updates the SVDDMLP arguments (hidden [32, 32], rep_dim 8)."""
    args = dict(n_features=2, lr=1e-3, batch_size=64, pretrain=False)
    return DeepSVDD(net=partial(SVDDMLP, **{"hidden": [32, 32], "rep_dim": 8, **(net or {})}), **{**args, **kw})


# ------------------------------------------------------------------ Deep SVDD
def test_deep_svdd_mlp_has_no_bias_terms():
    model = small_svdd(n_features=5, pretrain=True)
    names = [name for name, _ in model.named_parameters()]
    assert names and not any("bias" in name for name in names)
    # only weight matrices: no bias vectors, no affine BatchNorm parameters
    assert all(p.ndim == 2 for p in model.parameters())


def test_deep_svdd_paper_fc_is_the_authors_network():
    paper_fc = OmegaConf.to_container(OmegaConf.load(config_dir() / "model" / "net" / "paper_fc.yaml"))
    paper_fc = {k: v for k, v in paper_fc.items() if not k.startswith("_")}
    model = small_svdd(n_features=5, net=paper_fc, allow_bias=True)
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert model.net[0].bias is not None and model.net[-1].bias is None
    assert model.net[-1].out_features == 128 and model.net[3].p == 0.5


def test_centre_coordinates_near_zero_move_to_eps():
    model = small_svdd(eps=0.1)
    x = torch.randn(300, 2)
    with torch.no_grad():
        model.net[-1].weight.mul_(1e-4)  # outputs ~1e-4: every coordinate is within eps of 0
    signs = torch.sign(model._outputs(x).mean(dim=0))
    c = model.init_centre(x)
    assert torch.allclose(c, 0.1 * signs)
    with torch.no_grad():
        model.net[-1].weight.zero_()  # exactly zero: pushed to +eps, not left at 0
    assert torch.all(model.init_centre(x) == 0.1)


@pytest.mark.parametrize("objective", ["one-class", "soft-boundary"])
def test_deep_svdd_detects_ring_around_blob(objective):
    x_train, x_test, y_test = blob_and_ring(n=1000)
    L.seed_everything(0, verbose=False)
    model = small_svdd(objective=objective, nu=0.1, warm_up_epochs=1, pretrain=True, pretrain_epochs=1)
    model.fit(x_train, trainer=cpu_trainer(3))
    assert torch.all(model.c.abs() >= model.eps)
    scores = model.score(x_test)
    assert roc_auc(scores, y_test) > 0.9
    if objective == "soft-boundary":
        assert model.R > 0


def test_soft_boundary_radius_is_the_quantile_after_each_step():
    """Reference order: R updated after every step from that batch's distances, used by the next batch."""
    model = small_svdd(objective="soft-boundary", nu=0.2, warm_up_epochs=0, net={"batch_norm": False})
    model.init_centre(torch.randn(200, 2))
    x1, x2 = torch.randn(64, 2), torch.randn(64, 2)
    model.training_loss(x1)
    assert model.R == 0  # not yet: the first batch's loss uses R = 0
    loss2 = model.training_loss(x2)
    d1 = model.dist2(x1).detach().numpy().astype(np.float64)
    r = np.quantile(np.sqrt(d1), 0.8)
    assert float(model.R) == pytest.approx(r, rel=1e-6)
    d2 = model.dist2(x2).detach()
    expected = r**2 + torch.relu(d2 - r**2).mean().item() / 0.2
    assert loss2.item() == pytest.approx(expected, rel=1e-5)


def test_soft_boundary_epoch_update_uses_all_training_events():
    x_train, _, _ = blob_and_ring(n=600)
    L.seed_everything(0, verbose=False)
    model = small_svdd(objective="soft-boundary", nu=0.25, warm_up_epochs=0, radius_update="epoch")
    model.fit(x_train, trainer=cpu_trainer(2))
    d2 = model.dist2_eval(torch.as_tensor(x_train)).double().numpy()
    assert float(model.R) == pytest.approx(np.quantile(np.sqrt(d2), 0.75), rel=1e-5)
    # score = d^2 - R^2: the (1 - nu) quantile of the training scores is 0
    assert np.quantile(model.score(x_train), 0.75) == pytest.approx(0.0, abs=1e-4 * float(model.R) ** 2 + 1e-6)


def test_soft_boundary_keeps_r_zero_during_warm_up():
    x_train, _, _ = blob_and_ring(n=600)
    model = small_svdd(objective="soft-boundary", warm_up_epochs=5)
    model.fit(x_train, trainer=cpu_trainer(2))
    assert model.R == 0


def test_centre_and_radius_are_in_the_checkpoint(tmp_path):
    x_train, _, _ = blob_and_ring(n=600)
    model = small_svdd(objective="soft-boundary", warm_up_epochs=0)
    trainer = cpu_trainer(1)
    model.fit(x_train, trainer=trainer)
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    state = torch.load(tmp_path / "m.ckpt", weights_only=False)["state_dict"]
    assert torch.equal(state["c"], model.c) and torch.equal(state["R"], model.R)
    loaded = DeepSVDD.load_from_checkpoint(tmp_path / "m.ckpt")
    np.testing.assert_allclose(loaded.score(x_train[:50]), model.score(x_train[:50]), rtol=1e-6)


@pytest.mark.parametrize("bad", [0, -0.1, 1.5])
def test_deep_svdd_rejects_nu_outside_unit_interval(bad, cfg_factory):
    cfg = cfg_factory("model=deepsvdd_soft", f"model.nu={bad}")
    with pytest.raises(ConfigError, match=r"model.nu must be in \(0, 1\]"):
        build(cfg.model, "model", n_features=2)


def test_deep_svdd_refuses_bounded_activation():
    with pytest.raises(ConfigError, match="bounded"):
        small_svdd(net={"activation": "tanh"})


# ------------------------------------------------------------------ autoencoder
def test_autoencoder_architecture_is_the_papers():
    model = Autoencoder(n_features=5)
    enc = [type(m).__name__ for m in model.encoder]
    dec = [type(m).__name__ for m in model.decoder]
    assert enc == ["Linear", "ReLU", "BatchNorm1d", "Linear", "ReLU", "Linear"]
    assert dec == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert model.encoder[-1].out_features == 2 and model.decoder[-1].out_features == 5


def test_autoencoder_detects_events_off_a_2d_subspace():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    plane, normal = basis[:, :2], basis[:, 2:]
    x_train = (rng.normal(size=(2000, 2)) * 2) @ plane.T
    x_normal = (rng.normal(size=(500, 2)) * 2) @ plane.T
    # anomalies: on-plane like the normal events, plus an off-plane component of length 2
    off = rng.normal(size=(500, 3))
    x_anom = (rng.normal(size=(500, 2)) * 2) @ plane.T + 2 * (off / np.linalg.norm(off, axis=1, keepdims=True)) @ normal.T
    x_test = np.concatenate([x_normal, x_anom]).astype(np.float32)
    y_test = np.r_[np.zeros(500), np.ones(500)].astype(np.int8)
    L.seed_everything(0, verbose=False)
    model = Autoencoder(n_features=5, net=partial(DenseEncoder, hidden=[64, 64], rep_dim=2), batch_size=64)
    model.fit(x_train.astype(np.float32), trainer=cpu_trainer(8))
    assert roc_auc(model.score(x_test), y_test) > 0.9


# ------------------------------------------------------------------ one-class SVM
@pytest.mark.parametrize("preset", ["ocsvm_iad", "ocsvm_oad"])
@pytest.mark.parametrize("solver", ["exact", "nystroem"])
def test_ocsvm_far_point_scores_higher_than_training_mean(preset, solver, cfg_factory):
    cfg = cfg_factory(f"model={preset}", f"model.solver={solver}", "model.n_components=200")
    x = np.random.default_rng(0).normal(size=(1000, 3))
    model = build(cfg.model, "model", n_features=3).fit(x)
    mean, far = model.score(np.stack([x.mean(axis=0), x.mean(axis=0) + 10.0]))
    assert far > mean


@pytest.mark.parametrize("preset", ["ocsvm_iad", "ocsvm_oad"])
def test_ocsvm_preset_default_matches_the_exact_solver_on_lhco(preset, cfg_factory, shared_data):
    """The presets' fast default (Nystroem + SGD) against libsvm on a subsample of the paper split
    (benchmarks/bench_ocsvm.py compares them on the full split, with timings)."""
    path = shared_data("lhco/lhco_rnd_sr_5features.npy")
    sizes = [f"model={preset}", "dataset=lhco", f"dataset.path={path}", "dataset.n_train=4000",
             "dataset.n_test_background=3000", "dataset.n_test_signal=3000"]
    aucs = {}
    for solver in ("exact", "nystroem"):
        cfg = cfg_factory(*sizes, f"model.solver={solver}", small=False)
        data = build(cfg.dataset, "dataset").load(0)
        model = build(cfg.model, "model", input_shape=data.input_shape).fit(data.x_train)
        aucs[solver] = roc_auc(model.score(data.x_test), data.y_test)
    assert cfg.model.n_components == 50
    assert aucs["nystroem"] == pytest.approx(aucs["exact"], abs=0.005)


def test_ocsvm_score_is_one_minus_score_samples(cfg_factory):
    cfg = cfg_factory("model=ocsvm_oad", "model.solver=exact")
    x = np.random.default_rng(0).normal(size=(300, 2))
    model = build(cfg.model, "model", n_features=2).fit(x)
    np.testing.assert_allclose(model.score(x), 1 - model.estimator_.score_samples(x))
    assert model.estimator_.nu == 0.15 and model.estimator_.gamma == 0.1


@pytest.mark.parametrize("override, message", [
    ("model.nu=0", r"model.nu must be in \(0, 1\]"),
    ("model.nu=1.2", r"model.nu must be in \(0, 1\]"),
    ("model.gamma=0", "model.gamma must be positive"),
    ("model.solver=fast", "model.solver must be one of"),
])
def test_ocsvm_bad_parameters_are_one_line_errors(override, message, cfg_factory):
    cfg = cfg_factory("model=ocsvm", override)
    model = build(cfg.model, "model", n_features=2)  # sklearn convention: validated in fit
    with pytest.raises(ConfigError, match=message) as info:
        model.fit(np.zeros((10, 2)))
    assert "\n" not in str(info.value)
