"""The report's physics views (LHCO): what a resonant-search physicist reads off the scores beyond
the ROC, from the same runs and the same :mod:`oneclass.physics` functions the pipeline logs with.

* ``physics.md`` / ``physics.csv``: per detector, background rejection 1/eps_B at eps_S = 0.2 and
  0.5 (mean ± std over runs; a value marked ``>=`` is a lower bound: some run's cut kept no test
  background) and the mass-sculpting JSD at background efficiency 10 % and 1 % (runs with mjj);
* ``sculpting.<fmt>``: per detector, the test background's mjj histogram before and after the
  cuts at 10 % and 1 % background efficiency (the detector's best run by AUC; its JSD in the
  legend, the mean over runs in the title);
* ``injection.<fmt>``: max SIC and AUC against the injected signal fraction S/(S+B) of the
  training set (``dataset.train_signal_fraction``: n_train background events plus
  round(n_train f / (1 - f)) signal events, so f = S/(S+B) and S/B = f / (1 - f)), for runs that differ in
  it, mean ± std over seeds, one line per model; a tick at every injected fraction.

Numbers in ``physics.md`` follow :func:`oneclass.report.numbers.by_std`: the std at two significant
digits, the mean to the same decimal place, plain decimals (``310 ± 100``, ``0.0056 ± 0.0057``);
one run: its value alone at three significant digits.

The supervised ceiling (``model=supervised``) is drawn in black in the comparison figure
(see :func:`oneclass.report.figures.draw_comparison`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oneclass import metrics
from oneclass.physics import mjj_edges, sculpting, working_point
from oneclass.report.numbers import by_std, significant
from oneclass.report.selection import RunScores

SIGNAL_EFFICIENCIES = (0.2, 0.5)
BACKGROUND_EFFICIENCIES = (0.1, 0.01)
FRACTION = "dataset.train_signal_fraction"
# the injection plot's x axis: the configured fraction, with its definition
FRACTION_LABEL = "injected signal fraction S/(S+B) of the training set (dataset.train_signal_fraction)"
N_BINS = 20


def has_mjj(groups: dict[str, list[RunScores]]) -> bool:
    return any(r.mjj is not None for runs in groups.values() for r in runs)


def _pct(eff: float) -> str:
    return f"{100 * eff:g}"


def physics_rows(groups: dict[str, list[RunScores]]) -> list[dict]:
    """Per detector: ``rej<eff>_mean/_std/_lower_bound`` and ``jsd<eff>_mean/_std`` (NaN without mjj)."""
    rows = []
    for label, runs in groups.items():
        row: dict = {"detector": label, "model": runs[0].model, "n_runs": len(runs)}
        for eff in SIGNAL_EFFICIENCIES:
            wps = [working_point(r.scores, r.labels, eff) for r in runs]
            row[f"rej{_pct(eff)}_mean"], row[f"rej{_pct(eff)}_std"] = metrics.spread([w.rejection for w in wps])
            row[f"rej{_pct(eff)}_lower_bound"] = any(w.lower_bound for w in wps)
            for r, w in zip(runs, wps):
                r.extra[f"rej_eff{_pct(eff)}"] = w.rejection
        for eff in BACKGROUND_EFFICIENCIES:
            jsd = [sculpting(r.scores, r.labels, r.mjj, eff, n_bins=N_BINS).jsd for r in runs if r.mjj is not None]
            row[f"jsd{_pct(eff)}_mean"], row[f"jsd{_pct(eff)}_std"] = metrics.spread(jsd) if jsd else (np.nan, np.nan)
        rows.append(row)
    return rows


def physics_columns() -> list[str]:
    cols = ["detector", "model", "n_runs"]
    for eff in SIGNAL_EFFICIENCIES:
        cols += [f"rej{_pct(eff)}_mean", f"rej{_pct(eff)}_std", f"rej{_pct(eff)}_lower_bound"]
    for eff in BACKGROUND_EFFICIENCIES:
        cols += [f"jsd{_pct(eff)}_mean", f"jsd{_pct(eff)}_std"]
    return cols


def physics_markdown(rows: list[dict]) -> str:
    head = (["detector", "runs"] + [f"1/eps_B at eps_S={eff:g}" for eff in SIGNAL_EFFICIENCIES]
            + [f"JSD at eps_B={_pct(eff)} %" for eff in BACKGROUND_EFFICIENCIES])
    lines = ["## Physics: rejection at fixed signal efficiency, mass sculpting", "",
             "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in rows:
        cells = [r["detector"], str(r["n_runs"])]
        n = int(r["n_runs"])
        for eff in SIGNAL_EFFICIENCIES:
            p = _pct(eff)
            cells.append(("≥ " if r[f"rej{p}_lower_bound"] else "") + by_std(r[f"rej{p}_mean"], r[f"rej{p}_std"], n))
        for eff in BACKGROUND_EFFICIENCIES:
            p = _pct(eff)
            cells.append(by_std(r[f"jsd{p}_mean"], r[f"jsd{p}_std"], n))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "mean ± std over runs: the std at two significant digits, the mean to the same decimal place; a "
                  "row of one run shows its value alone (three significant digits). ≥: some run's cut kept no test "
                  "background event, its rejection is the lower bound n_B. JSD (base 2, 0 = no sculpting): test "
                  f"background mjj after the cut vs before, {N_BINS} equal bins over the background's mjj range.", ""]
    return "\n".join(lines)


def _title(title: str, what: str, width_in: float) -> str:
    from oneclass.plots import wrap_title

    return wrap_title(f"{title}: {what}" if title else what, width_in, 11)


def sculpting_figure(groups: dict[str, list[RunScores]], stem: Path | None, formats: Sequence[str] = (), title: str = ""):
    """mjj of the test background before and after the 10 % and 1 % cuts, one panel per detector:
    the files written (``stem`` None: the figure itself). Title: ``<title>: mass sculpting ...``."""
    from oneclass.plots import plt, save_all, short_label

    shown = {label: runs for label, runs in groups.items() if any(r.mjj is not None for r in runs)}
    if not shown:
        return []
    n = len(shown)
    ncol = min(3, n)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.9 * nrow), squeeze=False, layout="constrained")
    colours = {BACKGROUND_EFFICIENCIES[0]: "tab:blue", BACKGROUND_EFFICIENCIES[1]: "tab:red"}
    for ax, (label, runs) in zip(axes.flat, shown.items()):
        with_mjj = [r for r in runs if r.mjj is not None]
        best = max(with_mjj, key=lambda r: metrics.roc_auc(r.scores, r.labels))
        bkg_mjj = best.mjj[best.labels == 0]
        edges = mjj_edges(bkg_mjj, N_BINS)
        ax.stairs(np.histogram(bkg_mjj, bins=edges)[0] / len(bkg_mjj), edges, color="k", lw=1.5,
                  label="background, no cut")
        means = []
        for eff in BACKGROUND_EFFICIENCIES:
            s = sculpting(best.scores, best.labels, best.mjj, eff, edges=edges)
            ax.stairs(s.passing / max(1, s.passing.sum()), edges, color=colours[eff], lw=1.3,
                      label=f"after cut at eps_B = {_pct(eff)} %: JSD {significant(s.jsd)} ({int(s.passing.sum())} events)")
            jsd = [sculpting(r.scores, r.labels, r.mjj, eff, edges=edges).jsd for r in with_mjj]
            means.append(f"{_pct(eff)} %: {significant(float(np.mean(jsd)))}")
        ax.set_title(f"{short_label(label)} (seed {best.seed})\nmean JSD over {len(with_mjj)} runs: " + ", ".join(means), fontsize=9)
        ax.set_xlabel("$m_{jj}$ [TeV]")
        ax.set_ylabel("fraction of events")
        # below the panel: the histograms fill the whole mjj range, so no corner inside is free
        ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2))
        ax.grid(alpha=0.25, lw=0.5)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(_title(title, "mass sculpting: test background $m_{jj}$ before and after the anomaly-score cut",
                        5.2 * ncol), fontsize=11)
    if stem is None:
        return fig
    return save_all(fig, stem, formats)


def _fraction(r: RunScores) -> float | None:
    value = r.params.get(FRACTION)
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def injection_figure(groups: dict[str, list[RunScores]], min_background: int, stem: Path | None,
                     formats: Sequence[str] = (), title: str = "", names: dict[str, str] | None = None):
    """Max SIC and AUC against the injected signal fraction S/(S+B) of the training set, per model
    (mean ± std over seeds; ``names``: model -> display name); an x tick at every injected fraction;
    drawn only when some model was run at two or more fractions: the files written (``stem`` None:
    the figure itself)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    from oneclass.plots import detector_styles, plt, save_all, short_label

    names = names or {}
    by_model: dict[str, dict[float, list[RunScores]]] = {}
    for runs in groups.values():
        for r in runs:
            f = _fraction(r)
            if f is not None:
                by_model.setdefault(r.model, {}).setdefault(f, []).append(r)
    by_model = {m: fr for m, fr in by_model.items() if len(fr) >= 2}
    if not by_model:
        return []
    styles = detector_styles(sorted(by_model))
    fig, (ax_sic, ax_auc) = plt.subplots(1, 2, figsize=(11, 4.3), layout="constrained")
    injected = sorted({f for fr in by_model.values() for f in fr})
    for model in sorted(by_model):
        fracs = sorted(by_model[model])
        x = np.array(fracs)  # S/(S+B), as configured
        for ax, fn in ((ax_sic, lambda r: metrics.max_sic(r.scores, r.labels, min_background)),
                       (ax_auc, lambda r: metrics.roc_auc(r.scores, r.labels))):
            stats = [metrics.spread([fn(r) for r in by_model[model][f]]) for f in fracs]
            m, s = np.array([a for a, _ in stats]), np.array([b for _, b in stats])
            n = [len(by_model[model][f]) for f in fracs]
            runs = f"{min(n)}-{max(n)} runs" if min(n) != max(n) else f"{n[0]} run{'s' if n[0] > 1 else ''}"
            ax.errorbar(x, m, yerr=s, marker="o", capsize=3, color=styles[model]["color"],
                        label=f"{short_label(names.get(model, model))} ({runs} per fraction)")
            ax.fill_between(x, m - s, m + s, color=styles[model]["color"], alpha=0.15, lw=0)
    positive = [f for f in injected if f > 0]
    for ax, name in ((ax_sic, f"max SIC (cuts keeping >= {min_background} bkg events)"), (ax_auc, "AUC")):
        # linear up to the smallest injected fraction, logarithmic above: 0, 0.001 and 0.03 all readable
        ax.set_xscale("symlog", linthresh=min(positive) if positive else 1e-3, linscale=0.5)
        ax.xaxis.set_major_locator(FixedLocator(injected))  # a tick at every injected fraction, no other
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{f:g}" for f in injected], rotation=45 if len(injected) > 6 else 0)
        ax.set_xlabel(FRACTION_LABEL, fontsize=9)
        ax.set_ylabel(name)
        ax.grid(alpha=0.25, lw=0.5)
    # one legend below both panels (same colours in each), never over the curves
    fig.legend(*ax_sic.get_legend_handles_labels(), loc="outside lower center", ncol=min(4, len(by_model)),
               fontsize=8, frameon=False)
    fig.suptitle(_title(title, "signal-injection scan: one-class training on contaminated background "
                               "(mean ± std over seeds)", 11), fontsize=11)
    if stem is None:
        return fig
    return save_all(fig, stem, formats)


def write(groups: dict[str, list[RunScores]], output: Path, min_background: int,
          formats: Sequence[str], title: str = "", names: dict[str, str] | None = None) -> tuple[list[Path], str]:
    """Every physics view of ``groups``: (files written, the markdown table). ``title``: the
    figures' title; ``names``: model -> display name (``--label``) for the injection scan."""
    from oneclass.report.tables import write_csv

    rows = physics_rows(groups)
    files = [write_csv(rows, output / "physics.csv", physics_columns())]
    md = physics_markdown(rows)
    (output / "physics.md").write_text(md)
    files.append(output / "physics.md")
    files += sculpting_figure(groups, output / "sculpting", formats, title)
    files += injection_figure(groups, min_background, output / "injection", formats, title, names)
    return files, md
