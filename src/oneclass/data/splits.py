"""The one-class protocol shared by every dataset read from files: which rows train, which test,
and scaling fitted on the training rows only.

Conventions (Ruff et al.; the NRCAN and LHCO literature): label 0 = normal/background, 1 =
anomaly/signal. :func:`one_class_split` picks

* training rows: the first ``n_train`` normal rows (plus, when asked, a fraction of anomalies:
  training contamination), taken from the **front** of the anomaly list;
* test rows: the **last** ``n_test_normal`` normal rows and the last ``n_test_anomaly`` anomalies
  (all anomalies not used for training by default), so the test set stays fixed when ``n_train``
  changes;

in the rows' own order (``split_seed=None``: file order, the OCDN paper's protocol) or in a fixed
permutation of the normals and of the anomalies drawn from ``split_seed``. The run's seed never
enters: a seed sweep varies only the training, on identical data.

:class:`Scaler` fits ``standardize`` / ``minmax`` statistics (per feature) on the training rows and
applies them to every split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oneclass.config import require_int, require_number
from oneclass.errors import ConfigError, DataError, first_line


@dataclass(frozen=True)
class Split:
    """Row indices (into the labels given to :func:`one_class_split`) of each part."""

    train: np.ndarray
    test: np.ndarray
    y_test: np.ndarray
    n_train_anomalies: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    val: np.ndarray | None = None
    y_val: np.ndarray | None = None


def optional_count(value: Any, name: str) -> int | None:
    """None, or a positive integer (else a one-line ConfigError naming ``name``)."""
    if value is None:
        return None
    n = require_int(value, name)
    if n <= 0:
        raise ConfigError(f"{name} must be a positive integer or null, got {value!r}")
    return n


def validation_counts(n_val: Any, n_val_signal: Any = None) -> tuple[int, int]:
    """``(normals, anomalies)`` of a validation split: ``dataset.n_val`` >= 0 and ``dataset.n_val_signal``
    (None = ``n_val``)."""
    n = require_int(n_val, "dataset.n_val")
    if n < 0:
        raise ConfigError(f"dataset.n_val must be an integer >= 0 (0 = no validation split), got {n_val!r}")
    m = n if n_val_signal is None else require_int(n_val_signal, "dataset.n_val_signal")
    if m < 0 or (n > 0) != (m > 0):
        raise ConfigError(f"dataset.n_val_signal must be > 0 when dataset.n_val is (and 0 when it is 0), got {n_val_signal!r}")
    return n, m


def split_seed_of(value: Any, name: str = "dataset.split_seed") -> int | None:
    if value is not None and require_int(value, name) < 0:
        raise ConfigError(f"{name} must be null or an integer >= 0, got {value!r}")
    return value


def contamination(value: Any, name: str = "dataset.train_signal_fraction") -> float:
    f = require_number(value, name)
    if not 0.0 <= f < 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
    return f


def one_class_split(
    labels: np.ndarray,
    *,
    n_train: int | None = None,
    n_test_normal: int | None = None,
    n_test_anomaly: int | None = None,
    train_fraction: float = 0.8,
    train_anomaly_fraction: float = 0.0,
    split_seed: int | None = None,
    where: str = "dataset",
    n_val_normal: int = 0,
    n_val_anomaly: int = 0,
) -> Split:
    """Split rows with ``labels`` (0 normal, 1 anomaly) by the one-class protocol (module docstring).

    Parameters
    ----------
    n_train : normal training rows; None = ``int(train_fraction * normals)``.
    n_test_normal : normal test rows (from the end); None = every normal not used for training.
    n_test_anomaly : anomaly test rows (from the end); None = every anomaly not used for training.
    train_anomaly_fraction : fraction f of anomalies in the training set: ``round(n_train f / (1 - f))``
        anomalies from the front of the anomaly list (never in the test set).
    split_seed : None = the rows' order; an integer = a permutation of normals, then of anomalies,
        drawn from ``numpy.random.default_rng(split_seed)``.
    where : prefix of error messages (file and selection).
    n_val_normal, n_val_anomaly : a labelled validation split (model selection): the normals right
        after the training ones and the anomalies right after the training contamination, never test
        rows; 0 = none.

    Messages name the dataset keys ``dataset.n_train``, ``dataset.n_test_background``,
    ``dataset.n_test_signal`` and ``dataset.train_signal_fraction`` that every file dataset uses.
    """
    labels = np.asarray(labels)
    normals = np.flatnonzero(labels == 0)
    anomalies = np.flatnonzero(labels == 1)
    if len(normals) == 0:
        raise DataError(f"{where} has no background (label 0) events; training needs them: check the labels "
                        f"or the selection")
    if len(anomalies) == 0:
        raise DataError(f"{where} has no signal (label 1) events; the test set needs them: use a file with "
                        f"labelled signal events")
    if split_seed is not None:
        rng = np.random.default_rng(split_seed)
        normals = normals[rng.permutation(len(normals))]
        anomalies = anomalies[rng.permutation(len(anomalies))]

    n_norm = len(normals)
    n_va = n_val_normal
    n_tr = n_train if n_train is not None else int(train_fraction * (n_norm - n_va))
    n_te = n_test_normal if n_test_normal is not None else n_norm - n_tr - n_va
    if n_tr <= 0 or n_te <= 0 or n_tr + n_va + n_te > n_norm:
        val = f" plus n_val={n_va}" if n_va else ""
        raise DataError(f"{where} has {n_norm} background events, too few for n_train={n_tr}{val} plus "
                        f"n_test_background={n_te}; lower dataset.n_train or dataset.n_test_background "
                        f"(or set them to null for a {round(100 * train_fraction)}/{round(100 * (1 - train_fraction))} split)")

    f = train_anomaly_fraction
    n_tr_anom = int(round(n_tr * f / (1.0 - f))) if f > 0 else 0
    n_va_anom = n_val_anomaly
    n_left = len(anomalies) - n_tr_anom - n_va_anom
    n_te_anom = n_test_anomaly if n_test_anomaly is not None else n_left
    if n_left <= 0 or n_te_anom <= 0 or n_te_anom > n_left:
        val = f", {n_va_anom} validation (n_val_signal)" if n_va_anom else ""
        raise DataError(f"{where} has {len(anomalies)} signal events, too few for {n_tr_anom} training "
                        f"(train_signal_fraction={f:g}){val} plus "
                        f"{n_te_anom if n_test_anomaly is not None else 'at least 1'} test signal events; "
                        f"lower dataset.n_test_signal or dataset.train_signal_fraction")

    train = normals[:n_tr]
    if n_tr_anom:
        train = np.concatenate([train, anomalies[:n_tr_anom]])
    test = np.concatenate([normals[n_norm - n_te:], anomalies[len(anomalies) - n_te_anom:]])
    y_test = np.concatenate([np.zeros(n_te, np.int8), np.ones(n_te_anom, np.int8)])
    info = {"split_seed": split_seed, "n_background_selected": n_norm, "n_signal_selected": len(anomalies),
            "n_train": n_tr, "n_train_signal": n_tr_anom, "n_test_background": n_te, "n_test_signal": n_te_anom}
    val = y_val = None
    if n_va or n_va_anom:
        val = np.concatenate([normals[n_tr:n_tr + n_va], anomalies[n_tr_anom:n_tr_anom + n_va_anom]])
        y_val = np.concatenate([np.zeros(n_va, np.int8), np.ones(n_va_anom, np.int8)])
        info.update(n_val_background=n_va, n_val_signal=n_va_anom)
    return Split(train=train, test=test, y_test=y_test, n_train_anomalies=n_tr_anom, info=info, val=val, y_val=y_val)


# ----------------------------------------------------------------------------------------------
# The tabular benchmarks' protocols

PROTOCOLS = ("nrcan", "adbench", "adbench_dedup", "pyod")
# ADBench's data_generator.py: a set below this many rows is redrawn to it WITH replacement before
# the split, one above ADBENCH_MAX_ROWS is subsampled to ADBENCH_MAX_ROWS (without replacement)
ADBENCH_MIN_ROWS = 1000
ADBENCH_MAX_ROWS = 10_000
# each protocol's test part when dataset.test_fraction is null
TEST_FRACTIONS = {"adbench": 0.3, "adbench_dedup": 0.3, "pyod": 0.4}


def nrcan_split(labels: np.ndarray, *, split_seed: int | None = 0, train_contamination: float = 0.0,
                n_train: int | None = None, where: str = "dataset") -> Split:
    """The NRCAN / GOAD / NeuTraLAD / DAGMM protocol on rows with ``labels`` (0 normal, 1 anomaly).

    The normal rows are shuffled with ``split_seed`` (None = file order); the first half
    (``floor(normals / 2)``, NRCAN's ``n_normal // 2``) trains, the other half plus **every**
    anomaly is the test set. ``train_contamination`` rho: the training set is made rho anomalous
    (NRCAN's ``rho``: ``round(n_train rho / (1 - rho))`` anomalies moved from the test set into
    training). ``n_train``: train on only the first ``n_train`` of the training half (large sets
    such as KDD); the test half does not change with it.
    """
    labels = np.asarray(labels)
    n_norm = int((labels == 0).sum())
    half = n_norm // 2
    if not (labels == 1).any():
        raise DataError(f"{where} has no anomalies (label 1); the nrcan protocol's test set needs them: check the "
                        f"labels (1 = anomaly) or the set's anomaly convention")
    if n_norm and half == 0:
        raise DataError(f"{where} has {n_norm} normal (label 0) row; the nrcan protocol needs at least 2 "
                        f"(one to train, one to test)")
    if n_train is not None and n_train > half:
        raise DataError(f"{where}: dataset.n_train={n_train} but the nrcan protocol trains on half of the "
                        f"{n_norm} normal rows ({half}); lower dataset.n_train or set it to null")
    n_tr = half if n_train is None else n_train
    rho = contamination(train_contamination, "dataset.train_contamination")
    n_anom = int((labels == 1).sum())
    n_tr_anom = int(round(n_tr * rho / (1.0 - rho))) if rho > 0 else 0
    if n_anom and n_tr_anom >= n_anom:
        raise DataError(f"{where}: dataset.train_contamination={rho:g} needs {n_tr_anom} of the {n_anom} anomalies "
                        f"in training, leaving none for the test set; lower dataset.train_contamination")
    split = one_class_split(labels, n_train=n_tr, n_test_normal=n_norm - half,
                            train_anomaly_fraction=rho, split_seed=split_seed, where=where)
    return Split(split.train, split.test, split.y_test, split.n_train_anomalies,
                 {**split.info, "protocol": "nrcan", "n_train_normal": split.info["n_train"],
                  "n_train_anomaly": split.n_train_anomalies,
                  "n_test_normal": split.info["n_test_background"], "n_test_anomaly": split.info["n_test_signal"]})


def adbench_split(labels: np.ndarray, *, split_seed: int | None = 0, test_fraction: float = 0.3,
                  where: str = "dataset", resample: bool = False) -> Split:
    """ADBench's split: a stratified ``1 - test_fraction`` / ``test_fraction`` split of the rows
    (scikit-learn's ``train_test_split(..., stratify=labels)`` from ``RandomState(split_seed)``, as
    ADBench splits). The training rows keep their anomalies: unsupervised detectors train on them as
    they are.

    ``resample=False`` (protocol ``adbench_dedup``): all rows, each once; rows of each part in
    ascending order. ``resample=True`` (protocol ``adbench``, ADBench's ``data_generator.py`` at its
    defaults): from the same ``RandomState(split_seed)`` a set of fewer than 1000 rows is first redrawn
    to 1000 rows **with replacement** (so most test rows have a copy in training: info
    ``test_rows_in_train``), a set of more than 10,000 rows subsampled to 10,000, then split in
    ADBench's order. The returned indices are rows of ``labels`` (repeated where redrawn).
    """
    labels = np.asarray(labels)
    if not resample:
        return _stratified(labels, split_seed, test_fraction, where, "adbench_dedup", None)
    rng = np.random.RandomState(split_seed)
    n = len(labels)
    if n < ADBENCH_MIN_ROWS:
        source = rng.choice(np.arange(n), ADBENCH_MIN_ROWS, replace=True)
    elif n > ADBENCH_MAX_ROWS:
        source = rng.choice(np.arange(n), ADBENCH_MAX_ROWS, replace=False)
    else:
        source = np.arange(n)
    split = _stratified(labels[source], rng, test_fraction, where, "adbench", split_seed)
    train, test = source[split.train], source[split.test]
    info = {**split.info, "n_source_rows": n, "n_rows_drawn": len(source),
            "test_rows_in_train": float(np.isin(test, train).mean())}
    return Split(train=train, test=test, y_test=split.y_test, n_train_anomalies=split.n_train_anomalies, info=info)


def pyod_split(labels: np.ndarray, *, split_seed: int | None = 0, test_fraction: float = 0.4,
               where: str = "dataset") -> Split:
    """PyOD's benchmark (``benchmark.py``): ``train_test_split(X, y, test_size=0.4,
    random_state=RandomState(split_seed))``, not stratified; the training rows keep their anomalies.
    Rows of each part in ascending order. Its scaling (standardisation on the training part) is the
    dataset's ``preprocess`` default for this protocol."""
    return _stratified(np.asarray(labels), split_seed, test_fraction, where, "pyod", None, stratify=False)


def _stratified(labels: np.ndarray, random_state: Any, test_fraction: float, where: str, protocol: str,
                seed_label: int | None, stratify: bool = True) -> Split:
    """A (stratified) ``train_test_split`` of ``labels``' rows, checked; ascending order unless
    ``random_state`` is a RandomState (ADBench's own order is kept)."""
    from sklearn.model_selection import train_test_split

    split_seed = seed_label if seed_label is not None else random_state
    counts = {c: int((labels == c).sum()) for c in (0, 1)}
    f = require_number(test_fraction, "dataset.test_fraction")
    if not 0.0 < f < 1.0:
        raise ConfigError(f"dataset.test_fraction must be in (0, 1), got {test_fraction!r}")
    for c, what in ((0, "normal"), (1, "anomaly")):
        if counts[c] < 2:
            raise DataError(f"{where} has {counts[c]} {what} (label {c}) row(s); the {protocol} protocol's "
                            f"split needs at least 2 (one in training, one in the test set)")
    rows = np.arange(len(labels))
    try:
        train, test = train_test_split(rows, test_size=f, stratify=labels if stratify else None,
                                       random_state=random_state, shuffle=True)
    except ValueError as exc:  # too few rows for the requested sizes
        raise DataError(f"{where}: the {protocol} protocol cannot split {len(labels)} rows ({counts[0]} normal, "
                        f"{counts[1]} anomalies) with dataset.test_fraction={f:g}: {first_line(exc)}") from None
    if not isinstance(random_state, np.random.RandomState):
        train, test = np.sort(train), np.sort(test)
    for part, idx in (("test", test), ("training", train)):
        for c, what in ((0, "normal"), (1, "anomaly")):
            if not (labels[idx] == c).any():
                raise DataError(f"{where}: dataset.test_fraction={f:g} leaves no {what} rows in the {part} part "
                                f"({counts[c]} {what} rows in all); change dataset.test_fraction")
    y_test = labels[test].astype(np.int8)
    n_train_anom = int(labels[train].sum())
    info = {"protocol": protocol, "split_seed": split_seed, "test_fraction": f, "n_train": len(train),
            "n_train_normal": len(train) - n_train_anom, "n_train_anomaly": n_train_anom,
            "n_test_normal": int((y_test == 0).sum()), "n_test_anomaly": int(y_test.sum())}
    return Split(train=train, test=test, y_test=y_test, n_train_anomalies=n_train_anom, info=info)


# ----------------------------------------------------------------------------------------------
# Scaling fitted on training rows only


def _standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    return x.mean(axis=0), x.std(axis=0), ("mean", "std")


def _minmax(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    lo = x.min(axis=0)
    return lo, x.max(axis=0) - lo, ("min", "range")


STAT_NAMES = {"standardize": ("mean", "std"), "minmax": ("min", "range")}
# name -> fit(x_train) returning (shift, scale, names of the two statistics); x -> (x - shift) / scale
SCALINGS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, tuple[str, str]]] | None] = {
    "none": None, "standardize": _standardize, "minmax": _minmax}


@dataclass
class Scaler:
    """``(x - shift) / scale`` with statistics fitted on training rows (a constant feature is only
    shifted). ``how``: one of :data:`SCALINGS`."""

    how: str = "none"
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None
    names: tuple[str, str] = ("shift", "scale")

    @classmethod
    def fit(cls, x_train: np.ndarray, how: str, name: str = "dataset.preprocess") -> "Scaler":
        if how not in SCALINGS:
            raise ConfigError(f"{name} must be one of {', '.join(SCALINGS)}, got {how!r}")
        fit = SCALINGS[how]
        if fit is None:
            return cls(how)
        shift, scale, names = fit(x_train)
        return cls(how, shift, np.where(scale > 0, scale, 1.0), names)

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "Scaler":
        """The scaler whose :meth:`stats` (and ``preprocess`` name) are in ``info`` (a run's data_info.json)."""
        how = info.get("preprocess", "none")
        if how not in SCALINGS:
            raise DataError(f"the run used preprocess={how!r}, which this version cannot re-apply")
        if SCALINGS[how] is None:
            return cls(how)
        names = STAT_NAMES[how]
        try:
            shift, scale_ = (np.asarray(info[f"preprocess_{n}"], dtype=np.float64) for n in names)
        except KeyError:
            raise DataError(f"the run's data_info.json lacks the {how} statistics preprocess_{names[0]}/"
                            f"preprocess_{names[1]}; it cannot be re-applied") from None
        return cls(how, shift, scale_, names)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return x if self.shift is None else (x - self.shift) / self.scale

    def stats(self) -> dict[str, list[float]]:
        """The statistics as ``preprocess_<name>`` lists (for the run's info and for re-scoring)."""
        if self.shift is None:
            return {}
        return {f"preprocess_{self.names[0]}": np.asarray(self.shift).tolist(),
                f"preprocess_{self.names[1]}": np.asarray(self.scale).tolist()}


def scale(x_train: np.ndarray, x_test: np.ndarray, how: str, name: str = "dataset.preprocess"
          ) -> tuple[np.ndarray, np.ndarray, dict[str, list[float]]]:
    """Fit ``how`` on ``x_train``, apply to both; returns the scaled arrays and the statistics."""
    scaler = Scaler.fit(x_train, how, name)
    return scaler.transform(x_train), scaler.transform(x_test), scaler.stats()
