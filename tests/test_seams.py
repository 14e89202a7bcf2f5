"""The seams every reference system builds on: shaped inputs (images through the pipeline),
injected networks, optimizers and schedules from config, the shared one-class split."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from omegaconf import open_dict
from torch import nn

from oneclass.run import engine
from oneclass.config import build
from oneclass.data.base import DataBundle, Dataset
from oneclass.data.splits import Scaler, one_class_split
from oneclass.errors import ConfigError, DataError
from oneclass.models.deep_svdd import DeepSVDD
from oneclass.models.ocdn import OCDN
from oneclass.models.ocsvm import OneClassSVM
from oneclass.nets import MLP, SVDDMLP


# ------------------------------------------------------------------ a tiny image benchmark
class TinyImages(Dataset):
    """8 x 8 one-channel images: normals are a bright horizontal bar at a random row, anomalies a
    vertical one, plus noise. Generated from the seed (in memory)."""

    def __init__(self, name: str = "tiny_images", n_train: int = 600, n_test: int = 400) -> None:
        self.name, self.n_train, self.n_test = name, n_train, n_test

    @staticmethod
    def bars(rng: np.random.Generator, n: int, vertical: bool) -> np.ndarray:
        x = rng.normal(0.0, 0.1, size=(n, 1, 8, 8))
        where = rng.integers(1, 7, size=n)
        for i, k in enumerate(where):
            if vertical:
                x[i, 0, :, k] += 1.0
            else:
                x[i, 0, k, :] += 1.0
        return x.astype(np.float32)

    def load(self, seed: int) -> DataBundle:
        rng = np.random.default_rng(seed)
        half = self.n_test // 2
        x_test = np.concatenate([self.bars(rng, half, False), self.bars(rng, half, True)])
        y_test = np.r_[np.zeros(half), np.ones(half)].astype(np.int8)
        return DataBundle(self.name, self.bars(rng, self.n_train, False), x_test, y_test,
                          test_index=np.arange(1000, 1000 + len(x_test)))


class TinyConv(nn.Module):
    """Two bias-free convolutions (1 -> 4 -> 8 channels, 3x3) with max-pooling, then a bias-free
    linear map to ``rep_dim``: a user-defined net of the oneclass.nets contract."""

    def __init__(self, input_shape, rep_dim: int = 4) -> None:
        super().__init__()
        if tuple(input_shape) != (1, 8, 8):
            raise ConfigError(f"TinyConv takes (1, 8, 8) images, got {tuple(input_shape)}")
        self.input_shape, self.rep_dim = tuple(input_shape), rep_dim
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.LeakyReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.LeakyReLU(), nn.MaxPool2d(2))
        self.out = nn.Linear(8 * 2 * 2, rep_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x).flatten(1))


def image_cfg(cfg_factory, *overrides: str):
    cfg = cfg_factory("model=deepsvdd", "trainer.max_epochs=10", "model.lr=1e-3", "model.batch_size=50", *overrides,
                      small=False)
    with open_dict(cfg):
        cfg.dataset = {"_target_": f"{__name__}.TinyImages", "name": "tiny_images"}
        cfg.model.net = {"_target_": f"{__name__}.TinyConv", "_partial_": True, "rep_dim": 4}
    return cfg


def test_deep_svdd_with_a_conv_net_on_images_through_the_pipeline(cfg_factory, tmp_path):
    cfg = image_cfg(cfg_factory)
    job = engine.JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    metrics = engine.run(cfg, job)
    assert metrics["test_auc"] > 0.9  # vertical bars are far from the horizontal-bar centre

    saved = np.load(tmp_path / "out" / "scores.npz")
    assert saved["scores"].shape == (400,) and saved["scores"].dtype == np.float64
    np.testing.assert_array_equal(saved["index"], np.arange(1000, 1400))  # traced back to the source rows

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.get_run(job.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test_auc"] == pytest.approx(metrics["test_auc"])
    assert run.data.params["model.net._target_"].endswith("TinyConv")
    # the checkpoint holds the injected net as a spec: it reloads safely and scores the same
    ckpt = torch.load(tmp_path / "out" / "model.ckpt", weights_only=True)
    assert ckpt["hyper_parameters"]["net"]["_target_"].endswith("TinyConv")
    loaded = DeepSVDD.load_from_checkpoint(tmp_path / "out" / "model.ckpt", weights_only=True)
    x = TinyImages().load(0).x_test[:20]
    np.testing.assert_allclose(loaded.score(x), saved["scores"][:20], rtol=1e-5)


def test_flat_model_given_images_and_image_net_given_flat_data(cfg_factory, tmp_path):
    with pytest.raises(ConfigError, match=r"MLP takes flat \(events, features\) inputs but the dataset gives images "
                                          r"of shape \(1, 8, 8\)"):
        build(cfg_factory("model=ocdn").model, "model", input_shape=(1, 8, 8))
    with pytest.raises(ConfigError, match=r"TinyConv takes \(1, 8, 8\) images, got \(5,\)"):
        build(image_cfg(cfg_factory).model, "model", input_shape=(5,))
    model = OCDN(n_features=5)
    with pytest.raises(ConfigError, match=r"built for inputs of shape \(n, 5\) but got images of shape \(3, 1, 8, 8\)"):
        model.fit(np.zeros((3, 1, 8, 8), np.float32), trainer=L.Trainer(max_epochs=1, logger=False))


def test_scikit_learn_adapter_flattens_images():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 1, 4, 4)).astype(np.float32)
    img = OneClassSVM(input_shape=(1, 4, 4), nu=0.2, gamma=0.05).fit(x)
    flat = OneClassSVM(n_features=16, nu=0.2, gamma=0.05).fit(x.reshape(300, 16))
    np.testing.assert_array_equal(img.score(x), flat.score(x.reshape(300, 16)))


# ------------------------------------------------------------------ nets, optimizers, schedules
def test_net_output_size_must_fit_the_model():
    with pytest.raises(ConfigError, match="model.net.rep_dim is 3 but the OCDN needs a net with 1 output"):
        OCDN(n_features=5, net=partial(MLP, rep_dim=3))


def test_deep_svdd_refuses_bias_terms_by_name_unless_allowed(cfg_factory):
    cfg = cfg_factory("model=deepsvdd", "model/net=paper_fc")
    with pytest.raises(ConfigError, match=r"has bias term '0.bias': Deep SVDD needs a bias-free network"):
        build(cfg.model, "model", input_shape=(5,))
    with pytest.raises(ConfigError, match=r"bias term '1.bias'"):  # an affine BatchNorm's shift is a bias too
        DeepSVDD(n_features=5, net=partial(SVDDMLP, bn_affine=True))
    model = build(cfg_factory("model=deepsvdd", "model/net=paper_fc", "model.allow_bias=true").model, "model",
                  input_shape=(5,))
    assert [type(m).__name__ for m in model.net][:4] == ["Linear", "BatchNorm1d", "ReLU", "Dropout"]


def test_pretraining_decoder_is_the_nets_mirror():
    net = SVDDMLP((6,), hidden=[16, 8], rep_dim=4)
    dec = net.decoder()
    assert [m.in_features for m in dec if isinstance(m, nn.Linear)] == [4, 8, 16]
    assert dec(net(torch.zeros(3, 6))).shape == (3, 6)


@pytest.mark.parametrize("p", [0.5, 0.25, 0.9375, 0.1])  # 1, 2 and 4 random bits per element; 0.1: uniforms
def test_net_dropout_masks_are_bernoulli_and_seeded(p):
    """The nets' Dropout draws its CPU masks from random bits (or uniforms when 1 - p is not a
    multiple of 1/256): each element kept with probability 1 - p and scaled by 1/(1 - p),
    neighbours independent (elements read from one random byte), the same mask for the same seed."""
    from oneclass.nets.base import Dropout

    keep, x = 1.0 - p, torch.ones(400, 1000)
    drop = Dropout(p).train()
    torch.manual_seed(3)
    y = drop(x)
    assert torch.unique(y).tolist() == [0.0, pytest.approx(1.0 / keep)]
    kept = (y > 0).double().view(-1)
    sd = (keep * (1 - keep) / kept.numel()) ** 0.5
    assert abs(kept.mean().item() - keep) < 5 * sd
    for lag in (1, 2, 8, 24):  # within a byte, across bytes, across 32-bit draws
        r = torch.corrcoef(torch.stack([kept[:-lag], kept[lag:]]))[0, 1].item()
        assert abs(r) < 5 / kept.numel() ** 0.5, (lag, r)
    torch.manual_seed(3)
    assert torch.equal(drop(x), y)
    assert not torch.equal(drop(x), y)
    assert torch.equal(drop.eval()(x), x)


@pytest.mark.parametrize("choice, cls, extra", [("sgd", torch.optim.SGD, {"momentum": 0.0}),
                                                ("adamw", torch.optim.AdamW, {}),
                                                ("amsgrad", torch.optim.Adam, {"amsgrad": True})])
def test_optimizer_from_config(cfg_factory, choice, cls, extra):
    cfg = cfg_factory("model=ocdn", f"model/optimizer={choice}", "model.lr=0.05", "model.weight_decay=0.01")
    model = build(cfg.model, "model", input_shape=(3,))
    opt = model.configure_optimizers()
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.05 and group["weight_decay"] == 0.01
    assert all(group[k] == v for k, v in extra.items())


def test_scheduler_from_config_steps_per_epoch(cfg_factory):
    cfg = cfg_factory("model=logreg", "model/scheduler=multistep", "model.scheduler.milestones=[2]",
                      "model.lr=0.1", "trainer.max_epochs=3")
    model = build(cfg.model, "model", input_shape=(1,))
    seen = []

    class Spy(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    x = np.random.default_rng(0).normal(size=(512, 1)).astype(np.float32)
    model.fit(x, trainer=L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                                   enable_model_summary=False, callbacks=[Spy()], accelerator="cpu"))
    assert seen == pytest.approx([0.1, 0.1, 0.01])


@pytest.mark.parametrize("override, message", [
    ("model.optimizer._target_=torch.nn.Linear", "model.optimizer._target_ must be a torch.optim.Optimizer class"),
    ("model.lr_milestones=[0]", r"model.lr_milestones must be a list of positive integers \(epochs\), got \[0\]"),
    ("model.lr_milestones=[2.5]", "model.lr_milestones must be a list of positive integers"),
    ("model.pretrain_lr_milestones=[-3]", "model.pretrain_lr_milestones must be a list of positive integers"),
])
def test_bad_optimizer_or_schedule_is_one_line(cfg_factory, override, message):
    cfg = cfg_factory("model=deepsvdd", override)
    with pytest.raises(ConfigError, match=message):
        build(cfg.model, "model", input_shape=(5,))


# ------------------------------------------------------------------ the shared one-class split
def test_one_class_split_takes_train_from_the_front_and_test_from_the_end():
    labels = np.array([0, 1, 0, 0, 1, 0, 0, 1, 0, 1], dtype=np.int8)  # normals at 0 2 3 5 6 8
    s = one_class_split(labels, n_train=2, n_test_normal=3, train_anomaly_fraction=0.5)
    np.testing.assert_array_equal(s.train, [0, 2, 1, 4])  # 2 normals + round(2 * 0.5 / 0.5) = 2 anomalies
    np.testing.assert_array_equal(s.test, [5, 6, 8, 7, 9])  # last 3 normals + the anomalies not trained on
    np.testing.assert_array_equal(s.y_test, [0, 0, 0, 1, 1])
    with pytest.raises(DataError, match="has 6 background events, too few for n_train=4 plus n_test_background=3"):
        one_class_split(labels, n_train=4, n_test_normal=3)
    with pytest.raises(DataError, match="no signal"):
        one_class_split(np.zeros(5, np.int8))


def test_lhco_keeps_the_papers_split_row_for_row(shared_data):
    """The split's row indices equal the paper protocol written out with plain numpy on the file."""
    from oneclass.data.lhco import LHCO

    path = shared_data("lhco/lhco_rnd_sr_5features.npy")
    raw = np.load(path)
    data = LHCO(path=str(path)).load(0)
    inside = (raw[:, 0] > 3.3) & (raw[:, 0] < 3.7)
    bkg, sig = np.flatnonzero(inside & (raw[:, 5] == 0)), np.flatnonzero(inside & (raw[:, 5] == 1))
    np.testing.assert_array_equal(data.test_index, np.r_[bkg[len(bkg) - 24270:], sig])
    np.testing.assert_array_equal(data.x_train, raw[bkg[:97081], :5].astype(np.float32))
    seeded = LHCO(path=str(path), split_seed=7, n_train=1000, n_test_background=500, n_test_signal=300).load(0)
    rng = np.random.default_rng(7)
    bkg_p, sig_p = bkg[rng.permutation(len(bkg))], sig[rng.permutation(len(sig))]
    np.testing.assert_array_equal(seeded.test_index, np.r_[bkg_p[-500:], sig_p[-300:]])


def test_scaler_uses_training_statistics_only():
    x_train = np.array([[0.0, 5.0], [2.0, 5.0]])
    s = Scaler.fit(x_train, "minmax")
    np.testing.assert_array_equal(s.transform(np.array([[1.0, 6.0]])), [[0.5, 1.0]])  # constant column: shift only
    assert s.stats() == {"preprocess_min": [0.0, 5.0], "preprocess_range": [2.0, 1.0]}
    with pytest.raises(ConfigError, match="dataset.preprocess must be one of none, standardize, minmax"):
        Scaler.fit(x_train, "whiten")


def test_databundle_carries_input_shape_and_checks_it():
    x = np.zeros((4, 3, 2, 2), np.float32)
    b = DataBundle("imgs", x, x, np.array([0, 1, 0, 1], np.int8))
    assert b.input_shape == (3, 2, 2) and b.n_features == 12 and b.feature_names is None
    with pytest.raises(DataError, match=r"training events have shape \(3, 2, 2\) but test events \(12,\)"):
        DataBundle("imgs", x, x.reshape(4, 12), np.array([0, 1, 0, 1], np.int8))
    bad = x.copy()
    bad[1, 2, 0, 1] = np.nan
    with pytest.raises(DataError, match="1 training events have NaN"):
        DataBundle("imgs", bad, x, np.array([0, 1, 0, 1], np.int8))
