"""LHC Olympics 2020 R&D dataset (Kasieczka, Nachman, Shih; Zenodo record 4536377) in the
five-feature form of the resonant anomaly detection literature, selected and split as in the
OCDN paper.

Two file formats are read, detected from the file's first bytes:

* the official features file ``events_anomalydetection_v2.features.h5`` (pandas HDF5 table with
  per-jet columns ``pxj1 pyj1 pzj1 mj1 tau1j1 tau2j1 ... label`` in GeV); the five features are
  computed here (:func:`features_from_jets`);
* a CATHODE-style ``.npy`` array with columns ``mjj mj1 delta_mj tau21_1 tau21_2 label``
  (masses in TeV).

Features (all in TeV where dimensionful): ``mjj`` dijet invariant mass, ``mj1`` mass of the
lighter jet, ``delta_mj`` heavier minus lighter jet mass, ``tau21_1`` / ``tau21_2`` the
N-subjettiness ratio tau2/tau1 of the lighter / heavier jet (0 where tau1 = 0).

Split (the paper's protocol): of the background events in the selected mjj region, the first
``n_train`` (in file order, or in a fixed permutation drawn from ``split_seed``) are the training
set and the last ``n_test_background`` are test background; test signal is every selected signal
event (or the last ``n_test_signal``). The split never depends on the run's seed.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.config import require_number
from oneclass.data.base import DataBundle, Dataset, same_file
from oneclass.data.paths import data_dir, refuse_folder, resolve
from oneclass.data.splits import (SCALINGS, Scaler, Split, contamination, one_class_split, optional_count, split_seed_of,
                                  validation_counts)
from oneclass.errors import ConfigError, DataError, first_line

log = logging.getLogger(__name__)

FEATURES = ("mjj", "mj1", "delta_mj", "tau21_1", "tau21_2")
NPY_COLUMNS = (*FEATURES, "label")
JET_COLUMNS = ("pxj1", "pyj1", "pzj1", "mj1", "tau1j1", "tau2j1",
               "pxj2", "pyj2", "pzj2", "mj2", "tau1j2", "tau2j2", "label")
OFFICIAL_FILE = "events_anomalydetection_v2.features.h5"
REGIONS = ("sr", "sb", "all")
TRAIN_EVENTS = ("background", "all")
# The LHC Olympics 2020 black boxes (Zenodo record 4536624): a features file in the R&D file's
# layout without the label column, and a key file with one truth label per event (0 = background).
BOXES = (1, 2, 3)


def box_files(box: int) -> tuple[str, str]:
    """(features file, key file) of black box ``box`` as named in the Zenodo record."""
    return f"events_LHCO2020_BlackBox{box}.features.h5", f"events_LHCO2020_BlackBox{box}.masterkey"

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NPY_MAGIC = b"\x93NUMPY"
GEV_PER_TEV = 1000.0


def default_path(box: int | None = None) -> Path:
    """Where ``oneclass download lhco [--box N]`` puts the official file: ``<data dir>/lhco/<file>``."""
    return data_dir() / "lhco" / (OFFICIAL_FILE if box is None else box_files(box)[0])


def missing_file_message(path: Path) -> str:
    return (f"LHCO data file {path} not found; download the official file with `oneclass download lhco` "
            f"(saved as {default_path()}) or point to an existing .h5/.npy file with dataset.path=/path/to/file")


# ----------------------------------------------------------------------------------------------
# Reading


def features_from_jets(cols: dict[str, np.ndarray]) -> np.ndarray:
    """The five paper features from per-jet columns in GeV (vectorised over events).

    Parameters
    ----------
    cols : arrays ``pxj1 pyj1 pzj1 mj1 tau1j1 tau2j1`` and the same for jet 2, each shape (n,).

    Returns
    -------
    (n, 5) float64: mjj [TeV], lighter-jet mass [TeV], heavier minus lighter mass [TeV],
    tau21 of the lighter jet, tau21 of the heavier jet (0 where tau1 = 0).
    """
    c = {k: np.asarray(cols[k], dtype=np.float64) for k in JET_COLUMNS if k != "label"}
    # E = sqrt(|p|^2 + m^2) per jet; mjj^2 = (E1 + E2)^2 - |p1 + p2|^2 (clipped at 0 against rounding).
    e1 = np.sqrt(c["pxj1"] ** 2 + c["pyj1"] ** 2 + c["pzj1"] ** 2 + c["mj1"] ** 2)
    e2 = np.sqrt(c["pxj2"] ** 2 + c["pyj2"] ** 2 + c["pzj2"] ** 2 + c["mj2"] ** 2)
    m2 = (e1 + e2) ** 2 - (c["pxj1"] + c["pxj2"]) ** 2 - (c["pyj1"] + c["pyj2"]) ** 2 - (c["pzj1"] + c["pzj2"]) ** 2
    mjj = np.sqrt(np.clip(m2, 0.0, None))

    def tau21(tau2: np.ndarray, tau1: np.ndarray) -> np.ndarray:
        out = np.zeros_like(tau2)
        np.divide(tau2, tau1, out=out, where=tau1 != 0)
        return np.where(np.isnan(tau1) | np.isnan(tau2), np.nan, out)

    t21_j1 = tau21(c["tau2j1"], c["tau1j1"])
    t21_j2 = tau21(c["tau2j2"], c["tau1j2"])
    # Lighter jet first; on equal masses jet 1 counts as the lighter one.
    swap = c["mj2"] < c["mj1"]
    m_light = np.where(swap, c["mj2"], c["mj1"])
    m_heavy = np.where(swap, c["mj1"], c["mj2"])
    t21_light = np.where(swap, t21_j2, t21_j1)
    t21_heavy = np.where(swap, t21_j1, t21_j2)
    return np.column_stack([mjj / GEV_PER_TEV, m_light / GEV_PER_TEV, (m_heavy - m_light) / GEV_PER_TEV,
                            t21_light, t21_heavy])


def detect_format(path: Path) -> str:
    """``"hdf5"`` or ``"npy"`` from the file's magic bytes."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    if head.startswith(_NPY_MAGIC):
        return "npy"
    raise DataError(f"{path}: not an HDF5 (.h5) or NumPy (.npy) file; the LHCO reader takes the official "
                    f"Zenodo {OFFICIAL_FILE} or a .npy with columns {' '.join(NPY_COLUMNS)}")


def _read_npy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as .npy ({first_line(exc)}); re-create or re-download the file") from None
    if arr.ndim != 2 or arr.shape[1] not in (len(FEATURES), len(NPY_COLUMNS)):
        raise DataError(f"{path}: expected a 2-D array with {len(NPY_COLUMNS)} columns ({' '.join(NPY_COLUMNS)}), "
                        f"or {len(FEATURES)} without the label, got shape {arr.shape}; save the five features and "
                        f"the label in that order")
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{path}: expected numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.shape[1] == len(FEATURES):  # unlabelled (a black box): labels NaN, as an HDF5 file without them
        return arr, np.full(len(arr), np.nan)
    return arr[:, :5], arr[:, 5]


def _read_hdf5(path: Path, key: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a pandas HDF5 features file; labels are NaN when the file has no
    ``label`` column (a black box: its labels come from the key file)."""
    import pandas as pd

    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store.keys()]
            if not keys:
                raise DataError(f"{path}: the HDF5 file holds no pandas table; it is not an LHCO features file "
                                f"(get the official one with `oneclass download lhco`)")
            if key is None:
                if len(keys) == 1:
                    key = keys[0]
                elif "df" in keys:
                    key = "df"
                else:
                    raise DataError(f"{path}: the HDF5 file holds tables {keys or '(none)'}; pick one with dataset.hdf_key=<name>")
            elif key not in keys:
                raise DataError(f"{path}: no table '{key}' in the HDF5 file (it holds {keys or 'none'}); fix dataset.hdf_key")
            frame = store.get(key)
    except DataError:
        raise
    except Exception as exc:  # pandas/pytables raise many types for unreadable files
        raise DataError(f"{path}: cannot read as a pandas HDF5 table ({first_line(exc)}); re-download it with `oneclass download lhco`") from None
    if not hasattr(frame, "columns"):
        raise DataError(f"{path}: table '{key}' is not a pandas DataFrame")
    missing = [c for c in JET_COLUMNS if c not in frame.columns and c != "label"]
    if missing:
        raise DataError(f"{path}: HDF5 table '{key}' lacks column(s) {' '.join(missing)}; expected the official "
                        f"LHCO features file with {' '.join(JET_COLUMNS)}")
    try:
        cols = {c: frame[c].to_numpy(dtype=np.float64) for c in JET_COLUMNS if c in frame.columns}
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: non-numeric values in the jet columns ({exc})") from None
    labels = cols["label"] if "label" in cols else np.full(len(frame), np.nan)
    return features_from_jets(cols), labels


def read_key(path: Path, n_events: int, events: Path) -> np.ndarray:
    """Truth labels from a black-box key file: one integer per event (newlines or commas), 0 =
    background, > 0 = signal (a box may hold several signal processes); int8 0/1."""
    refuse_folder(path, "dataset.key_path")
    if not path.is_file():
        raise DataError(f"key file {path} not found; get it with `oneclass download lhco --box N` or point "
                        f"dataset.key_path at it")
    try:
        text = path.read_text()
        values = np.array([float(v) for v in text.replace(",", " ").split()])
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"key file {path}: not a list of numbers, one per event ({first_line(exc)})") from None
    if len(values) != n_events:
        raise DataError(f"key file {path} lists {len(values)} labels but {events} holds {n_events} events; "
                        f"the key must belong to that file (same black box)")
    if not (np.isfinite(values).all() and (values >= 0).all() and (values == np.round(values)).all()):
        raise DataError(f"key file {path}: labels must be integers >= 0 (0 = background, > 0 = signal)")
    return (values > 0).astype(np.float64)


_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray, str]] = {}


def read_events(path: str | os.PathLike, hdf_key: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """All events of an LHCO file: features (n, 5) float64, raw labels (n,) float64, format name.

    Results are cached per (path, size, mtime) so a seed sweep in one process reads the file once;
    the returned arrays are read-only.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(missing_file_message(path))
    if not path.is_file():
        raise DataError(f"{path} is not a file; point dataset.path at the LHCO .h5 or .npy file")
    st = path.stat()
    cache_key = (str(path.resolve()), st.st_size, st.st_mtime_ns, hdf_key)
    if cache_key not in _CACHE:
        fmt = detect_format(path)
        x, labels = _read_npy(path) if fmt == "npy" else _read_hdf5(path, hdf_key)
        x = np.ascontiguousarray(x)
        labels = np.ascontiguousarray(labels)
        x.setflags(write=False)
        labels.setflags(write=False)
        _CACHE.clear()  # keep at most one file (the official one is ~50 MB as features)
        _CACHE[cache_key] = (x, labels, fmt)
    return _CACHE[cache_key]


# ----------------------------------------------------------------------------------------------
# Dataset


class LHCO(Dataset):
    """LHC Olympics 2020 R&D events, selected in mjj and split as in the OCDN paper.

    Parameters
    ----------
    path : the .h5 (official) or .npy (CATHODE-style) file; None = ``<data dir>/lhco/`` +
        the official file name, where ``oneclass download lhco`` puts it. Relative paths are
        taken from the launch directory.
    region : ``sr`` (sr_low < mjj < sr_high), ``sb`` (sb_low < mjj < sr_low or sr_high < mjj <
        sb_high) or ``all`` (no mjj cut). mjj in TeV.
    n_train, n_test_background : background events for training (the first ones) and testing
        (the last ones); None = the first 80% / the remaining events.
    n_test_signal : test signal events (the last ones); None = all selected signal not used in
        training.
    split_seed : None = file order (the paper's protocol); an integer = a fixed permutation of the
        selected background and signal drawn from it before splitting. Never the run's seed.
    train_signal_fraction : fraction f of signal in the training set: n_train background plus
        round(n_train f / (1 - f)) signal events (taken from the front of the signal list, so
        they are disjoint from the test signal). 0 = background only (the paper).
    features : feature subset, in the order given (e.g. drop ``mjj``).
    preprocess : ``none`` (the paper: raw TeV masses, tau21 as is), ``standardize`` or ``minmax``;
        statistics from the training set only.
    drop_nan : drop events with NaN or infinite values (the count is logged) instead of failing.
    hdf_key : HDF5 table name; None = the only table, or ``df``.
    n_val, n_val_signal : a labelled validation split for model selection (background events after
        the training ones, signal events after the training contamination; never test events);
        ``n_val_signal`` None = ``n_val``. 0 = none (the paper).
    box : an LHC Olympics black box (1, 2, 3): ``path`` None = ``<data dir>/lhco/`` + its features
        file, whose labels come from the key file.
    key_path : the key file of a file without labels (default for a box: the official key file
        next to the features file).
    train_events : ``background`` (the paper: labelled background events only) or ``all`` (what an
        analysis of real data has: the first ``n_train`` selected events whatever their label, the
        labels used only to evaluate the last ``n_test_background`` events, all of them tested).
    """

    kind = "physics"

    def __init__(
        self,
        name: str = "lhco",
        path: str | None = None,
        region: str = "sr",
        sr_low: float = 3.3,
        sr_high: float = 3.7,
        sb_low: float = 3.1,
        sb_high: float = 3.9,
        n_train: int | None = 97081,
        n_test_background: int | None = 24270,
        n_test_signal: int | None = None,
        split_seed: int | None = None,
        train_signal_fraction: float = 0.0,
        features: Sequence[str] = FEATURES,
        preprocess: str = "none",
        drop_nan: bool = False,
        hdf_key: str | None = None,
        n_val: int = 0,
        n_val_signal: int | None = None,
        box: int | None = None,
        key_path: str | None = None,
        train_events: str = "background",
    ) -> None:
        self.name = name
        self.path = None if path is None else str(path)
        if region not in REGIONS:
            raise ConfigError(f"dataset.region must be one of {', '.join(REGIONS)}, got {region!r}")
        self.region = region
        self.sr_low = require_number(sr_low, "dataset.sr_low")
        self.sr_high = require_number(sr_high, "dataset.sr_high")
        self.sb_low = require_number(sb_low, "dataset.sb_low")
        self.sb_high = require_number(sb_high, "dataset.sb_high")
        if not self.sr_low < self.sr_high:
            raise ConfigError(f"dataset.sr_low ({sr_low}) must be below dataset.sr_high ({sr_high})")
        if region == "sb" and not (self.sb_low <= self.sr_low and self.sb_high >= self.sr_high):
            raise ConfigError(f"region=sb: the sidebands must enclose the signal region, need dataset.sb_low <= sr_low and sb_high >= sr_high, "
                              f"got sb [{sb_low}, {sb_high}], sr [{sr_low}, {sr_high}]")
        self.n_train = optional_count(n_train, "dataset.n_train")
        self.n_test_background = optional_count(n_test_background, "dataset.n_test_background")
        self.n_test_signal = optional_count(n_test_signal, "dataset.n_test_signal")
        self.n_val, self.n_val_signal = validation_counts(n_val, n_val_signal)
        self.split_seed = split_seed_of(split_seed)
        self.train_signal_fraction = contamination(train_signal_fraction)
        if isinstance(features, str) or not features:
            raise ConfigError(f"dataset.features must be a non-empty list drawn from {list(FEATURES)}, got {features!r}")
        features = tuple(features)
        unknown = [f for f in features if f not in FEATURES]
        if unknown:
            raise ConfigError(f"dataset.features: unknown feature(s) {unknown}; choose from {list(FEATURES)}")
        if len(set(features)) != len(features):
            raise ConfigError(f"dataset.features lists a feature twice: {list(features)}")
        self.features = features
        if preprocess not in SCALINGS:
            raise ConfigError(f"dataset.preprocess must be one of {', '.join(SCALINGS)}, got {preprocess!r}")
        self.preprocess = preprocess
        if not isinstance(drop_nan, bool):
            raise ConfigError(f"dataset.drop_nan must be true or false, got {drop_nan!r}")
        self.drop_nan = drop_nan
        self.hdf_key = hdf_key
        if box is not None and (isinstance(box, bool) or box not in BOXES):
            raise ConfigError(f"dataset.box must be one of {', '.join(map(str, BOXES))} (an LHC Olympics black box) "
                              f"or null, got {box!r}")
        self.box = box
        self.key_path = None if key_path is None else str(key_path)
        if train_events not in TRAIN_EVENTS:
            raise ConfigError(f"dataset.train_events must be one of {', '.join(TRAIN_EVENTS)}, got {train_events!r}")
        self.train_events = train_events
        if train_events == "all" and (self.train_signal_fraction > 0 or self.n_val or self.n_test_signal is not None):
            raise ConfigError("dataset.train_events=all trains on every selected event whatever its label: "
                              "dataset.train_signal_fraction, dataset.n_val and dataset.n_test_signal do not apply; "
                              "leave them at 0 / 0 / null")

    # -- steps ---------------------------------------------------------------------------------

    def input_shape(self) -> tuple[int, ...]:
        return (len(self.features),)

    def file(self) -> Path:
        return default_path(self.box) if self.path is None else resolve(self.path)

    def key_file(self, events: Path) -> Path | None:
        """The key file: ``key_path``, else for a box the official key file next to the features file."""
        if self.key_path is not None:
            return resolve(self.key_path)
        return events.parent / box_files(self.box)[1] if self.box is not None else None

    def region_mask(self, mjj: np.ndarray) -> np.ndarray:
        if self.region == "sr":
            return (mjj > self.sr_low) & (mjj < self.sr_high)
        if self.region == "sb":
            return ((mjj > self.sb_low) & (mjj < self.sr_low)) | ((mjj > self.sr_high) & (mjj < self.sb_high))
        return np.ones(len(mjj), dtype=bool)

    def region_text(self) -> str:
        if self.region == "sr":
            return f"region=sr ({self.sr_low} < mjj < {self.sr_high} TeV)"
        if self.region == "sb":
            return (f"region=sb ({self.sb_low} < mjj < {self.sr_low} or {self.sr_high} < mjj < {self.sb_high} TeV)")
        return "region=all"

    def read(self, need_labels: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, dict[str, Any]]:
        """Features (n, 5), int8 labels and file row numbers of every usable event in the file,
        plus facts for ``info``. Labels are None for a file without labels when ``need_labels`` is
        false (scoring a black box without its key)."""
        path = self.file()
        x, labels, fmt = read_events(path, self.hdf_key)
        rows = np.arange(len(x), dtype=np.int64)
        info: dict[str, Any] = {"file": str(path), "format": fmt, "n_events_file": len(x)}
        key = self.key_file(path)
        unlabelled = key is None and len(labels) > 0 and bool(np.isnan(labels).all())
        if key is not None and (need_labels or key.is_file()):
            labels = read_key(key, len(x), path)
            info["key_file"] = str(key)
        elif unlabelled and need_labels:
            raise DataError(f"{path} has no label column (a black box?); give its key file with dataset.key_path=... "
                            f"(`oneclass download lhco --box N` fetches both and experiment=lhco/bb1 uses them)")
        if key is not None and "key_file" not in info or unlabelled:
            bad = ~np.isfinite(x).all(axis=1)
            if bad.any() and not self.drop_nan:
                raise DataError(f"{path}: {int(bad.sum())} of {len(x)} events have NaN or infinite values; "
                                f"fix the file or drop them with dataset.drop_nan=true")
            return x[~bad], None, rows[~bad], {**info, "n_dropped_nan": int(bad.sum())}
        bad = ~(np.isfinite(x).all(axis=1) & np.isfinite(labels))
        n_bad = int(bad.sum())
        if n_bad:
            if not self.drop_nan:
                raise DataError(f"{path}: {n_bad} of {len(x)} events have NaN or infinite values; "
                                f"fix the file or drop them with dataset.drop_nan=true")
            log.warning("%s: dropped %d events with NaN or infinite values (dataset.drop_nan=true)", path, n_bad)
            x, labels, rows = x[~bad], labels[~bad], rows[~bad]
        info["n_dropped_nan"] = n_bad
        values = np.unique(labels)
        if not np.isin(values, (0.0, 1.0)).all():
            shown = ", ".join(f"{v:g}" for v in values[:8]) + (" ..." if len(values) > 8 else "")
            raise DataError(f"{path}: the label column must be 0 (background) or 1 (signal), found {shown}; "
                            f"check the column order ({' '.join(NPY_COLUMNS)} for .npy)")
        return x, labels.astype(np.int8), rows, info

    def score_rows(self, path: str, info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every event of ``path`` in this dataset's mjj region and features, scaled with the run's
        training statistics from ``info`` (see :meth:`Dataset.score_rows`)."""
        other = copy.copy(self)
        other.path = str(path)
        if self.key_path is not None:  # the run's key belongs to the run's file, not to this one
            other.key_path = None
        x, labels, rows, _ = other.read(need_labels=False)
        inside = self.region_mask(x[:, 0])
        if not inside.any():
            raise DataError(f"{path}: no events in {self.region_text()}, the run's selection")
        cols = [FEATURES.index(name) for name in self.features]
        scaler = Scaler.from_info(info)
        return scaler.transform(x[inside][:, cols]).astype(np.float32), None if labels is None else labels[inside], rows[inside]

    def trained_on(self, path: str | os.PathLike) -> bool:
        return same_file(path, self.file())

    def load(self, seed: int) -> DataBundle:
        """Training and test arrays. ``seed`` (the run's seed) is deliberately unused: the split
        depends only on the file and ``split_seed``, so a seed sweep varies only the training."""
        x, labels, rows, info = self.read()
        path = info["file"]
        inside = self.region_mask(x[:, 0])
        if not (labels == 0).any():
            raise DataError(f"{path} has no background (label 0) events; the one-class training needs them: check "
                            f"the label column ({' '.join(NPY_COLUMNS)} for .npy)")
        if not (inside & (labels == 0)).any():
            lo, hi = (float(x[:, 0].min()), float(x[:, 0].max())) if len(x) else (float("nan"), float("nan"))
            raise DataError(f"{path}: {self.region_text()} leaves no background (training) events; the file's mjj "
                            f"spans [{lo:.3f}, {hi:.3f}] TeV, so change dataset.region or its edges")
        selected = np.flatnonzero(inside)
        where = f"{path}: {self.region_text()}"
        if self.train_events == "all":
            split = unlabelled_split(labels[selected], self.n_train, self.n_test_background, self.split_seed, where)
        else:
            split = one_class_split(labels[selected], n_train=self.n_train, n_test_normal=self.n_test_background,
                                    n_test_anomaly=self.n_test_signal, train_anomaly_fraction=self.train_signal_fraction,
                                    split_seed=self.split_seed, where=where,
                                    n_val_normal=self.n_val, n_val_anomaly=self.n_val_signal)
        cols = [FEATURES.index(name) for name in self.features]
        train_rows, test_rows = selected[split.train], selected[split.test]
        # rows first, then columns (the memory layout, and so float reductions, of earlier versions)
        scaler = Scaler.fit(x[train_rows][:, cols], self.preprocess)
        x_train, x_test, stats = scaler.transform(x[train_rows][:, cols]), scaler.transform(x[test_rows][:, cols]), scaler.stats()
        x_val = None if split.val is None else scaler.transform(x[selected[split.val]][:, cols]).astype(np.float32)

        info.update({"region": self.region, "train_events": self.train_events, **split.info,
                     "preprocess": self.preprocess, **stats})
        log.info("LHCO %s: %s, %d background + %d signal selected; train %d background + %d signal, "
                 "test %d background + %d signal", path, self.region_text(), info["n_background_selected"],
                 info["n_signal_selected"], info["n_train"], info["n_train_signal"], info["n_test_background"],
                 info["n_test_signal"])
        return DataBundle(
            name=self.name,
            x_train=x_train.astype(np.float32),
            x_test=x_test.astype(np.float32),
            y_test=split.y_test,
            feature_names=self.features,
            info=info,
            test_index=rows[test_rows],
            x_val=x_val,
            y_val=split.y_val,
            test_aux={"mjj": x[test_rows, 0].copy()},  # raw TeV, whatever the features and scaling
            val_aux={} if split.val is None else {"mjj": x[selected[split.val], 0].copy()},
            y_train=labels[train_rows],
            train_index=rows[train_rows],
        )


def unlabelled_split(labels: np.ndarray, n_train: int | None, n_test: int | None, split_seed: int | None,
                     where: str) -> Split:
    """``train_events=all``: the first ``n_train`` events train whatever their label, the last
    ``n_test`` are the test set (None: 80 % / the rest), in file order or a permutation drawn from
    ``split_seed``; labels only label the test set."""
    n = len(labels)
    order = np.arange(n) if split_seed is None else np.random.default_rng(split_seed).permutation(n)
    n_tr = n_train if n_train is not None else int(0.8 * n)
    n_te = n_test if n_test is not None else n - n_tr
    if n_tr <= 0 or n_te <= 0 or n_tr + n_te > n:
        raise DataError(f"{where} has {n} events, too few for n_train={n_tr} plus n_test_background={n_te} "
                        f"(train_events=all counts every event); lower them or set both to null for an 80/20 split")
    train, test = order[:n_tr], order[n - n_te:]
    y_test = labels[test].astype(np.int8)
    if not (y_test == 1).any() or not (y_test == 0).any():
        missing = "signal" if not (y_test == 1).any() else "background"
        raise DataError(f"{where}: the {n_te} test events hold no {missing} according to the labels, so nothing "
                        f"can be evaluated; check the key file or widen the selection")
    info = {"n_background_selected": int((labels == 0).sum()), "n_signal_selected": int((labels == 1).sum()),
            "n_train": int(n_tr), "n_train_signal": int((labels[train] == 1).sum()),
            "n_test_background": int((y_test == 0).sum()), "n_test_signal": int((y_test == 1).sum())}
    return Split(train=train, test=test, y_test=y_test, n_train_anomalies=info["n_train_signal"], info=info)
