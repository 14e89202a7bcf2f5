"""LHCO dataset: official HDF5 reader, the paper's selection and split on the shared real file,
preprocessing with training statistics only, the bad-input errors and an end-to-end seed sweep."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oneclass.config import build
from oneclass.data.lhco import LHCO
from oneclass.data.lhco_files import FEATURES, OFFICIAL_FILE, default_path, read_events
from oneclass.errors import ConfigError, DataError
from oneclass.metrics import max_sic, roc_auc

ROOT = Path(__file__).resolve().parents[2]
SHARED = "lhco/lhco_rnd_sr_5features.npy"

# Hand-made events (GeV). Expected features (TeV) are worked out in the comments.
JETS = pd.DataFrame(
    [
        # A: back to back along x, |p| = 1200; E1 = sqrt(1200^2 + 500^2) = 1300, E2 = sqrt(1200^2 + 350^2) = 1250,
        #    mjj = 2550. Jet 2 is lighter -> mj1 = 0.35, delta_mj = 0.15, tau21_1 = 0.6/0.8, tau21_2 = 0.2/0.5.
        dict(pxj1=1200.0, pyj1=0.0, pzj1=0.0, mj1=500.0, tau1j1=0.5, tau2j1=0.2, tau3j1=0.1,
             pxj2=-1200.0, pyj2=0.0, pzj2=0.0, mj2=350.0, tau1j2=0.8, tau2j2=0.6, tau3j2=0.3, label=0.0),
        # B: p1 = (0, 0, 400), m1 = 300 -> E1 = 500; p2 = (300, 0, 0), m2 = 400 -> E2 = 500;
        #    mjj^2 = 1000^2 - |(300, 0, 400)|^2 = 750000. Jet 1 lighter, tau1 = 0 -> tau21_1 = 0.
        dict(pxj1=0.0, pyj1=0.0, pzj1=400.0, mj1=300.0, tau1j1=0.0, tau2j1=0.3, tau3j1=0.1,
             pxj2=300.0, pyj2=0.0, pzj2=0.0, mj2=400.0, tau1j2=0.5, tau2j2=0.1, tau3j2=0.05, label=1.0),
        # C: equal masses 200, p = (0, +-150, 0) -> E = 250 each, mjj = 500; jet 1 stays first;
        #    heavier jet: tau1 = tau2 = 0 -> 0.
        dict(pxj1=0.0, pyj1=150.0, pzj1=0.0, mj1=200.0, tau1j1=0.4, tau2j1=0.2, tau3j1=0.1,
             pxj2=0.0, pyj2=-150.0, pzj2=0.0, mj2=200.0, tau1j2=0.0, tau2j2=0.0, tau3j2=0.0, label=0.0),
        # D: like A with the jets swapped and signal -> same features as A.
        dict(pxj1=-1200.0, pyj1=0.0, pzj1=0.0, mj1=350.0, tau1j1=0.8, tau2j1=0.6, tau3j1=0.3,
             pxj2=1200.0, pyj2=0.0, pzj2=0.0, mj2=500.0, tau1j2=0.5, tau2j2=0.2, tau3j2=0.1, label=1.0),
    ]
)
EXPECTED = np.array([
    [2.55, 0.35, 0.15, 0.75, 0.4],
    [np.sqrt(0.75), 0.3, 0.1, 0.0, 0.2],
    [0.5, 0.2, 0.0, 0.5, 0.0],
    [2.55, 0.35, 0.15, 0.75, 0.4],
])


def write_npy(path: Path, x: np.ndarray) -> str:
    np.save(path, x)
    return str(path)


def toy_npy(n_bkg: int = 50, n_sig: int = 20, seed: int = 0) -> np.ndarray:
    """Events in the SR (mjj 3.3-3.7), label last."""
    rng = np.random.default_rng(seed)
    n = n_bkg + n_sig
    x = np.column_stack([rng.uniform(3.31, 3.69, n), rng.uniform(0, 0.5, (n, 2)), rng.uniform(0, 1, (n, 2)),
                         np.r_[np.zeros(n_bkg), np.ones(n_sig)]])
    return x


# ---------------------------------------------------------------------------------------------
# Official HDF5 format


def test_hdf5_features_match_hand_computed_values(tmp_path):
    path = tmp_path / "events.h5"
    JETS.to_hdf(path, key="df")
    x, labels, fmt = read_events(path)
    assert fmt == "hdf5"
    np.testing.assert_allclose(x, EXPECTED, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(labels, [0, 1, 0, 1])


def test_hdf5_file_goes_through_selection_and_split(tmp_path):
    path = tmp_path / "events.h5"
    JETS.to_hdf(path, key="df")
    data = LHCO(path=str(path), region="all", n_train=1, n_test_background=1).load(0)
    # background in file order: A (train, first), C (test, last); signal: B and D
    np.testing.assert_allclose(data.x_train, EXPECTED[[0]].astype(np.float32))
    np.testing.assert_allclose(data.x_test, EXPECTED[[2, 1, 3]].astype(np.float32))
    np.testing.assert_array_equal(data.y_test, [0, 1, 1])
    # a 2.5-2.6 TeV window keeps A and D only: no test background left -> clear error
    with pytest.raises(DataError, match="has 1 background events, too few for n_train=1 plus n_test_background=1"):
        LHCO(path=str(path), sr_low=2.5, sr_high=2.6, n_train=1, n_test_background=1).load(0)
    # the sidebands 0.4-2.5 and 2.6-3.0 TeV keep B (signal) and C (background) only
    sb = LHCO(path=str(path), region="sb", sr_low=2.5, sr_high=2.6, sb_low=0.4, sb_high=3.0)
    assert sb.region_mask(EXPECTED[:, 0]).tolist() == [False, True, True, False]


def test_hdf5_missing_columns(tmp_path):
    path = tmp_path / "events.h5"
    JETS.drop(columns=["tau2j1", "pzj2"]).to_hdf(path, key="df")
    with pytest.raises(DataError, match=r"events\.h5: HDF5 table 'df' lacks column\(s\) tau2j1 pzj2") as err:
        read_events(path)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------------------------------------
# The shared real file: the paper's protocol


@pytest.fixture
def real(shared_data):
    path = shared_data(SHARED)
    raw = np.load(path)
    return path, raw


def rows(a: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in np.ascontiguousarray(a, dtype=np.float32)}


def test_paper_split_on_real_file(real):
    path, raw = real
    sr = (raw[:, 0] > 3.3) & (raw[:, 0] < 3.7)
    bkg = raw[sr & (raw[:, 5] == 0), :5]
    sig = raw[sr & (raw[:, 5] == 1), :5]
    data = LHCO(path=str(path)).load(seed=0)
    assert data.x_train.shape == (97081, 5)
    assert (data.y_test == 0).sum() == 24270
    assert (data.y_test == 1).sum() == len(sig) == data.info["n_signal_selected"]
    assert data.feature_names == FEATURES
    # first 97,081 background events in file order train, the last 24,270 test
    np.testing.assert_array_equal(data.x_train, bkg[:97081].astype(np.float32))
    np.testing.assert_array_equal(data.x_test[data.y_test == 0], bkg[-24270:].astype(np.float32))
    np.testing.assert_array_equal(data.x_test[data.y_test == 1], sig.astype(np.float32))
    train, test = rows(data.x_train), rows(data.x_test)
    assert len(train) == 97081 and not train & test
    assert not train & rows(sig)
    # the run's seed does not move the split
    other = LHCO(path=str(path)).load(seed=7)
    np.testing.assert_array_equal(other.x_train, data.x_train)
    np.testing.assert_array_equal(other.x_test, data.x_test)


def test_split_seed_permutes_but_stays_fixed_and_disjoint(real):
    path, _ = real
    base = LHCO(path=str(path), n_train=20000, n_test_background=5000, n_test_signal=5000)
    a = LHCO(path=str(path), n_train=20000, n_test_background=5000, n_test_signal=5000, split_seed=3).load(0)
    b = LHCO(path=str(path), n_train=20000, n_test_background=5000, n_test_signal=5000, split_seed=3).load(1)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, base.load(0).x_train)
    assert not rows(a.x_train) & rows(a.x_test)


def test_signal_contamination_only_when_asked(real):
    path, raw = real
    data = LHCO(path=str(path), n_train=9000, n_test_background=1000, train_signal_fraction=0.1).load(0)
    assert len(data.x_train) == 10000 and data.info["n_train_signal"] == 1000
    signal_rows = rows(raw[raw[:, 5] == 1, :5])
    in_train = rows(data.x_train) & signal_rows
    assert len(in_train) == 1000
    assert not in_train & rows(data.x_test)


def test_standardisation_uses_training_statistics_only(real):
    path, _ = real
    kw = dict(path=str(path), n_train=20000, n_test_background=5000, n_test_signal=5000)
    raw = LHCO(**kw).load(0)
    std = LHCO(**kw, preprocess="standardize").load(0)
    mean, sd = raw.x_train.astype(np.float64).mean(0), raw.x_train.astype(np.float64).std(0)
    np.testing.assert_allclose(std.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(std.x_train.std(0), 1, atol=1e-5)
    np.testing.assert_allclose(std.x_test, (raw.x_test - mean) / sd, rtol=1e-5, atol=1e-5)
    # the test set (with signal) is not centred: its own statistics were not used
    assert np.abs(std.x_test.mean(0)).max() > 0.1
    mm = LHCO(**kw, preprocess="minmax").load(0)
    np.testing.assert_allclose(mm.x_train.min(0), 0, atol=1e-6)
    np.testing.assert_allclose(mm.x_train.max(0), 1, atol=1e-6)
    lo, span = raw.x_train.min(0), raw.x_train.max(0) - raw.x_train.min(0)
    np.testing.assert_allclose(mm.x_test, (raw.x_test - lo) / span, rtol=1e-5, atol=1e-5)


def test_feature_subset(real):
    path, _ = real
    kw = dict(path=str(path), n_train=1000, n_test_background=1000, n_test_signal=1000)
    full = LHCO(**kw).load(0)
    sub = LHCO(**kw, features=["tau21_2", "mj1"]).load(0)
    assert sub.feature_names == ("tau21_2", "mj1")
    np.testing.assert_array_equal(sub.x_train, full.x_train[:, [4, 1]])


def test_built_from_config(cfg_factory, shared_data):
    cfg = cfg_factory("dataset=lhco", f"dataset.path={shared_data(SHARED)}")
    data = build(cfg.dataset, "dataset").load(cfg.seed)
    assert data.name == "lhco" and data.x_train.shape == (2000, 5) and len(data.y_test) == 4000


# ---------------------------------------------------------------------------------------------
# Bad input: one line naming the file, the problem and the fix


def one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_missing_file_names_download_and_override(tmp_path):
    missing = tmp_path / "nope.npy"
    with pytest.raises(DataError) as err:
        LHCO(path=str(missing)).load(0)
    text = one_line(err)
    assert str(missing) in text and "oneclass download lhco" in text and "dataset.path=" in text


def test_default_path_follows_data_dir_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONECLASS_DATA_DIR", raising=False)
    assert default_path() == tmp_path / "data" / "lhco" / OFFICIAL_FILE
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path / "store"))
    assert LHCO().file() == tmp_path / "store" / "lhco" / OFFICIAL_FILE
    with pytest.raises(DataError, match="store/lhco/events_anomalydetection_v2.features.h5 not found"):
        LHCO().load(0)


def test_nan_rows_counted_and_droppable(tmp_path):
    x = toy_npy()
    x[[3, 10], 2] = np.nan
    x[5, 0] = np.inf
    path = write_npy(tmp_path / "nan.npy", x)
    with pytest.raises(DataError) as err:
        LHCO(path=path, n_train=30, n_test_background=10).load(0)
    text = one_line(err)
    assert "nan.npy: 3 of 70 events have NaN or infinite values" in text and "dataset.drop_nan=true" in text
    data = LHCO(path=path, n_train=30, n_test_background=10, drop_nan=True).load(0)
    assert data.info["n_dropped_nan"] == 3 and np.isfinite(data.x_train).all()


def test_wrong_number_of_columns(tmp_path):
    path = write_npy(tmp_path / "four.npy", toy_npy()[:, :4])
    with pytest.raises(DataError) as err:
        LHCO(path=path).load(0)
    assert ("four.npy: expected a 2-D array with 6 columns (mjj mj1 delta_mj tau21_1 tau21_2 label), or 5 without "
            "the label, got shape (70, 4)") in one_line(err)
    # five columns: the features without labels (a black box), which training needs from a key file
    path = write_npy(tmp_path / "five.npy", toy_npy()[:, :5])
    with pytest.raises(DataError) as err:
        LHCO(path=path).load(0)
    assert "five.npy has no label column (a black box?); give its key file with dataset.key_path" in one_line(err)
    x, labels, rows, _ = LHCO(path=path).read(need_labels=False)  # what `oneclass score` reads
    assert labels is None and x.shape == (70, 5) and np.array_equal(rows, np.arange(70))


def test_labels_must_be_0_or_1(tmp_path):
    x = toy_npy()
    x[0, 5] = 2
    path = write_npy(tmp_path / "labels.npy", x)
    with pytest.raises(DataError) as err:
        LHCO(path=path, n_train=30, n_test_background=10).load(0)
    assert "labels.npy: the label column must be 0 (background) or 1 (signal), found 0, 1, 2" in one_line(err)


def test_selection_without_training_events(tmp_path):
    path = write_npy(tmp_path / "sr.npy", toy_npy())
    with pytest.raises(DataError) as err:
        LHCO(path=path, region="sb", n_train=30, n_test_background=10).load(0)
    text = one_line(err)
    assert "sr.npy: region=sb" in text and "leaves no background (training) events" in text and "dataset.region" in text


def test_too_few_events_for_the_counts(tmp_path):
    path = write_npy(tmp_path / "small.npy", toy_npy())
    with pytest.raises(DataError) as err:
        LHCO(path=path).load(0)
    assert "has 50 background events, too few for n_train=97081 plus n_test_background=24270" in one_line(err)


def test_unknown_file_format(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("mjj,mj1\n1,2\n")
    with pytest.raises(DataError, match="events.csv: not an HDF5 .* or NumPy"):
        LHCO(path=str(path)).load(0)


@pytest.mark.parametrize("kw, match", [
    (dict(region="middle"), "dataset.region must be one of sr, sb, all"),
    (dict(sr_low=3.7, sr_high=3.3), "sr_low"),
    (dict(features=["mjj", "pt"]), r"unknown feature\(s\) \['pt'\]"),
    (dict(preprocess="whiten"), "dataset.preprocess"),
    (dict(train_signal_fraction=1.0), r"train_signal_fraction must be in \[0, 1\)"),
    (dict(n_train=0), "dataset.n_train must be a positive integer or null"),
])
def test_config_errors(kw, match):
    with pytest.raises(ConfigError, match=match):
        LHCO(**kw)


# ---------------------------------------------------------------------------------------------
# End to end: a three-seed sweep on the real file, read back from MLflow


@pytest.mark.system
@pytest.mark.slow
def test_seed_sweep_on_real_file(tmp_path, shared_data):
    path = shared_data(SHARED)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    cmd = [sys.executable, str(ROOT / "run.py"), "model=ocdn", "dataset=lhco", f"dataset.path={path}",
           "trainer.max_epochs=1", "trainer.accelerator=cpu", "dataset.n_train=3000",
           "dataset.n_test_background=1000", "dataset.n_test_signal=1000", "-m", "seed=0..2"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("lhco")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["seed"] for r in runs) == ["0", "1", "2"]
    labels = []
    for r in runs:
        saved = np.load(Path(r.data.tags["output_dir"]) / "scores.npz")
        # the tracked metrics are those of the saved scores
        assert r.data.metrics["test_auc"] == pytest.approx(roc_auc(saved["scores"], saved["labels"]), abs=1e-12)
        assert r.data.metrics["test_max_sic"] == pytest.approx(max_sic(saved["scores"], saved["labels"]), abs=1e-12)
        assert r.data.params["dataset.path"] == str(path)
        labels.append(saved["labels"])
    # identical test set for every seed; different networks give different AUCs
    assert all(np.array_equal(labels[0], lab) for lab in labels)
    assert len({round(r.data.metrics["test_auc"], 6) for r in runs}) == 3


def test_hdf5_without_a_pandas_table_says_what_it_is(tmp_path):
    import tables

    path = tmp_path / "plain.h5"
    with tables.open_file(path, "w") as f:
        f.create_array("/", "x", np.zeros(3))
    with pytest.raises(DataError, match="holds no pandas table; it is not an LHCO features file"):
        read_events(path)


@pytest.mark.parametrize("labels, message", [
    (np.zeros(50), "has no signal \\(label 1\\) events; the test set needs them"),
    (np.ones(50), "has no background \\(label 0\\) events; the one-class training needs them"),
])
def test_file_with_one_class_only_gets_the_right_advice(tmp_path, labels, message):
    arr = np.column_stack([np.full(50, 3.5), np.ones((50, 4)), labels])
    np.save(tmp_path / "one.npy", arr)
    with pytest.raises(DataError, match=message):
        LHCO(path=str(tmp_path / "one.npy"), n_train=10, n_test_background=10).load(0)
