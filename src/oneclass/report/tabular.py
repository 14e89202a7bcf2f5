"""The tabular benchmark's report pieces: a dataset x detector table of one metric (mean +- std over
every run of a cell: seeds and split seeds) and a rank plot across datasets.

Pure functions on run records (:class:`RunRecord`), so the report CLI, the benchmark script and
tests share them:

    records = records_from_runs(mlflow_runs)           # or records_from_rows(csv rows)
    table = metric_table(records, "test_auc")
    markdown_table(table), write_csv(table, path)
    ranks = mean_ranks(table); rank_figure(ranks, stem)

``oneclass report`` writes them when every selected run is on a tabular dataset (tag
``dataset_kind=tabular``, the ``kind`` its dataset class declares), for each ``--metric`` (default AUROC, AUPR, F1 and the fit time).

Datasets are told apart by ``dataset.name`` and ``dataset.protocol`` (``thyroid [adbench]``), so
one sweep over several sets and protocols makes one table. Ranks: per dataset, detectors are
ranked by their mean (1 = best; ties share the average rank; for times, lower is better); the
plot shows the mean rank over datasets on an axis from rank 1 (best) to k (worst), each bar
starting at rank 1, with the Nemenyi critical difference (alpha 0.05) where 2 <= detectors <= 10,
at least :data:`MIN_CD_DATASETS` datasets have every detector and the difference is smaller than the
rank range (else no pair of detectors could differ); otherwise the markdown says why in one line
starting with :data:`NO_CD` (``oneclass report`` prints it as a ``warning:``).

Cells show ``mean ± std (runs)`` at a fixed number of decimals, a one-run cell ``value (1)``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.errors import DataError
from oneclass.report.numbers import fixed
from oneclass.config import canonical

DEFAULT_METRICS = ("test_auc", "test_aupr", "test_f1", "fit_time_s")
# metrics where lower is better (times); every other metric ranks higher = better
LOWER_IS_BETTER = ("fit_time_s", "score_time_s", "fit_s", "score_s")
# Nemenyi two-tailed q_0.05 for k = 2..10 detectors (Demsar 2006, Table 5a)
NEMENYI_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}
# Demsar's Friedman / Nemenyi procedure compares detectors over datasets; with fewer datasets the
# mean ranks are one or two samples and the critical difference is not drawn
MIN_CD_DATASETS = 3
NO_CD = "no critical difference drawn"
# metrics equal to F1 by construction (the cut flags as many rows as there are anomalies)
F1_LIKE = ("test_f1", "test_precision", "test_recall", "f1", "precision", "recall")


@dataclass(frozen=True)
class RunRecord:
    """One run: its dataset label, detector, seeds and metrics."""

    dataset: str
    detector: str
    seed: str = ""
    split_seed: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    # the run's tag ``degenerate`` (a collapsed model, oneclass.models.degeneracy.degeneracy); "" = healthy
    degenerate: str = ""


# marks a table cell holding degenerate runs; the table's footnote names them and their reasons
DEGENERATE_MARK = "†"


def dataset_label(tags: Mapping[str, str], params: Mapping[str, str]) -> str:
    """``<dataset.name> [<protocol>]`` for protocol datasets, else ``dataset.name`` (or the tag)."""
    name = params.get("dataset.name") or tags.get("dataset") or "?"
    protocol = params.get("dataset.protocol")
    return f"{name} [{protocol}]" if protocol else str(name)


def records_from_runs(runs: Iterable[Any]) -> list[RunRecord]:
    """Records of MLflow runs (``run.data.tags``, ``params``, ``metrics``); detector = tag ``model``."""
    out = []
    for run in runs:
        tags, params = dict(run.data.tags), dict(run.data.params)
        out.append(RunRecord(dataset=dataset_label(tags, params), detector=tags.get("model", "?"),
                             seed=canonical(params.get("seed", tags.get("seed", ""))),
                             split_seed=canonical(params.get("dataset.split_seed", "")),
                             metrics=dict(run.data.metrics), degenerate=tags.get("degenerate", "")))
    return out


def records_from_rows(rows: Iterable[Mapping[str, str]], metrics: Iterable[str] = ("auc", "aupr", "f1", "fit_s")
                      ) -> list[RunRecord]:
    """Records of ``benchmarks/bench_tabular.py`` CSV rows (rows with an error are left out)."""
    out = []
    for r in rows:
        if r.get("error"):
            continue
        out.append(RunRecord(dataset=f"{r['set']} [{r['protocol']}]", detector=r["detector"], seed=r["split_seed"],
                             split_seed=r["split_seed"], metrics={m: float(r[m]) for m in metrics if r.get(m) not in (None, "")},
                             degenerate=r.get("degenerate") or ""))
    return out


@dataclass
class MetricTable:
    """``cells[(dataset, detector)] = values`` of one metric, with row and column order."""

    metric: str
    datasets: list[str]
    detectors: list[str]
    cells: dict[tuple[str, str], np.ndarray]
    # (dataset, detector) -> the reasons of its degenerate runs (one entry per such run)
    degenerate: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def mean(self, dataset: str, detector: str) -> float:
        v = self.cells.get((dataset, detector))
        return float(v.mean()) if v is not None and v.size else math.nan

    def std(self, dataset: str, detector: str) -> float:
        """Sample standard deviation (ddof 1) over the cell's runs; 0 for one run."""
        v = self.cells.get((dataset, detector))
        if v is None or v.size == 0:
            return math.nan
        return float(v.std(ddof=1)) if v.size > 1 else 0.0


def metric_table(records: Iterable[RunRecord], metric: str) -> MetricTable:
    """Group ``records`` by (dataset, detector); a DataError when no record has ``metric``."""
    records = list(records)
    cells: dict[tuple[str, str], list[float]] = {}
    degenerate: dict[tuple[str, str], list[str]] = {}
    for r in records:
        value = r.metrics.get(metric)
        if value is None or not math.isfinite(float(value)):
            continue
        cells.setdefault((r.dataset, r.detector), []).append(float(value))
        if r.degenerate:
            degenerate.setdefault((r.dataset, r.detector), []).append(r.degenerate)
    if not cells:
        found = sorted({m for r in records for m in r.metrics})
        raise DataError(f"no run has metric {metric!r}; the runs have: {', '.join(found) or '(none)'}")
    datasets = sorted({d for d, _ in cells})
    detectors = sorted({m for _, m in cells})
    return MetricTable(metric, datasets, detectors, {k: np.asarray(v) for k, v in cells.items()}, degenerate)


def mean_ranks(table: MetricTable) -> dict[str, Any]:
    """Per dataset, rank the detectors by their mean (1 = best, ties averaged), over the datasets
    where every detector has a value. Returns ``{"detectors", "datasets", "ranks" (datasets x
    detectors), "mean_rank", "cd"}`` (``cd``: Nemenyi critical difference at alpha 0.05, or None)."""
    from scipy.stats import rankdata

    complete = [d for d in table.datasets if all((d, m) in table.cells for m in table.detectors)]
    if not complete:
        raise DataError(f"no dataset has runs of all {len(table.detectors)} detectors; ranks need a full row")
    sign = 1.0 if table.metric in LOWER_IS_BETTER else -1.0
    ranks = np.array([rankdata([sign * table.mean(d, m) for m in table.detectors]) for d in complete])
    k, n = len(table.detectors), len(complete)
    cd = NEMENYI_Q05[k] * math.sqrt(k * (k + 1) / (6.0 * n)) if k in NEMENYI_Q05 else None
    return {"detectors": list(table.detectors), "datasets": complete, "ranks": ranks,
            "mean_rank": ranks.mean(axis=0), "cd": cd, "cd_skipped": cd_skipped(k, n, cd)}


def cd_skipped(k: int, n: int, cd: float | None) -> str | None:
    """Why the Nemenyi critical difference of ``k`` detectors over ``n`` datasets is not drawn, or
    None when it is."""
    if cd is None:
        return f"{NO_CD}: Nemenyi's table covers 2 to 10 detectors, these runs have {k}"
    if n < MIN_CD_DATASETS:
        return (f"{NO_CD}: the Nemenyi test needs >= {MIN_CD_DATASETS} datasets with every detector, "
                f"these runs have {n}")
    if cd >= k - 1:
        return (f"{NO_CD}: the Nemenyi CD over {n} datasets ({cd:.2f}) is not below the rank range ({k - 1}), "
                f"so no two detectors can differ; more datasets are needed")
    return None


def markdown_table(table: MetricTable, ranks: dict[str, Any] | None = None, digits: int = 3) -> str:
    """Datasets as rows, detectors as columns, ``mean ± std (runs)``; the best mean per row in bold;
    a last row with the mean rank when ``ranks`` is given."""
    lower = table.metric in LOWER_IS_BETTER
    lines = [f"| dataset | {' | '.join(table.detectors)} |", "|---|" + "---:|" * len(table.detectors)]
    for d in table.datasets:
        means = [table.mean(d, m) for m in table.detectors]
        finite = [v for v in means if math.isfinite(v)]
        best = (min(finite) if lower else max(finite)) if finite else math.nan
        cells = []
        for m, v in zip(table.detectors, means):
            if not math.isfinite(v):
                cells.append("–")
                continue
            text = f"{fixed(v, table.std(d, m), table.cells[d, m].size, digits)} ({table.cells[d, m].size})"
            text = f"**{text}**" if v == best else text
            cells.append(f"{text} {DEGENERATE_MARK}" if (d, m) in table.degenerate else text)
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    if ranks is not None:
        lines.append("| mean rank | " + " | ".join(f"{r:.2f}" for r in ranks["mean_rank"]) + " |")
    lines += ["", f"{table.metric}: mean ± sample std over runs (seeds and split seeds; runs in brackets; one run: "
                  f"its value alone); best mean per dataset in bold" + (f"; mean rank over the {len(ranks['datasets'])} datasets with "
                                                      f"every detector (1 = best)" if ranks else "") + "."]
    if table.metric in F1_LIKE:
        lines += ["", "F1 = precision = recall: the cut flags as many test rows as there are anomalies (threshold at "
                      "the anomaly count), so false positives equal false negatives."]
    if table.degenerate:
        lines += ["", f"{DEGENERATE_MARK} degenerate runs (a collapsed model; their scores are not a result): " + "; ".join(
            f"{d} / {m}: {len(why)} of {table.cells[d, m].size} ({', '.join(sorted(set(why)))})"
            for (d, m), why in sorted(table.degenerate.items())) + "."]
    return "\n".join(lines) + "\n"


def write_csv(table: MetricTable, path: Path) -> Path:
    """One line per (dataset, detector): mean, std, runs."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "detector", "metric", "mean", "std", "runs"])
        for d in table.datasets:
            for m in table.detectors:
                if (d, m) in table.cells:
                    w.writerow([d, m, table.metric, f"{table.mean(d, m):.6g}", f"{table.std(d, m):.6g}",
                                table.cells[d, m].size])
    return path


def rank_figure(ranks: dict[str, Any], stem: Path, metric: str, formats: tuple[str, ...] = ("png", "pdf"),
                title: str = "") -> list[Path]:
    """:func:`draw_ranks` saved as ``stem.<format>``."""
    from oneclass.plots import save_all

    return save_all(draw_ranks(ranks, metric, title), Path(stem), formats)


def draw_ranks(ranks: dict[str, Any], metric: str, title: str = ""):
    """Mean rank per detector (bars from rank 1, the best possible, best detector at the top) with
    each dataset's rank as a dot, and the Nemenyi critical difference drawn from the best mean rank
    where ``ranks["cd_skipped"]`` is None (the title says when it is left out)."""
    from oneclass.plots import plt, short_label, wrap_title

    order = np.argsort(ranks["mean_rank"])
    names = [short_label(ranks["detectors"][i]) for i in order]
    k = len(names)
    height = 0.45 * k + 1.6
    fig, ax = plt.subplots(figsize=(6.5, height))
    y = np.arange(k)[::-1]
    mean = ranks["mean_rank"][order]
    ax.barh(y, mean - 1.0, left=1.0, color="#8fb3d9", label="mean rank")  # a rank axis starts at 1 (best)
    ax.plot(mean, y, "D", color="#2b5d8f", ms=5, clip_on=False)  # visible for a mean rank of exactly 1
    for j, i in enumerate(order):
        ax.plot(ranks["ranks"][:, i], np.full(len(ranks["datasets"]), y[j]), "k.", ms=4, alpha=0.6, clip_on=False,
                label="rank on one dataset" if j == 0 else None)
    skipped = ranks.get("cd_skipped", None if ranks["cd"] is not None else NO_CD)
    if not skipped:
        best = mean[0]
        ax.axvspan(best, min(best + ranks["cd"], k), color="#f2c6c6", alpha=0.5, zorder=0,
                   label=f"within the Nemenyi CD ({ranks['cd']:.2f}) of the best")
    ax.set_yticks(y, names)
    ax.set_xlabel(f"rank by {metric} (1 = best, {k} = worst)")
    ax.set_xlim(1, k + 0.04 * (k - 1))  # from rank 1: a bar's length is how far from the best possible rank
    ax.set_xticks(np.arange(1, k + 1))
    why = "too many detectors" if ranks["cd"] is None else "too few datasets"
    what = f"mean rank over {len(ranks['datasets'])} datasets" + (f" (no critical difference: {why})" if skipped else "")
    ax.set_title(wrap_title(f"{title}: {what}" if title else what, 6.5, 10), fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.5 / height - 0.12), ncol=3, frameon=False)
    return fig


def write_report(records: Iterable[RunRecord], metric: str, output: Path,
                 formats: tuple[str, ...] = ("png", "pdf"), title: str = "") -> tuple[list[Path], str]:
    """``tabular_<metric>.md/.csv`` and ``rank_<metric>.png/.pdf`` in ``output``; returns the files and
    the markdown. The rank plot is left out (said in the markdown) when no dataset has every
    detector; its critical difference when too few datasets do (one line starting with :data:`NO_CD`)."""
    output.mkdir(parents=True, exist_ok=True)
    table = metric_table(records, metric)
    try:
        ranks = mean_ranks(table) if len(table.detectors) > 1 else None
    except DataError as exc:
        ranks, note = None, f"\nno rank plot: {exc}\n"
    else:
        note = f"\n{ranks['cd_skipped']}.\n" if ranks is not None and ranks["cd_skipped"] else ""
    md = f"# {metric} by dataset and detector\n\n" + markdown_table(table, ranks) + note
    files = [output / f"tabular_{metric}.md", write_csv(table, output / f"tabular_{metric}.csv")]
    files[0].write_text(md)
    if ranks is not None:
        files += rank_figure(ranks, output / f"rank_{metric}", metric, tuple(formats), title)
    return files, md
