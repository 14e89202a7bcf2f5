"""The report's comparison figure (the paper's Fig. 2, plus the jet-tagging view): per detector,
the ROC, the background rejection 1/FPR (log scale) against signal efficiency, and the SIC.

One legend for the three panels sits below them (colours are the same in every panel): short
detector names only (the numbers are in ``table.md``; ``oneclass report --label MODEL=TEXT`` sets
them), in up to three columns, so the figure keeps its width (<= 2400 px) at any number of
detectors and no legend covers a curve. ``--title`` sets the title (wrapped, never wider than the
figure). The mean figure's +-1 std bands are faint fills with thin dotted edges in the detector's
colour, so overlapping bands stay apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oneclass import metrics
from oneclass.metrics import SeedBand, sic_above_cut
from oneclass.plots import (REJECTION_LABEL, ROC_Y, SIC_LABEL, detector_styles, plt, random_sic, roc_axes,
                            save_all, short_label, thin, wrap_title)


CEILING_MODEL = "supervised"  # model=supervised: drawn black, dashed, as the ceiling
BAND_EDGE = "band-edge"  # gid of the dotted lines bounding a +-1 std band
WIDTH_IN = 15.0  # 15 in at 150 dpi: 2250 px, at any number of detectors


def band_alpha(n_detectors: int) -> float:
    """The fill opacity of a +-1 std band: 0.2 up to three detectors, then fading (>= 0.06), the
    dotted edges keep each band visible where fills overlap."""
    return 0.2 if n_detectors <= 3 else max(0.06, 0.6 / n_detectors)


def _best_curves(ax_roc, ax_rej, ax_sic, d: dict, style: dict):
    """Draw the best run's curves; (the ROC line, the largest rejection drawn)."""
    b = d["best"]
    fpr, tpr = np.asarray(b["fpr"]), np.asarray(b["tpr"])
    (line,) = ax_roc.plot(*thin(fpr, tpr), **style)
    kept = np.rint(fpr * b["n_background"]) >= d["min_background"]
    if kept.any():
        ax_rej.plot(*thin(tpr[kept], 1.0 / fpr[kept]), **style)
    t, s = sic_above_cut(fpr, tpr, b["n_background"], d["min_background"])
    ax_sic.plot(*thin(t, s), **style)
    return line, float(1.0 / fpr[kept].min()) if kept.any() else 1.0


def _band(ax, x, lo, hi, color: str, alpha: float, vertical: bool = False) -> None:
    """A +-1 std band: a faint fill and its two edges as thin dotted lines of the same colour."""
    fill = ax.fill_betweenx if vertical else ax.fill_between
    fill(x, lo, hi, color=color, alpha=alpha, lw=0)
    for edge in (lo, hi):
        xy = (edge, x) if vertical else (x, edge)
        ax.plot(*xy, color=color, lw=0.7, ls=":", alpha=0.9, gid=BAND_EDGE, label="_band_edge")


def _mean_curves(ax_roc, ax_rej, ax_sic, d: dict, style: dict):
    """Draw the mean curves with +-1 std bands; (the ROC line, the largest rejection drawn). Band
    fills fade as detectors are added (``style["band_alpha"]``, see :func:`band_alpha`) and have
    dotted edges, so many overlapping bands stay apart."""
    band: SeedBand = d["band"]
    style = dict(style)
    alpha = style.pop("band_alpha", 0.2)
    c = style["color"]
    (line,) = ax_roc.plot(band.fpr, band.tpr_mean, **style)
    _band(ax_roc, band.fpr, np.clip(band.tpr_mean - band.tpr_std, 0, 1), np.clip(band.tpr_mean + band.tpr_std, 0, 1),
          c, alpha)
    ok = np.isfinite(band.sic_mean) & (band.fpr > 0)
    if not ok.any():
        return line, 1.0
    x, sd, rej = band.tpr_mean[ok], band.tpr_std[ok], 1.0 / band.fpr[ok]
    ax_rej.plot(x, rej, **style)
    _band(ax_rej, rej, np.clip(x - sd, 0, 1), np.clip(x + sd, 0, 1), c, alpha, vertical=True)
    m, s = band.sic_mean[ok], band.sic_std[ok]
    ax_sic.plot(x, m, **style)
    _band(ax_sic, x, np.clip(m - s, 0, None), m + s, c, alpha)
    return line, float(rej.max())


def comparison_figure(detectors: list[dict], kind: str, stem: Path, title: str = "",
                      formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """:func:`draw_comparison` saved as ``stem.<format>`` for each of ``formats``."""
    return save_all(draw_comparison(detectors, kind, title), stem, formats)


def draw_comparison(detectors: list[dict], kind: str, title: str = ""):
    """The figure (three panels, one legend below them): ROC, rejection and SIC of every detector: the best run by AUC (``kind="best"``, the paper's
    Fig. 2 top) or the mean over runs with a +-1 std band (``kind="mean"``, Fig. 2 bottom).
    The figure's title is ``<title>: <best run / mean over runs>`` (``title`` "" : the second part alone).

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
    alpha = band_alpha(len(detectors))
    fig, (ax_roc, ax_rej, ax_sic) = plt.subplots(1, 3, figsize=(WIDTH_IN, 4.9 + 0.24 * legend_rows), layout="constrained")
    draw = _best_curves if kind == "best" else _mean_curves
    top_rej, min_bkg = 10.0, detectors[0]["min_background"] if detectors else 1
    handles = []
    for d in detectors:
        style = {**styles[d["label"]], "lw": 1.6, **({"band_alpha": alpha} if kind == "mean" else {})}
        line, rej = draw(ax_roc, ax_rej, ax_sic, d, style)
        top_rej = max(top_rej, rej)
        ceiling = " [supervised ceiling]" if d["model"] == CEILING_MODEL else ""
        handles.append((line, short_label(f"{d['label']}{ceiling}")))
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
    fig.suptitle(wrap_title(f"{title}: {what}" if title else what, WIDTH_IN, 11), fontsize=11)
    return fig
