"""Readers of the tabular anomaly detection benchmarks: ADBench ``.npz``, ODDS ``.mat`` (MATLAB v5 /
v7 and v7.3), KDD Cup 1999 10 % and NSL-KDD. Pure readers: each returns a :class:`Table` (features,
labels with 1 = anomaly, feature names, facts); splitting and scaling belong to the datasets.

Every problem with a file is a one-line :class:`DataError` naming the file and the fix.

Where files are looked for (``<data dir>`` = ``$ONECLASS_DATA_DIR``, else ``./data``):
``<data dir>/adbench/<id>_<name>.npz``, ``<data dir>/odds/<name>.mat``,
``<data dir>/kdd/kddcup.data_10_percent.gz``, ``<data dir>/nsl_kdd/KDDTrain+.txt``.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.data.paths import data_dir, refuse_folder, resolve
from oneclass.errors import DataError, first_line

# ADBench's 47 "Classical" sets (github.com/Minqi824/ADBench, adbench/datasets/Classical/<id>_<name>.npz):
# rows, features and anomalies as published in the table of adbench/datasets/README.md.
ADBENCH_SETS: dict[str, tuple[int, int, int]] = {
    "1_ALOI": (49534, 27, 1508), "2_annthyroid": (7200, 6, 534), "3_backdoor": (95329, 196, 2329),
    "4_breastw": (683, 9, 239), "5_campaign": (41188, 62, 4640), "6_cardio": (1831, 21, 176),
    "7_Cardiotocography": (2114, 21, 466), "8_celeba": (202599, 39, 4547), "9_census": (299285, 500, 18568),
    "10_cover": (286048, 10, 2747), "11_donors": (619326, 10, 36710), "12_fault": (1941, 27, 673),
    "13_fraud": (284807, 29, 492), "14_glass": (214, 7, 9), "15_Hepatitis": (80, 19, 13),
    "16_http": (567498, 3, 2211), "17_InternetAds": (1966, 1555, 368), "18_Ionosphere": (351, 32, 126),
    "19_landsat": (6435, 36, 1333), "20_letter": (1600, 32, 100), "21_Lymphography": (148, 18, 6),
    "22_magic.gamma": (19020, 10, 6688), "23_mammography": (11183, 6, 260), "24_mnist": (7603, 100, 700),
    "25_musk": (3062, 166, 97), "26_optdigits": (5216, 64, 150), "27_PageBlocks": (5393, 10, 510),
    "28_pendigits": (6870, 16, 156), "29_Pima": (768, 8, 268), "30_satellite": (6435, 36, 2036),
    "31_satimage-2": (5803, 36, 71), "32_shuttle": (49097, 9, 3511), "33_skin": (245057, 3, 50859),
    "34_smtp": (95156, 3, 30), "35_SpamBase": (4207, 57, 1679), "36_speech": (3686, 400, 61),
    "37_Stamps": (340, 9, 31), "38_thyroid": (3772, 6, 93), "39_vertebral": (240, 6, 30),
    "40_vowels": (1456, 12, 50), "41_Waveform": (3443, 21, 100), "42_WBC": (223, 9, 10),
    "43_WDBC": (367, 30, 10), "44_Wilt": (4819, 5, 257), "45_wine": (129, 13, 10),
    "46_WPBC": (198, 33, 47), "47_yeast": (1484, 8, 507),
}
# ODDS multi-dimensional point sets distributed as .mat (odds.cs.stonybrook.edu).
ODDS_SETS = ("annthyroid", "arrhythmia", "breastw", "cardio", "cover", "glass", "http", "ionosphere", "letter",
             "lympho", "mammography", "mnist", "musk", "optdigits", "pendigits", "pima", "satellite", "satimage-2",
             "shuttle", "smtp", "speech", "thyroid", "vertebral", "vowels", "wbc", "wine")
ODDS_URL = "http://odds.cs.stonybrook.edu"

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


@dataclass(frozen=True)
class Table:
    """A tabular data set: features (n, d), labels (n,) int8 with 1 = anomaly, names, facts."""

    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)




# ----------------------------------------------------------------------------------------------
# Checks shared by the readers


def check_features(x: np.ndarray, path: Path | str, names: Sequence[str] | None = None) -> np.ndarray:
    """``x`` as a 2-D float array; a NaN / infinite value is an error naming the count and columns."""
    x = np.asarray(x)
    if x.ndim != 2 or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"{path}: features must be a 2-D numeric array, got {x.dtype} of shape {x.shape}")
    if np.issubdtype(x.dtype, np.floating):
        bad = ~np.isfinite(x)
        if bad.any():
            per_col = bad.sum(axis=0)
            cols = np.flatnonzero(per_col)
            label = (lambda j: f"{names[j]!r}") if names is not None else (lambda j: str(j))
            shown = ", ".join(f"{label(j)} ({per_col[j]})" for j in cols[:5]) + (" ..." if len(cols) > 5 else "")
            raise DataError(f"{path}: {int(bad.sum())} NaN or infinite feature value(s) in {len(cols)} column(s): "
                            f"{shown} (column (count)); clean the file or drop those rows")
    return x


def check_labels(y: np.ndarray, n: int, path: Path | str) -> np.ndarray:
    """``y`` as int8 0/1 of length ``n`` (a (n, 1) column is flattened)."""
    y = np.asarray(y)
    if y.ndim == 2 and 1 in y.shape:
        y = y.ravel()
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{path}: y must hold one label per row of X ({n}), got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise DataError(f"{path}: labels must be 0 (normal) or 1 (anomaly), got dtype {y.dtype}")
    values = np.unique(y)
    if not np.isin(values, (0, 1)).all():
        shown = ", ".join(f"{v:g}" for v in values[:8].astype(float)) + (" ..." if len(values) > 8 else "")
        raise DataError(f"{path}: labels must be 0 (normal) or 1 (anomaly), found {shown}; relabel the file "
                        f"(1 = anomaly)")
    return y.astype(np.int8)


def _table(x, y, path: Path, kind: str, names: Sequence[str] | None = None, **info) -> Table:
    x = check_features(x, path, names).astype(np.float64, copy=False)
    y = check_labels(y, len(x), path)
    names = tuple(names) if names is not None else tuple(f"x{j}" for j in range(x.shape[1]))
    return Table(x=x, y=y, feature_names=names,
                 info={"file": str(path), "format": kind, "n_rows": len(x), "n_features": x.shape[1],
                       "n_anomalies": int(y.sum()), **info})


# ----------------------------------------------------------------------------------------------
# ADBench .npz


def adbench_name(name: str) -> str | None:
    """The ADBench file stem for ``name``: ``thyroid``, ``38_thyroid``, ``38`` or ``Thyroid.npz`` ->
    ``38_thyroid``; None if it names no known set."""
    key = str(name).strip()
    key = key[:-4] if key.lower().endswith(".npz") else key
    low = key.lower()
    for stem in ADBENCH_SETS:
        number, _, short = stem.partition("_")
        if low in (stem.lower(), short.lower(), number):
            return stem
    return None


def adbench_path(name: str, folder: str | os.PathLike | None = None) -> Path:
    """The ``.npz`` for ``name``: an existing file path, or a known set (see :func:`adbench_name`) in
    ``folder`` (default ``<data dir>/adbench``), or ``<folder>/<name>.npz`` if that exists."""
    folder = Path(folder) if folder is not None else data_dir() / "adbench"
    as_path = resolve(name)
    if str(name).endswith(".npz") or os.sep in str(name):
        if as_path.is_file():
            return as_path
    stem = adbench_name(name)
    if stem is not None:
        path = folder / f"{stem}.npz"
        if not path.is_file():
            raise DataError(f"ADBench set {stem} not found at {path}; download it with `oneclass download adbench "
                            f"{stem.partition('_')[2]}` or point dataset.path at the .npz file")
        return path
    own = folder / (str(name) if str(name).endswith(".npz") else f"{name}.npz")
    if own.is_file():
        return own
    raise DataError(f"unknown ADBench set {name!r} (no such file either); known: {', '.join(ADBENCH_SETS)}")


def read_npz(path: str | os.PathLike) -> Table:
    """An ADBench-style ``.npz``: ``X`` (n, d) numeric, ``y`` (n,) with 1 = anomaly. Pickled
    (object) arrays are refused."""
    path = Path(path)
    refuse_folder(path)
    if not path.is_file():
        raise DataError(f"{path} not found; for ADBench sets run `oneclass download adbench NAME`")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy holds one array, not X and y
            raise DataError(f"{path}: a single NumPy array of shape {np.shape(loaded)} (.npy), not an .npz archive; "
                            f"ADBench files hold two arrays: save them with numpy.savez(path, X=features, y=labels)")
        with loaded as npz:
            keys = list(npz.files)
            missing = [k for k in ("X", "y") if k not in keys]
            if missing:
                raise DataError(f"{path}: no array {' or '.join(missing)} in the .npz (it holds {', '.join(keys) or 'nothing'}); "
                                f"expected X (features) and y (labels, 1 = anomaly) as in ADBench")
            x, y = npz["X"], npz["y"]
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read as .npz ({first_line(exc)}); re-download it or re-save it with "
                        f"numpy.savez(X=..., y=...)") from None
    return _table(x, y, path, "npz")


def check_adbench_published(table: Table, stem: str) -> None:
    """Raise unless ``table`` has the rows, features and anomalies ADBench publishes for ``stem``."""
    n, d, n_anom = ADBENCH_SETS[stem]
    got = (table.x.shape[0], table.x.shape[1], int(table.y.sum()))
    if got != (n, d, n_anom):
        raise DataError(f"{table.info.get('file')}: {got[0]} rows x {got[1]} features with {got[2]} anomalies, but "
                        f"ADBench publishes {n} x {d} with {n_anom} for {stem}; not the official file")


# ----------------------------------------------------------------------------------------------
# ODDS .mat


def odds_path(name: str, folder: str | os.PathLike | None = None) -> Path:
    """The ``.mat`` for ``name``: an existing file path, or ``<folder>/<name>.mat`` (default folder
    ``<data dir>/odds``)."""
    folder = Path(folder) if folder is not None else data_dir() / "odds"
    as_path = resolve(name)
    if (str(name).endswith(".mat") or os.sep in str(name)) and as_path.is_file():
        return as_path
    stem = str(name)[:-4] if str(name).endswith(".mat") else str(name)
    path = folder / f"{stem}.mat"
    if path.is_file():
        return path
    if stem.lower() in ODDS_SETS:
        raise DataError(f"ODDS set {stem} not found at {path}; get {stem}.mat from {ODDS_URL} and save it there, "
                        f"or point dataset.path at the .mat file")
    raise DataError(f"unknown ODDS set {name!r} (no such file either); known: {', '.join(ODDS_SETS)}")


def mat_version(path: str | os.PathLike) -> str:
    """``"v5"`` (MATLAB v5, v6, v7: scipy.io) or ``"v7.3"`` (HDF5) from the 128-byte MAT header."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(128)
        f.seek(512)
        hdf5 = f.read(8) == b"\x89HDF\r\n\x1a\n"
    if len(head) == 128 and head.startswith(b"MATLAB") and head[126:128] in (b"IM", b"MI"):
        version = int.from_bytes(head[124:126], "little" if head[126:128] == b"IM" else "big")
        if version == 0x0100:
            return "v5"
        if version == 0x0200 and hdf5:
            return "v7.3"
        detail = f"version field 0x{version:04x}"
    else:
        detail = "no MATLAB 5/7 header"
    text = head[:40].split(b"\0")[0].decode("latin1", "replace").strip()
    raise DataError(f"{path}: unknown .mat version ({detail}; header {text!r}); the reader takes MATLAB v5/v7 and "
                    f"v7.3 files, re-save it with save(..., '-v7') or '-v7.3'")


def _read_mat_v5(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    from scipy.io import loadmat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arrays = {k: v for k, v in loadmat(path, variable_names=("X", "y")).items() if not k.startswith("__")}
            from scipy.io import whosmat

            names = [name for name, _, _ in whosmat(path)]
    except Exception as exc:  # scipy raises several types for damaged files
        raise DataError(f"{path}: cannot read as a MATLAB v5 file ({first_line(exc)}); re-download it") from None
    return arrays, names


def _read_mat_v73(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """``X`` and ``y`` at the root of a v7.3 (HDF5) file. MATLAB stores arrays column-major, so HDF5
    sees them transposed; they are transposed back to MATLAB's (rows, columns)."""
    import tables

    arrays = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTables warns about MATLAB's attributes and flavors
            with tables.open_file(str(path), mode="r") as h5:
                nodes = list(h5.list_nodes("/"))
                names = [node._v_name for node in nodes]
                for node in nodes:
                    if isinstance(node, tables.Leaf) and node._v_name in ("X", "y"):
                        arrays[node._v_name] = np.asarray(node.read()).T
    except Exception as exc:  # HDF5 errors come in many types
        raise DataError(f"{path}: cannot read as a MATLAB v7.3 (HDF5) file ({first_line(exc)}); re-download it") from None
    return arrays, names


def read_mat(path: str | os.PathLike) -> Table:
    """An ODDS ``.mat`` with ``X`` (n, d) and ``y`` (n, 1), 1 = anomaly; v5/v7 or v7.3 (HDF5)."""
    path = Path(path)
    refuse_folder(path)
    if not path.is_file():
        raise DataError(f"{path} not found; get the ODDS .mat from {ODDS_URL}")
    version = mat_version(path)
    arrays, names = _read_mat_v5(path) if version == "v5" else _read_mat_v73(path)
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise DataError(f"{path}: no variable {' or '.join(missing)} in the .mat (it holds {', '.join(names) or 'nothing'}); "
                        f"expected X (features) and y (labels, 1 = anomaly) as in ODDS")
    x = arrays["X"]
    if hasattr(x, "toarray"):  # sparse matrices in v5 files
        x = x.toarray()
    return _table(np.asarray(x), np.asarray(arrays["y"]), path, f"mat {version}")


# ----------------------------------------------------------------------------------------------
# KDD Cup 1999 and NSL-KDD


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
    path = Path(path)
    refuse_folder(path)
    if not path.is_file():
        raise DataError(f"KDD Cup 99 file {path} not found; download it with `oneclass download kdd`")
    if anomaly not in ANOMALY_CHOICES:
        raise DataError(f"anomaly must be one of {', '.join(ANOMALY_CHOICES)}, got {anomaly!r}")

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
    path = Path(path)
    refuse_folder(path)
    if not path.is_file():
        raise DataError(f"NSL-KDD file {path} not found; download it with `oneclass download nsl_kdd`")
    if anomaly not in ANOMALY_CHOICES:
        raise DataError(f"anomaly must be one of {', '.join(ANOMALY_CHOICES)}, got {anomaly!r}")

    def build() -> Table:
        frame = _read_connections(path, ("difficulty",), "NSL-KDD data", "re-download it with `oneclass download nsl_kdd`")
        difficulty = frame["difficulty"].to_numpy()
        difficulty.setflags(write=False)
        return _one_hot_table(frame, path, categories, dtype, "nsl-kdd", {"difficulty": difficulty})

    return _label(_cached(path, ("nsl", _cats_key(categories), np.dtype(dtype).str), build), anomaly)
