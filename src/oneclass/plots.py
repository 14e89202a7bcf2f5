"""Figures built from evaluation results (the pipeline and the report call these; models never do).

Legends sit outside the axes (below them), never on a curve. The report's comparison figures are
in :mod:`oneclass.report.figures`; they share the helpers here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from oneclass.errors import ConfigError  # noqa: E402
from oneclass.metrics import Evaluation, roc_auc, roc_curve, sic_above_cut, sic_curve  # noqa: E402

SIC_LABEL = r"SIC = TPR / $\sqrt{\mathrm{FPR}}$"
ROC_X = "background efficiency (FPR)"
ROC_Y = "signal efficiency (TPR)"
REJECTION_LABEL = "background rejection 1 / FPR"
EXCLUDED = "0.6"  # colour of curve parts a metric leaves out


def check_formats(formats: str | Sequence[str]) -> tuple[str, ...]:
    """Figure formats from ``"png,pdf"`` or a list; a ConfigError names an unknown one."""
    items = [f.strip().lower().lstrip(".") for f in (formats.split(",") if isinstance(formats, str) else formats)]
    items = [f for f in items if f]
    from matplotlib.backend_bases import FigureCanvasBase

    supported = sorted(FigureCanvasBase.get_supported_filetypes())
    bad = [f for f in items if f not in supported]
    if bad or not items:
        raise ConfigError(f"figure format {', '.join(bad) or '(none)'} is not supported; "
                          f"pick from {', '.join(supported)} (e.g. --format png,pdf,svg)")
    return tuple(dict.fromkeys(items))


def save_all(fig: "plt.Figure", stem: Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``stem.<format>`` for each format (png for screens, pdf/svg vector) and close it.
    The saved area is cropped to the drawing, legends outside the axes included."""
    paths = []
    for fmt in formats:
        path = Path(stem).with_suffix(f".{fmt}")
        fig.savefig(path, dpi=150, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


MAX_LABEL = 42  # characters of a detector name in a legend, tick label or panel title


def short_label(text: str, most: int = MAX_LABEL) -> str:
    """``text`` cut to ``most`` characters (an ellipsis marks the cut): legends and tick labels keep
    a figure's width; the full names are in the tables."""
    return text if len(text) <= most else text[: most - 1] + "…"


def wrap_title(text: str, width_in: float, fontsize: float) -> str:
    """``text`` wrapped to lines that fit ``width_in`` inches at ``fontsize`` points, so a long
    ``--title`` adds lines, never width (a saved figure is cropped to its drawing, titles included)."""
    import textwrap

    per_line = max(20, int(width_in * 72 / (0.6 * fontsize)))
    return "\n".join(textwrap.fill(line, per_line) for line in text.splitlines()) if text else text


def _save(fig: "plt.Figure", path: Path) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def legend_below(ax, ncol: int = 1, fontsize: int = 9, **kwargs) -> None:
    """The axes' legend under its x label, outside the plotting area."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=ncol, fontsize=fontsize, frameon=False, **kwargs)


def random_sic(ax) -> None:
    """A random cut keeps FPR = TPR, so its SIC is sqrt(TPR)."""
    t = np.linspace(0, 1, 200)
    ax.plot(t, np.sqrt(t), "k--", lw=1, label="random guess")


def thin(x: np.ndarray, y: np.ndarray, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """At most ~n points of a curve (plots of 10^5-point ROCs stay small)."""
    if len(x) <= n:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, n).astype(int))
    return x[idx], y[idx]


def roc_axes(ax) -> None:
    """Random-guess diagonal, axis labels and unit limits of a ROC panel."""
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="random guess")
    ax.set_xlabel(ROC_X)
    ax.set_ylabel(ROC_Y)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def roc_figure(ev: Evaluation, path: Path, label: str) -> Path:
    """ROC curve (signal efficiency against background efficiency) with the random-guess line."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    fpr, tpr = thin(ev.fpr, ev.tpr)
    ax.plot(fpr, tpr, label=f"{label} (AUC = {ev.auc:.3f})")
    roc_axes(ax)
    legend_below(ax)
    return _save(fig, path)


def sic_figure(ev: Evaluation, path: Path, label: str) -> Path:
    """:func:`draw_sic` saved to ``path``."""
    return _save(draw_sic(ev, label), path)


def draw_sic(ev: Evaluation, label: str) -> "plt.Figure":
    """SIC = TPR / sqrt(FPR) against TPR, as in the paper's Fig. 2 (right).

    Solid: the cuts max SIC is taken over (keeping >= ``ev.min_background`` test background
    events), with the maximum marked; grey dashed: the tighter cuts it leaves out (too few
    background events for a meaningful SIC), clipped at the top of the plot.
    """
    fig, ax = plt.subplots(figsize=(5, 4.5))
    kept = np.rint(ev.fpr * ev.n_background) >= ev.min_background
    tight = (ev.fpr > 0) & ~kept
    if tight.any():  # include the first kept cut so the two parts join
        last = np.flatnonzero(tight)[-1]
        idx = np.r_[np.flatnonzero(tight), last + 1] if last + 1 < len(kept) else np.flatnonzero(tight)
        t, s = thin(ev.tpr[idx], sic_curve(ev.fpr[idx], ev.tpr[idx]))
        ax.plot(t, s, color=EXCLUDED, ls="--", lw=1,
                label=f"cuts keeping < {ev.min_background} background events (not in max SIC)")
    t, s = sic_above_cut(ev.fpr, ev.tpr, ev.n_background, ev.min_background)
    ax.plot(*thin(t, s), color="C0", label=f"{label} (max SIC = {ev.max_sic:.2f})")
    if len(s):
        i = int(np.argmax(s))
        ax.plot([t[i]], [s[i]], "o", color="C0", ms=5)
    random_sic(ax)
    ax.set_xlabel(ROC_Y)
    ax.set_ylabel(SIC_LABEL)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.25 * max(1.0, float(np.max(s)) if len(s) else 1.0))
    legend_below(ax)
    return fig


def detector_styles(labels: list[str]) -> dict[str, dict]:
    """Colour (and, past ten detectors, line style) per detector, the same in every panel."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = ["-", "--", "-.", ":"]
    return {label: {"color": cycle[i % len(cycle)], "ls": styles[(i // len(cycle)) % len(styles)]}
            for i, label in enumerate(labels)}


# --------------------------------------------------------------------------- toy study (paper Fig. 1)
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def snapshot_figure(rows: list[tuple[str, dict]], path: Path, formats: tuple[str, ...] | None = None,
                    title: str | None = None) -> list[Path]:
    """The paper's Fig. 1 from score snapshots (see :mod:`oneclass.run.snapshots`), one row per run:
    left, the score function f(x) after each saved epoch over the background and signal
    histograms (1-D data only); right, the ROC curves of the same epochs overlaid.

    ``path``: a file (its suffix picks the format) or, with ``formats``, a stem.
    """
    fig, axes = plt.subplots(len(rows), 2, figsize=(12, 5.2 * len(rows)), squeeze=False, layout="constrained")
    if title:
        fig.suptitle(title)
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
            ax_f.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8,
                        frameon=False)
        else:
            ax_f.text(0.5, 0.5, "score function: 1-D data only", ha="center", va="center", transform=ax_f.transAxes)
            ax_f.set_axis_off()
        ax_f.set_title(title, fontsize=10)
        styles = ["-", "--", "-.", ":"]
        for i, (e, shade, scores) in enumerate(zip(epochs, shades, snap["scores"])):
            fpr, tpr, _ = roc_curve(scores, labels)
            auc = roc_auc(scores, labels)
            fpr, tpr = thin(fpr, tpr)
            ax_roc.plot(fpr, tpr, color=shade, ls=styles[i % len(styles)], lw=2.5 - 0.4 * (i % 4),
                        label=f"epoch {e} (AUC {auc:.4f})")
        roc_axes(ax_roc)
        legend_below(ax_roc, ncol=2, fontsize=8)
        ax_roc.set_title("ROC after each epoch", fontsize=10)
    if formats:
        return save_all(fig, Path(path), formats)
    return [_save(fig, Path(path))]
