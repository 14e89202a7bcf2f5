"""Deep SVDD (Ruff et al., ICML 2018) on toys where the answer is known: no bias terms, the OCDN
authors' network, the centre and soft-boundary radius, a ring around a blob detected, Ruff's
dictionary initialisation of the first convolution, and a short MNIST job through the pipeline."""

from __future__ import annotations

from functools import partial

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf, open_dict

from oneclass.run import engine
from oneclass.launch.cli import config_dir
from oneclass.config import build
from oneclass.data.images import load_idx_split
from oneclass.errors import ConfigError
from oneclass.metrics import roc_auc
from oneclass.models.deep_svdd import DeepSVDD
from oneclass.nets import SVDDMLP, MNISTLeNet
from oneclass.nets.dictionary import dictionary_filters

from nrcan_toys import trainer


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


def test_dictionary_init_sets_unit_norm_atoms_of_training_patches_before_pretraining():
    """model.dictionary_init (the ICML Theano code's weight_dict_init): the first convolution starts
    from 8 unit-norm atoms learned from 5x5 training patches, seeded by the run's seed."""
    rng = np.random.default_rng(2)
    x = rng.random((40, 1, 28, 28), dtype=np.float32)
    atoms = dictionary_filters(x, 8, (5, 5), seed=3, iterations=50)
    assert atoms.shape == (8, 1, 5, 5) and atoms.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(atoms.reshape(8, -1), axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(atoms, dictionary_filters(x, 8, (5, 5), seed=3, iterations=50))
    assert not np.allclose(atoms, dictionary_filters(x, 8, (5, 5), seed=4, iterations=50))

    def first_filters(seed, **kw):
        torch.manual_seed(seed)
        m = DeepSVDD(input_shape=(1, 28, 28), net=partial(MNISTLeNet), batch_size=40, lr=1e-12, pretrain=True,
                     pretrain_epochs=0, **kw)
        m.fit(x, trainer=trainer(1))
        return m.net.stages[0].conv.weight.detach().reshape(8, -1)

    init = first_filters(0, dictionary_init=True)
    np.testing.assert_allclose(init.norm(dim=1).numpy(), 1.0, atol=1e-4)  # lr ~0: the atoms as learned
    assert torch.equal(init, first_filters(0, dictionary_init=True))
    assert not np.allclose(first_filters(0).norm(dim=1).numpy(), 1.0, atol=1e-2)  # torch's default init otherwise
    with pytest.raises(ConfigError, match=r"^model.dictionary_init=true initialises a first convolution; SVDDMLP has none"):
        DeepSVDD(n_features=3, dictionary_init=True)
    with pytest.raises(ConfigError, match="model.dictionary_init must be true or false"):
        DeepSVDD(n_features=3, dictionary_init="yes")


# ------------------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_deep_svdd_mnist_job_through_the_pipeline(cfg_factory, tmp_path, shared_data):
    """Ruff's Deep SVDD on MNIST class 1 (his net, preprocessing, weight decays, pretraining), shortened:
    3 + 3 epochs on 1,500 training images at batch 50 and lr 1e-3, 1,000 test images. Measured
    AUC 0.984-0.996 over seeds 0-4 (the full schedule reaches 0.997)."""
    cfg = cfg_factory("experiment=ruff/deepsvdd_mnist", "dataset.normal_class=1", "model.pretrain_epochs=3",
                      "trainer.max_epochs=3", "model.batch_size=50", "model.lr=1e-3", "model.pretrain_lr=1e-3",
                      "dataset.n_train=1500", "dataset.n_test_background=500", "dataset.n_test_signal=500", "threads=1",
                      small=False)
    with open_dict(cfg):
        cfg.dataset.path = str(shared_data("mnist"))
    job = engine.JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    metrics = engine.run(cfg, job)
    assert metrics["test_auc"] > 0.95
    saved = np.load(tmp_path / "out" / "scores.npz")
    _, labels = load_idx_split(shared_data("mnist"), "test")
    np.testing.assert_array_equal(saved["labels"], (labels[saved["index"]] != 1).astype(np.int8))
    assert len(saved["index"]) == 1000 and (saved["labels"] == 0).sum() == 500
