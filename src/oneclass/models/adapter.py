"""The base of the scikit-learn style adapters (OC-SVM, RecForest, any PyOD detector).

An adapter wraps an estimator that is not trained by Lightning. :class:`Adapter` holds the part
every adapter shares, so a new one writes only its estimator:

* ``__init__`` stores the keyword arguments (scikit-learn's convention) and may call
  :meth:`Adapter.validate` to refuse bad ones before any data are read;
* :meth:`Adapter.validate` is the one place parameters are checked: the input shape, then the
  subclass's :meth:`Adapter.check_params`; ``fit`` always runs it;
* ``fit(x, trainer=None)`` checks ``x`` against ``(n, *input_shape)``, flattens images to vectors
  (float64), runs :meth:`Adapter.check_rows` and the subclass's :meth:`Adapter.fit_rows`;
* ``score(x)`` refuses an unfitted adapter, flattens ``x`` the same way, calls
  :meth:`Adapter.score_rows` and refuses non-finite scores; it returns float64, shape (n,), higher
  = more anomalous (the subclass flips its estimator's sign once, in ``score_rows``).

The error messages name the adapter (:attr:`Adapter.label`) and are one line each.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from oneclass.errors import TrainingError
from oneclass.models.base import flatten_input, input_shape_of


class Adapter:
    """A scikit-learn style detector behind the contract of :mod:`oneclass.models.base`.

    Subclasses set :attr:`fitted` (the attribute ``fit_rows`` sets) and implement
    :meth:`fit_rows` and :meth:`score_rows` on flat float64 rows; they may override
    :meth:`check_params` and :meth:`check_rows`. ``input_shape`` / ``n_features`` are stored by
    the subclass's ``__init__`` (``n_features=d`` is the same as ``input_shape=(d,)``).
    """

    # the fitted attribute whose presence means "fitted" (kept in joblib pickles of fitted adapters)
    fitted: ClassVar[str] = "estimator_"

    input_shape: Any
    n_features: Any

    @property
    def label(self) -> str:
        """The adapter's name in error messages."""
        return type(self).__name__

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check every parameter (one line per problem) and set ``shape_``, the input shape."""
        self.shape_ = input_shape_of(self.input_shape, self.n_features)
        self.check_params()

    def check_params(self) -> None:
        """The subclass's parameter checks (after ``shape_`` is set); none by default."""

    def check_rows(self, x: np.ndarray) -> None:
        """The subclass's checks of the flattened training rows ``x`` (n, d); none by default."""

    def rows(self, x: Any) -> np.ndarray:
        """``x`` of shape ``(n, *input_shape)`` as float64 rows ``(n, d)``; one line when the shape is wrong."""
        return flatten_input(self.label, x, self.shape_)

    # ------------------------------------------------------------------ to implement
    def fit_rows(self, x: np.ndarray) -> None:  # pragma: no cover - abstract
        """Fit the estimator on the flat training rows ``x`` (n, d) and store it (``fitted``)."""
        raise NotImplementedError

    def score_rows(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Scores of the flat rows ``x`` (n, d), shape (n,), higher = more anomalous."""
        raise NotImplementedError

    # ------------------------------------------------------------------ contract
    def fit(self, x: np.ndarray, trainer: Any = None) -> "Adapter":
        """Fit on background-only events ``x`` (n, *input_shape); ``trainer`` is ignored (no Lightning)."""
        self.validate()
        x = self.rows(x)
        self.check_rows(x)
        self.fit_rows(x)
        self.n_train_ = len(x)
        return self

    def check_fitted(self) -> None:
        """One line when ``score`` is called before ``fit``."""
        if not hasattr(self, self.fitted):
            raise TrainingError(f"{self.label}.score called before fit")

    def score(self, x: np.ndarray) -> np.ndarray:
        """Scores of ``x`` (n, *input_shape) as float64, shape (n,), finite; higher = more anomalous."""
        self.check_fitted()
        scores = np.asarray(self.score_rows(self.rows(x)), dtype=np.float64).reshape(-1)
        bad = int((~np.isfinite(scores)).sum())
        if bad:
            raise TrainingError(f"{self.label} produced {bad} non-finite scores")
        return scores


def in_chunks(fn: Any, x: np.ndarray, size: int) -> np.ndarray:
    """``fn`` applied to consecutive chunks of at most ``size`` rows of ``x``, concatenated (float64)."""
    parts = [np.asarray(fn(x[i : i + size]), dtype=np.float64).reshape(-1) for i in range(0, len(x), size)]
    return np.concatenate(parts) if parts else np.zeros(0)


__all__ = ["Adapter", "in_chunks"]
