"""The dataset contract.

Conventions (as in Ruff et al.'s ``BaseADDataset``): label 0 = normal/background, 1 = anomaly/
signal. Training data is background-only unless a dataset is asked to contaminate it.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from oneclass.errors import DataError


@dataclass(frozen=True)
class DataBundle:
    """Arrays for one experiment.

    Attributes
    ----------
    name : dataset name (used as the default MLflow experiment name).
    x_train : (n_train, *input_shape) float32, the (background-only) training events or images.
    x_test : (n_test, *input_shape) float32.
    y_test : (n_test,) int8, 0 = background/normal, 1 = signal/anomaly.
    feature_names : one name per column for flat data (None for images).
    test_index : (n_test,) int64, each test row's index in its source (file row, image number),
        so a score can be traced back to its event or image; None = 0..n_test-1.
    info : extra facts worth logging (counts, selections, preprocessing statistics).
    y_train : labels of the training rows (1 = signal put there by contamination), for supervised
        baselines only; one-class detectors never see them. None = all background.
    train_index : (n_train,) int64, each training row's index in the file it was read from (the
        file :meth:`Dataset.trained_on` recognises), so ``oneclass score`` can leave the training
        events out when it scores that file again; None = not known.
    test_aux : per-test-event arrays saved beside the scores, e.g. ``{"mjj": ...}`` (raw dijet mass
        in TeV, for the mass-sculpting metrics).
    x_val, y_val : an optional labelled validation split (held-out normals + anomalies, never test
        rows) for model selection (the Optuna sweeper's objective); None = no validation split.
    val_aux : the validation events' per-event arrays, the same keys as ``test_aux`` (``mjj``...).
    """

    name: str
    x_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    test_index: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    test_aux: dict[str, np.ndarray] = field(default_factory=dict)
    y_train: np.ndarray | None = None
    train_index: np.ndarray | None = None
    val_aux: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"dataset '{self.name}'"
        if self.train_index is not None and np.shape(self.train_index) != (len(self.x_train),):
            raise DataError(f"{where}: {np.shape(self.train_index)} training row indices for {len(self.x_train)} training events")
        if self.y_train is not None and np.shape(self.y_train) != (len(self.x_train),):
            raise DataError(f"{where}: {np.shape(self.y_train)} training labels for {len(self.x_train)} training events")
        for key, values in self.test_aux.items():
            if np.shape(values) != (len(self.x_test),):
                raise DataError(f"{where}: test_aux[{key!r}] has shape {np.shape(values)} for {len(self.x_test)} test events")
        for key, values in self.val_aux.items():
            if self.x_val is None or np.shape(values) != (len(self.x_val),):
                n_val = 0 if self.x_val is None else len(self.x_val)
                raise DataError(f"{where}: val_aux[{key!r}] has shape {np.shape(values)} for {n_val} validation events")
        if (self.x_val is None) != (self.y_val is None):
            raise DataError(f"{where}: a validation split needs both x_val and y_val")
        if self.x_val is not None:
            if self.x_val.shape[1:] != self.x_train.shape[1:] or self.y_val.shape != (len(self.x_val),):
                raise DataError(f"{where}: validation events of shape {self.x_val.shape} with {self.y_val.shape} labels "
                                f"do not match the training events {self.x_train.shape[1:]}")
            if set(np.unique(self.y_val).tolist()) != {0, 1}:
                raise DataError(f"{where}: the validation split needs both background and signal events; "
                                "raise dataset.n_val / dataset.n_val_signal")
        for split, x in (("training", self.x_train), ("test", self.x_test)):
            if x.ndim < 2:
                raise DataError(f"{where}: {split} data must be (events, features) or (images, *shape), got shape {x.shape}")
            if len(x) == 0:
                raise DataError(f"{where}: the {split} set is empty; loosen the selection or raise its event counts")
            bad_rows = ~np.isfinite(x).reshape(len(x), -1).all(axis=1)
            if bad_rows.any():
                raise DataError(f"{where}: {int(bad_rows.sum())} {split} events have NaN or infinite features")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DataError(f"{where}: training events have shape {self.x_train.shape[1:]} but test events {self.x_test.shape[1:]}")
        if self.feature_names is not None:
            if self.x_train.ndim != 2:
                raise DataError(f"{where}: feature names are for flat data, got images of shape {self.input_shape}")
            if len(self.feature_names) != self.x_train.shape[1]:
                raise DataError(f"{where}: {len(self.feature_names)} feature names for {self.x_train.shape[1]} columns")
        if self.y_test.shape != (len(self.x_test),):
            raise DataError(f"{where}: {self.y_test.shape} test labels for {len(self.x_test)} test events")
        labels = set(np.unique(self.y_test).tolist())
        if not labels <= {0, 1}:
            raise DataError(f"{where}: test labels must be 0 (background) or 1 (signal), found {sorted(labels)}")
        if labels != {0, 1}:
            raise DataError(f"{where}: the test set needs both background and signal events, found only label(s) {sorted(labels)}")
        if self.test_index is None:
            object.__setattr__(self, "test_index", np.arange(len(self.x_test), dtype=np.int64))
        elif np.shape(self.test_index) != (len(self.x_test),):
            raise DataError(f"{where}: {np.shape(self.test_index)} test row indices for {len(self.x_test)} test events")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one event or image, e.g. ``(5,)`` or ``(1, 28, 28)``."""
        return tuple(int(s) for s in self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        """Values per event (the product of ``input_shape`` for images)."""
        return int(np.prod(self.input_shape))


KINDS = ("physics", "tabular", "images")


class Dataset(ABC):
    """A configured dataset. ``load(seed)`` builds the arrays.

    The seed is the run's seed. Datasets that are generated (the Gaussian toy) draw from it;
    datasets read from files split with their own fixed ``split_seed`` so that a seed sweep
    varies only the training, as in the paper.
    """

    name: str
    #: what the data are, for the report (``oneclass report`` dispatches on it) and the MLflow tag
    #: ``dataset_kind``: one of :data:`KINDS`. A new dataset class says which.
    kind: ClassVar[str] = "tabular"

    @abstractmethod
    def load(self, seed: int) -> DataBundle:
        """Return the training and test arrays for a run with this seed."""

    def input_shape(self) -> tuple[int, ...]:
        """The shape of one event or image, e.g. ``(5,)`` or ``(1, 28, 28)``: what a detector is built
        for. This default loads the data; a dataset whose settings or file header tell the shape says
        so more cheaply (the tests build every model for every dataset config with it)."""
        return self.load(0).input_shape

    def score_rows(self, path: str, info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Every usable event of another file of this kind, selected and preprocessed as the run whose
        data facts are ``info`` (its ``data_info.json``): ``(x, labels or None, row index)``.
        Used by ``oneclass score``; each dataset kind reads its own files. Datasets that are not
        read from files (the generated Gaussian toy) cannot."""
        raise DataError(f"dataset '{self.name}' ({type(self).__name__}) is generated, not read from a file, so it "
                        "cannot score other files; `oneclass score` works with runs on file datasets (lhco, adbench, "
                        "odds, kdd, mnist, fashion_mnist, cifar10)")

    def trained_on(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` is the file this dataset's training rows (``DataBundle.train_index``) come from."""
        return False


def same_file(a: str | os.PathLike, b: str | os.PathLike | None) -> bool:
    """Whether two paths name the same existing file."""
    try:
        return b is not None and os.path.samefile(a, b)
    except OSError:
        return False


def kind_of(target: Any) -> str | None:
    """The ``kind`` the dataset class ``target`` (a ``_target_``, e.g. a run's ``dataset._target_``
    param) declares; None when the class cannot be found (the job's build reports that)."""
    from hydra.utils import get_class

    try:
        kind = getattr(get_class(str(target)), "kind", None)
    except Exception:
        return None
    return kind if kind in KINDS else None
