"""Every experiment preset composes and runs a short job; every model x dataset pair composes and
builds (or is refused with one line, as listed)."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import open_dict

from oneclass import pipeline
from oneclass.cli import config_dir
from oneclass.config import build
from oneclass.errors import OneClassError
from oneclass.models.pyod import pyod_available

MODELS = sorted(p.stem for p in (config_dir() / "model").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (config_dir() / "dataset").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))
LHCO_FILE = "lhco/lhco_rnd_sr_5features.npy"
# tabular experiments: their files under shared/data and their nrcan test sizes (half the normals + all anomalies)
TABULAR_FILES = {"arrhythmia": "odds/arrhythmia.mat", "thyroid": "adbench/38_thyroid.npz"}
TEST_ROWS = {"arrhythmia": 193 + 66, "thyroid": 3679 - 1839 + 93}
# (model, dataset) pairs that are refused, with the start of their one-line error
REFUSED: dict[tuple[str, str], str] = {}
# input shapes of each dataset (the pipeline passes the loaded data's; composing needs no file)
SHAPES = {"gaussian": (1,), "lhco": (5,), "adbench": (6,), "odds": (274,), "kdd": (118,)}
# PyOD presets build only where PyOD is installed (the dev extra; CI installs it)
PYOD_MODELS = {m for m in MODELS if m == "pyod" or m.startswith("pyod_")}


def test_every_dataset_has_a_known_shape():
    assert set(DATASETS) <= set(SHAPES), "add new datasets to SHAPES (and refused pairs to REFUSED)"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_model_dataset_pair_composes_and_builds(cfg_factory, model, dataset):
    if model in PYOD_MODELS and not pyod_available():
        pytest.skip("PyOD not installed (pip install 'oneclass[pyod]')")
    cfg = cfg_factory(f"model={model}", f"dataset={dataset}", small=False)
    if (model, dataset) in REFUSED:
        with pytest.raises(OneClassError, match=REFUSED[model, dataset]) as err:
            build(cfg.model, "model", input_shape=SHAPES[dataset])
        assert "\n" not in str(err.value)
        return
    detector = build(cfg.model, "model", input_shape=SHAPES[dataset])
    assert callable(detector.fit) and callable(detector.score)


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
        if cfg.dataset.name == "lhco":
            cfg.dataset.path = str(shared_data(LHCO_FILE))
        if cfg.dataset.name in TABULAR_FILES:  # the tabular sets keep their protocol's sizes
            cfg.dataset.path = str(shared_data(TABULAR_FILES[cfg.dataset.name]))
        else:
            for key in ("n_train", "n_test_background", "n_test_signal"):
                cfg.dataset[key] = 1000
    job = pipeline.JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    metrics = pipeline.run(cfg, job)
    saved = np.load(tmp_path / "out" / "scores.npz")
    assert len(saved["scores"]) == TEST_ROWS.get(cfg.dataset.name, 2000) and np.isfinite(saved["scores"]).all()
    assert metrics["test_auc"] == pytest.approx(pipeline.evaluate(saved["scores"], saved["labels"]).auc)
