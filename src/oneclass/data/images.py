"""Image files of the one-class image benchmarks, read without torchvision, and the reference
preprocessing of Ruff et al. (Deep SVDD, ICML 2018).

* MNIST and Fashion-MNIST: IDX files (``train-images-idx3-ubyte.gz`` ...; gzip or raw, detected
  from the first bytes). Header: magic ``00 00 <type> <ndim>`` then ``ndim`` big-endian uint32
  sizes; images are type 0x08 (uint8) with 3 dims (magic 2051), labels uint8 with 1 dim (2049).
* CIFAR-10: the official ``cifar-10-python.tar.gz``, a tar of pickled batches ``data_batch_1..5``
  and ``test_batch``; each a dict with ``data`` (n x 3072 uint8: the R, G, B planes of a 32 x 32
  image, row-major) and ``labels``. The pickles are read with an unpickler that only admits the
  numpy array constructors such batches need.

Everything stays uint8 until the caller has chosen its rows (``rows`` / ``classes``): MNIST's
training images are 47 MB as uint8, 188 MB as float32. Every problem with a file is a one-line
:class:`DataError` naming the file and the ``oneclass download`` command that fixes it.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oneclass.data.paths import data_dir, refuse_folder
from oneclass.errors import DataError, first_line

#: dataset name -> folder under the data dir (``$ONECLASS_DATA_DIR`` or ``./data``)
FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist", "cifar10": "cifar10"}
SPLITS = ("train", "test")
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_IMAGES_MAGIC = 0x0803  # 2051: uint8, 3 dims
IDX_LABELS_MAGIC = 0x0801  # 2049: uint8, 1 dim
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 4 << 20

CIFAR10_FILE = "cifar-10-python.tar.gz"
CIFAR10_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MNIST_CLASSES = tuple(str(i) for i in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")


def image_dir(dataset: str) -> Path:
    """Where ``oneclass download <dataset>`` puts the files: ``<data dir>/<folder>``."""
    if dataset not in FOLDERS:
        raise DataError(f"unknown image dataset {dataset!r}; known: {', '.join(FOLDERS)}")
    return data_dir() / FOLDERS[dataset]


def _fix(dataset: str) -> str:
    return f"re-download it with `oneclass download {dataset}`"


# ----------------------------------------------------------------------------------------------
# IDX




def _fill(stream, buf: np.ndarray) -> int:
    """Read into ``buf`` (uint8, contiguous) until it is full or the stream ends; returns bytes read."""
    view = memoryview(buf).cast("B")
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _rows_index(rows, n: int, path: Path) -> np.ndarray:
    idx = np.asarray(rows)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise DataError(f"{path}: a boolean row mask needs {n} entries (one per image), got shape {idx.shape}")
        return np.flatnonzero(idx)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise DataError(f"{path}: rows must be a 1-D list of integer indices or a boolean mask, got {idx.dtype} {idx.shape}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.max() if idx.max() >= n else idx.min())
        raise DataError(f"{path}: row {bad} requested but the file holds {n} entries (0..{n - 1})")
    return np.where(idx < 0, idx + n, idx)


def _open_idx(path: Path):
    with open(path, "rb") as f:
        compressed = f.read(2) == _GZIP_MAGIC
    return (gzip.open if compressed else open)(path, "rb"), compressed


def _read_header(stream, path: Path, magic: int | None, dataset: str) -> tuple[np.dtype, tuple[int, ...]]:
    head = stream.read(4)
    if len(head) < 4:
        raise DataError(f"{path}: file ends inside the IDX header ({len(head)} bytes); {_fix(dataset)}")
    code = int.from_bytes(head, "big")
    if head[:2] != b"\0\0" or head[2] not in _IDX_TYPES or head[3] == 0 or (magic is not None and code != magic):
        kind = {IDX_IMAGES_MAGIC: "an IDX image file", IDX_LABELS_MAGIC: "an IDX label file"}.get(magic, "an IDX file")
        want = f"0x{magic:08x}" if magic is not None else "00 00 <type> <ndim>"
        raise DataError(f"{path}: wrong magic number 0x{code:08x} (expected {want}); not {kind}, or a corrupt one; "
                        f"{_fix(dataset)}")
    ndim = head[3]
    dims_raw = stream.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(f"{path}: file ends inside the IDX header; {_fix(dataset)}")
    dims = tuple(int.from_bytes(dims_raw[4 * i:4 * i + 4], "big") for i in range(ndim))
    return np.dtype(_IDX_TYPES[head[2]]), dims


def _decode_error(path: Path, compressed: bool, exc: BaseException, dataset: str) -> DataError:
    return DataError(f"{path}: truncated or corrupt {'gzip' if compressed else 'IDX'} file ({first_line(exc)}); "
                     f"{_fix(dataset)}")


def idx_shape(path: str | os.PathLike, magic: int | None = None, dataset: str = "mnist") -> tuple[int, ...]:
    """The shape an IDX file's header announces (reads only the header)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; download it with `oneclass download {dataset}`")
    stream, compressed = _open_idx(path)
    try:
        with stream:
            return _read_header(stream, path, magic, dataset)[1]
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise _decode_error(path, compressed, exc, dataset) from None


def read_idx(path: str | os.PathLike, rows=None, *, magic: int | None = None, dataset: str = "mnist") -> np.ndarray:
    """Array stored in an IDX file (gzip or raw), shape from its header, big-endian types converted
    to native ones. The whole file is always streamed, so truncation and gzip CRC errors are seen.

    Parameters
    ----------
    rows : None (all entries) or the indices (int array, any order, repeats allowed) or a boolean
        mask over the first axis; only those entries are kept while the file is streamed.
    magic : expected magic number (``IDX_IMAGES_MAGIC``, ``IDX_LABELS_MAGIC``); None = any IDX.
    dataset : named in error messages (``oneclass download <dataset>``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; download it with `oneclass download {dataset}`")
    stream, compressed = _open_idx(path)
    try:
        with stream:
            dtype, dims = _read_header(stream, path, magic, dataset)
            n = dims[0]
            row_bytes = int(np.prod(dims[1:], dtype=np.int64)) * dtype.itemsize
            expected = n * row_bytes
            if not compressed:
                size = path.stat().st_size - 4 - 4 * len(dims)
                if size != expected:
                    raise DataError(f"{path}: the header announces {n} entries of shape {dims[1:]} ({expected} bytes) "
                                    f"but the file holds {size} data bytes; truncated or corrupt, {_fix(dataset)}")
            sel = None if rows is None else _rows_index(rows, n, path)
            if sel is None:
                out = np.empty(expected, np.uint8)
                got = _fill(stream, out)
            else:
                wanted = np.unique(sel)
                out = np.empty(len(wanted) * row_bytes, np.uint8)
                per_chunk = max(1, _CHUNK_BYTES // max(row_bytes, 1))
                chunk = np.empty(per_chunk * row_bytes, np.uint8).reshape(per_chunk, row_bytes)
                picked = out.reshape(len(wanted), row_bytes)
                got, start, k = 0, 0, 0
                while start < n:
                    m = min(per_chunk, n - start)
                    part = _fill(stream, chunk[:m])
                    got += part
                    if part < m * row_bytes:
                        break
                    hi = int(np.searchsorted(wanted, start + m))
                    picked[k:hi] = chunk[wanted[k:hi] - start]
                    k, start = hi, start + m
            if got < expected:
                raise DataError(f"{path}: truncated: the header announces {n} entries ({expected} bytes) but the data "
                                f"ends after {got} bytes; {_fix(dataset)}")
            if stream.read(1):  # also makes gzip check its CRC and length trailer
                raise DataError(f"{path}: more data than the {n} entries the header announces; corrupt file, {_fix(dataset)}")
    except DataError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise _decode_error(path, compressed, exc, dataset) from None
    arr = out.view(dtype).astype(dtype.newbyteorder("="), copy=False)
    if sel is None:
        return arr.reshape(dims)
    arr = arr.reshape((len(wanted),) + dims[1:])
    return arr if np.array_equal(wanted, sel) else arr[np.searchsorted(wanted, sel)]


def read_idx_images(path: str | os.PathLike, rows=None, dataset: str = "mnist") -> np.ndarray:
    """uint8 images (n, height, width) of an IDX image file (magic 2051); ``rows`` as in :func:`read_idx`."""
    return read_idx(path, rows, magic=IDX_IMAGES_MAGIC, dataset=dataset)


def read_idx_labels(path: str | os.PathLike, dataset: str = "mnist") -> np.ndarray:
    """uint8 labels (n,) of an IDX label file (magic 2049)."""
    return read_idx(path, magic=IDX_LABELS_MAGIC, dataset=dataset)


def idx_files(folder: str | os.PathLike, split: str, dataset: str = "mnist") -> tuple[Path, Path]:
    """(images, labels) files of ``split`` in ``folder``: ``<name>.gz``, else the uncompressed ``<name>``."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    folder = Path(folder)
    if folder.is_file():
        raise DataError(f"{folder} is a file; point dataset.path at the folder that holds the {dataset} IDX files "
                        f"({', '.join(n + '.gz' for n in IDX_FILES[split])} ...)")
    found = []
    for name in IDX_FILES[split]:
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            raise DataError(f"{dataset} {split} file {name}.gz not found in {folder}; download the official files with "
                            f"`oneclass download {dataset}` (saved in {image_dir(dataset)}) or point dataset.path at "
                            f"the folder that holds them")
    return found[0], found[1]


def load_idx_split(folder: str | os.PathLike, split: str, classes: Sequence[int] | None = None,
                   dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (n, 28, 28) and labels uint8 (n,) of one split, in file order, restricted to
    ``classes`` (None = all) before the images are decoded."""
    images_path, labels_path = idx_files(folder, split, dataset)
    labels = read_idx_labels(labels_path, dataset)
    n_images = idx_shape(images_path, IDX_IMAGES_MAGIC, dataset)[0]
    if n_images != len(labels):
        raise DataError(f"{images_path} holds {n_images} images but {labels_path} {len(labels)} labels; "
                        f"the files do not belong together, {_fix(dataset)}")
    if classes is None:
        return read_idx_images(images_path, None, dataset), labels
    rows = np.flatnonzero(np.isin(labels, list(classes)))
    return read_idx_images(images_path, rows, dataset), labels[rows]


# ----------------------------------------------------------------------------------------------
# CIFAR-10


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches: dicts, lists, bytes and numpy arrays only (no arbitrary code)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core") and hasattr(np, "_core"):
            module = "numpy._core" + module[len("numpy.core"):]  # numpy 2 warns on numpy.core
        return super().find_class(module, name)


def _parse_batch(raw: bytes, where: str, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # pickle raises many types on garbage
        raise DataError(f"{where}: not a CIFAR pickle batch ({first_line(exc)}); {_fix(dataset)}") from None
    if not isinstance(batch, dict):
        raise DataError(f"{where}: expected a pickled dict with keys data and labels, got {type(batch).__name__}; {_fix(dataset)}")
    keys = {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in batch.items()}
    missing = [k for k in ("data", "labels") if k not in keys]
    if missing:
        raise DataError(f"{where}: batch lacks key(s) {', '.join(missing)} (has {', '.join(sorted(keys)) or 'none'}); "
                        f"expected the official CIFAR-10 python format, {_fix(dataset)}")
    data, labels = keys["data"], keys["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise DataError(f"{where}: data must be a uint8 array of shape (n, 3072), got "
                        f"{getattr(data, 'dtype', type(data).__name__)} {shape}; {_fix(dataset)}")
    try:
        labels = np.asarray(labels)
    except Exception:
        labels = np.asarray([], dtype=object)
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: labels must be {len(data)} integers (one per image), got {labels.dtype} "
                        f"{labels.shape}; {_fix(dataset)}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{where}: labels must lie in 0..9, found {int(labels.min())}..{int(labels.max())}; {_fix(dataset)}")
    return data, labels.astype(np.uint8)


def read_cifar10(path: str | os.PathLike, split: str = "train", classes: Sequence[int] | None = None,
                 dataset: str = "cifar10") -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (n, 3, 32, 32) and labels uint8 (n,) of ``split`` from ``cifar-10-python.tar.gz``,
    batches in order (train: ``data_batch_1..5``), restricted to ``classes`` (None = all) batch by
    batch, so at most one batch (30 MB) is decoded beyond the rows kept."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    path = Path(path)
    refuse_folder(path)
    if not path.is_file():
        raise DataError(f"CIFAR-10 file {path} not found; download it with `oneclass download cifar10` "
                        f"(saved as {image_dir('cifar10') / CIFAR10_FILE}) or point dataset.path at the file")
    wanted = CIFAR10_BATCHES[split]
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    seen: list[str] = []
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                seen.append(base)
                if base not in wanted or not member.isfile():
                    continue
                f = tar.extractfile(member)
                raw = f.read() if f is not None else b""
                data, labels = _parse_batch(raw, f"{path}:{member.name}", dataset)
                if classes is not None:
                    keep = np.isin(labels, list(classes))
                    data, labels = data[keep], labels[keep]
                parts[base] = (data, labels)
    except DataError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise DataError(f"{path}: truncated or not a tar.gz archive ({first_line(exc)}); {_fix(dataset)}") from None
    missing = [b for b in wanted if b not in parts]
    if missing:
        raise DataError(f"{path}: no batch {', '.join(missing)} in the archive (it holds {', '.join(seen[:12]) or 'nothing'}"
                        f"{' ...' if len(seen) > 12 else ''}); expected the official cifar-10-python.tar.gz, {_fix(dataset)}")
    data = np.concatenate([parts[b][0] for b in wanted])
    labels = np.concatenate([parts[b][1] for b in wanted])
    return data.reshape(-1, 3, 32, 32), labels


# ----------------------------------------------------------------------------------------------
# Preprocessing (Ruff et al.)


def gcn_l1(x: np.ndarray) -> np.ndarray:
    """Global contrast normalisation with the l1 norm, per image: subtract the image's mean over all
    its values (pixels and channels), then divide by their mean absolute deviation from it.

    Returns float32 of the same shape. The result does not depend on the input's scale (uint8 or
    /255 give the same numbers). A constant image (deviation 0) maps to zeros instead of the
    reference's NaN.
    """
    out = np.array(x, dtype=np.float32, copy=True)
    if out.ndim < 2:
        raise ValueError(f"gcn_l1 needs a batch of images (n, ...), got shape {out.shape}")
    axes = tuple(range(1, out.ndim))
    out -= out.mean(axis=axes, dtype=np.float64, keepdims=True).astype(np.float32)
    scale = np.abs(out).mean(axis=axes, dtype=np.float64, keepdims=True).astype(np.float32)
    np.divide(out, scale, out=out, where=scale > 0)
    return out


@dataclass(frozen=True)
class MinMaxScaler:
    """``(x - low) / (high - low)`` with ``low``, ``high`` fitted on given rows (a constant range
    is only shifted). Ruff's image protocol fits one scalar min and max over every value of the
    normal class's training images after :func:`gcn_l1`."""

    low: float | np.ndarray
    high: float | np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, per_feature: bool = False) -> MinMaxScaler:
        """Scalar min and max over all of ``x`` (default), or per feature (axis 0)."""
        x = np.asarray(x)
        if x.size == 0:
            raise ValueError("cannot fit a min-max scaler on no rows")
        if per_feature:
            return cls(low=x.min(axis=0).astype(np.float64), high=x.max(axis=0).astype(np.float64))
        return cls(low=float(x.min()), high=float(x.max()))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """float32 ``(x - low) / (high - low)``; 1 is used where the range is 0."""
        low = np.asarray(self.low, dtype=np.float64)
        span = np.asarray(self.high, dtype=np.float64) - low
        span = np.where(span > 0, span, 1.0)
        return ((np.asarray(x, dtype=np.float32) - low.astype(np.float32)) / span.astype(np.float32)).astype(np.float32, copy=False)

    def info(self) -> dict[str, float | list[float]]:
        """The fitted values, for a run's data info."""
        def plain(v):
            return float(v) if np.ndim(v) == 0 else np.asarray(v).tolist()

        return {"minmax_low": plain(self.low), "minmax_high": plain(self.high)}
