"""The tabular benchmarks as datasets: ADBench ``.npz``, ODDS ``.mat``, KDD Cup 1999 10 % (and its
KDDCUP-Rev variant), each split by one of two protocols (``dataset.protocol``):

* ``nrcan`` (NRCAN / pyad, GOAD, NeuTraLAD, DAGMM): the normal rows shuffled with ``split_seed``,
  half of them train (normal only, unless ``train_contamination``), the other half plus **every**
  anomaly is the test set (:func:`oneclass.data.splits.nrcan_split`);
* ``adbench``: a stratified 70/30 split of all rows; unsupervised detectors train on the 70 %
  **with** its anomalies (:func:`oneclass.data.splits.adbench_split`).

The scaler (``preprocess``) is fitted on the training rows only. Its default follows the
reference configs: NRCAN standardises thyroid / arrhythmia and min-max scales KDD; ADBench
min-max scales. The run's seed never enters: only ``split_seed`` (and the files) decide the split.

Reading is done by :mod:`oneclass.data.tabular` (one-line errors for bad files).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.config import require_number
from oneclass.data.base import DataBundle, Dataset
from oneclass.data.paths import resolve
from oneclass.data.splits import PROTOCOLS, SCALINGS, adbench_split, nrcan_split, optional_count, scale, split_seed_of
from oneclass.data.tabular import (
    ANOMALY_CHOICES, Table, adbench_name, adbench_path, kdd_path, odds_path, read_kdd, read_mat, read_npz,
)
from oneclass.errors import ConfigError, DataError

log = logging.getLogger(__name__)

# keys of a reader's info that are too large or not worth carrying into the run's info
_DROP_INFO = ("categories", "difficulty")


class TabularDataset(Dataset):
    """A table (features, labels with 1 = anomaly) split by a protocol and scaled.

    Parameters
    ----------
    name : the set's name.
    collection : the collection the set belongs to (``adbench``, ``odds``): the MLflow experiment
        of its runs, so a sweep over several sets lands in one experiment; None = ``name``.
    path : the file; None = where the set's reader looks (``$ONECLASS_DATA_DIR/...``).
    protocol : ``nrcan`` or ``adbench`` (module docstring).
    split_seed : seed of the shuffle / stratified split; None = file order (nrcan only).
    preprocess : ``standardize``, ``minmax`` or ``none``, fitted on the training rows; None = the
        protocol's and set's default (:attr:`nrcan_preprocess`; ``minmax`` for adbench).
    train_contamination : nrcan only: fraction rho of anomalies in the training set (NRCAN's rho).
    test_fraction : adbench only: the test part (0.3).
    n_train : nrcan only: train on the first ``n_train`` rows of the training half (null = all).
    """

    #: the nrcan protocol's scaler for this set (NRCAN's configs: standard; KDD: minmax)
    nrcan_preprocess = "standardize"

    def __init__(self, name: str, path: str | None = None, protocol: str = "nrcan", split_seed: int | None = 0,
                 preprocess: str | None = None, train_contamination: float = 0.0, test_fraction: float = 0.3,
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
        if protocol == "adbench" and self.split_seed is None:
            raise ConfigError("dataset.split_seed=null (file order) is for the nrcan protocol; the adbench protocol's "
                              "stratified split needs an integer split_seed")
        if preprocess is not None and preprocess not in SCALINGS:
            raise ConfigError(f"dataset.preprocess must be one of {', '.join(SCALINGS)} or null (the protocol's "
                              f"default), got {preprocess!r}")
        self.preprocess = preprocess or (self.nrcan_preprocess if protocol == "nrcan" else "minmax")
        self.train_contamination = require_number(train_contamination, "dataset.train_contamination")
        if not 0.0 <= self.train_contamination < 1.0:
            raise ConfigError(f"dataset.train_contamination must be in [0, 1), got {train_contamination!r}")
        self.test_fraction = require_number(test_fraction, "dataset.test_fraction")
        self.n_train = optional_count(n_train, "dataset.n_train")
        if protocol == "adbench" and self.train_contamination > 0:
            raise ConfigError("dataset.train_contamination is for the nrcan protocol; the adbench protocol already "
                              "trains on its training part's anomalies (set it to 0)")
        if protocol == "adbench" and self.n_train is not None:
            raise ConfigError("dataset.n_train is for the nrcan protocol; the adbench protocol trains on "
                              "1 - dataset.test_fraction of the rows (set n_train to null)")

    # -- to implement -------------------------------------------------------------------------
    def table(self) -> Table:  # pragma: no cover - abstract
        """The whole set (features, labels 1 = anomaly, names, facts)."""
        raise NotImplementedError

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
        else:
            split = adbench_split(labels, split_seed=self.split_seed, test_fraction=self.test_fraction, where=where)
        train_rows, test_rows = rows[split.train], rows[split.test]
        x_train, x_test, stats = scale(table.x[train_rows], table.x[test_rows], self.preprocess)
        info = {k: v for k, v in table.info.items() if k not in _DROP_INFO}
        info.update({**split.info, "preprocess": self.preprocess, **stats})
        log.info("%s (%s protocol, split_seed %s): train %d normal + %d anomalies, test %d normal + %d anomalies, "
                 "%s scaling", self.name, self.protocol, self.split_seed, info["n_train_normal"], info["n_train_anomaly"],
                 info["n_test_normal"], info["n_test_anomaly"], self.preprocess)
        return DataBundle(
            name=self.name,
            x_train=np.asarray(x_train, dtype=np.float32),
            x_test=np.asarray(x_test, dtype=np.float32),
            y_test=split.y_test,
            feature_names=table.feature_names,
            info=info,
            test_index=test_rows.astype(np.int64),
        )


class ADBench(TabularDataset):
    """An ADBench ``.npz`` (``X``, ``y`` with 1 = anomaly): ``name`` is ``thyroid``, ``38_thyroid``,
    ``38`` or a file; ``path`` overrides where it is read from."""

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
