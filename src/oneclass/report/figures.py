"""The report's comparison figure (the paper's Fig. 2, plus the jet-tagging view): per detector,
the ROC, the background rejection 1/FPR (log scale) against signal efficiency, and the SIC.

One legend for the three panels sits below them (colours are the same in every panel): short
detector names only (the numbers are in ``table.md``), in up to three columns, so the figure keeps
its width (<= 2400 px) at any number of detectors and no legend covers a curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oneclass import metrics
from oneclass.metrics import SeedBand, sic_above_cut
from oneclass.plots import REJECTION_LABEL, ROC_Y, SIC_LABEL, detector_styles, plt, random_sic, roc_axes, save_all, thin


CEILING_MODEL = "supervised"  # model=supervised: drawn black, dashed, as the ceiling


MAX_LABEL = 42  # legend characters per detector


def _short_label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _best_curves(ax_roc, ax_rej, ax_sic, d: dict, style: dict) -> float:
    """Draw the best run's curves; the largest rejection drawn."""
    b = d["best"]
    fpr, tpr = np.asarray(b["fpr"]), np.asarray(b["tpr"])
    ax_roc.plot(*thin(fpr, tpr), **style)
    kept = np.rint(fpr * b["n_background"]) >= d["min_background"]
    if kept.any():
        ax_rej.plot(*thin(tpr[kept], 1.0 / fpr[kept]), **style)
    t, s = sic_above_cut(fpr, tpr, b["n_background"], d["min_background"])
    ax_sic.plot(*thin(t, s), **style)
    return float(1.0 / fpr[kept].min()) if kept.any() else 1.0


def _mean_curves(ax_roc, ax_rej, ax_sic, d: dict, style: dict) -> float:
    """Draw the mean curves with +-1 std bands; the largest rejection drawn. Bands fade as detectors
    are added (``style["band_alpha"]``), so many overlapping bands stay apart."""
    band: SeedBand = d["band"]
    style = dict(style)
    alpha = style.pop("band_alpha", 0.2)
    c = style["color"]
    ax_roc.plot(band.fpr, band.tpr_mean, **style)
    ax_roc.fill_between(band.fpr, np.clip(band.tpr_mean - band.tpr_std, 0, 1), np.clip(band.tpr_mean + band.tpr_std, 0, 1),
                        color=c, alpha=alpha, lw=0)
    ok = np.isfinite(band.sic_mean) & (band.fpr > 0)
    if not ok.any():
        return 1.0
    x, sd, rej = band.tpr_mean[ok], band.tpr_std[ok], 1.0 / band.fpr[ok]
    ax_rej.plot(x, rej, **style)
    ax_rej.fill_betweenx(rej, np.clip(x - sd, 0, 1), np.clip(x + sd, 0, 1), color=c, alpha=alpha, lw=0)
    m, s = band.sic_mean[ok], band.sic_std[ok]
    ax_sic.plot(x, m, **style)
    ax_sic.fill_between(x, np.clip(m - s, 0, None), m + s, color=c, alpha=alpha, lw=0)
    return float(rej.max())


def comparison_figure(detectors: list[dict], kind: str, stem: Path, title: str = "",
                      formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """:func:`draw_comparison` saved as ``stem.<format>`` for each of ``formats``."""
    return save_all(draw_comparison(detectors, kind, title), stem, formats)


def draw_comparison(detectors: list[dict], kind: str, title: str = ""):
    """The figure (three panels, one legend below them): ROC, rejection and SIC of every detector: the best run by AUC (``kind="best"``, the paper's
    Fig. 2 top) or the mean over runs with a +-1 std band (``kind="mean"``, Fig. 2 bottom).

    Each entry of ``detectors`` (from ``stats.summarize``): ``label``, ``n_runs``, ``band``
    (:class:`SeedBand`), ``best`` (``fpr``, ``tpr``, ``n_background``, ``seed`` and each metric),
    ``<metric>_mean``, ``<metric>_std``, ``min_background``. Rejection and SIC are drawn only for
    cuts keeping >= ``min_background`` test background events.
    """
    if kind not in ("best", "mean"):
        raise ValueError(f"kind must be 'best' or 'mean', got {kind!r}")
    styles = detector_styles([d["label"] for d in detectors])
    for d in detectors:  # the supervised classifier is the ceiling the one-class detectors are read against
        if d["model"] == CEILING_MODEL:
            styles[d["label"]] = {"color": "k", "ls": "--"}
    # short legend entries (the numbers are in table.md), up to 3 columns: the figure keeps its
    # width (15 in at 150 dpi, <= 2400 px) at any number of detectors
    ncol = 1 if len(detectors) <= 3 else 2 if len(detectors) <= 6 else 3
    legend_rows = math.ceil((len(detectors) + 1) / ncol)
    band_alpha = 0.2 if len(detectors) <= 3 else max(0.06, 0.6 / len(detectors))
    fig, (ax_roc, ax_rej, ax_sic) = plt.subplots(1, 3, figsize=(15, 4.9 + 0.24 * legend_rows), layout="constrained")
    draw = _best_curves if kind == "best" else _mean_curves
    top_rej, min_bkg = 10.0, detectors[0]["min_background"] if detectors else 1
    handles = []
    for d in detectors:
        style = {**styles[d["label"]], "lw": 1.6, **({"band_alpha": band_alpha} if kind == "mean" else {})}
        top_rej = max(top_rej, draw(ax_roc, ax_rej, ax_sic, d, style))
        ceiling = " [supervised ceiling]" if d["model"] == CEILING_MODEL else ""
        handles.append((ax_roc.get_lines()[-1], _short_label(f"{d['label']}{ceiling}")))
    roc_axes(ax_roc)
    random_sic(ax_sic)
    t = np.logspace(-6, 0, 300)
    ax_rej.plot(t, 1.0 / t, "k--", lw=1)
    ax_rej.set_yscale("log")
    ax_rej.set_xlim(0, 1)
    ax_rej.set_ylim(1, 1.5 * top_rej)
    ax_rej.set_xlabel(ROC_Y)
    ax_rej.set_ylabel(REJECTION_LABEL)
    ax_sic.set_xlabel(ROC_Y)
    ax_sic.set_ylabel(SIC_LABEL)
    ax_sic.set_xlim(0, 1)
    ax_sic.set_ylim(0, max(1.1, ax_sic.get_ylim()[1]))
    for ax in (ax_roc, ax_rej, ax_sic):
        ax.grid(alpha=0.25, lw=0.5)
    ax_roc.set_title("ROC", fontsize=10)
    ax_rej.set_title(f"background rejection (cuts keeping >= {min_bkg} bkg events)", fontsize=10)
    ax_sic.set_title(f"SIC (cuts keeping >= {min_bkg} bkg events)", fontsize=10)
    handles.append((ax_roc.get_lines()[-1], "random guess"))
    fig.legend([h for h, _ in handles], [t for _, t in handles], loc="outside lower center", ncol=ncol, fontsize=9,
               frameon=False)
    what = f"best run (by {metrics.METRICS[0].label}) per detector" if kind == "best" else "mean over runs, band: $\\pm$1 std"
    fig.suptitle(f"{title}: {what}" if title else what, fontsize=11)
    return fig
