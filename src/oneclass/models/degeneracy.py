"""Has a fitted detector collapsed? The checks behind "a degenerate model is never reported as a
result": a constant or near-constant code or score on the training rows, dead code units, NaN.

:func:`degeneracy` applies a detector's own ``degeneracy(x)`` hook (Lightning detectors check their
learned code with :func:`code_degeneracy`), or :func:`score_degeneracy` of its scores; the job
engine calls it once after fit and tags the run ``degenerate=<reason>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# a code unit or a score whose standard deviation over the training rows is at most this (absolute,
# plus this times its mean magnitude) carries no information: float32 noise, not a representation
DEGENERATE_STD = 1e-6
# training rows the degeneracy checks look at (evenly spaced): enough to see a spread, cheap on KDD
DEGENERACY_ROWS = 10_000


def _flat(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(len(values), -1)


def score_degeneracy(scores: Any) -> str | None:
    """``nan_score`` / ``constant_score`` for scores of the training rows, else None."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not np.isfinite(s).all():
        return "nan_score"
    if len(s) > 1 and s.std() <= DEGENERATE_STD * (1.0 + np.abs(s).mean()):
        return "constant_score"
    return None


def code_degeneracy(codes: Any) -> str | None:
    """``nan_code``, ``constant_code`` (every unit constant over the rows) or ``dead_code_units=k/n``
    (k of the n code units constant) for a learned representation of the training rows, else None."""
    c = _flat(codes)
    if not np.isfinite(c).all():
        return "nan_code"
    if len(c) < 2:
        return None
    dead = c.std(axis=0) <= DEGENERATE_STD * (1.0 + np.abs(c).mean(axis=0))
    if dead.all():
        return "constant_code"
    return f"dead_code_units={int(dead.sum())}/{dead.size}" if dead.any() else None


def training_sample(x: np.ndarray, rows: int = DEGENERACY_ROWS) -> np.ndarray:
    """At most ``rows`` evenly spaced rows of ``x`` (all when fewer)."""
    x = np.asarray(x)
    return x if len(x) <= rows else x[np.linspace(0, len(x) - 1, rows).astype(np.int64)]


def degeneracy(detector: Any, x_train: np.ndarray) -> str | None:
    """The fitted ``detector``'s failure mode on its training rows (its own ``degeneracy`` hook, or
    the score check for detectors without one), None when healthy."""
    x = training_sample(x_train)
    hook = getattr(detector, "degeneracy", None)
    if callable(hook):
        return hook(x)
    return score_degeneracy(detector.score(x))
