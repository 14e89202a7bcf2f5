"""Readers of the network-intrusion benchmarks: KDD Cup 1999 (10 %) and NSL-KDD, as one-hot tables.

Pure readers (see :mod:`oneclass.data.tabular`): each returns a :class:`~oneclass.data.tabular.Table`
(features with the categorical columns one-hot encoded, labels with 1 = anomaly, feature names,
the categories seen), cached per file. Every problem with a file is a one-line :class:`DataError`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.data.paths import data_dir, refuse_folder
from oneclass.data.tabular import Table, check_features
from oneclass.errors import DataError, first_line

# KDD Cup 1999 (kddcup.names): 41 features, then the label ("normal." or an attack name + ".").
KDD_COLUMNS = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land", "wrong_fragment", "urgent",
    "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted", "num_root",
    "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds", "is_host_login",
    "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate", "srv_rerror_rate",
    "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count", "dst_host_srv_count",
    "dst_host_same_srv_rate", "dst_host_diff_srv_rate", "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate", "dst_host_serror_rate", "dst_host_srv_serror_rate", "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
)
KDD_CATEGORICAL = ("protocol_type", "service", "flag")
KDD_FILE = "kddcup.data_10_percent.gz"
NSL_KDD_FILES = {"train": "KDDTrain+.txt", "test": "KDDTest+.txt"}
ANOMALY_CHOICES = ("normal", "attacks")


def kdd_path(folder: str | os.PathLike | None = None) -> Path:
    """``<folder>/kddcup.data_10_percent.gz`` (default folder ``<data dir>/kdd``), checked."""
    path = (Path(folder) if folder is not None else data_dir() / "kdd") / KDD_FILE
    if not path.is_file():
        raise DataError(f"KDD Cup 99 file {path} not found; download it with `oneclass download kdd` or point "
                        f"dataset.path at kddcup.data_10_percent(.gz)")
    return path


def nsl_kdd_path(split: str = "train", folder: str | os.PathLike | None = None) -> Path:
    """``<folder>/KDDTrain+.txt`` or ``KDDTest+.txt`` (default folder ``<data dir>/nsl_kdd``), checked."""
    if split not in NSL_KDD_FILES:
        raise DataError(f"NSL-KDD split must be one of {', '.join(NSL_KDD_FILES)}, got {split!r}")
    path = (Path(folder) if folder is not None else data_dir() / "nsl_kdd") / NSL_KDD_FILES[split]
    if not path.is_file():
        raise DataError(f"NSL-KDD file {path} not found; download it with `oneclass download nsl_kdd` or point "
                        f"dataset.path at {NSL_KDD_FILES[split]}")
    return path


_KDD_CACHE: dict[tuple, Table] = {}


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _is_binary(path: Path) -> bool:
    """Whether the first KiB holds bytes that are not printable ASCII text."""
    with open(path, "rb") as f:
        return bool(f.read(1024).translate(None, bytes(range(32, 127)) + b"\r\n\t"))


def _first_row_fields(path: Path) -> int:
    import gzip

    with (gzip.open if _is_gzip(path) else open)(path, "rb") as f:
        return f.readline(1 << 16).count(b",") + 1


def _read_connections(path: Path, extra: Sequence[str], what: str, fix: str):
    import pandas as pd

    names = [*KDD_COLUMNS, "label", *extra]
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); {fix}")
    try:
        fields = _first_row_fields(path)
        if fields == 1 and _is_gzip(path):
            import gzip

            with gzip.open(path, "rb") as f:
                if not f.read(1):
                    raise DataError(f"{path}: the gzip file holds no data (it decompresses to 0 bytes); {fix}")
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({first_line(exc)}); {fix}") from None
    if fields != len(names) and not _is_gzip(path) and _is_binary(path):
        raise DataError(f"{path}: neither a gzip file (no gzip magic bytes 1f 8b) nor {what} as text ({fields} "
                        f"comma-separated columns in the first row, expected {len(names)}); {fix}")
    if fields != len(names):
        raise DataError(f"{path}: {fields} comma-separated columns in the first row, expected {len(names)} for {what} "
                        f"({len(KDD_COLUMNS)} features, label{', ' + ', '.join(extra) if extra else ''}); {fix}")
    dtypes: dict[str, Any] = {c: np.float64 for c in KDD_COLUMNS}
    dtypes.update({c: "category" for c in (*KDD_CATEGORICAL, "label")})
    dtypes.update({c: np.int64 for c in extra})
    try:
        frame = pd.read_csv(path, header=None, names=names, dtype=dtypes, engine="c", index_col=False,
                            compression="gzip" if _is_gzip(path) else None)
    except Exception as exc:  # pandas: ParserError, ValueError (bad numbers), EOFError / zlib (gzip)
        raise DataError(f"{path}: cannot parse as {what} ({first_line(exc)}); expected {len(names)} comma-separated "
                        f"columns per row, {fix}") from None
    short = frame[names[-1]].isna().to_numpy()
    if short.any():
        raise DataError(f"{path}: {int(short.sum())} row(s) with fewer than {len(names)} columns (first: row "
                        f"{int(np.argmax(short)) + 1}); expected {what}, {fix}")
    return frame


def _one_hot_table(frame, path: Path, categories: dict[str, Sequence[str]] | None, dtype, kind: str,
                   info: dict) -> Table:
    """Features as documented in :func:`read_kdd`; ``y`` = 1 for normal traffic (the caller turns
    it into anomaly labels)."""
    numeric = [c for c in KDD_COLUMNS if c not in KDD_CATEGORICAL]
    cats = {}
    for c in KDD_CATEGORICAL:
        found = sorted(str(v) for v in frame[c].cat.categories)
        if categories is None or c not in categories:
            cats[c] = tuple(found)
        else:
            cats[c] = tuple(str(v) for v in categories[c])
            unknown = sorted(set(found) - set(cats[c]))
            if unknown:
                raise DataError(f"{path}: {c} value(s) {', '.join(unknown[:5])} are not among the given categories "
                                f"(from the training file); one-hot columns would not line up")
    n = len(frame)
    width = len(numeric) + sum(len(v) for v in cats.values())
    x = np.zeros((n, width), dtype=dtype)
    for j, c in enumerate(numeric):
        x[:, j] = frame[c].to_numpy()
    check_features(x[:, :len(numeric)], path, numeric)
    names = list(numeric)
    offset = len(numeric)
    for c in KDD_CATEGORICAL:
        codes = frame[c].cat.set_categories(list(cats[c])).cat.codes.to_numpy()
        x[np.arange(n), offset + codes] = 1
        names += [f"{c}={v}" for v in cats[c]]
        offset += len(cats[c])
    label = frame["label"].cat
    normal_codes = [i for i, v in enumerate(label.categories) if str(v).rstrip(".") == "normal"]
    normal = np.isin(label.codes.to_numpy(), normal_codes).astype(np.int8)
    x.setflags(write=False)
    normal.setflags(write=False)
    return Table(x=x, y=normal, feature_names=tuple(names), info={
        "file": str(path), "format": kind, "n_rows": n, "n_features": width, "n_normal_traffic": int(normal.sum()),
        "categories": {c: list(v) for c, v in cats.items()}, **info})


def _label(base: Table, anomaly: str) -> Table:
    y = base.y if anomaly == "normal" else (1 - base.y).astype(np.int8)
    y.setflags(write=False)
    return Table(x=base.x, y=y, feature_names=base.feature_names,
                 info={**base.info, "anomaly": anomaly, "n_anomalies": int(y.sum())})


def _cached(path: Path, key: tuple, build) -> Table:
    st = path.stat()
    full = (str(path.resolve()), st.st_size, st.st_mtime_ns, *key)
    if full not in _KDD_CACHE:
        table = build()
        _KDD_CACHE.clear()  # keep one table (KDD 10 % is ~230 MB as float32)
        _KDD_CACHE[full] = table
    return _KDD_CACHE[full]


def _cats_key(categories) -> tuple:
    return tuple((c, tuple(categories[c])) for c in sorted(categories)) if categories else ()


def _checked(path: str | os.PathLike, anomaly: str, what: str, download: str) -> Path:
    """``path`` as a file that exists (a folder or a missing file is one line with the fix) and a
    valid ``anomaly``."""
    path = Path(path)
    refuse_folder(path)
    if not path.is_file():
        raise DataError(f"{what} file {path} not found; download it with `oneclass download {download}`")
    if anomaly not in ANOMALY_CHOICES:
        raise DataError(f"anomaly must be one of {', '.join(ANOMALY_CHOICES)}, got {anomaly!r}")
    return path


def read_kdd(path: str | os.PathLike, anomaly: str = "normal", categories: dict[str, Sequence[str]] | None = None,
             dtype=np.float32) -> Table:
    """KDD Cup 1999 connections (``kddcup.data_10_percent[.gz]``: 41 features and the label).

    Features: the 38 numeric columns in file order, then one-hot columns for ``protocol_type``,
    ``service``, ``flag`` (in that order; categories sorted, or as given in ``categories`` so another
    file lines up), named ``service=http`` etc.; 118 columns for the 10 % file. Unscaled.

    Labels (1 = anomaly): ``anomaly="normal"`` (default, the DAGMM / NeuTraLAD / NRCAN convention:
    the "normal." connections, about 20 %, are the anomalies) or ``"attacks"``.

    float32 by default (byte counts above 2**24 are rounded to float32 precision; ``dtype=np.float64``
    keeps them exact). The features are cached per (file, size, mtime, categories, dtype) in the
    process and shared by both label conventions; the arrays are read-only.
    """
    path = _checked(path, anomaly, "KDD Cup 99", "kdd")

    def build() -> Table:
        frame = _read_connections(path, (), "KDD Cup 99 data", "re-download it with `oneclass download kdd`")
        return _one_hot_table(frame, path, categories, dtype, "kddcup99", {})

    return _label(_cached(path, ("kdd", _cats_key(categories), np.dtype(dtype).str), build), anomaly)


def read_nsl_kdd(path: str | os.PathLike, anomaly: str = "attacks",
                 categories: dict[str, Sequence[str]] | None = None, dtype=np.float32) -> Table:
    """NSL-KDD (``KDDTrain+.txt`` / ``KDDTest+.txt``: 41 features, label, difficulty level), encoded as
    :func:`read_kdd`. Default ``anomaly="attacks"`` (attacks are the anomalies; NSL-KDD is about
    half attacks); ``"normal"`` flips it. Read the test file with the training file's
    ``info["categories"]`` so the one-hot columns line up. The difficulty is in ``info["difficulty"]``."""
    path = _checked(path, anomaly, "NSL-KDD", "nsl_kdd")

    def build() -> Table:
        frame = _read_connections(path, ("difficulty",), "NSL-KDD data", "re-download it with `oneclass download nsl_kdd`")
        difficulty = frame["difficulty"].to_numpy()
        difficulty.setflags(write=False)
        return _one_hot_table(frame, path, categories, dtype, "nsl-kdd", {"difficulty": difficulty})

    return _label(_cached(path, ("nsl", _cats_key(categories), np.dtype(dtype).str), build), anomaly)
