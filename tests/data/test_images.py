"""Image readers (IDX, CIFAR-10 batches) and Ruff's preprocessing: the real MNIST / Fashion-MNIST
in shared/data, small files written here in the official formats, and every bad-input error."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from oneclass.data.images import (
    MinMaxScaler, gcn_l1, idx_files, idx_shape, load_idx_split, read_cifar10, read_idx, read_idx_images,
    read_idx_labels,
)
from oneclass.errors import DataError

from conftest import shared_data_dir
from image_files import MNIST_TEST_COUNTS, MNIST_TRAIN_COUNTS, RUFF_MNIST_MIN_MAX, cifar_tar, idx_bytes, write_mnist


# ------------------------------------------------------------------------------------- real MNIST


@pytest.fixture(scope="module")
def mnist_train():
    """The 60,000 MNIST training images, read once for the module (skips or fails as ``shared_data``)."""
    folder = shared_data_dir() / "mnist"
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        if os.environ.get("ONECLASS_REQUIRE_DATA") == "1":
            pytest.fail(f"shared data folder {folder} is missing (ONECLASS_REQUIRE_DATA=1: CI must have it)")
        pytest.skip(f"shared data folder {folder} is missing")
    return load_idx_split(folder, "train")


def test_mnist_counts_labels_and_content(shared_data, mnist_train):
    x, y = mnist_train
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8
    assert np.bincount(y).tolist() == MNIST_TRAIN_COUNTS
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the well-known first training digits
    # the decoded arrays re-encode to the official uncompressed files (md5s in shared/data/README.md)
    assert hashlib.md5(idx_bytes(x)).hexdigest() == "6bbc9ace898e44ae57da46a324031adb"
    assert hashlib.md5(idx_bytes(y)).hexdigest() == "a25bea736e30d166cdddb491f175f624"
    xt, yt = load_idx_split(shared_data("mnist"), "test")
    assert xt.shape == (10000, 28, 28) and np.bincount(yt).tolist() == MNIST_TEST_COUNTS


def test_mnist_one_class_rows_match_the_full_read(shared_data, mnist_train):
    x, y = mnist_train
    x3, y3 = load_idx_split(shared_data("mnist"), "train", classes=[3])
    assert x3.shape == (6131, 28, 28) and set(y3.tolist()) == {3}
    np.testing.assert_array_equal(x3, x[y == 3])


def test_gcn_l1_then_min_max_reproduces_ruffs_published_values(mnist_train):
    x, y = mnist_train
    for c, (lo, hi) in enumerate(RUFF_MNIST_MIN_MAX):
        g = gcn_l1(x[y == c])
        scaler = MinMaxScaler.fit(g)
        assert scaler.low == pytest.approx(lo, rel=1e-6) and scaler.high == pytest.approx(hi, rel=1e-6), c
        scaled = scaler.transform(g)
        assert scaled.min() == 0.0 and scaled.max() == pytest.approx(1.0, abs=1e-6)


def test_fashion_mnist_counts(shared_data):
    folder = shared_data("fashion-mnist")
    _, y = load_idx_split(folder, "train", dataset="fashion_mnist")
    assert np.bincount(y).tolist() == [6000] * 10
    x, yt = load_idx_split(folder, "test", classes=[9], dataset="fashion_mnist")
    assert x.shape == (1000, 28, 28) and set(yt.tolist()) == {9}


# ----------------------------------------------------------------------------------- synthetic IDX


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip_gzip_and_raw(tmp_path, gz):
    data = write_mnist(tmp_path, gz=gz)
    x, y = load_idx_split(tmp_path, "train")
    np.testing.assert_array_equal(x, data["train"][0])
    np.testing.assert_array_equal(y, data["train"][1])
    classes = [2, 7]
    xs, ys = load_idx_split(tmp_path, "test", classes=classes)
    keep = np.isin(data["test"][1], classes)
    np.testing.assert_array_equal(xs, data["test"][0][keep])
    np.testing.assert_array_equal(ys, data["test"][1][keep])


def test_read_idx_rows_any_order_mask_and_small_chunks(tmp_path, monkeypatch):
    x = write_mnist(tmp_path)["train"][0]
    path = tmp_path / "train-images-idx3-ubyte.gz"
    monkeypatch.setattr("oneclass.data.images._CHUNK_BYTES", 3 * 784)  # 3 images per read
    np.testing.assert_array_equal(read_idx_images(path, [7, 2, 2, 49, -1]), x[[7, 2, 2, 49, 49]])
    mask = np.zeros(50, bool)
    mask[[0, 10, 11]] = True
    np.testing.assert_array_equal(read_idx_images(path, mask), x[mask])
    assert read_idx_images(path, []).shape == (0, 28, 28)
    assert idx_shape(path) == (50, 28, 28)


def test_read_idx_other_types_big_endian(tmp_path):
    arr = (np.arange(12).reshape(3, 4) * 1000).astype(">i4")
    (tmp_path / "ints.idx").write_bytes((0x0C02).to_bytes(4, "big") + (3).to_bytes(4, "big") + (4).to_bytes(4, "big")
                                        + arr.tobytes())
    out = read_idx(tmp_path / "ints.idx")
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, np.arange(12).reshape(3, 4) * 1000)


def test_truncated_gzip_is_one_line(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(DataError) as err:
        load_idx_split(tmp_path, "train")
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "truncated" in msg and "`oneclass download mnist`" in msg


def test_corrupt_gzip_crc(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[-6] ^= 0xFF  # inside the CRC32 trailer
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"truncated or corrupt gzip file \(CRC check failed"):
        read_idx_labels(path)


def test_wrong_magic_names_the_file_and_the_fix(tmp_path):
    write_mnist(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    with pytest.raises(DataError, match=r"wrong magic number 0x00000801 \(expected 0x00000803\); not an IDX image "
                                        r"file.*`oneclass download fashion_mnist`"):
        read_idx_images(labels, dataset="fashion_mnist")
    (tmp_path / "junk.gz").write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(DataError, match="wrong magic number 0x3c68746d"):
        read_idx_images(tmp_path / "junk.gz")


@pytest.mark.parametrize("gz", [True, False])
def test_count_mismatch_against_the_data(tmp_path, gz):
    x = np.zeros((4, 28, 28), np.uint8)
    raw = (0x0803).to_bytes(4, "big") + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + x.tobytes()
    path = tmp_path / ("short.gz" if gz else "short")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    expect = "ends after 3136 bytes" if gz else "the file holds 3136 data bytes"
    with pytest.raises(DataError, match=rf"header announces 5 entries .*{expect}"):
        read_idx_images(path)
    long = tmp_path / "long"
    long.write_bytes(idx_bytes(x) + b"\0" * 10)
    with pytest.raises(DataError, match="holds 3146 data bytes"):
        read_idx_images(long)
    long.write_bytes(gzip.compress(idx_bytes(x) + b"\0" * 10))
    with pytest.raises(DataError, match="more data than the 4 entries the header announces"):
        read_idx_images(long)


def test_images_and_labels_that_do_not_belong_together(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(49, np.uint8))))
    with pytest.raises(DataError, match="holds 50 images but .* 49 labels"):
        load_idx_split(tmp_path, "train", classes=[0])


def test_missing_files_and_bad_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path / "store"))
    with pytest.raises(DataError, match=r"mnist train file train-images-idx3-ubyte.gz not found in .*"
                                        r"`oneclass download mnist` \(saved in .*store/mnist\)"):
        idx_files(tmp_path, "train")
    with pytest.raises(DataError, match="split must be one of train, test"):
        idx_files(tmp_path, "val")
    write_mnist(tmp_path)
    with pytest.raises(DataError, match="row 50 requested but the file holds 50 entries"):
        read_idx_images(tmp_path / "train-images-idx3-ubyte.gz", [0, 50])


# ------------------------------------------------------------------------------------ CIFAR-10


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_reader_layout_and_order(tmp_path, protocol):
    path = tmp_path / "cifar-10-python.tar.gz"
    batches = cifar_tar(path, protocol=protocol)
    x, y = read_cifar10(path, "train")
    assert x.shape == (30, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.uint8
    data = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    labels = np.concatenate([batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)])
    np.testing.assert_array_equal(y, labels)
    # channel c, row r, column k of image i is data[i, 1024 c + 32 r + k] (R, G, B planes, row-major)
    i, c, r, k = 13, 2, 5, 30
    assert x[i, c, r, k] == data[i, 1024 * c + 32 * r + k]
    xt, yt = read_cifar10(path, "test", classes=[int(batches["test_batch"][b"labels"][0])])
    keep = np.isin(batches["test_batch"][b"labels"], yt[:1])
    np.testing.assert_array_equal(xt.reshape(len(xt), -1), batches["test_batch"][b"data"][keep])


@pytest.mark.parametrize("edit, message", [
    (lambda name, b: {k: v for k, v in b.items() if k != b"labels"}, r"data_batch_3: batch lacks key\(s\) labels"),
    (lambda name, b: {**b, b"data": b[b"data"][:, :3071]}, r"data must be a uint8 array of shape \(n, 3072\), got uint8 \(6, 3071\)"),
    (lambda name, b: {**b, b"data": b[b"data"].astype(np.float32)}, "got float32"),
    (lambda name, b: {**b, b"labels": b[b"labels"][:5]}, r"labels must be 6 integers \(one per image\)"),
    (lambda name, b: {**b, b"labels": [10] * 6}, r"labels must lie in 0..9, found 10..10"),
    (lambda name, b: [b], "expected a pickled dict"),
])
def test_cifar10_bad_batches(tmp_path, edit, message):
    path = tmp_path / "c.tar.gz"
    cifar_tar(path, edit=lambda name, b: edit(name, b) if name == "data_batch_3" else b)
    with pytest.raises(DataError, match=message) as err:
        read_cifar10(path, "train")
    assert "\n" not in str(err.value) and "`oneclass download cifar10`" in str(err.value)


def test_cifar10_refuses_code_in_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "c.tar.gz"
    cifar_tar(path, edit=lambda name, b: Evil() if name == "test_batch" else b)
    with pytest.raises(DataError, match=r"not a CIFAR pickle batch \(refusing to load (__builtin__|builtins).print\)"):
        read_cifar10(path, "test")


def test_cifar10_missing_batch_truncated_and_missing_file(tmp_path):
    path = tmp_path / "c.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/readme.html")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(DataError, match=r"no batch test_batch in the archive \(it holds readme.html\)"):
        read_cifar10(path, "test")
    cifar_tar(path, n_per_batch=50)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated or not a tar.gz archive"):
        read_cifar10(path, "train")
    with pytest.raises(DataError, match=r"CIFAR-10 file .*nope.tar.gz not found; download it with `oneclass download cifar10`"):
        read_cifar10(tmp_path / "nope.tar.gz")


# ------------------------------------------------------------------------------- preprocessing


def test_gcn_l1_hand_computed():
    x = np.array([[[0, 2], [4, 6]], [[5, 5], [5, 5]]], dtype=np.uint8)
    # image 0: mean 3, deviations -3 -1 1 3, mean absolute deviation 2; image 1 is constant -> zeros
    out = gcn_l1(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], [[-1.5, -0.5], [0.5, 1.5]])
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_allclose(gcn_l1(x / 255.0), out, rtol=1e-6)  # scale-free: ToTensor's /255 changes nothing
    rgb = np.random.default_rng(0).integers(0, 256, (3, 3, 4, 4))
    g = gcn_l1(rgb)  # over all channels and pixels of each image
    np.testing.assert_allclose(g.reshape(3, -1).mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(np.abs(g).reshape(3, -1).mean(axis=1), 1, rtol=1e-6)


def test_min_max_scaler_fitted_on_given_rows():
    train = np.array([[1.0, 2.0], [3.0, 5.0]])
    scaler = MinMaxScaler.fit(train)
    assert (scaler.low, scaler.high) == (1.0, 5.0)
    np.testing.assert_allclose(scaler.transform(np.array([1.0, 3.0, 9.0])), [0.0, 0.5, 2.0])
    per = MinMaxScaler.fit(train, per_feature=True)
    np.testing.assert_allclose(per.transform(train), [[0, 0], [1, 1]])
    assert per.info() == {"minmax_low": [1.0, 2.0], "minmax_high": [3.0, 5.0]}
    np.testing.assert_array_equal(MinMaxScaler.fit(np.full(3, 7.0)).transform(np.array([7.0, 8.0])), [0.0, 1.0])
    with pytest.raises(ValueError, match="no rows"):
        MinMaxScaler.fit(np.zeros((0, 3)))


def test_fashion_mnist_refuses_the_mnist_files(shared_data, tmp_path):
    """27.11: dataset=fashion_mnist dataset.path=<the MNIST folder> is refused at load (the files'
    published md5s say they are MNIST's) instead of training on MNIST recorded as Fashion-MNIST; the
    right files, and files with no official md5 (own copies), are read."""
    from oneclass.data.image_sets import FashionMNIST, check_not_another_set
    from oneclass.errors import DataError

    mnist = shared_data("mnist")
    with pytest.raises(DataError) as err:
        FashionMNIST(path=str(mnist)).load(0)
    text = str(err.value)
    assert "is the official mnist file" in text and "not fashion_mnist" in text and "\n" not in text
    assert "`oneclass download fashion_mnist`" in text
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        check_not_another_set(shared_data(f"fashion-mnist/{name}"), "fashion_mnist")  # its own files pass
    with pytest.raises(DataError, match="official mnist file t10k-labels-idx1-ubyte.gz"):
        check_not_another_set(mnist / "t10k-labels-idx1-ubyte.gz", "fashion_mnist")
    own = tmp_path / "t10k-labels-idx1-ubyte.gz"
    own.write_bytes((mnist / "t10k-labels-idx1-ubyte.gz").read_bytes() + b"\0")
    check_not_another_set(own, "fashion_mnist")  # no official md5: read as it is
