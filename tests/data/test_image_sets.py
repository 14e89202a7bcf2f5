"""The image one-class datasets: MNIST / Fashion-MNIST / CIFAR-10 under Ruff's protocol (one normal
class for training, the whole test set labelled against it), on the real files and a synthetic
CIFAR-10 archive, with their preprocessing choices and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from oneclass.data.image_sets import CIFAR10, MNIST, FashionMNIST
from oneclass.data.images import gcn_l1, load_idx_split
from oneclass.errors import ConfigError, DataError

from image_files import MNIST_TEST_COUNTS, MNIST_TRAIN_COUNTS, RUFF_MNIST_MIN_MAX, cifar_tar, write_mnist


def test_mnist_class_protocol_on_the_real_files(shared_data):
    folder = shared_data("mnist")
    data = MNIST(normal_class=3, path=str(folder)).load(0)
    _, labels = load_idx_split(folder, "test")
    assert data.x_train.shape == (MNIST_TRAIN_COUNTS[3], 1, 28, 28) and data.x_train.dtype == np.float32
    assert data.x_test.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(data.test_index, np.arange(10000))  # the official test-set image numbers
    np.testing.assert_array_equal(data.y_test, (labels != 3).astype(np.int8))
    assert int((data.y_test == 0).sum()) == MNIST_TEST_COUNTS[3]
    # min-max from the normal class's training images after GCN: training data exactly in [0, 1]
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    low, high = RUFF_MNIST_MIN_MAX[3]
    assert data.info["minmax_low"] == pytest.approx(low, rel=1e-6)
    assert data.info["minmax_high"] == pytest.approx(high, rel=1e-6)
    # a test image: GCN, then the training images' affine map (values may leave [0, 1])
    raw, _ = load_idx_split(folder, "test")
    expected = (gcn_l1(raw[[7]])[0] - data.info["minmax_low"]) / (data.info["minmax_high"] - data.info["minmax_low"])
    np.testing.assert_allclose(data.x_test[7, 0], expected, rtol=1e-5, atol=1e-6)
    assert data.info["normal_class_name"] == "3" and data.info["n_test_signal"] == 10000 - MNIST_TEST_COUNTS[3]


def test_fashion_mnist_class_and_caps(shared_data):
    folder = shared_data("fashion-mnist")
    data = FashionMNIST(normal_class=8, path=str(folder)).load(0)
    assert data.x_train.shape == (6000, 1, 28, 28) and len(data.x_test) == 10000
    assert int((data.y_test == 0).sum()) == 1000 and data.info["normal_class_name"] == "Bag"
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0

    small = FashionMNIST(normal_class=8, path=str(folder), n_train=100, n_test_background=30, n_test_signal=50).load(0)
    _, labels = load_idx_split(folder, "test")
    bags, others = np.flatnonzero(labels == 8), np.flatnonzero(labels != 8)
    np.testing.assert_array_equal(small.test_index, np.sort(np.r_[bags[:30], others[:50]]))
    np.testing.assert_array_equal(small.y_test, (labels[small.test_index] != 8).astype(np.int8))
    # the first 100 training bags, scaled with their own min and max
    assert len(small.x_train) == 100 and small.x_train.max() == 1.0


def test_preprocess_choices_and_bad_values(tmp_path):
    folder = tmp_path / "mnist"
    files = write_mnist(folder, n_train=60, n_test=40)
    x_train, y_train = files["train"]
    c = int(y_train[0])
    raw = MNIST(normal_class=c, path=str(folder), preprocess="none").load(0)
    np.testing.assert_array_equal(raw.x_train[:, 0], x_train[y_train == c].astype(np.float32))
    mm = MNIST(normal_class=c, path=str(folder), preprocess="minmax").load(0)
    lo, hi = x_train[y_train == c].min(), x_train[y_train == c].max()
    np.testing.assert_allclose(mm.x_test[:, 0], (files["test"][0] - float(lo)) / float(hi - lo), rtol=1e-6)
    for bad in (10, -1, "3", True, 2.0):
        with pytest.raises(ConfigError, match=r"dataset.normal_class must be an integer in 0..9") as err:
            MNIST(normal_class=bad)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="dataset.preprocess must be one of gcn_l1_minmax, minmax, none"):
        MNIST(preprocess="zca")
    with pytest.raises(ConfigError, match="dataset.n_train must be a positive integer"):
        MNIST(n_train=0)


def test_missing_image_files_name_the_download_command(tmp_path, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"fashion_mnist train file train-images-idx3-ubyte.gz not found in "
                                        r".*fashion-mnist; download the official files with `oneclass download "
                                        r"fashion_mnist`") as err:
        FashionMNIST(normal_class=1).load(0)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"cifar-10-python.tar.gz not found; download it with "
                                        r"`oneclass download cifar10`"):
        CIFAR10(normal_class=1).load(0)


def test_cifar10_dataset_on_a_synthetic_archive(tmp_path, monkeypatch):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    batches = cifar_tar(folder / "cifar-10-python.tar.gz", n_per_batch=40, seed=3)
    train_x = np.concatenate([np.asarray(batches[f"data_batch_{i}"][b"data"]) for i in range(1, 6)])
    train_y = np.concatenate([batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)])
    test_x, test_y = np.asarray(batches["test_batch"][b"data"]), np.asarray(batches["test_batch"][b"labels"])

    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path))  # the default folder <data dir>/cifar10/
    data = CIFAR10(normal_class=5).load(0)
    normal = train_x[train_y == 5].reshape(-1, 3, 32, 32)  # the R, G, B planes of each row
    assert data.x_train.shape == (len(normal), 3, 32, 32) and data.x_test.shape == (40, 3, 32, 32)
    np.testing.assert_array_equal(data.y_test, (test_y != 5).astype(np.int8))
    np.testing.assert_array_equal(data.test_index, np.arange(40))
    g = gcn_l1(normal)
    np.testing.assert_allclose(data.x_train, (g - g.min()) / (g.max() - g.min()), rtol=1e-5, atol=1e-6)
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    # dataset.path may name the folder or the archive itself
    same = CIFAR10(normal_class=5, path=str(folder / "cifar-10-python.tar.gz"), preprocess="none").load(0)
    np.testing.assert_array_equal(same.x_test, test_x.reshape(-1, 3, 32, 32).astype(np.float32))
