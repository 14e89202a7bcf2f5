"""The report's tables (``table.csv``, ``table.md``, ``runs.csv``) and the numbers of its summary run.

Every metric column comes from :data:`oneclass.metrics.METRICS` (read when a table is made): a
metric added to :class:`oneclass.metrics.Evaluation` appears in every table without editing this
module.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from oneclass import metrics
from oneclass.metrics import MetricSpec
from oneclass.report.stats import is_split_seed

STATS = ("mean", "std", "best")  # per detector and metric: <metric>_mean, _std, _best
REF_STATS = ("mean", "min", "max")  # per reference row and metric: ref_<metric>_mean, _min, _max


def table_columns() -> list[str]:
    """``table.csv``: per detector, every metric's mean, std and best, then the reference values."""
    ms = metrics.METRICS
    return (["detector", "model", "n_runs"] + [f"{m.name}_{s}" for m in ms for s in STATS]
            + ["best_seed", "split_seeds", "ref_settings", "ref_runs"] + [f"ref_{m.name}_{s}" for m in ms for s in REF_STATS])


def run_columns() -> list[str]:
    """``runs.csv``: one line per run."""
    return ["detector", "run_id", "run_name", "seed", "split_seed"] + [m.name for m in metrics.METRICS] + ["n_background"]


def table_rows(summary: list[dict]) -> list[dict]:
    """One row of :func:`table_columns` per detector (``summary`` from :func:`stats.summarize`)."""
    rows = []
    for d in summary:
        ref = d["reference"] or {}
        row = {"detector": d["label"], "model": d["model"], "n_runs": d["n_runs"]}
        row.update({f"{m.name}_{s}": d[f"{m.name}_{s}"] for m in metrics.METRICS for s in STATS})
        row.update(best_seed=d["best_seed"], split_seeds=d["split_seeds"], ref_settings=ref.get("settings", ""),
                   ref_runs="" if ref.get("runs") is None else int(ref["runs"]))
        row.update({f"ref_{m.name}_{s}": "" if ref.get(f"{m.name}_{s}") is None else ref[f"{m.name}_{s}"]
                    for m in metrics.METRICS for s in REF_STATS})
        rows.append(row)
    return rows


def run_rows(groups: dict[str, list]) -> list[dict]:
    """One row of :func:`run_columns` per input run (after :func:`stats.summarize` filled ``run.extra``)."""
    rows = []
    for detector, members in groups.items():
        for r in members:
            split = next((v for k, v in r.params.items() if is_split_seed(k)), "")
            rows.append({"detector": detector, "run_id": r.run_id, "run_name": r.name, "seed": r.seed,
                         "split_seed": "" if split in ("None", "null") else split,
                         **{m.name: r.extra[m.name] for m in metrics.METRICS}, "n_background": r.extra["n_background"]})
    return rows


def write_csv(rows: list[dict], path: Path, columns: list[str]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if k in columns})
    return path


def _paper(row: dict, m: MetricSpec, first: bool) -> str:
    if row[f"ref_{m.name}_mean"] == "":
        return "–"
    d = max(1, m.digits - 1)
    text = f"{row[f'ref_{m.name}_mean']:.{d}f} [{row[f'ref_{m.name}_min']:.{d}f}, {row[f'ref_{m.name}_max']:.{d}f}]"
    return text + (f" ({row['ref_settings']}, {row['ref_runs']} runs)" if first else "")


def markdown_table(rows: list[dict], header: str, min_background: int) -> str:
    """``table.md``: per detector and metric, mean ± std and best, beside the reference values;
    a ``split seeds`` column when some run used a split seed."""
    splits = any(r["split_seeds"] for r in rows)
    head = ["detector", "runs"] + [h for m in metrics.METRICS for h in (f"{m.label} mean ± std", f"{m.label} best")]
    head += ["split seeds"] * splits + [f"paper {m.label} mean [min, max]" for m in metrics.METRICS]
    lines = [header, "", "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in rows:
        cells = [r["detector"], str(r["n_runs"])]
        for i, m in enumerate(metrics.METRICS):
            mean, std, best = (r[f"{m.name}_{s}"] for s in STATS)
            cells += [f"{mean:.{m.digits}f} ± {std:.{m.digits}f}",
                      f"{best:.{m.digits}f}" + (f" (seed {r['best_seed']})" if i == 0 else "")]
        cells += [r["split_seeds"] or "–"] * splits
        cells += [_paper(r, m, i == 0) for i, m in enumerate(metrics.METRICS)]
        lines.append("| " + " | ".join(cells) + " |")
    first = metrics.METRICS[0].label
    best = "; ".join([f"{first} best: the best run by {first} (plotted in roc_sic_best)"]
                     + [f"{m.label} best: the largest {m.label} of any run" for m in metrics.METRICS[1:]])
    note = (f"std: sample standard deviation over runs (seeds). {best}. Max SIC over cuts keeping >= "
            f"{min_background} test background events. paper: oneclass.reference 'lhco_paper' (the OCDN "
            f"authors' published LHCO scores), shown where model and epochs/nu match.")
    if splits:
        note += " split seeds: the dataset split seeds pooled into the row's numbers (–: the fixed split)."
    return "\n".join(lines + ["", note, ""])


def metric_key(label: str) -> str:
    """A detector label as an MLflow metric-name prefix."""
    return re.sub(r"[^A-Za-z0-9_.\-/]+", "_", label).strip("_")


def summary_metrics(rows: list[dict]) -> dict[str, float]:
    """The summary run's metrics: ``<detector>.<metric>_<mean|std|best>`` and ``<detector>.n_runs``."""
    out = {}
    for row in rows:
        key = metric_key(row["detector"])
        for k in [f"{m.name}_{s}" for m in metrics.METRICS for s in STATS] + ["n_runs"]:
            out[f"{key}.{k}"] = float(row[k])
    return out
