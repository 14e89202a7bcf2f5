"""What a physicist reads off an anomaly score beyond the ROC: background rejection and SIC at a
fixed signal efficiency, and mass sculpting.

All are pure functions of (scores, labels) and, for sculpting, the test events' dijet mass mjj.

* **Working point** at signal efficiency eps_S: the cut keeping the fraction eps_S of the signal
  (the highest-scoring ones); its background efficiency eps_B = n_B,pass / n_B, the rejection
  1/eps_B with the Poisson uncertainty of the passing count, (1/eps_B) / sqrt(n_B,pass), and
  SIC = eps_S / sqrt(eps_B). A cut that keeps **no** background event has no finite rejection: the
  value reported is the lower bound n_B (at most one event would pass in a sample twice as large)
  and the working point says so (``lower_bound``); SIC likewise becomes eps_S sqrt(n_B).
* **Sculpting**: for the background test events, the mjj histogram of those passing a cut at
  background efficiency eps_B (10 %, 1 %) against the inclusive one, on fixed bins; the
  Jensen-Shannon divergence (base 2, in [0, 1]; 0 = no sculpting) and 1/JSD, the jet-tagging
  convention. A score correlated with mjj sculpts a fake bump; this number tells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from oneclass.errors import ConfigError


@dataclass(frozen=True)
class WorkingPoint:
    """A cut at a requested signal efficiency."""

    signal_efficiency: float  # the requested eps_S
    achieved_efficiency: float  # the cut's eps_S (>= the request; differs by ties and rounding)
    background_efficiency: float
    n_background_pass: int
    n_background: int
    rejection: float  # 1 / eps_B, or the lower bound n_B when no background passes
    rejection_err: float  # Poisson uncertainty; NaN for a lower bound
    lower_bound: bool
    sic: float


def check_efficiency(value: float, name: str) -> float:
    """An efficiency strictly between 0 and 1, else a one-line ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"{name} must be numbers strictly between 0 and 1 (efficiencies), got {value!r}")
    return float(value)


def working_point(scores: np.ndarray, labels: np.ndarray, signal_efficiency: float) -> WorkingPoint:
    """The cut ``score >= t`` keeping ``signal_efficiency`` of the signal (see the module docstring)."""
    eff = check_efficiency(signal_efficiency, "signal efficiency")
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    sig = np.sort(scores[labels == 1])[::-1]
    bkg = scores[labels == 0]
    if len(sig) == 0 or len(bkg) == 0:
        raise ValueError("a working point needs signal and background events")
    k = max(1, math.ceil(eff * len(sig)))
    threshold = sig[k - 1]
    achieved = float(np.count_nonzero(sig >= threshold)) / len(sig)
    n_pass = int(np.count_nonzero(bkg >= threshold))
    n_b = len(bkg)
    if n_pass == 0:
        return WorkingPoint(eff, achieved, 0.0, 0, n_b, float(n_b), float("nan"), True, achieved * math.sqrt(n_b))
    eps_b = n_pass / n_b
    rejection = 1.0 / eps_b
    return WorkingPoint(eff, achieved, eps_b, n_pass, n_b, rejection, rejection / math.sqrt(n_pass), False,
                        achieved / math.sqrt(eps_b))


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """JSD of two histograms (normalised here), base 2: in [0, 1]."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return 0.5 * kl(p) + 0.5 * kl(q)


@dataclass(frozen=True)
class Sculpting:
    """mjj of background events before and after a cut at ``background_efficiency``."""

    background_efficiency: float
    jsd: float
    edges: np.ndarray
    inclusive: np.ndarray  # counts per bin
    passing: np.ndarray

    @property
    def inverse_jsd(self) -> float:
        return 1.0 / self.jsd if self.jsd > 0 else float("inf")


def mjj_edges(mjj: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Fixed equal-width bins over the background's mjj range."""
    lo, hi = float(np.min(mjj)), float(np.max(mjj))
    if not hi > lo:
        hi = lo + 1e-9
    return np.linspace(lo, hi, n_bins + 1)


def sculpting(scores: np.ndarray, labels: np.ndarray, mjj: np.ndarray, background_efficiency: float,
              edges: np.ndarray | None = None, n_bins: int = 20) -> Sculpting:
    """JSD between the background's mjj distribution after ``score >= t`` (keeping
    ``background_efficiency`` of the background) and the inclusive one."""
    eff = check_efficiency(background_efficiency, "background efficiency")
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    mjj = np.asarray(mjj, dtype=np.float64)
    if mjj.shape != scores.shape:
        raise ValueError(f"mjj has shape {mjj.shape}, scores {scores.shape}")
    bkg_scores, bkg_mjj = scores[labels == 0], mjj[labels == 0]
    k = max(1, math.ceil(eff * len(bkg_scores)))
    threshold = np.sort(bkg_scores)[::-1][k - 1]
    passing = bkg_scores >= threshold
    edges = mjj_edges(bkg_mjj, n_bins) if edges is None else np.asarray(edges, dtype=np.float64)
    inclusive, _ = np.histogram(bkg_mjj, bins=edges)
    after, _ = np.histogram(bkg_mjj[passing], bins=edges)
    return Sculpting(eff, jensen_shannon(after, inclusive), edges, inclusive, after)


def _pct(eff: float) -> str:
    """0.2 -> '20', 0.01 -> '1', 0.005 -> '0p5': metric-name safe."""
    text = f"{100 * eff:g}"
    return text.replace(".", "p")


def physics_metrics(scores: np.ndarray, labels: np.ndarray, signal_efficiencies: Sequence[float] = (0.2, 0.5),
                    mjj: np.ndarray | None = None, background_efficiencies: Sequence[float] = (0.1, 0.01),
                    n_bins: int = 20) -> dict[str, float]:
    """Flat metrics: ``rej_eff20`` (1/eps_B at eps_S = 20 %), ``rej_eff20_err``,
    ``rej_eff20_lower_bound`` (1 when no background passes: the value is a lower bound),
    ``sic_eff20``; with ``mjj``: ``jsd_bkg10`` and ``inv_jsd_bkg10`` (cut at eps_B = 10 %)."""
    out: dict[str, float] = {}
    for eff in signal_efficiencies:
        wp = working_point(scores, labels, eff)
        tag = _pct(eff)
        out[f"rej_eff{tag}"] = wp.rejection
        out[f"rej_eff{tag}_err"] = wp.rejection_err
        out[f"rej_eff{tag}_lower_bound"] = float(wp.lower_bound)
        out[f"sic_eff{tag}"] = wp.sic
    if mjj is not None:
        for eff in background_efficiencies:
            s = sculpting(scores, labels, mjj, eff, n_bins=n_bins)
            out[f"jsd_bkg{_pct(eff)}"] = s.jsd
            out[f"inv_jsd_bkg{_pct(eff)}"] = s.inverse_jsd
    return out
