"""Tabular readers: the real ADBench / ODDS / KDD files in shared/data, small files written here in
each format (MATLAB v5 and v7.3, KDD and NSL-KDD rows), and every bad-input error."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from oneclass.data import kdd
from oneclass.data.kdd import KDD_COLUMNS, read_kdd, read_nsl_kdd
from oneclass.data.tabular import (
    ADBENCH_SETS, adbench_name, adbench_path, check_adbench_published, mat_version, odds_path, read_mat, read_npz,
)
from oneclass.errors import DataError

SHARED_ADBENCH = ["2_annthyroid", "4_breastw", "6_cardio", "23_mammography", "30_satellite", "31_satimage-2",
                  "32_shuttle", "38_thyroid"]


def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


# ------------------------------------------------------------------------------------- ADBench


@pytest.mark.parametrize("stem", SHARED_ADBENCH)
def test_shared_adbench_sets_match_the_published_table(shared_data, stem):
    table = read_npz(shared_data(f"adbench/{stem}.npz"))
    check_adbench_published(table, stem)  # rows, features and anomalies as ADBench's README lists them
    assert table.x.dtype == np.float64 and table.y.dtype == np.int8 and set(np.unique(table.y)) == {0, 1}


@pytest.mark.parametrize("name", ["thyroid", "38_thyroid", "38", "Thyroid.npz", "THYROID"])
def test_adbench_names_resolve_in_the_data_dir(shared_data, monkeypatch, name):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(shared_data("adbench").parent))
    assert adbench_path(name) == shared_data("adbench/38_thyroid.npz")


def test_adbench_name_table():
    assert adbench_name("satimage-2") == "31_satimage-2"
    assert adbench_name("magic.gamma") == "22_magic.gamma"
    assert adbench_name("spambase") == "35_SpamBase"
    assert adbench_name("nope") is None
    assert len(ADBENCH_SETS) == 47 and ADBENCH_SETS["38_thyroid"] == (3772, 6, 93)


def test_adbench_missing_unknown_and_own_files(tmp_path, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as err:
        adbench_path("cardio")
    assert f"ADBench set 6_cardio not found at {tmp_path / 'adbench' / '6_cardio.npz'}" in one_line(err)
    assert "`oneclass download adbench cardio`" in str(err.value)
    with pytest.raises(DataError) as err:
        adbench_path("cardoi")
    assert "unknown ADBench set 'cardoi' (no such file either); known: 1_ALOI, 2_annthyroid," in one_line(err)
    assert "47_yeast" in str(err.value)
    own = tmp_path / "adbench" / "mine.npz"
    own.parent.mkdir()
    np.savez(own, X=np.zeros((3, 2)), y=np.array([0, 0, 1]))
    assert adbench_path("mine") == own
    assert adbench_path(str(own)) == own


def npz(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return path


def test_npz_bad_inputs(tmp_path):
    x = np.arange(20.0).reshape(5, 4)
    y = np.array([0, 0, 1, 0, 1])
    with pytest.raises(DataError) as err:
        read_npz(npz(tmp_path, X=x, labels=y))
    assert "no array y in the .npz (it holds X, labels); expected X (features) and y (labels, 1 = anomaly)" in one_line(err)
    with pytest.raises(DataError) as err:
        read_npz(npz(tmp_path, X=x, y=np.array([0, 2, 1, 0, -1])))
    assert "labels must be 0 (normal) or 1 (anomaly), found -1, 0, 1, 2" in one_line(err)
    bad = x.copy()
    bad[0, 1] = bad[3, 1] = np.nan
    bad[2, 3] = np.inf
    with pytest.raises(DataError) as err:
        read_npz(npz(tmp_path, X=bad, y=y))
    assert "3 NaN or infinite feature value(s) in 2 column(s): 1 (2), 3 (1)" in one_line(err)
    with pytest.raises(DataError, match=r"y must hold one label per row of X \(5\), got shape \(4,\)"):
        read_npz(npz(tmp_path, X=x, y=y[:4]))
    with pytest.raises(DataError, match=r"features must be a 2-D numeric array, got float64 of shape \(20,\)"):
        read_npz(npz(tmp_path, X=x.ravel(), y=y))
    with pytest.raises(DataError, match=r"cannot read as .npz \(Object arrays cannot be loaded"):
        read_npz(npz(tmp_path, X=np.array([{"a": 1}] * 5, dtype=object), y=y))
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="junk.npz: cannot read as .npz"):
        read_npz(tmp_path / "junk.npz")
    table = read_npz(npz(tmp_path, X=x.astype(np.int16), y=y.astype(bool)))  # other dtypes are fine
    assert table.x.dtype == np.float64 and table.y.tolist() == [0, 0, 1, 0, 1]
    assert table.feature_names == ("x0", "x1", "x2", "x3") and table.info["n_anomalies"] == 2


def test_published_shape_check(tmp_path):
    table = read_npz(npz(tmp_path, X=np.zeros((3772, 6)), y=np.r_[np.ones(92), np.zeros(3680)]))
    with pytest.raises(DataError, match="3772 rows x 6 features with 92 anomalies, but ADBench publishes 3772 x 6 "
                                        "with 93 for 38_thyroid; not the official file"):
        check_adbench_published(table, "38_thyroid")


# ----------------------------------------------------------------------------------------- ODDS


def test_odds_arrhythmia(shared_data):
    path = shared_data("odds/arrhythmia.mat")
    assert mat_version(path) == "v5"
    table = read_mat(path)
    assert table.x.shape == (452, 274) and table.y.sum() == 66 and table.info["format"] == "mat v5"


def write_mat73(path: Path, **arrays) -> Path:
    """A MATLAB v7.3 file as MATLAB writes it: a 512-byte user block with the MAT header, then HDF5
    datasets stored column-major (so HDF5 sees each matrix transposed)."""
    import tables

    with tables.open_file(str(path), "w", USER_BLOCK_SIZE=512) as h5:
        for name, value in arrays.items():
            node = h5.create_array("/", name, np.ascontiguousarray(np.atleast_2d(value).T))
            node.attrs.MATLAB_class = b"double"
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    header = text.ljust(116) + b"\0" * 8 + (0x0200).to_bytes(2, "little") + b"IM"
    with open(path, "r+b") as f:
        f.write(header)
    return path


def test_mat_v73_and_v5_round_trip(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    y = np.array([[0], [1], [0], [0], [1], [0], [0]], dtype=float)
    v73 = write_mat73(tmp_path / "a73.mat", X=x, y=y)
    assert mat_version(v73) == "v7.3"
    table = read_mat(v73)
    np.testing.assert_array_equal(table.x, x)  # transposed back: 7 rows x 3 features
    assert table.y.tolist() == [0, 1, 0, 0, 1, 0, 0] and table.info["format"] == "mat v7.3"
    savemat(tmp_path / "a5.mat", {"X": x, "y": y})
    table5 = read_mat(tmp_path / "a5.mat")
    np.testing.assert_array_equal(table5.x, x)
    assert table5.y.tolist() == table.y.tolist()


def test_mat_bad_inputs(tmp_path):
    from scipy.io import savemat

    savemat(tmp_path / "v4.mat", {"X": np.zeros((2, 2)), "y": np.zeros((2, 1))}, format="4")
    with pytest.raises(DataError) as err:
        read_mat(tmp_path / "v4.mat")
    assert "unknown .mat version (no MATLAB 5/7 header" in one_line(err) and "'-v7.3'" in str(err.value)
    odd = bytearray((tmp_path / "v4.mat").read_bytes().ljust(128, b"\0"))
    odd[:128] = b"MATLAB 5.0 MAT-file".ljust(124) + (0x0300).to_bytes(2, "little") + b"IM"
    (tmp_path / "odd.mat").write_bytes(bytes(odd))
    with pytest.raises(DataError, match=r"unknown .mat version \(version field 0x0300; header 'MATLAB 5.0 MAT-file'\)"):
        read_mat(tmp_path / "odd.mat")
    savemat(tmp_path / "nox.mat", {"data": np.zeros((2, 2)), "y": np.zeros((2, 1))})
    with pytest.raises(DataError, match=r"no variable X in the .mat \(it holds data, y\)"):
        read_mat(tmp_path / "nox.mat")
    write_mat73(tmp_path / "noy.mat", X=np.zeros((2, 2)), label=np.zeros((2, 1)))
    with pytest.raises(DataError, match=r"no variable y in the .mat \(it holds X, label\)"):
        read_mat(tmp_path / "noy.mat")
    savemat(tmp_path / "lab.mat", {"X": np.zeros((2, 2)), "y": np.array([[0], [3]])})
    with pytest.raises(DataError, match="found 0, 3"):
        read_mat(tmp_path / "lab.mat")
    cut = tmp_path / "cut.mat"
    write_mat73(cut, X=np.zeros((200, 30)), y=np.zeros((200, 1)))
    cut.write_bytes(cut.read_bytes()[:2000])
    with pytest.raises(DataError, match="cannot read as a MATLAB v7.3 .HDF5. file"):
        read_mat(cut)


def test_odds_names(tmp_path, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as err:
        odds_path("thyroid")
    assert "ODDS set thyroid not found at" in one_line(err) and "odds.cs.stonybrook.edu" in str(err.value)
    with pytest.raises(DataError, match="unknown ODDS set 'thyriod' .no such file either.; known: annthyroid, arrhythmia"):
        odds_path("thyriod")
    (tmp_path / "odds").mkdir()
    write_mat73(tmp_path / "odds" / "custom.mat", X=np.zeros((2, 2)), y=np.zeros((2, 1)))
    assert odds_path("custom") == tmp_path / "odds" / "custom.mat"
    assert odds_path(str(tmp_path / "odds" / "custom.mat")) == tmp_path / "odds" / "custom.mat"


# ------------------------------------------------------------------------------------------ KDD


@pytest.fixture(autouse=True)
def _fresh_kdd_cache():
    kdd._KDD_CACHE.clear()
    yield
    kdd._KDD_CACHE.clear()


def test_kdd_10_percent(shared_data):
    path = shared_data("kdd/kddcup.data_10_percent.gz")
    table = read_kdd(path)
    assert table.x.shape == (494021, 118) and table.x.dtype == np.float32
    assert table.y.sum() == 97278 == table.info["n_normal_traffic"]  # 'normal.' rows are the anomalies
    cats = table.info["categories"]
    assert [len(cats[c]) for c in ("protocol_type", "service", "flag")] == [3, 66, 11]
    names = table.feature_names
    assert names[:2] == ("duration", "src_bytes") and names[38:41] == ("protocol_type=icmp", "protocol_type=tcp", "protocol_type=udp")
    # first row: 0,tcp,http,SF,181,5450,... normal.
    row = dict(zip(names, table.x[0]))
    assert (row["src_bytes"], row["dst_bytes"], row["protocol_type=tcp"], row["service=http"], row["flag=SF"]) == (181, 5450, 1, 1, 1)
    assert table.y[0] == 1
    for block in ("protocol_type=", "service=", "flag="):  # exactly one 1 per row and block
        cols = [j for j, n in enumerate(names) if n.startswith(block)]
        assert (table.x[:, cols].sum(axis=1) == 1).all()
    assert read_kdd(path).x is table.x and not table.x.flags.writeable  # cached, read-only
    flipped = read_kdd(path, anomaly="attacks")
    assert flipped.y.sum() == 494021 - 97278 and flipped.x is table.x


KDD_ROWS = [
    "0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.",
    "0,icmp,ecr_i,SF,1032,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,511,511,0.00,0.00,0.00,0.00,1.00,0.00,0.00,255,255,1.00,0.00,1.00,0.00,0.00,0.00,0.00,0.00,smurf.",
    "0,udp,private,SF,105,146,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,0.00,255,254,1.00,0.01,0.00,0.00,0.00,0.00,0.00,0.00,normal.",
    "0,tcp,private,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,123,6,1.00,1.00,0.00,0.00,0.05,0.07,0.00,255,26,0.10,0.05,0.00,0.00,1.00,1.00,0.00,0.00,neptune.",
]


def write_rows(path: Path, rows: list[str], gz: bool = False) -> Path:
    text = ("\n".join(rows) + "\n").encode()
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


@pytest.mark.parametrize("gz", [True, False])
def test_kdd_one_hot_hand_checked(tmp_path, gz):
    table = read_kdd(write_rows(tmp_path / "k.gz", KDD_ROWS, gz=gz))
    assert table.info["categories"] == {"protocol_type": ["icmp", "tcp", "udp"], "service": ["ecr_i", "http", "private"],
                                        "flag": ["S0", "SF"]}
    assert table.x.shape == (4, 38 + 3 + 3 + 2)
    np.testing.assert_array_equal(table.x[:, 38:], [[0, 1, 0, 0, 1, 0, 0, 1],
                                                    [1, 0, 0, 1, 0, 0, 0, 1],
                                                    [0, 0, 1, 0, 0, 1, 0, 1],
                                                    [0, 1, 0, 0, 0, 1, 1, 0]])
    numeric = [c for c in KDD_COLUMNS if c not in ("protocol_type", "service", "flag")]
    assert table.x[1, numeric.index("count")] == 511 and table.x[3, numeric.index("serror_rate")] == 1.0
    assert table.y.tolist() == [1, 0, 1, 0]
    assert read_kdd(tmp_path / "k.gz", anomaly="attacks").y.tolist() == [0, 1, 0, 1]


def test_kdd_categories_from_another_file_line_up(tmp_path):
    train = read_kdd(write_rows(tmp_path / "train", KDD_ROWS))
    test = read_kdd(write_rows(tmp_path / "test", KDD_ROWS[:1]), categories=train.info["categories"])
    assert test.feature_names == train.feature_names
    np.testing.assert_array_equal(test.x, train.x[:1])
    with pytest.raises(DataError) as err:
        read_kdd(tmp_path / "train", categories=read_kdd(tmp_path / "test").info["categories"])
    assert "protocol_type value(s) icmp, udp are not among the given categories" in one_line(err)


def test_kdd_bad_inputs(tmp_path):
    nsl_row = KDD_ROWS[0].rstrip(".") + ",21"
    with pytest.raises(DataError) as err:
        read_kdd(write_rows(tmp_path / "a", [nsl_row]))
    assert "43 comma-separated columns in the first row, expected 42 for KDD Cup 99 data" in one_line(err)
    assert "`oneclass download kdd`" in str(err.value)
    with pytest.raises(DataError, match=r"1 row\(s\) with fewer than 42 columns \(first: row 2\)"):
        read_kdd(write_rows(tmp_path / "b", [KDD_ROWS[0], KDD_ROWS[1].rsplit(",", 1)[0]]))
    with pytest.raises(DataError, match="cannot parse as KDD Cup 99 data .*Expected 42 fields in line 2, saw 43"):
        read_kdd(write_rows(tmp_path / "c", [KDD_ROWS[0], KDD_ROWS[1] + ",x"]))
    with pytest.raises(DataError, match="cannot parse as KDD Cup 99 data"):
        read_kdd(write_rows(tmp_path / "d", [KDD_ROWS[0].replace(",181,", ",lots,")]))
    with pytest.raises(DataError, match=r"1 NaN or infinite feature value\(s\) in 1 column\(s\): 'dst_bytes' \(1\)"):
        read_kdd(write_rows(tmp_path / "e", [KDD_ROWS[0].replace(",5450,", ",,")]))
    with pytest.raises(DataError, match="anomaly must be one of normal, attacks, got 'attack'"):
        read_kdd(tmp_path / "a", anomaly="attack")
    with pytest.raises(DataError, match="KDD Cup 99 file .*missing.gz not found; download it with `oneclass download kdd`"):
        read_kdd(tmp_path / "missing.gz")
    truncated = write_rows(tmp_path / "f.gz", KDD_ROWS * 50, gz=True)
    truncated.write_bytes(truncated.read_bytes()[:-30])
    with pytest.raises(DataError, match="f.gz: cannot parse as KDD Cup 99 data"):
        read_kdd(truncated)


def test_nsl_kdd_reader(tmp_path):
    rows = [r.rstrip(".") + f",{d}" for r, d in zip(KDD_ROWS, (21, 15, 20, 18))]
    table = read_nsl_kdd(write_rows(tmp_path / "KDDTrain+.txt", rows))
    assert table.y.tolist() == [0, 1, 0, 1]  # attacks are the anomalies by default
    assert table.info["difficulty"].tolist() == [21, 15, 20, 18] and table.info["format"] == "nsl-kdd"
    assert read_nsl_kdd(tmp_path / "KDDTrain+.txt", anomaly="normal").y.tolist() == [1, 0, 1, 0]
    np.testing.assert_array_equal(table.x, read_kdd(write_rows(tmp_path / "k", KDD_ROWS)).x)
    with pytest.raises(DataError, match="42 comma-separated columns in the first row, expected 43 for NSL-KDD data"):
        read_nsl_kdd(tmp_path / "k")


def test_kdd_and_nsl_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="`oneclass download kdd`"):
        kdd.kdd_path()
    with pytest.raises(DataError, match=r"NSL-KDD file .*nsl_kdd/KDDTest\+.txt not found; download it with `oneclass download nsl_kdd`"):
        kdd.nsl_kdd_path("test")
    (tmp_path / "kdd").mkdir()
    write_rows(tmp_path / "kdd" / "kddcup.data_10_percent.gz", KDD_ROWS, gz=True)
    assert kdd.kdd_path() == tmp_path / "kdd" / "kddcup.data_10_percent.gz"


def test_kdd_empty_and_not_gzip_files_say_so(tmp_path):
    """An empty file, a .gz holding no data and a .gz that is not gzip are named as such, not by a
    column count."""
    import gzip

    (tmp_path / "empty.gz").write_bytes(b"")
    with pytest.raises(DataError) as err:
        read_kdd(tmp_path / "empty.gz")
    assert "empty.gz is empty (0 bytes); re-download it with `oneclass download kdd`" in one_line(err)
    (tmp_path / "nothing.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match="the gzip file holds no data"):
        read_kdd(tmp_path / "nothing.gz")
    (tmp_path / "junk.gz").write_bytes(b"PK\x03\x04,a zip archive\x00\x01")
    with pytest.raises(DataError) as err:
        read_kdd(tmp_path / "junk.gz")
    assert ("junk.gz: neither a gzip file (no gzip magic bytes 1f 8b) nor KDD Cup 99 data as text (2 comma-separated "
            "columns in the first row, expected 42)") in one_line(err)


def test_a_folder_given_as_a_data_file_is_named_a_folder(tmp_path):
    """27.10: a folder where a file belongs is "a folder, not a file", never "not found, download it"."""
    from oneclass.data.lhco import LHCO
    from oneclass.data.tabular_datasets import ADBench, KDDCup, ODDS

    (tmp_path / "x.npz").write_bytes(b"")
    for dataset in (ADBench(name="thyroid", path=str(tmp_path)), ODDS(name="thyroid", path=str(tmp_path)),
                    KDDCup(path=str(tmp_path)), LHCO(path=str(tmp_path))):
        with pytest.raises(DataError) as err:
            dataset.load(0)
        text = one_line(err)
        assert "not found" not in text and "download" not in text, text
        assert f"{tmp_path} is " in text and "not a file" in text and "dataset.path" in text, text
