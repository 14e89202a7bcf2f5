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

from conftest import write_black_box
from image_files import cifar_tar

MODELS = sorted(p.stem for p in (config_dir() / "model").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (config_dir() / "dataset").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))
LHCO_FILE = "lhco/lhco_rnd_sr_5features.npy"
# tabular experiments: their files under shared/data and their nrcan test sizes (half the normals + all anomalies)
TABULAR_FILES = {"arrhythmia": "odds/arrhythmia.mat", "thyroid": "adbench/38_thyroid.npz"}
TEST_ROWS = {"arrhythmia": 193 + 66, "thyroid": 3679 - 1839 + 93, ("thyroid", "adbench"): 1132}  # ceil(0.3 * 3772)
IMAGES = {"mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
# (model, dataset) pairs that are refused, with the start of their one-line error: the flat MLP
# detectors on images (the image nets come with conf/dataset_model/<images>_<model>.yaml)
REFUSED: dict[tuple[str, str], str] = {
    (model, dataset): "model.net: MLP takes flat" for model in ("ocdn", "logreg", "supervised") for dataset in IMAGES}
# the NRCAN detectors (issue 15) are tabular: their dense nets refuse images
REFUSED.update({(model, dataset): f"model.net: {net} takes flat" for model, net in (
    ("dagmm", "DenseEncoder"), ("som_dagmm", "DenseEncoder"), ("memae", "DenseEncoder"), ("duad", "DenseEncoder"),
    ("dsebm", "MLP"), ("drocc", "MLP"), ("neutralad", "SVDDMLP")) for dataset in IMAGES})
REFUSED.update({("alad", dataset): "ALAD takes flat" for dataset in IMAGES})
# input shapes of each dataset (the pipeline passes the loaded data's; composing needs no file)
SHAPES = {"gaussian": (1,), "lhco": (5,), "adbench": (6,), "odds": (274,), "kdd": (118,), **IMAGES}
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
        n = 100 if cfg.dataset.name in IMAGES else 1000
        if cfg.dataset.name not in TABULAR_FILES and not cfg.dataset.get("box"):
            for key in ("n_train", "n_test_background", "n_test_signal"):
                cfg.dataset[key] = n
    job = pipeline.JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    metrics = pipeline.run(cfg, job)
    saved = np.load(tmp_path / "out" / "scores.npz")
    rows = 200 if cfg.dataset.get("box") else TEST_ROWS.get((cfg.dataset.name, cfg.dataset.get("protocol")),
                                                             TEST_ROWS.get(cfg.dataset.name, 2 * n))
    assert len(saved["scores"]) == rows and np.isfinite(saved["scores"]).all()
    assert metrics["test_auc"] == pytest.approx(pipeline.evaluate(saved["scores"], saved["labels"]).auc)
