"""The tabular sets: the nrcan and adbench protocols, the ADBench / ODDS / KDD datasets on the real
shared files, their one-line errors, and ADBench's published ECOD results reproduced by its protocol."""

from __future__ import annotations

import numpy as np
import pytest

from oneclass.data.splits import adbench_split, nrcan_split
from oneclass.data.tabular import read_mat, read_npz
from oneclass.data.tabular_datasets import ADBench, KDDCup, ODDS
from oneclass.errors import ConfigError, DataError
from oneclass.models.pyod import pyod_available


def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


# ------------------------------------------------------------------------------------- protocols
LABELS = np.array([0] * 11 + [1] * 4, dtype=np.int8)[np.random.default_rng(3).permutation(15)]


def test_nrcan_trains_on_half_the_normals_and_tests_on_the_rest_plus_every_anomaly():
    s = nrcan_split(LABELS, split_seed=5)
    normals, anomalies = np.flatnonzero(LABELS == 0), np.flatnonzero(LABELS == 1)
    assert len(s.train) == 5 and (LABELS[s.train] == 0).all()  # floor(11 / 2), normal only
    assert len(s.test) == 6 + 4 and set(anomalies) <= set(s.test)
    assert sorted(np.r_[s.train, s.test]) == list(range(15))  # disjoint, nothing left out
    np.testing.assert_array_equal(s.y_test, LABELS[s.test])
    assert (s.info["n_train_normal"], s.info["n_test_normal"], s.info["n_test_anomaly"]) == (5, 6, 4)
    # the split is a permutation drawn from split_seed, and only from it
    again, other = nrcan_split(LABELS, split_seed=5), nrcan_split(LABELS, split_seed=6)
    np.testing.assert_array_equal(again.train, s.train)
    assert set(other.train) != set(s.train)
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(s.train, normals[rng.permutation(11)][:5])
    # null = file order: the first half of the normals
    np.testing.assert_array_equal(nrcan_split(LABELS, split_seed=None).train, normals[:5])


def test_nrcan_contamination_and_n_train():
    s = nrcan_split(LABELS, split_seed=0, train_contamination=0.2)  # round(5 * 0.2 / 0.8) = 1 anomaly
    assert LABELS[s.train].tolist().count(1) == 1 and len(s.train) == 6 and int(s.y_test.sum()) == 3
    assert set(s.train).isdisjoint(s.test)
    small = nrcan_split(LABELS, split_seed=0, n_train=2)
    np.testing.assert_array_equal(small.train, nrcan_split(LABELS, split_seed=0).train[:2])
    np.testing.assert_array_equal(small.test, nrcan_split(LABELS, split_seed=0).test)  # test half unchanged


@pytest.mark.parametrize("kwargs, labels, message", [
    ({"n_train": 6}, LABELS, "dataset.n_train=6 but the nrcan protocol trains on half of the 11 normal rows (5)"),
    ({"train_contamination": 0.5}, LABELS, "train_contamination=0.5 needs 5 of the 4 anomalies in training"),
    ({}, np.zeros(6, np.int8), "has no anomalies (label 1); the nrcan protocol's test set needs them"),
    ({}, np.array([0, 1, 1], np.int8), "has 1 normal (label 0) row; the nrcan protocol needs at least 2"),
])
def test_nrcan_bad_inputs_are_one_line(kwargs, labels, message):
    with pytest.raises(DataError) as err:
        nrcan_split(labels, where="set.npz", **kwargs)
    assert message in one_line(err)


def test_adbench_split_is_stratified_and_keeps_training_anomalies():
    labels = np.r_[np.zeros(100, np.int8), np.ones(10, np.int8)]
    s = adbench_split(labels, split_seed=0)
    assert (len(s.train), len(s.test)) == (77, 33)  # ceil(0.3 * 110) test rows
    assert int(labels[s.train].sum()) == 7 and int(s.y_test.sum()) == 3  # 10 % anomalies on both sides
    assert s.n_train_anomalies == 7 and s.info["n_train_anomaly"] == 7
    assert sorted(np.r_[s.train, s.test]) == list(range(110))
    np.testing.assert_array_equal(s.y_test, labels[s.test])
    np.testing.assert_array_equal(adbench_split(labels, split_seed=0).test, s.test)
    assert set(adbench_split(labels, split_seed=1).test) != set(s.test)


def test_adbench_split_bad_inputs():
    labels = np.r_[np.zeros(20, np.int8), np.ones(1, np.int8)]
    with pytest.raises(DataError) as err:
        adbench_split(labels, split_seed=0, where="x.npz")
    assert "x.npz has 1 anomaly (label 1) row(s); the adbench_dedup protocol's split needs at least 2" in one_line(err)
    with pytest.raises(ConfigError, match=r"dataset.test_fraction must be in \(0, 1\), got 1.5"):
        adbench_split(np.r_[labels, 1], test_fraction=1.5)
    with pytest.raises(DataError) as err:
        adbench_split(np.r_[np.zeros(3, np.int8), np.ones(2, np.int8)], split_seed=0, test_fraction=0.9)
    assert "the adbench_dedup protocol cannot split 5 rows (3 normal, 2 anomalies) with dataset.test_fraction=0.9" in one_line(err)
    with pytest.raises(DataError) as err:
        adbench_split(np.r_[np.zeros(50, np.int8), np.ones(2, np.int8)], split_seed=0, test_fraction=0.05)
    assert "dataset.test_fraction=0.05 leaves no anomaly rows in the test part (2 anomaly rows in all)" in one_line(err)


# ------------------------------------------------------------------------------------- datasets
def test_arrhythmia_nrcan_counts_and_training_scaler(shared_data):
    path = shared_data("odds/arrhythmia.mat")
    raw = read_mat(path)
    ds = ODDS(name="arrhythmia", path=str(path))
    data = ds.load(seed=0)
    assert raw.x.shape == (452, 274) and int(raw.y.sum()) == 66
    assert data.x_train.shape == (193, 274) and data.x_test.shape == (259, 274)  # 386 normals: 193 + 193 + 66
    assert int(data.y_test.sum()) == 66 and data.input_shape == (274,)
    np.testing.assert_array_equal(raw.y[data.test_index], data.y_test)
    train_rows = np.setdiff1d(np.flatnonzero(raw.y == 0), data.test_index)
    assert len(train_rows) == 193
    # standardised with statistics of the 193 training rows only
    mean, std = raw.x[train_rows].mean(0), raw.x[train_rows].std(0)
    std = np.where(std > 0, std, 1.0)
    np.testing.assert_allclose(data.x_test, ((raw.x[data.test_index] - mean) / std).astype(np.float32), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.sort(data.x_train.sum(1)), np.sort(((raw.x[train_rows] - mean) / std).sum(1)), rtol=1e-4, atol=1e-3)
    assert data.info["preprocess"] == "standardize" and data.info["n_train_normal"] == 193
    # the run's seed never changes the split; split_seed does
    np.testing.assert_array_equal(ds.load(seed=7).test_index, data.test_index)
    np.testing.assert_array_equal(ds.load(seed=7).x_train, data.x_train)
    assert set(ODDS(name="arrhythmia", path=str(path), split_seed=1).load(0).test_index) != set(data.test_index)


def test_adbench_protocol_on_thyroid(shared_data, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(shared_data("adbench").parent))
    data = ADBench(name="thyroid", protocol="adbench", split_seed=0).load(seed=3)
    raw = read_npz(shared_data("adbench/38_thyroid.npz"))
    assert data.x_train.shape == (2640, 6) and data.x_test.shape == (1132, 6)
    assert int(data.y_test.sum()) == 28 and data.info["n_train_anomaly"] == 65  # 93 anomalies, stratified
    train_rows = np.setdiff1d(np.arange(3772), data.test_index)
    lo, hi = raw.x[train_rows].min(0), raw.x[train_rows].max(0)
    np.testing.assert_allclose(data.x_train.min(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(data.x_train.max(0), 1.0, atol=1e-6)  # min-max on the training part
    np.testing.assert_allclose(data.x_test, ((raw.x[data.test_index] - lo) / (hi - lo)).astype(np.float32), atol=1e-6)
    nrcan = ADBench(name="38_thyroid", protocol="nrcan").load(0)
    assert nrcan.x_train.shape == (1839, 6) and int(nrcan.y_test.sum()) == 93  # 3679 normals // 2


def test_adbench_protocol_redraws_small_sets_with_replacement(shared_data, monkeypatch):
    """ADBench's data_generator.py: breastw (683 rows) is redrawn to 1000 rows with replacement from
    RandomState(split_seed), then split 70/30 from the same generator: most test rows have a copy
    in training. adbench_dedup splits the 683 rows as they are: none has."""
    from sklearn.model_selection import train_test_split

    monkeypatch.setenv("ONECLASS_DATA_DIR", str(shared_data("adbench").parent))
    raw = read_npz(shared_data("adbench/4_breastw.npz"))
    faithful = ADBench(name="breastw", protocol="adbench", split_seed=1).load(0)
    rng = np.random.RandomState(1)
    drawn = rng.choice(683, 1000, replace=True)
    _, test = train_test_split(drawn, test_size=0.3, stratify=raw.y[drawn], random_state=rng, shuffle=True)
    np.testing.assert_array_equal(faithful.test_index, test)
    assert faithful.x_train.shape == (700, 9) and faithful.x_test.shape == (300, 9)
    leak = faithful.info["test_rows_in_train"]
    assert 0.5 < leak < 1.0 and faithful.info["n_source_rows"] == 683 and faithful.info["n_rows_drawn"] == 1000
    dedup = ADBench(name="breastw", protocol="adbench_dedup", split_seed=1).load(0)
    assert dedup.x_test.shape == (205, 9) and len(np.unique(dedup.test_index)) == 205
    assert "test_rows_in_train" not in dedup.info
    # 1000-10,000 rows: the same split either way (the same generator, nothing redrawn)
    a = ADBench(name="cardio", protocol="adbench", split_seed=2).load(0)
    b = ADBench(name="cardio", protocol="adbench_dedup", split_seed=2).load(0)
    np.testing.assert_array_equal(np.sort(a.test_index), b.test_index)
    assert a.info["test_rows_in_train"] == 0.0


def test_adbench_protocol_subsamples_large_sets_and_pyod_protocol(shared_data, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(shared_data("adbench").parent))
    big = ADBench(name="shuttle", protocol="adbench", split_seed=0).load(0)  # 49,097 rows -> 10,000
    assert big.x_train.shape == (7000, 9) and big.x_test.shape == (3000, 9) and big.info["n_rows_drawn"] == 10_000
    assert len(np.unique(np.r_[big.test_index, np.setdiff1d(big.test_index, [])])) == 3000  # drawn without replacement
    pyod = ADBench(name="cardio", protocol="pyod", split_seed=0).load(0)  # PyOD's benchmark: 60/40, standardised
    assert pyod.x_test.shape == (733, 21) and pyod.info["preprocess"] == "standardize"
    np.testing.assert_allclose(pyod.x_train.mean(0), 0.0, atol=1e-5)


def test_kdd_and_kddcup_rev(shared_data):
    path = str(shared_data("kdd/kddcup.data_10_percent.gz"))
    data = KDDCup(path=path).load(0)  # anomaly = the "normal." connections (97,278)
    assert data.x_train.shape == (198371, 118) and data.x_test.shape == (295650, 118)
    assert int(data.y_test.sum()) == 97278 and data.info["preprocess"] == "minmax"
    assert data.x_train.min() >= 0 and data.x_train.max() <= 1.0 + 1e-6
    rev = KDDCup(path=path, variant="rev").load(0)  # normal traffic normal, attacks to 20 % of it
    assert rev.x_train.shape == (48639, 118) and int(rev.y_test.sum()) == 19456 == round(0.2 * 97278)
    assert len(rev.x_test) == 97278 - 48639 + 19456
    flipped = KDDCup(path=path, anomaly="attacks", n_train=1000).load(0)
    assert flipped.x_train.shape == (1000, 118) and int(flipped.y_test.sum()) == 396743


@pytest.mark.parametrize("cls, kwargs, message", [
    (ADBench, {"protocol": "loo"}, "dataset.protocol must be one of nrcan, adbench, adbench_dedup, pyod, got 'loo'"),
    (ADBench, {"protocol": "adbench", "train_contamination": 0.1}, "dataset.train_contamination is for the nrcan protocol"),
    (ADBench, {"protocol": "adbench", "n_train": 100}, "dataset.n_train is for the nrcan protocol"),
    (ADBench, {"protocol": "adbench", "split_seed": None}, "the adbench protocol's random split needs an integer split_seed"),
    (ADBench, {"protocol": "pyod", "n_train": 100}, "dataset.n_train is for the nrcan protocol; the pyod protocol trains"),
    (ADBench, {"preprocess": "robust"}, "dataset.preprocess must be one of none, standardize, minmax or null"),
    (ADBench, {"train_contamination": 1.0}, "dataset.train_contamination must be in [0, 1), got 1.0"),
    (KDDCup, {"variant": "rev", "anomaly": "normal"}, "KDDCUP-Rev) takes normal traffic as the normal class"),
    (KDDCup, {"variant": "full"}, "dataset.variant must be null (KDD Cup 99 10 %) or rev"),
])
def test_dataset_config_errors(cls, kwargs, message):
    kwargs = {"name": "thyroid", **kwargs} if cls is ADBench else kwargs
    with pytest.raises(ConfigError) as err:
        cls(**kwargs)
    assert message in one_line(err)


def test_dataset_file_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as err:
        ADBench(name="cardoi").load(0)
    assert "unknown ADBench set 'cardoi' (no such file either); known: 1_ALOI" in one_line(err)
    np.savez(tmp_path / "clean.npz", X=np.arange(20.0).reshape(10, 2), y=np.zeros(10))
    with pytest.raises(DataError) as err:
        ADBench(name=str(tmp_path / "clean.npz")).load(0)
    assert "has no anomalies (label 1); the nrcan protocol's test set needs them" in one_line(err)
    x = np.arange(20.0).reshape(10, 2)
    x[3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=x, y=np.r_[np.zeros(8), 1, 1])
    with pytest.raises(DataError) as err:
        ADBench(name="nan", path=str(tmp_path / "nan.npz")).load(0)
    assert "1 NaN or infinite feature value(s) in 1 column(s): 1 (1)" in one_line(err)
    with pytest.raises(DataError) as err:
        ODDS(name="thyroid").load(0)
    assert "ODDS set thyroid not found at" in one_line(err)


# ------------------------------------------------------------------------------------- ADBench's own results


@pytest.mark.skipif(not pyod_available(), reason="PyOD not installed (pip install 'oneclass[pyod]')")
@pytest.mark.parametrize("stem, name, split_seed", [("4_breastw", "breastw", 1), ("6_cardio", "cardio", 2)])
def test_adbench_protocol_reproduces_adbench_published_ecod(shared_data, monkeypatch, stem, name, split_seed):
    """ECOD is deterministic, so ADBench's own pipeline (redraw included on breastw's 683 rows) gives
    ADBench's published AUROC of the same seed, to float precision (their result file, seeds 1-3)."""
    import pandas as pd
    from conftest import shared_data_dir

    from oneclass.metrics import evaluate
    from oneclass.models.pyod import PyOD

    monkeypatch.setenv("ONECLASS_DATA_DIR", str(shared_data(f"adbench/{stem}.npz").parents[1]))
    ref = shared_data_dir().parent / "references" / "adbench" / "AUCROC_DB_test_Tabular_None_None_unsupervise.csv"
    if not ref.is_file():
        pytest.fail(f"ADBench's result file {ref} is missing (shared/references/adbench)")
    published = pd.read_csv(ref, index_col=0).loc[f"('{name}', 0.0, {split_seed})", "ECOD"]
    data = ADBench(name=name, protocol="adbench", split_seed=split_seed).load(0)
    scores = PyOD(name="ECOD", input_shape=data.input_shape).fit(data.x_train).score(data.x_test)
    assert evaluate(scores, data.y_test).auc == pytest.approx(published, abs=1e-9)
