"""Evaluation metrics: plain functions of ``(scores, labels)``; higher score = more anomalous.

SIC (significance improvement characteristic) = TPR / sqrt(FPR): the factor by which a cut on the
score improves S / sqrt(B). Its maximum is only meaningful where enough background survives the
cut, so :func:`max_sic` ignores thresholds that keep fewer than ``min_background`` test
background events (FPR * n_background < min_background).

AUPR is the average precision (sklearn's step-wise sum, no interpolation). Precision, recall and F1
are taken at the cut that flags the test set's anomaly fraction, the NRCAN / DAGMM convention:
threshold = the (1 - anomaly ratio) quantile of the test scores (numpy's linear interpolation),
flagged = ``score >= threshold``. With distinct scores exactly as many rows are flagged as there
are anomalies; rows tied with the threshold value are all flagged (so ties can flag more).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from sklearn.metrics import auc as _sk_auc, average_precision_score, roc_auc_score, roc_curve as _sk_roc_curve

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


def _check_binary(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_check` plus labels that are 0/1 with at least one anomaly (label 1)."""
    scores, labels = _check(scores, labels)
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 (normal) or 1 (anomaly), found {np.unique(labels)[:8].tolist()}")
    if not (labels == 1).any():
        raise ValueError("the test set has no anomalies (label 1): precision, recall and AUPR are undefined")
    return scores, labels.astype(np.int8)


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUPR as average precision: sum over thresholds of (R_k - R_{k-1}) * P_k (sklearn's definition)."""
    scores, labels = _check_binary(scores, labels)
    return float(average_precision_score(labels, scores))


def average_precision_of_curve(fpr: np.ndarray, tpr: np.ndarray, n_anomalies: int, n_normal: int) -> float:
    """:func:`average_precision` from a ROC curve over every distinct score (:func:`roc_curve`)."""
    fpr = np.asarray(fpr, dtype=np.float64)
    tpr = np.asarray(tpr, dtype=np.float64)
    tp = np.rint(tpr * n_anomalies)
    flagged = tp + np.rint(fpr * n_normal)
    precision = np.divide(tp, flagged, out=np.ones_like(tp), where=flagged > 0)
    return float(np.sum(np.diff(tpr) * precision[1:]))


@dataclass(frozen=True)
class RatioCut:
    """Precision, recall and F1 of the cut flagging the test set's anomaly fraction."""

    threshold: float
    n_flagged: int
    precision: float
    recall: float
    f1: float


def ratio_threshold(scores: np.ndarray, anomaly_ratio: float) -> float:
    """The (1 - ``anomaly_ratio``) quantile of ``scores`` (linear interpolation, as np.percentile)."""
    if not 0.0 <= anomaly_ratio <= 1.0:
        raise ValueError(f"anomaly_ratio must be in [0, 1], got {anomaly_ratio}")
    return float(np.quantile(np.asarray(scores, dtype=np.float64), 1.0 - anomaly_ratio))


def ratio_cut(scores: np.ndarray, labels: np.ndarray) -> RatioCut:
    """Flag ``score >= threshold`` with threshold = :func:`ratio_threshold` at the labels' anomaly
    fraction; rows tied with the threshold are all flagged. F1 = 2 TP / (2 TP + FP + FN), 0 when
    nothing flagged is an anomaly."""
    scores, labels = _check_binary(scores, labels)
    n_anomalies = int(labels.sum())
    threshold = ratio_threshold(scores, n_anomalies / len(labels))
    flagged = scores >= threshold
    tp = int(np.count_nonzero(flagged & (labels == 1)))
    n_flagged = int(np.count_nonzero(flagged))
    fp, fn = n_flagged - tp, n_anomalies - tp
    return RatioCut(
        threshold=threshold,
        n_flagged=n_flagged,
        precision=tp / n_flagged,  # n_flagged >= 1: the maximum score is always flagged
        recall=tp / n_anomalies,
        f1=2 * tp / (2 * tp + fp + fn),
    )


def precision_at_ratio(scores: np.ndarray, labels: np.ndarray) -> float:
    """Precision of :func:`ratio_cut`."""
    return ratio_cut(scores, labels).precision


def recall_at_ratio(scores: np.ndarray, labels: np.ndarray) -> float:
    """Recall of :func:`ratio_cut`."""
    return ratio_cut(scores, labels).recall


def f1_at_ratio(scores: np.ndarray, labels: np.ndarray) -> float:
    """F1 of :func:`ratio_cut`."""
    return ratio_cut(scores, labels).f1


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
    return max_sic_of_curve(fpr, tpr, int((np.asarray(labels).ravel() == 0).sum()), min_background)


def max_sic_of_curve(fpr: np.ndarray, tpr: np.ndarray, n_background: int, min_background: int = 10) -> float:
    """:func:`max_sic` of a ROC curve computed on a test set with ``n_background`` background events."""
    if n_background < min_background:
        raise ValueError(f"min_background={min_background} but the test set has only {n_background} background events")
    return float(np.max(sic_above_cut(fpr, tpr, n_background, min_background)[1]))


def _metric(label: str, digits: int) -> Any:
    """An :class:`Evaluation` field that is a reported number: logged to MLflow as ``test_<name>``
    and tabulated by ``oneclass report`` (heading ``label``, ``digits`` decimals)."""
    return field(metadata={"metric": (label, digits)})


@dataclass(frozen=True)
class Evaluation:
    """Everything the pipeline logs about one scored test set.

    A new number is one field here declared with :func:`_metric` (and computed in :func:`evaluate`):
    the pipeline logs it and the report's tables, summary run and ``runs.csv`` show it (see
    :data:`METRICS`). Higher is better for every metric.
    """

    auc: float = _metric("AUC", 4)
    max_sic: float = _metric("max SIC", 3)
    fpr: np.ndarray
    tpr: np.ndarray
    sic: np.ndarray
    aupr: float = _metric("AUPR", 4)
    # at the cut flagging the test set's anomaly fraction (NRCAN / DAGMM convention)
    f1: float = _metric("F1", 4)
    precision: float = _metric("precision", 4)
    recall: float = _metric("recall", 4)
    # test background events, and the fewest a cut may keep to count in max SIC
    n_background: int = 0
    min_background: int = 10
    cut: RatioCut | None = None  # the anomaly-fraction cut behind f1 / precision / recall

    def metrics(self, prefix: str = "test") -> dict[str, float]:
        """The reported numbers, named ``<prefix>_auc``, ``<prefix>_max_sic``, ... (``val`` for a validation split)."""
        return {f"{prefix}_{m.name}": float(getattr(self, m.name)) for m in METRICS}


@dataclass(frozen=True)
class MetricSpec:
    """One reported number of :class:`Evaluation`."""

    name: str  # the Evaluation field, and the report's column stem (auc -> auc_mean, auc_std ...)
    label: str  # table heading
    digits: int  # decimals in tables

    @property
    def key(self) -> str:
        """The MLflow metric name (``test_auc``)."""
        return f"test_{self.name}"


# The reported metrics, in table order; the first ranks runs ("best seed").
METRICS: tuple[MetricSpec, ...] = tuple(MetricSpec(f.name, *f.metadata["metric"]) for f in fields(Evaluation)
                                        if "metric" in f.metadata)


def evaluate(scores: np.ndarray, labels: np.ndarray, min_background: int = 10) -> Evaluation:
    """ROC, SIC, AUC, max SIC, AUPR and the anomaly-fraction cut of one scored test set."""
    fpr, tpr, _ = roc_curve(scores, labels)  # one sort of the scores; AUC, max SIC and AUPR follow from it
    n_background = int((np.asarray(labels).ravel() == 0).sum())
    cut = ratio_cut(scores, labels)
    return Evaluation(
        auc=float(_sk_auc(fpr, tpr)),
        max_sic=max_sic_of_curve(fpr, tpr, n_background, min_background),
        fpr=fpr,
        tpr=tpr,
        sic=sic_curve(fpr, tpr),
        aupr=average_precision_of_curve(fpr, tpr, np.asarray(labels).size - n_background, n_background),
        f1=cut.f1,
        precision=cut.precision,
        recall=cut.recall,
        n_background=n_background,
        min_background=min_background,
        cut=cut,
    )


# --------------------------------------------------------------------------- across seeds
# The report averages curves from different seeds on one FPR grid (never by concatenating
# scores): TPR is interpolated at fixed background efficiencies, then averaged pointwise.


def fpr_grid(n: int = 400, lowest: float = 1e-6) -> np.ndarray:
    """Background efficiencies from ``lowest`` to 1: log-spaced (SIC lives at small FPR) and
    linear (the ROC's bulk), merged and sorted."""
    if not 0 < lowest < 1:
        raise ValueError(f"lowest must be in (0, 1), got {lowest}")
    grid = np.concatenate([np.logspace(np.log10(lowest), 0.0, n), np.linspace(0.0, 1.0, n)[1:]])
    return np.unique(grid)


def roc_on_grid(fpr: np.ndarray, tpr: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """TPR of a ROC curve at the background efficiencies ``grid`` (linear interpolation).

    Where several points share one FPR (ties, vertical steps) the highest TPR is used: the
    efficiency a cut at that background level can reach.
    """
    fpr = np.asarray(fpr, dtype=np.float64)
    tpr = np.asarray(tpr, dtype=np.float64)
    ufpr, inverse = np.unique(fpr, return_inverse=True)
    best = np.full(len(ufpr), -np.inf)
    np.maximum.at(best, inverse, tpr)
    return np.interp(grid, ufpr, best)


def spread(values) -> tuple[float, float]:
    """(mean, std) of per-seed numbers; std is the sample standard deviation (ddof=1), 0 for one value."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no values")
    std = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return float(np.mean(values)), std


@dataclass(frozen=True)
class SeedBand:
    """Mean and +-1 std over seeds of ROC and SIC curves on a common FPR grid.

    ``sic_*`` are NaN where the grid's FPR keeps fewer than ``min_background`` test background
    events in some run (SIC is undefined or pure noise there).
    """

    fpr: np.ndarray
    tpr_mean: np.ndarray
    tpr_std: np.ndarray
    sic_mean: np.ndarray
    sic_std: np.ndarray
    tpr_runs: np.ndarray  # (n_runs, n_grid)
    sic_runs: np.ndarray  # (n_runs, n_grid)


def seed_band(curves: list[tuple[np.ndarray, np.ndarray, int]], grid: np.ndarray | None = None,
              min_background: int = 10) -> SeedBand:
    """Average ROC and SIC curves of several runs.

    Parameters
    ----------
    curves : one ``(fpr, tpr, n_background)`` per run (n_background: test background events).
    grid : FPR grid (default :func:`fpr_grid`).
    min_background : SIC is only computed where every run keeps >= this many background events.
    """
    if not curves:
        raise ValueError("no curves to average")
    grid = fpr_grid() if grid is None else np.asarray(grid, dtype=np.float64)
    tpr_runs = np.stack([roc_on_grid(f, t, grid) for f, t, _ in curves])
    lowest_fpr = max(min_background / n_bkg for _, _, n_bkg in curves)
    sic_runs = np.where(grid[None, :] >= lowest_fpr, sic_curve(np.broadcast_to(grid, tpr_runs.shape), tpr_runs), np.nan)
    ddof = 1 if len(curves) > 1 else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN SIC columns below the cut
        return SeedBand(
            fpr=grid,
            tpr_mean=tpr_runs.mean(axis=0),
            tpr_std=tpr_runs.std(axis=0, ddof=ddof),
            sic_mean=np.nanmean(sic_runs, axis=0),
            sic_std=np.nanstd(sic_runs, axis=0, ddof=ddof),
            tpr_runs=tpr_runs,
            sic_runs=sic_runs,
        )


def sic_above_cut(fpr: np.ndarray, tpr: np.ndarray, n_background: int, min_background: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(tpr, sic) of one ROC curve restricted to cuts keeping >= ``min_background`` background events."""
    fpr = np.asarray(fpr, dtype=np.float64)
    # background events kept at each cut, exactly (fpr * n is an integer up to rounding)
    ok = np.rint(fpr * n_background) >= min_background
    return np.asarray(tpr)[ok], sic_curve(fpr[ok], np.asarray(tpr)[ok])
