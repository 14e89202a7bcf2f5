"""Figures built from evaluation results (the pipeline and the report call these; models never do)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from oneclass.metrics import Evaluation, SeedBand, roc_auc, roc_curve, sic_above_cut  # noqa: E402

SIC_LABEL = r"SIC = TPR / $\sqrt{\mathrm{FPR}}$"
ROC_X = "background efficiency (FPR)"
ROC_Y = "signal efficiency (TPR)"


def _save(fig: "plt.Figure", path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def save_all(fig: "plt.Figure", stem: Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf`` (vector, for papers) and close it."""
    fig.tight_layout()
    paths = []
    for fmt in formats:
        path = Path(stem).with_suffix(f".{fmt}")
        fig.savefig(path, dpi=150)
        paths.append(path)
    plt.close(fig)
    return paths


def _random_sic(ax) -> None:
    """A random cut keeps FPR = TPR, so its SIC is sqrt(TPR)."""
    t = np.linspace(0, 1, 200)
    ax.plot(t, np.sqrt(t), "k--", lw=1, label="random guess")


def _thin(x: np.ndarray, y: np.ndarray, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """At most ~n points of a curve (plots of 10^5-point ROCs stay small)."""
    if len(x) <= n:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, n).astype(int))
    return x[idx], y[idx]


def _finish_roc_axes(ax, fontsize: int = 8) -> None:
    """Random-guess diagonal, axis labels and unit limits of a ROC panel."""
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="random guess")
    ax.set_xlabel(ROC_X)
    ax.set_ylabel(ROC_Y)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right", fontsize=fontsize)


def roc_figure(ev: Evaluation, path: Path, label: str) -> Path:
    """ROC curve (signal efficiency against background efficiency) with the random-guess line."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    fpr, tpr = _thin(ev.fpr, ev.tpr)
    ax.plot(fpr, tpr, label=f"{label} (AUC = {ev.auc:.3f})")
    _finish_roc_axes(ax, fontsize=10)
    return _save(fig, path)


def sic_figure(ev: Evaluation, path: Path, label: str) -> Path:
    """SIC = TPR / sqrt(FPR) against TPR, as in the paper's Fig. 2 (right)."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ok = np.isfinite(ev.sic)
    tpr, sic = _thin(ev.tpr[ok], ev.sic[ok])
    ax.plot(tpr, sic, label=f"{label} (max SIC = {ev.max_sic:.2f})")
    _random_sic(ax)
    ax.set_xlabel(ROC_Y)
    ax.set_ylabel(SIC_LABEL)
    ax.set_xlim(0, 1)
    ax.legend(loc="upper right")
    return _save(fig, path)


# --------------------------------------------------------------------------- report (paper Fig. 2)
def detector_colors(labels: list[str]) -> dict[str, str]:
    """One colour per detector, the same in every figure of a report."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {label: cycle[i % len(cycle)] for i, label in enumerate(labels)}


def comparison_figure(detectors: list[dict], kind: str, stem: Path, title: str = "") -> list[Path]:
    """ROC (left) and SIC (right) of every detector: the paper's Fig. 2 top (``kind="best"``)
    or bottom (``kind="mean"``).

    Each entry of ``detectors``: ``label``, ``n_runs``, ``band`` (:class:`SeedBand`), ``best``
    (dict with ``fpr``, ``tpr``, ``auc``, ``max_sic``, ``n_background``, ``seed``),
    ``auc_mean``, ``auc_std``, ``max_sic_mean``, ``min_background``.
    """
    if kind not in ("best", "mean"):
        raise ValueError(f"kind must be 'best' or 'mean', got {kind!r}")
    colors = detector_colors([d["label"] for d in detectors])
    fig, (ax_roc, ax_sic) = plt.subplots(1, 2, figsize=(11, 4.8))
    sic_top = 1.0
    for d in detectors:
        c = colors[d["label"]]
        if kind == "best":
            b = d["best"]
            fpr, tpr = _thin(b["fpr"], b["tpr"])
            ax_roc.plot(fpr, tpr, color=c, label=f"{d['label']} (AUC {b['auc']:.3f}, seed {b['seed']})")
            t, s = sic_above_cut(b["fpr"], b["tpr"], b["n_background"], d["min_background"])
            t, s = _thin(t, s)
            ax_sic.plot(t, s, color=c, label=f"{d['label']} (max {b['max_sic']:.2f})")
            sic_top = max(sic_top, float(np.nanmax(s)) if len(s) else 1.0)
        else:
            band: SeedBand = d["band"]
            n = d["n_runs"]
            ax_roc.plot(band.fpr, band.tpr_mean, color=c,
                        label=f"{d['label']} (AUC {d['auc_mean']:.3f} $\\pm$ {d['auc_std']:.3f}, {n} runs)")
            ax_roc.fill_between(band.fpr, np.clip(band.tpr_mean - band.tpr_std, 0, 1), np.clip(band.tpr_mean + band.tpr_std, 0, 1),
                                color=c, alpha=0.2, lw=0)
            ok = np.isfinite(band.sic_mean)
            x, m, sd = band.tpr_mean[ok], band.sic_mean[ok], band.sic_std[ok]
            ax_sic.plot(x, m, color=c, label=f"{d['label']} (max SIC per run {d['max_sic_mean']:.2f} $\\pm$ {d['max_sic_std']:.2f})")
            ax_sic.fill_between(x, np.clip(m - sd, 0, None), m + sd, color=c, alpha=0.2, lw=0)
            if ok.any():
                sic_top = max(sic_top, float(np.nanmax(m + sd)))
    _finish_roc_axes(ax_roc)
    _random_sic(ax_sic)
    ax_sic.set_xlabel(ROC_Y)
    ax_sic.set_ylabel(SIC_LABEL)
    ax_sic.set_xlim(0, 1)
    ax_sic.set_ylim(0, 1.1 * sic_top)
    ax_sic.legend(loc="upper right", fontsize=8)
    what = "best seed (by AUC)" if kind == "best" else "mean over seeds, band: $\\pm$1 std"
    ax_roc.set_title(f"ROC: {what}", fontsize=10)
    ax_sic.set_title(f"SIC: {what}" + (f", >= {detectors[0]['min_background']} bkg events" if detectors else ""), fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_all(fig, stem)


# --------------------------------------------------------------------------- toy study (paper Fig. 1)
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def snapshot_figure(rows: list[tuple[str, dict]], path: Path, formats: tuple[str, ...] | None = None) -> list[Path]:
    """The paper's Fig. 1 from score snapshots (see :mod:`oneclass.snapshots`), one row per run:
    left, the score function f(x) after each saved epoch over the background and signal
    histograms (1-D data only); right, the ROC curves of the same epochs overlaid.

    ``path``: a file (its suffix picks the format) or, with ``formats``, a stem.
    """
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 4.3 * len(rows)), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for (title, snap), (ax_f, ax_roc) in zip(rows, axes):
        epochs = [int(e) for e in snap["epochs"]]
        labels = np.asarray(snap["labels"])
        shades = [cmap(i / max(1, len(epochs) - 1) * 0.85) for i in range(len(epochs))]
        logit = str(snap.get("score_name", "score")) == "logit"
        if "grid" in snap:
            x = np.asarray(snap["x"])
            bins = np.linspace(snap["grid"][0], snap["grid"][-1], 80)
            ax_f.hist(x[labels == 0], bins=bins, density=True, color="0.6", alpha=0.6, label="background")
            ax_f.hist(x[labels == 1], bins=bins, density=True, color="tab:red", alpha=0.4, label="signal")
            ax_f.set_xlabel("x")
            ax_f.set_ylabel("density (histograms)")
            ax_s = ax_f.twinx()
            for e, shade, g in zip(epochs, shades, snap["grid_scores"]):
                ax_s.plot(snap["grid"], _sigmoid(g) if logit else g, color=shade, lw=2, label=f"epoch {e}")
            ax_s.set_ylabel("network score f(x)" if logit else "anomaly score")
            if logit:
                ax_s.set_ylim(0, 1.02)
            h1, l1 = ax_f.get_legend_handles_labels()
            h2, l2 = ax_s.get_legend_handles_labels()
            ax_f.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
        else:
            ax_f.text(0.5, 0.5, "score function: 1-D data only", ha="center", va="center", transform=ax_f.transAxes)
            ax_f.set_axis_off()
        ax_f.set_title(title, fontsize=10)
        styles = ["-", "--", "-.", ":"]
        for i, (e, shade, scores) in enumerate(zip(epochs, shades, snap["scores"])):
            fpr, tpr, _ = roc_curve(scores, labels)
            auc = roc_auc(scores, labels)
            fpr, tpr = _thin(fpr, tpr)
            ax_roc.plot(fpr, tpr, color=shade, ls=styles[i % len(styles)], lw=2.5 - 0.4 * (i % 4),
                        label=f"epoch {e} (AUC {auc:.4f})")
        _finish_roc_axes(ax_roc)
        ax_roc.set_title("ROC after each epoch", fontsize=10)
    if formats:
        return save_all(fig, Path(path), formats)
    return [_save(fig, Path(path))]
