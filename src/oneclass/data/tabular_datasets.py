"""The tabular benchmarks as datasets: ADBench ``.npz``, ODDS ``.mat``, KDD Cup 1999 10 % (and its
KDDCUP-Rev variant), each split by one of four protocols (``dataset.protocol``):

* ``nrcan`` (NRCAN / pyad, GOAD, NeuTraLAD, DAGMM): the normal rows shuffled with ``split_seed``,
  half of them train (normal only, unless ``train_contamination``), the other half plus **every**
  anomaly is the test set (:func:`oneclass.data.splits.nrcan_split`);
* ``adbench``: ADBench's pipeline as its published results were made: a set below 1000 rows
  redrawn to 1000 **with replacement** (most test rows then have a copy in training: the
  duplicate leak), one above 10,000 subsampled to 10,000, then a stratified 70/30 split;
  unsupervised detectors train on the 70 % **with** its anomalies;
* ``adbench_dedup``: the same stratified 70/30 split of the rows as they are (no redraw, no
  subsample: every row once, no test row in training) - the default of ``dataset=adbench``;
* ``pyod``: PyOD's benchmark, an unstratified 60/40 split, standardised
  (:func:`oneclass.data.splits.pyod_split`).

The scaler (``preprocess``) is fitted on the training rows only. Its default follows the
reference configs: NRCAN standardises thyroid / arrhythmia and min-max scales KDD; ADBench
min-max scales; PyOD standardises. The run's seed never enters: only ``split_seed`` (and the files) decide the split.

Reading is done by :mod:`oneclass.data.tabular` (one-line errors for bad files).
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.config import require_number
from oneclass.data.base import DataBundle, Dataset, same_file
from oneclass.data.paths import resolve
from oneclass.data.splits import (
    PROTOCOLS, SCALINGS, TEST_FRACTIONS, Scaler, adbench_split, nrcan_split, optional_count, pyod_split, scale,
    split_seed_of,
)
from oneclass.data.kdd import ANOMALY_CHOICES, kdd_path, read_kdd
from oneclass.data.tabular import ADBENCH_SETS, Table, adbench_name, adbench_path, odds_path, read_mat, read_npz
from oneclass.errors import ConfigError, DataError

log = logging.getLogger(__name__)

# keys of a reader's info that are too large to carry into the run's info (KDD's one-hot categories
# stay: `oneclass score` encodes another file with them)
_DROP_INFO = ("difficulty",)


class TabularDataset(Dataset):
    """A table (features, labels with 1 = anomaly) split by a protocol and scaled.

    Parameters
    ----------
    name : the set's name.
    collection : the collection the set belongs to (``adbench``, ``odds``): the MLflow experiment
        of its runs, so a sweep over several sets lands in one experiment; None = ``name``.
    path : the file; None = where the set's reader looks (``$ONECLASS_DATA_DIR/...``).
    protocol : ``nrcan``, ``adbench``, ``adbench_dedup`` or ``pyod`` (module docstring).
    split_seed : seed of the shuffle / stratified split; None = file order (nrcan only).
    preprocess : ``standardize``, ``minmax`` or ``none``, fitted on the training rows; None = the
        protocol's and set's default (:attr:`nrcan_preprocess`; ``minmax`` for the adbench ones,
        ``standardize`` for pyod).
    train_contamination : nrcan only: fraction rho of anomalies in the training set (NRCAN's rho).
    test_fraction : adbench / adbench_dedup / pyod: the test part; None = the protocol's (0.3, 0.3, 0.4).
    n_train : nrcan only: train on the first ``n_train`` rows of the training half (null = all).
    """

    kind = "tabular"

    #: the nrcan protocol's scaler for this set (NRCAN's configs: standard; KDD: minmax)
    nrcan_preprocess = "standardize"

    def __init__(self, name: str, path: str | None = None, protocol: str = "nrcan", split_seed: int | None = 0,
                 preprocess: str | None = None, train_contamination: float = 0.0, test_fraction: float | None = None,
                 n_train: int | None = None, collection: str | None = None) -> None:
        if not isinstance(name, (str, int)) or isinstance(name, bool) or not str(name).strip():
            raise ConfigError(f"dataset.name must name a set, got {name!r}")
        self.name = str(name)
        self.collection = None if collection is None else str(collection)
        self.path = None if path is None else str(path)
        if protocol not in PROTOCOLS:
            raise ConfigError(f"dataset.protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        self.protocol = protocol
        self.split_seed = split_seed_of(split_seed)
        if protocol != "nrcan" and self.split_seed is None:
            raise ConfigError(f"dataset.split_seed=null (file order) is for the nrcan protocol; the {protocol} protocol's "
                              "random split needs an integer split_seed")
        if preprocess is not None and preprocess not in SCALINGS:
            raise ConfigError(f"dataset.preprocess must be one of {', '.join(SCALINGS)} or null (the protocol's "
                              f"default), got {preprocess!r}")
        self.preprocess = preprocess or {"nrcan": self.nrcan_preprocess, "pyod": "standardize"}.get(protocol, "minmax")
        self.train_contamination = require_number(train_contamination, "dataset.train_contamination")
        if not 0.0 <= self.train_contamination < 1.0:
            raise ConfigError(f"dataset.train_contamination must be in [0, 1), got {train_contamination!r}")
        self.test_fraction = require_number(TEST_FRACTIONS.get(protocol, 0.3) if test_fraction is None else test_fraction,
                                            "dataset.test_fraction")
        self.n_train = optional_count(n_train, "dataset.n_train")
        if protocol != "nrcan" and self.train_contamination > 0:
            raise ConfigError(f"dataset.train_contamination is for the nrcan protocol; the {protocol} protocol already "
                              "trains on its training part's anomalies (set it to 0)")
        if protocol != "nrcan" and self.n_train is not None:
            raise ConfigError(f"dataset.n_train is for the nrcan protocol; the {protocol} protocol trains on "
                              "1 - dataset.test_fraction of the rows (set n_train to null)")

    # -- to implement -------------------------------------------------------------------------
    def table(self) -> Table:  # pragma: no cover - abstract
        """The whole set (features, labels 1 = anomaly, names, facts)."""
        raise NotImplementedError

    def input_shape(self) -> tuple[int, ...]:
        """The file's number of feature columns (reads the set, but neither splits nor scales it)."""
        return (int(self.table().x.shape[1]),)

    # -- the protocol --------------------------------------------------------------------------
    def rows(self, table: Table) -> np.ndarray:
        """Rows of ``table`` that enter the protocol (all; KDDCUP-Rev subsamples)."""
        return np.arange(len(table.y))

    def load(self, seed: int) -> DataBundle:
        """Training and test arrays. ``seed`` (the run's seed) is deliberately unused: the split
        depends only on the file and ``split_seed``."""
        table = self.table()
        rows = self.rows(table)
        where = f"{table.info.get('file', self.name)}"
        labels = table.y[rows]
        if self.protocol == "nrcan":
            split = nrcan_split(labels, split_seed=self.split_seed, train_contamination=self.train_contamination,
                                n_train=self.n_train, where=where)
        elif self.protocol == "pyod":
            split = pyod_split(labels, split_seed=self.split_seed, test_fraction=self.test_fraction, where=where)
        else:
            split = adbench_split(labels, split_seed=self.split_seed, test_fraction=self.test_fraction, where=where,
                                  resample=self.protocol == "adbench")
        train_rows, test_rows = rows[split.train], rows[split.test]
        x_train, x_test, stats = scale(table.x[train_rows], table.x[test_rows], self.preprocess)
        info = {k: v for k, v in table.info.items() if k not in _DROP_INFO}
        info.update({**split.info, "preprocess": self.preprocess, **stats})
        log.info("%s (%s protocol, split_seed %s): train %d normal + %d anomalies, test %d normal + %d anomalies, "
                 "%s scaling", self.name, self.protocol, self.split_seed, info["n_train_normal"], info["n_train_anomaly"],
                 info["n_test_normal"], info["n_test_anomaly"], self.preprocess)
        if info.get("test_rows_in_train", 0) > 0:
            log.info("%s: adbench protocol redrew %d rows to %d with replacement: %.0f %% of the test rows have a copy "
                     "in training (protocol adbench_dedup has none)", self.name, info["n_source_rows"],
                     info["n_rows_drawn"], 100 * info["test_rows_in_train"])
        return DataBundle(
            name=self.name,
            x_train=np.asarray(x_train, dtype=np.float32),
            x_test=np.asarray(x_test, dtype=np.float32),
            y_test=split.y_test,
            feature_names=table.feature_names,
            info=info,
            test_index=test_rows.astype(np.int64),
            train_index=train_rows.astype(np.int64),
        )

    # -- another file, as a finished run saw its own (oneclass score) ---------------------------
    def file(self) -> Path:  # pragma: no cover - abstract
        raise NotImplementedError

    def trained_on(self, path: str | os.PathLike) -> bool:
        try:
            return same_file(path, self.file())
        except DataError:  # the run's own file is gone
            return False

    def read_other(self, path: Path, info: dict[str, Any]) -> Table:
        """The table of another file of this kind (every row)."""
        other = copy.copy(self)
        other.path = str(path)
        return other.table()

    def score_rows(self, path: str, info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row of ``path`` (a file of this set's format with the run's columns), scaled with the
        run's training statistics from ``info`` (see :meth:`Dataset.score_rows`)."""
        table = self.read_other(Path(path), info)
        width = info.get("n_features")
        if isinstance(width, int) and table.x.shape[1] != width:
            raise DataError(f"{path}: {table.x.shape[1]} feature columns, the run was trained on {width}; score a "
                            f"file with the same columns")
        x = Scaler.from_info({"preprocess": self.preprocess, **info}).transform(table.x)
        return np.asarray(x, dtype=np.float32), table.y, np.arange(len(table.y), dtype=np.int64)


class ADBench(TabularDataset):
    """An ADBench ``.npz`` (``X``, ``y`` with 1 = anomaly): ``name`` is ``thyroid``, ``38_thyroid``,
    ``38`` or a file; ``path`` overrides where it is read from."""

    def __init__(self, name: str, path: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, path=path, **kwargs)
        if path is None and self.name.strip().isdigit() and adbench_name(self.name) is None:
            raise ConfigError(f"unknown ADBench set {self.name!r}: ADBench numbers its {len(ADBENCH_SETS)} Classical sets "
                              f"1..{len(ADBENCH_SETS)} (e.g. dataset.name=38 or thyroid for 38_thyroid)")

    def file(self) -> Path:
        return resolve(self.path) if self.path is not None else adbench_path(self.name)

    def table(self) -> Table:
        table = read_npz(self.file())
        stem = adbench_name(self.name)
        return Table(table.x, table.y, table.feature_names, {**table.info, "set": stem or self.name})


class ODDS(TabularDataset):
    """An ODDS ``.mat`` (``X``, ``y``; MATLAB v5/v7 or v7.3): ``name`` is ``arrhythmia``, ``thyroid``, ...
    (``$ONECLASS_DATA_DIR/odds/<name>.mat``) or a file; ``path`` overrides it."""

    def file(self) -> Path:
        return resolve(self.path) if self.path is not None else odds_path(self.name)

    def table(self) -> Table:
        return read_mat(self.file())


KDD_VARIANTS = (None, "rev")


class KDDCup(TabularDataset):
    """KDD Cup 1999 10 % (494,021 connections, 118 columns after one-hot encoding protocol, service
    and flag).

    ``anomaly``: ``normal`` (the DAGMM / NeuTraLAD / NRCAN convention: the "normal." connections,
    about 20 %, are the anomalies and the attacks the normal class) or ``attacks``; None = the
    variant's convention. ``variant=rev`` is KDDCUP-Rev: normal traffic is the normal class and
    the attacks are subsampled (with ``split_seed``) to ``rev_attack_ratio`` times the normal
    traffic's count. Min-max scaled by default (NRCAN's KDD config).
    """

    nrcan_preprocess = "minmax"

    def __init__(self, name: str = "kdd", path: str | None = None, anomaly: str | None = None,
                 variant: str | None = None, rev_attack_ratio: float = 0.2, **kwargs: Any) -> None:
        super().__init__(name=name, path=path, **kwargs)
        if variant not in KDD_VARIANTS:
            raise ConfigError(f"dataset.variant must be null (KDD Cup 99 10 %) or rev (KDDCUP-Rev), got {variant!r}")
        if anomaly is not None and anomaly not in ANOMALY_CHOICES:
            raise ConfigError(f"dataset.anomaly must be one of {', '.join(ANOMALY_CHOICES)} or null, got {anomaly!r}")
        if variant == "rev" and anomaly == "normal":
            raise ConfigError("dataset.variant=rev (KDDCUP-Rev) takes normal traffic as the normal class; it needs "
                              "dataset.anomaly=attacks (or null)")
        self.variant = variant
        self.anomaly = anomaly or ("attacks" if variant == "rev" else "normal")
        self.rev_attack_ratio = require_number(rev_attack_ratio, "dataset.rev_attack_ratio")
        if not self.rev_attack_ratio > 0:
            raise ConfigError(f"dataset.rev_attack_ratio must be positive, got {rev_attack_ratio!r}")

    def file(self) -> Path:
        return resolve(self.path) if self.path is not None else kdd_path()

    def table(self) -> Table:
        return read_kdd(self.file(), anomaly=self.anomaly)

    def read_other(self, path: Path, info: dict[str, Any]) -> Table:
        """Another KDD file, one-hot encoded with the run's categories so the columns line up."""
        return read_kdd(path, anomaly=self.anomaly, categories=info.get("categories"))

    def rows(self, table: Table) -> np.ndarray:
        if self.variant != "rev":
            return np.arange(len(table.y))
        normal = np.flatnonzero(table.y == 0)
        attacks = np.flatnonzero(table.y == 1)
        n_keep = int(round(self.rev_attack_ratio * len(normal)))
        if n_keep > len(attacks):
            raise DataError(f"{table.info.get('file')}: KDDCUP-Rev wants {n_keep} attacks ({self.rev_attack_ratio:g} x "
                            f"{len(normal)} normal connections) but the file has {len(attacks)}; lower "
                            f"dataset.rev_attack_ratio")
        rng = np.random.default_rng(0 if self.split_seed is None else self.split_seed)
        kept = np.sort(rng.choice(attacks, size=n_keep, replace=False)) if n_keep < len(attacks) else attacks
        return np.sort(np.concatenate([normal, kept]))
