"""LHC Olympics 2020 R&D dataset selected in mjj and split as in the OCDN paper (the event files
and their five features are read by :mod:`oneclass.data.lhco_files`).

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
from oneclass.data.lhco_files import BOXES, FEATURES, NPY_COLUMNS, box_files, default_path, read_events, read_key
from oneclass.data.paths import resolve
from oneclass.data.splits import (SCALINGS, Scaler, Split, contamination, one_class_split, optional_count, split_seed_of,
                                  validation_counts)
from oneclass.errors import ConfigError, DataError

log = logging.getLogger(__name__)

REGIONS = ("sr", "sb", "all")
TRAIN_EVENTS = ("background", "all")


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
