"""Evaluation metrics: plain functions of ``(scores, labels)``; higher score = more anomalous.

SIC (significance improvement characteristic) = TPR / sqrt(FPR): the factor by which a cut on the
score improves S / sqrt(B). Its maximum is only meaningful where enough background survives the
cut, so :func:`max_sic` ignores thresholds that keep fewer than ``min_background`` test
background events (FPR * n_background < min_background).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve as _sk_roc_curve

from oneclass.errors import TrainingError


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"{scores.shape[0]} scores for {labels.shape[0]} labels")
    if not np.isfinite(scores).all():
        n_bad = int((~np.isfinite(scores)).sum())
        raise TrainingError(f"{n_bad} of {len(scores)} scores are NaN or infinite; the model diverged")
    return scores, labels


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half)."""
    scores, labels = _check(scores, labels)
    return float(roc_auc_score(labels, scores))


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) over every distinct score value, starting at (0, 0)."""
    scores, labels = _check(scores, labels)
    fpr, tpr, thresholds = _sk_roc_curve(labels, scores, drop_intermediate=False)
    return fpr, tpr, thresholds


def sic_curve(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """TPR / sqrt(FPR) pointwise; NaN where FPR = 0 (undefined)."""
    fpr = np.asarray(fpr, dtype=np.float64)
    tpr = np.asarray(tpr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(fpr > 0, tpr / np.sqrt(np.where(fpr > 0, fpr, 1.0)), np.nan)


def max_sic(scores: np.ndarray, labels: np.ndarray, min_background: int = 10) -> float:
    """Maximum of TPR / sqrt(FPR) over thresholds keeping >= ``min_background`` background events."""
    fpr, tpr, _ = roc_curve(scores, labels)
    n_background = int((np.asarray(labels).ravel() == 0).sum())
    if n_background < min_background:
        raise ValueError(f"min_background={min_background} but the test set has only {n_background} background events")
    # counts of background kept at each threshold, exactly (fpr * n is an integer up to rounding)
    kept = np.rint(fpr * n_background)
    ok = kept >= min_background
    return float(np.max(sic_curve(fpr[ok], tpr[ok])))


@dataclass(frozen=True)
class Evaluation:
    """Everything the pipeline logs about one scored test set."""

    auc: float
    max_sic: float
    fpr: np.ndarray
    tpr: np.ndarray
    sic: np.ndarray

    def metrics(self) -> dict[str, float]:
        return {"test_auc": self.auc, "test_max_sic": self.max_sic}


def evaluate(scores: np.ndarray, labels: np.ndarray, min_background: int = 10) -> Evaluation:
    """ROC, SIC, AUC and max SIC of one scored test set."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return Evaluation(
        auc=roc_auc(scores, labels),
        max_sic=max_sic(scores, labels, min_background),
        fpr=fpr,
        tpr=tpr,
        sic=sic_curve(fpr, tpr),
    )
