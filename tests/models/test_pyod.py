"""The PyOD adapter (model=pyod and the pyod_* presets): KNN scores are distances to the training rows,
images are flattened, full class paths work, bad inputs and a missing PyOD are one line, the PyOD
ALAD preset builds with its settings, and a PyOD detector runs through the pipeline on an ADBench
set. The contract is in test_contract.py, which runs every model config, the PyOD presets included."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from oneclass.config import build
from oneclass.data.tabular import read_npz
from oneclass.errors import ConfigError, OneClassError
from oneclass.models.pyod import pyod_available

from conftest import compose_cfg
from nrcan_toys import one_line


needs_pyod = pytest.mark.skipif(not pyod_available(), reason="PyOD not installed (pip install 'oneclass[pyod]')")


@needs_pyod
def test_pyod_knn_scores_are_distances_to_the_training_rows():
    from oneclass.models.pyod import PyOD

    det = PyOD(input_shape=(1,), name="KNN", params={"n_neighbors": 1})
    assert det.fit(np.array([[0.0], [1.0], [2.0]])) is det
    scores = det.score(np.array([[0.1], [5.0], [-10.0], [1.0]]))
    np.testing.assert_allclose(scores, [0.1, 3.0, 10.0, 0.0])  # higher = further = more anomalous
    assert scores.dtype == np.float64


@needs_pyod
def test_pyod_flattens_images_and_takes_full_class_paths():
    from oneclass.models.pyod import PyOD

    rng = np.random.default_rng(0)
    det = PyOD(input_shape=(1, 2, 2), name="pyod.models.hbos.HBOS").fit(rng.normal(size=(200, 1, 2, 2)))
    scores = det.score(np.r_[np.zeros((1, 1, 2, 2)), np.full((1, 1, 2, 2), 8.0)])
    assert scores[1] > scores[0]
    with pytest.raises(ConfigError, match=r"built for inputs of shape \(n, 1, 2, 2\)"):
        det.score(np.zeros((3, 4)))


@needs_pyod
def test_pyod_bad_inputs_are_one_line():
    from oneclass.models.pyod import PyOD

    with pytest.raises(ConfigError) as err:
        PyOD(input_shape=(3,), name="IsolationTree")
    assert "model.name: PyOD has no detector 'IsolationTree'; known: " in one_line(err) and "IForest" in str(err.value)
    with pytest.raises(ConfigError) as err:
        PyOD(input_shape=(3,), name="IForest", params={"n_trees": 10})
    assert "model.params: PyOD IForest takes no argument 'n_trees'; its arguments: n_estimators" in one_line(err)
    with pytest.raises(ConfigError, match="model.widths_from_input takes"):
        PyOD(input_shape=(3,), name="AutoEncoder", widths_from_input={"layers": 2})


def test_without_pyod_the_error_says_what_to_install(monkeypatch):
    from oneclass.models.pyod import PyOD

    monkeypatch.setitem(sys.modules, "pyod", None)
    monkeypatch.setitem(sys.modules, "pyod.models", None)
    with pytest.raises(ConfigError) as err:
        PyOD(input_shape=(3,), name="IForest")
    assert one_line(err) == "model=pyod needs PyOD: pip install 'oneclass[pyod]' (or pip install pyod)"
    assert pyod_available() is False


@needs_pyod
@pytest.mark.slow
def test_pipeline_runs_a_pyod_detector_on_an_adbench_set(cfg_factory, tmp_path, shared_data, monkeypatch):
    from oneclass.run import engine

    monkeypatch.setenv("ONECLASS_DATA_DIR", str(shared_data("adbench").parent))
    cfg = cfg_factory("dataset=adbench", "dataset.name=cardio", "dataset.split_seed=1", "model=pyod_iforest",
                      "logger=none", small=False)
    metrics = engine.run(cfg, engine.JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path))
    saved = np.load(tmp_path / "out" / "scores.npz")
    raw = read_npz(shared_data("adbench/6_cardio.npz"))
    assert len(saved["scores"]) == 550 and int(saved["labels"].sum()) == 53  # 30 % of 1831 rows, 176 anomalies
    np.testing.assert_array_equal(raw.y[saved["index"]], saved["labels"])  # index = rows of the file
    assert metrics["test_auc"] == pytest.approx(engine.evaluate(saved["scores"], saved["labels"]).auc)
    assert 0 < metrics["test_f1"] <= 1 and metrics["test_aupr"] > int(saved["labels"].sum()) / len(saved["labels"])


# --------------------------------------------------------------------------------------- pyod_alad
@pytest.mark.skipif(not pyod_available(), reason="PyOD not installed (pip install 'oneclass[pyod]')")
def test_pyod_alad_preset_builds_with_its_settings_and_refuses_bad_ones_in_one_line():
    cfg = compose_cfg(["model=pyod_alad", "dataset=adbench", "seed=7"])
    detector = build(cfg.model, "model", input_shape=(6,))
    estimator = detector._make()
    assert type(estimator).__name__ == "ALAD" and estimator.epochs == 3000 and estimator.batch_size == 128
    assert estimator.spectral_normalization and estimator.add_disc_zz_loss and not estimator.preprocessing
    for override, message in [("+model.params.dropout_rate=1.5", "model.params: PyOD ALAD refuses them"),
                              ("+model.params.n_layers=3", "PyOD ALAD takes no argument 'n_layers'")]:
        cfg = compose_cfg(["model=pyod_alad", "dataset=adbench", override])
        with pytest.raises(OneClassError) as err:
            build(cfg.model, "model", input_shape=(6,))
        assert message in one_line(err)
