"""The one-class image benchmarks of Ruff et al. (Deep SVDD, ICML 2018): MNIST, Fashion-MNIST and
CIFAR-10 with one ``normal_class``.

Protocol (the reference code's):

* training set = the official training images of ``normal_class`` only (about 6,000 MNIST
  digits, 5,000 CIFAR-10 images);
* test set = the whole official test set (10,000 images), label 0 for ``normal_class`` and 1 for
  every other class; ``test_index`` is each image's number in the official test set.
* preprocessing ``gcn_l1_minmax`` (default): global contrast normalisation with the l1 norm per
  image, then min-max scaling with the minimum and maximum over all values of the **normal
  class's training images after GCN** (computed here, never hard-coded), so the training data
  lie in [0, 1] exactly; the same affine map is applied to the test images. ``minmax``: the
  same scaling without GCN; ``none``: raw pixel values 0..255 as float32.

Images stay uint8 until the rows a job needs are chosen (one class for training). The files are
looked for in ``<data dir>/mnist/``, ``<data dir>/fashion-mnist/``, ``<data dir>/cifar10/``
(``<data dir>`` = ``$ONECLASS_DATA_DIR``, else ``data/`` under the launch directory) or at
``dataset.path``; a missing file names the ``oneclass download`` command.

``n_train``, ``n_test_background``, ``n_test_signal`` (default null = all) keep only the first
images of each part in file order: for quick runs and tests, not for the paper's numbers.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.data.base import DataBundle, Dataset, same_file
from oneclass.data.images import (CIFAR10_CLASSES, CIFAR10_FILE, FASHION_MNIST_CLASSES, IDX_FILES, MNIST_CLASSES,
                                  MinMaxScaler, gcn_l1, idx_files, image_dir, load_idx_split, read_cifar10,
                                  read_idx_images, read_idx_labels)
from oneclass.data.paths import resolve
from oneclass.data.splits import optional_count
from oneclass.errors import ConfigError, DataError

log = logging.getLogger(__name__)

PREPROCESSING = ("gcn_l1_minmax", "minmax", "none")


_MD5_CACHE: dict[tuple, str] = {}


def check_not_another_set(path: Path, dataset: str) -> None:
    """Refuse an official file of another image set (MNIST's files in the Fashion-MNIST folder, say),
    recognised by the md5 its publisher lists (as ``oneclass download`` verifies them). Files whose
    md5 is no official one (an own or uncompressed copy) are read as they are."""
    from oneclass.data.download import BUNDLES
    from oneclass.data.fetch import file_md5

    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _MD5_CACHE:
        _MD5_CACHE[key] = file_md5(path)
    md5 = _MD5_CACHE[key]
    for other, bundle in BUNDLES.items():
        if other != dataset and md5 in bundle.files.values():
            name = next(n for n, m in bundle.files.items() if m == md5)
            raise DataError(f"{path} is the official {other} file {name} (by its md5), not {dataset}; point "
                            f"dataset.path at the {dataset} files (`oneclass download {dataset}` puts them in "
                            f"{image_dir(dataset)})")


class ImageOneClass(Dataset):
    """One normal class of a 10-class image benchmark (see the module docstring).

    Parameters
    ----------
    name : dataset name (MLflow experiment name).
    normal_class : 0..9, the class trained on and labelled 0 in the test set.
    path : folder (or, for CIFAR-10, the ``.tar.gz`` file) holding the official files; null =
        ``<data dir>/<folder>``. Relative paths are taken from the launch directory.
    preprocess : ``gcn_l1_minmax`` (Ruff et al.) | ``minmax`` | ``none``.
    n_train, n_test_background, n_test_signal : keep only the first N images (file order) of the
        training set, the test images of the normal class, the other test images; null = all.
    """

    kind = "images"

    key = "mnist"           # oneclass download <key>, folder via oneclass.data.images.FOLDERS
    classes: tuple[str, ...] = MNIST_CLASSES
    image_shape: tuple[int, ...] = (1, 28, 28)  # (channels, height, width) of one image

    def __init__(self, name: str | None = None, normal_class: int = 0, path: str | None = None,
                 preprocess: str = "gcn_l1_minmax", n_train: int | None = None,
                 n_test_background: int | None = None, n_test_signal: int | None = None) -> None:
        self.name = name or self.key
        if isinstance(normal_class, bool) or not isinstance(normal_class, int) or not 0 <= normal_class <= 9:
            raise ConfigError(f"dataset.normal_class must be an integer in 0..9 (the class trained on), got "
                              f"{normal_class!r}")
        self.normal_class = normal_class
        if preprocess not in PREPROCESSING:
            raise ConfigError(f"dataset.preprocess must be one of {', '.join(PREPROCESSING)}, got {preprocess!r}")
        self.preprocess = preprocess
        self.path = path
        self.n_train = optional_count(n_train, "dataset.n_train")
        self.n_test_background = optional_count(n_test_background, "dataset.n_test_background")
        self.n_test_signal = optional_count(n_test_signal, "dataset.n_test_signal")

    def input_shape(self) -> tuple[int, ...]:
        return self.image_shape

    # -------------------------------------------------------------- files
    def location(self) -> Path:
        """``dataset.path`` (resolved) or the default folder."""
        return resolve(self.path) if self.path is not None else image_dir(self.key)

    def read(self, split: str, classes: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        """uint8 images (n, C, H, W) and labels (n,) of ``split``, only the rows of ``classes``."""
        for path in idx_files(self.location(), split, self.key):
            check_not_another_set(path, self.key)
        images, labels = load_idx_split(self.location(), split, classes, dataset=self.key)
        return images[:, None], labels

    # -------------------------------------------------------------- protocol
    def load(self, seed: int) -> DataBundle:
        """The arrays (the split never depends on ``seed``)."""
        train, _ = self.read("train", [self.normal_class])
        test, test_labels = self.read("test", None)
        index = np.arange(len(test), dtype=np.int64)
        if self.n_train is not None:
            train = train[: self.n_train]
        is_normal = test_labels == self.normal_class
        keep = np.ones(len(test), bool)
        for mask, cap in ((is_normal, self.n_test_background), (~is_normal, self.n_test_signal)):
            if cap is not None:
                keep &= ~mask | (np.cumsum(mask) <= cap)
        test, test_labels, index = test[keep], test_labels[keep], index[keep]
        y_test = (test_labels != self.normal_class).astype(np.int8)

        x_train, x_test, stats = self.transform(train, test)
        info: dict[str, Any] = {
            "normal_class": self.normal_class, "normal_class_name": self.classes[self.normal_class],
            "preprocess": self.preprocess, "n_train": len(x_train), "n_test_background": int((y_test == 0).sum()),
            "n_test_signal": int(y_test.sum()), "files": str(self.location()), **stats,
        }
        log.info("%s class %d (%s): %d training images, %d test images (%d normal)", self.name, self.normal_class,
                 info["normal_class_name"], len(x_train), len(x_test), info["n_test_background"])
        return DataBundle(self.name, x_train, x_test, y_test, info=info, test_index=index,
                          train_index=self.train_rows(len(x_train)))

    def train_rows(self, n: int) -> np.ndarray | None:
        """The training images' numbers in the official training images file (the normal class's
        first ``n``), for :meth:`trained_on`."""
        labels = read_idx_labels(idx_files(self.location(), "train", self.key)[1], self.key)
        return np.flatnonzero(labels == self.normal_class)[:n].astype(np.int64)

    # -------------------------------------------------------------- other files (oneclass score)
    def trained_on(self, path: str | os.PathLike) -> bool:
        try:
            return same_file(path, idx_files(self.location(), "train", self.key)[0])
        except DataError:  # the run's own files are gone
            return False

    def score_rows(self, path: str, info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Every image of an IDX images file (``t10k-images-idx3-ubyte.gz`` ...), preprocessed with the
        run's statistics from ``info``; labelled (1 = not the run's normal class) when the matching
        labels file lies next to it."""
        path = Path(path)
        images = read_idx_images(path, dataset=self.key)[:, None]
        labels = None
        stem = path.name.removesuffix(".gz")
        for split, (images_name, labels_name) in IDX_FILES.items():
            if stem == images_name:
                found = [c for c in (path.with_name(labels_name + ".gz"), path.with_name(labels_name)) if c.is_file()]
                if found:
                    raw = read_idx_labels(found[0], self.key)
                    if len(raw) != len(images):
                        raise DataError(f"{found[0]} holds {len(raw)} labels for the {len(images)} images of {path}; "
                                        f"the files do not belong together")
                    labels = (raw != info.get("normal_class", self.normal_class)).astype(np.int8)
        return self.transform_like(images, info), labels, np.arange(len(images), dtype=np.int64)

    def transform_like(self, images: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """uint8 images preprocessed as a run with data facts ``info`` preprocessed its own."""
        how = info.get("preprocess", self.preprocess)
        if how == "none":
            return images.astype(np.float32)
        if "minmax_low" not in info or "minmax_high" not in info:
            raise DataError(f"the run's data_info.json lacks minmax_low / minmax_high for preprocess={how}; it "
                            f"cannot be re-applied")
        x = gcn_l1(images) if how == "gcn_l1_minmax" else images
        return MinMaxScaler(low=np.asarray(info["minmax_low"]), high=np.asarray(info["minmax_high"])).transform(x)

    def transform(self, train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Preprocess uint8 images to float32 with statistics from ``train`` only."""
        if self.preprocess == "none":
            return train.astype(np.float32), test.astype(np.float32), {}
        if self.preprocess == "gcn_l1_minmax":
            train, test = gcn_l1(train), gcn_l1(test)
        scaler = MinMaxScaler.fit(train)
        return scaler.transform(train), scaler.transform(test), scaler.info()


class MNIST(ImageOneClass):
    """MNIST (LeCun et al.), IDX files in ``<data dir>/mnist/``."""

    key = "mnist"
    classes = MNIST_CLASSES


class FashionMNIST(ImageOneClass):
    """Fashion-MNIST (Xiao et al. 2017), IDX files in ``<data dir>/fashion-mnist/``."""

    key = "fashion_mnist"
    classes = FASHION_MNIST_CLASSES


class CIFAR10(ImageOneClass):
    """CIFAR-10 (Krizhevsky 2009): ``cifar-10-python.tar.gz`` in ``<data dir>/cifar10/``; ``path``
    may name the folder or the file itself."""

    key = "cifar10"
    classes = CIFAR10_CLASSES
    image_shape = (3, 32, 32)

    def archive(self) -> Path:
        where = self.location()
        return where / CIFAR10_FILE if where.is_dir() or self.path is None else where

    def read(self, split: str, classes: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        return read_cifar10(self.archive(), split, classes, dataset=self.key)

    def train_rows(self, n: int) -> np.ndarray | None:
        return None  # scoring reads an archive's test batch, never its training batches

    def trained_on(self, path: str | os.PathLike) -> bool:
        return False

    def score_rows(self, path: str, info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The test batch of a ``cifar-10-python.tar.gz``, preprocessed with the run's statistics."""
        images, raw = read_cifar10(path, "test", None, dataset=self.key)
        labels = (raw != info.get("normal_class", self.normal_class)).astype(np.int8)
        return self.transform_like(images, info), labels, np.arange(len(images), dtype=np.int64)

