"""Every experiment preset (conf/experiment/ and its family folders: lhco/, ruff/, nrcan/, adbench/) composes
and runs a short job on its dataset: the shared files, a written black box or a synthetic CIFAR-10 archive."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import open_dict

from oneclass.run import engine
from oneclass.launch.cli import config_dir
from oneclass.data.base import kind_of

from conftest import write_black_box
from image_files import cifar_tar

EXPERIMENTS = sorted(p.relative_to(config_dir() / "experiment").with_suffix("").as_posix()
                     for p in (config_dir() / "experiment").rglob("*.yaml"))
LHCO_FILE = "lhco/lhco_rnd_sr_5features.npy"
# tabular experiments: their files under shared/data and their nrcan test sizes (half the normals + all anomalies)
TABULAR_FILES = {"arrhythmia": "odds/arrhythmia.mat", "thyroid": "adbench/38_thyroid.npz",
                 "kdd": "kdd/kddcup.data_10_percent.gz"}
TEST_ROWS = {"arrhythmia": 193 + 66, "thyroid": 3679 - 1839 + 93, ("thyroid", "adbench"): 1132,  # ceil(0.3 * 3772)
             ("thyroid", "adbench_dedup"): 1132}


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_runs_one_short_job(cfg_factory, tmp_path, shared_data, experiment):
    cfg = cfg_factory(f"experiment={experiment}", "logger=none", small=False)
    with open_dict(cfg):
        cfg.trainer.max_epochs = 1
        cfg.trainer.accelerator = "cpu"
        cfg.eval.snapshot_epochs = [1] if cfg.eval.snapshot_epochs else []
        cfg.threads = 1
        if "n_components" in cfg.model:
            cfg.model.n_components = 50
        if "pretrain_epochs" in cfg.model:
            cfg.model.pretrain_epochs = 1
        if "only_ce_epochs" in cfg.model:  # DROCC: its warm-up must leave epochs for the negatives
            cfg.model.only_ce_epochs = 0
        if cfg.dataset.name == "lhco" and cfg.dataset.box:  # a black box: files written here, 80/20 split
            cfg.dataset.path = str(write_black_box(tmp_path, n=1000, box=cfg.dataset.box)[0])
        elif cfg.dataset.name == "lhco":
            cfg.dataset.path = str(shared_data(LHCO_FILE))
        elif cfg.dataset.name in TABULAR_FILES:  # the tabular sets keep their protocol's sizes
            cfg.dataset.path = str(shared_data(TABULAR_FILES[cfg.dataset.name]))
        elif cfg.dataset.name == "mnist":
            cfg.dataset.path = str(shared_data("mnist"))
        elif cfg.dataset.name == "fashion_mnist":
            cfg.dataset.path = str(shared_data("fashion-mnist"))
        elif cfg.dataset.name == "cifar10":  # not on these machines: a synthetic archive in the official format
            cfg.dataset.path = str(tmp_path / "cifar-10-python.tar.gz")
            cifar_tar(tmp_path / "cifar-10-python.tar.gz", n_per_batch=1500)
        n = 100 if kind_of(cfg.dataset._target_) == "images" else 1000
        if cfg.dataset.name not in TABULAR_FILES and not cfg.dataset.get("box"):
            for key in ("n_train", "n_test_background", "n_test_signal"):
                cfg.dataset[key] = n
    job = engine.JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    if cfg.dataset.name == "kdd":  # 494,021 connections: a short job on the first 2000 training rows
        cfg.dataset.n_train = 2000
    metrics = engine.run(cfg, job)
    saved = np.load(tmp_path / "out" / "scores.npz")
    rows = 200 if cfg.dataset.get("box") else TEST_ROWS.get((cfg.dataset.name, cfg.dataset.get("protocol")),
                                                             TEST_ROWS.get(cfg.dataset.name, 2 * n))
    assert cfg.dataset.name == "kdd" or len(saved["scores"]) == rows  # KDD: its nrcan test half, not counted here
    assert np.isfinite(saved["scores"]).all()
    assert metrics["test_auc"] == pytest.approx(engine.evaluate(saved["scores"], saved["labels"]).auc)
