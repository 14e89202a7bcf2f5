"""The report's tables (``table.csv``, ``table.md``, ``runs.csv``) and the numbers of its summary run.

Every metric column comes from :data:`oneclass.metrics.METRICS` (read when a table is made): a
metric added to :class:`oneclass.metrics.Evaluation` appears in every table without editing this
module.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from oneclass import metrics
from oneclass.metrics import MetricSpec
from oneclass.report.numbers import fixed
from oneclass.report.stats import is_split_seed

STATS = ("mean", "std", "best")  # per detector and metric: <metric>_mean, _std, _best
REF_STATS = ("mean", "min", "max")  # per reference row and metric: ref_<metric>_mean, _min, _max
# metrics equal to F1 by construction (the cut flags as many events as there are anomalies, so
# FP = FN and precision = recall = F1); table.md shows F1 alone while every row agrees
SAME_AS_F1 = ("precision", "recall")
NOT_COMPARABLE = "‡"  # marks a published value whose schedule or training size differs from our runs


def table_columns() -> list[str]:
    """``table.csv``: per detector, every metric's mean, std and best, then the reference values."""
    ms = metrics.METRICS
    return (["detector", "model", "n_runs"] + [f"{m.name}_{s}" for m in ms for s in STATS]
            + ["best_seed", "split_seeds", "ref_settings", "ref_runs", "ref_comparable", "ref_ours", "ref_published"]
            + [f"ref_{m.name}_{s}" for m in ms for s in REF_STATS])


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
        comparable, ours, published = d.get("reference_check") or ("", "", "")
        row.update(best_seed=d["best_seed"], split_seeds=d["split_seeds"], ref_settings=ref.get("settings", ""),
                   ref_runs="" if ref.get("runs") is None else int(ref["runs"]),
                   ref_comparable="" if comparable == "" else str(bool(comparable)).lower(),
                   ref_ours=ours, ref_published=published)
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
    text += f" ({row['ref_settings']}, {row['ref_runs']} runs)" if first else ""
    return text + ("" if row["ref_comparable"] == "true" else f" {NOT_COMPARABLE}")


def _same(rows: list[dict], a: str, b: str) -> bool:
    return all(math.isclose(r[f"{a}_{s}"], r[f"{b}_{s}"], rel_tol=1e-12, abs_tol=1e-12) for r in rows for s in STATS)


def shown_metrics(rows: list[dict]) -> list[MetricSpec]:
    """The metric columns of ``table.md``: every metric, less precision and recall where they equal
    F1 in every row (the usual case: see :data:`SAME_AS_F1`)."""
    names = {m.name for m in metrics.METRICS}
    if "f1" not in names or not rows:
        return list(metrics.METRICS)
    drop = {n for n in SAME_AS_F1 if n in names and _same(rows, n, "f1")}
    return [m for m in metrics.METRICS if m.name not in drop]


def markdown_table(rows: list[dict], header: str, min_background: int) -> str:
    """``table.md``: per detector and metric, mean ± std (the value alone for one run) and best, at a
    fixed number of decimals per metric; F1 standing for precision and recall where they agree; the
    published values (``paper`` columns) for the metrics that have any, marked where not comparable;
    a ``split seeds`` column when some run used a split seed."""
    splits = any(r["split_seeds"] for r in rows)
    shown = shown_metrics(rows)
    merged = [n for n in SAME_AS_F1 if n not in {m.name for m in shown}]
    papered = [m for m in shown if any(r[f"ref_{m.name}_mean"] != "" for r in rows)]

    def label(m: MetricSpec) -> str:
        return f"{m.label} (= P = R)" if m.name == "f1" and merged else m.label

    head = ["detector", "runs"] + [h for m in shown for h in (f"{label(m)} mean ± std", f"{label(m)} best")]
    head += ["split seeds"] * splits + [f"paper {m.label} mean [min, max]" for m in papered]
    lines = [header, "", "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in rows:
        cells = [r["detector"], str(r["n_runs"])]
        for i, m in enumerate(shown):
            mean, std, best = (r[f"{m.name}_{s}"] for s in STATS)
            cells += [fixed(mean, std, int(r["n_runs"]), m.digits),
                      f"{best:.{m.digits}f}" + (f" (seed {r['best_seed']})" if i == 0 else "")]
        cells += [r["split_seeds"] or "–"] * splits
        cells += [_paper(r, m, i == 0) for i, m in enumerate(papered)]
        lines.append("| " + " | ".join(cells) + " |")
    first = metrics.METRICS[0].label
    best = "; ".join([f"{first} best: the best run by {first} (plotted in roc_sic_best)"]
                     + [f"{m.label} best: the largest {m.label} of any run" for m in shown[1:]])
    note = (f"mean ± std: sample standard deviation over runs (seeds); a row of one run shows its value alone. {best}. "
            f"Max SIC over cuts keeping >= {min_background} test background events.")
    if merged:
        note += (" F1 = precision = recall: the cut flags as many test events as there are signal events "
                 "(threshold at the anomaly count), so false positives equal false negatives; table.csv keeps all three.")
    elif "f1" in {m.name for m in shown}:
        note += (" F1, precision, recall: at the cut flagging the test set's anomaly fraction; scores tied at the "
                 "threshold flag more events, so here precision and recall differ from F1.")
    if splits:
        note += " split seeds: the dataset split seeds pooled into the row's numbers (–: the fixed split)."
    out = lines + ["", note]
    if papered:
        apart = [r for r in rows if r["ref_settings"] and r["ref_comparable"] != "true"]
        out += ["", "paper: oneclass.reference 'lhco_paper' (the OCDN authors' published LHCO scores), the model's "
                    "row nearest our epochs/nu; comparable only where the schedule (epochs, nu) and the training size "
                    "match ours" + (f", else marked {NOT_COMPARABLE}:" if apart else ".")]
        out += [f"- {NOT_COMPARABLE} {r['detector']}: our runs {r['ref_ours']}; published {r['ref_published']}: "
                f"not comparable." for r in apart]
    return "\n".join(out + [""])


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
