"""Readers of the tabular anomaly detection benchmarks: ADBench ``.npz`` and ODDS ``.mat`` (MATLAB v5 /
v7 and v7.3); KDD Cup 1999 10 % and NSL-KDD are read by :mod:`oneclass.data.kdd`. Pure readers: each
returns a :class:`Table` (features, labels with 1 = anomaly, feature names, facts); splitting and
scaling belong to the datasets.

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
