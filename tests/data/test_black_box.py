"""LHC Olympics black boxes: a features file without labels plus its key file, the real-data
training mode (train_events=all), the bad-input errors and `oneclass download lhco --box N`
against a local mirror (the Zenodo record's md5s)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from oneclass.data import download
from oneclass.data.lhco import LHCO
from oneclass.data.lhco_files import box_files, read_events
from oneclass.errors import ConfigError, DataError

from conftest import black_box_events, write_black_box

ROOT = Path(__file__).resolve().parents[2]
FEATURES_FILE, KEY_FILE = box_files(1)


@pytest.fixture
def box(tmp_path):
    return write_black_box(tmp_path)


def test_black_box_labels_come_from_the_key_and_training_sees_every_event(box):
    path, key = box
    ds = LHCO(path=str(path), box=1, train_events="all", n_train=None, n_test_background=None, region="all")
    data = ds.load(seed=0)
    x, labels, _ = read_events(path)
    assert np.isnan(labels).all()  # the features file itself has no labels
    n = len(key)
    assert data.x_train.shape == (int(0.8 * n), 5) and len(data.y_test) == n - int(0.8 * n)
    # file order: the first 80 % train (signal included, as in real data), the rest is the test set
    np.testing.assert_array_equal(data.test_index, np.arange(int(0.8 * n), n))
    np.testing.assert_array_equal(data.y_test, key[int(0.8 * n):])
    np.testing.assert_array_equal(data.y_train, key[:int(0.8 * n)])
    assert data.info["n_train_signal"] == int(key[:int(0.8 * n)].sum()) > 0
    assert data.info["key_file"] == str(path.parent / KEY_FILE)
    frame, _ = black_box_events()  # back to back: mjj = E1 + E2, E = sqrt(p^2 + m^2); raw TeV whatever the scaling
    mjj = (np.hypot(frame.pxj1, frame.mj1) + np.hypot(frame.pxj2, frame.mj2)).to_numpy() / 1000.0
    np.testing.assert_allclose(data.test_aux["mjj"], mjj[data.test_index], rtol=1e-9)
    # a split seed draws a permutation of all events, the same for every run seed
    a = LHCO(path=str(path), box=1, train_events="all", n_train=None, n_test_background=None, region="all",
             split_seed=3).load(seed=0)
    b = LHCO(path=str(path), box=1, train_events="all", n_train=None, n_test_background=None, region="all",
             split_seed=3).load(seed=7)
    np.testing.assert_array_equal(a.test_index, b.test_index)
    assert not np.array_equal(np.sort(a.test_index), data.test_index)
    np.testing.assert_array_equal(a.y_test, key[a.test_index])


def test_black_box_bad_inputs_give_one_line(box, tmp_path):
    path, key = box
    (path.parent / KEY_FILE).unlink()
    with pytest.raises(DataError, match=r"key file .*masterkey not found; get it with `oneclass download lhco --box N`"):
        LHCO(path=str(path), box=1, region="all").load(0)
    with pytest.raises(DataError, match=r"has no label column \(a black box\?\); give its key file with dataset.key_path"):
        LHCO(path=str(path), region="all").load(0)
    short = tmp_path / "short.key"
    short.write_text("0\n1\n")
    with pytest.raises(DataError, match=rf"lists 2 labels but .* holds {len(key)} events"):
        LHCO(path=str(path), key_path=str(short), region="all").load(0)
    bad = tmp_path / "bad.key"
    bad.write_text("0,1,-1\n" + "0\n" * (len(key) - 3))
    with pytest.raises(DataError, match=r"labels must be integers >= 0"):
        LHCO(path=str(path), key_path=str(bad), region="all").load(0)
    with pytest.raises(ConfigError, match=r"dataset.box must be one of 1, 2, 3"):
        LHCO(box=4)
    with pytest.raises(ConfigError, match=r"dataset.train_events must be one of background, all"):
        LHCO(train_events="everything")
    with pytest.raises(ConfigError, match=r"train_events=all .* dataset.train_signal_fraction"):
        LHCO(train_events="all", train_signal_fraction=0.01)


def test_black_box_preset_composes_with_the_paper_settings():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=[lhco/ocdn,lhco/bb1]"])
    assert cfg.dataset.box == 1 and cfg.dataset.train_events == "all" and cfg.dataset.n_train is None
    assert cfg.model.batch_size == 32 and cfg.trainer.max_epochs == 10  # conf/experiment/lhco/ocdn.yaml


def test_download_box_verifies_both_files(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    payload = {FEATURES_FILE: b"\x89HDF features" * 1000, KEY_FILE: b"0\n1\n0\n"}
    for name, data in payload.items():
        (mirror / name).write_bytes(data)
    files = [{"key": name, "checksum": "md5:" + hashlib.md5(data).hexdigest()} for name, data in payload.items()]
    (mirror / "record.json").write_text(json.dumps({"id": 4536624, "files": files}))
    dest = tmp_path / "data" / FEATURES_FILE
    argv = ["lhco", "--box", "1", "--url", mirror.as_uri(), "--record-url", (mirror / "record.json").as_uri(),
            "--dest", str(dest), "--no-progress"]
    assert download.main(argv) == 0
    assert dest.read_bytes() == payload[FEATURES_FILE] and (dest.parent / KEY_FILE).read_bytes() == payload[KEY_FILE]
    assert "experiment=[lhco/ocdn,lhco/bb1]" in capsys.readouterr().err
    # a record whose md5 does not match the key file: nothing of the key written, one line
    (dest.parent / KEY_FILE).unlink()
    files[1]["checksum"] = "md5:" + "f" * 32
    (mirror / "record.json").write_text(json.dumps({"id": 4536624, "files": files}))
    assert download.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: checksum mismatch") and not (dest.parent / KEY_FILE).exists()
    assert download.main(["kdd", "--box", "1"]) == 2
    assert capsys.readouterr().err.strip().endswith("--box is for lhco only (the LHC Olympics black boxes)")


def test_scoring_a_black_box_needs_no_key(box):
    """`oneclass score` on a black box's features file: rows without labels when no key is next to it."""
    path, key = box
    ds = LHCO(path=str(path), box=1, train_events="all", n_train=None, n_test_background=None, region="all")
    data = ds.load(0)
    x, labels, rows = ds.score_rows(str(path), data.info)
    np.testing.assert_array_equal(labels, key)  # the key next to the file is used when there
    np.testing.assert_allclose(x[rows >= int(0.8 * len(key))], data.x_test, rtol=1e-6)
    (path.parent / KEY_FILE).unlink()
    x2, labels2, rows2 = ds.score_rows(str(path), data.info)
    assert labels2 is None
    np.testing.assert_array_equal(x2, x)
