"""Image files for the tests, written in the official formats (IDX for MNIST / Fashion-MNIST, the
CIFAR-10 python archive), and published MNIST facts to check the real files against."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from oneclass.data.images import IDX_FILES

# Published class counts of MNIST (LeCun et al.; e.g. 5923 zeros in train, 980 in t10k).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

# Ruff's Deep-SVDD-PyTorch (src/datasets/mnist.py): min and max of the GCN-l1 training images per class.
RUFF_MNIST_MIN_MAX = [(-0.8826567065619495, 9.001545489292527), (-0.6661464580883915, 20.108062262467364),
                      (-0.7820454743183202, 11.665100841080346), (-0.7645772083211267, 12.895051191467457),
                      (-0.7253923114302238, 12.683235701611533), (-0.7698501867861425, 13.103278415430502),
                      (-0.778418217980696, 10.457837397569108), (-0.7129780970522351, 12.057777597673047),
                      (-0.8280402650205075, 10.581538445782988), (-0.7369959242164307, 10.697039838804978)]


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file's bytes: magic 00 00 08 <ndim>, big-endian sizes, then the uint8 data."""
    magic = magic if magic is not None else 0x0800 + arr.ndim
    return magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()


def write_mnist(folder: Path, n_train: int = 50, n_test: int = 20, gz: bool = True, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        for name, arr in zip(IDX_FILES[split], (x, y)):
            raw = idx_bytes(arr)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
        out[split] = (x, y)
    return out


def cifar_tar(path: Path, n_per_batch: int = 6, seed: int = 0, edit=None, protocol: int = 2) -> dict:
    """A cifar-10-python.tar.gz in the official layout; ``edit(name, batch)`` may alter a batch."""
    rng = np.random.default_rng(seed)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, obj) -> None:
            raw = pickle.dumps(obj, protocol=protocol)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))

        add("batches.meta", {b"label_names": [b"airplane"] * 10, b"num_vis": 3072})
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"batch_label": name.encode(), b"labels": rng.integers(0, 10, n_per_batch).tolist(),
                     b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                     b"filenames": [b"x.png"] * n_per_batch}
            batches[name] = batch
            add(name, edit(name, dict(batch)) if edit else batch)
    return batches
