"""Figures built from evaluation results (the pipeline and the report call these; models never do)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from oneclass.metrics import Evaluation  # noqa: E402


def _save(fig: "plt.Figure", path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _thin(x: np.ndarray, y: np.ndarray, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """At most ~n points of a curve (plots of 10^5-point ROCs stay small)."""
    if len(x) <= n:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, n).astype(int))
    return x[idx], y[idx]


def roc_figure(ev: Evaluation, path: Path, label: str) -> Path:
    """ROC curve (signal efficiency against background efficiency) with the random-guess line."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    fpr, tpr = _thin(ev.fpr, ev.tpr)
    ax.plot(fpr, tpr, label=f"{label} (AUC = {ev.auc:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="random guess")
    ax.set_xlabel("background efficiency (FPR)")
    ax.set_ylabel("signal efficiency (TPR)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    return _save(fig, path)


def sic_figure(ev: Evaluation, path: Path, label: str) -> Path:
    """SIC = TPR / sqrt(FPR) against TPR, as in the paper's Fig. 2 (right)."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ok = np.isfinite(ev.sic)
    tpr, sic = _thin(ev.tpr[ok], ev.sic[ok])
    ax.plot(tpr, sic, label=f"{label} (max SIC = {ev.max_sic:.2f})")
    ax.axhline(1.0, color="k", ls="--", lw=1, label="random guess")
    ax.set_xlabel("signal efficiency (TPR)")
    ax.set_ylabel("SIC = TPR / sqrt(FPR)")
    ax.set_xlim(0, 1)
    ax.legend(loc="upper right")
    return _save(fig, path)
