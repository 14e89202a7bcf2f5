"""``oneclass report``: a sweep's MLflow runs -> the paper's figures and a table.

    oneclass report                              # the latest sweep in ./mlflow.db
    oneclass report --sweep 14-02-11-3fa2c1de    # one sweep (its id is the run tag sweep_id)
    oneclass report --experiment lhco --filter "tags.model = 'ocdn'"
    oneclass report --toy                        # the Gaussian toy's epoch snapshots (paper Fig. 1)
    python -m oneclass.report ...                # the same

Runs are grouped by detector (tag ``model``, plus the settings that differ between runs of one
model, e.g. ``trainer.max_epochs``). For each detector the report reads every run's logged test
scores (``scores.npz``) and writes, to ``--output`` and to a summary MLflow run tagged
``report=true`` in the runs' experiment:

- ``roc_sic_best.png/.pdf``: ROC and SIC of the best seed (by AUC) per detector (paper Fig. 2 top);
- ``roc_sic_mean.png/.pdf``: mean over seeds with a +-1 std band (paper Fig. 2 bottom); curves are
  averaged as TPR at fixed FPR, SIC only where every run keeps >= ``--min-background`` background
  events;
- ``table.md`` / ``table.csv``: AUC and max SIC per detector (mean, std, best, runs) beside the
  committed reference values (``oneclass.reference``) where the detector has them;
- ``runs.csv``: one line per input run.

Report runs are never selected as inputs. Bad selections (no runs, runs without scores, runs of
different datasets) stop with one ``error: ...`` line before any figure is written.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.errors import ConfigError, DataError, OneClassError

REPORT_TAG = "report"
SCORES_FILE = "scores.npz"
SNAPSHOT_FILE = "snapshots.npz"
# params that tell runs of one model apart (besides the seed); others (accelerator...) do not
_SETTING_PREFIXES = ("model.", "dataset.")
_SETTING_KEYS = ("trainer.max_epochs", "trainer.max_steps")
# committed reference tables (oneclass.reference) by dataset: a dataset tag starting with the key
REFERENCES = {"lhco": "lhco_paper"}


class ReportError(DataError):
    """The selected runs cannot make a report (none, no scores, mixed datasets)."""


# --------------------------------------------------------------------------- selection
@dataclass
class RunScores:
    """One input run with its test scores."""

    run_id: str
    name: str
    model: str
    seed: str
    params: dict[str, str]
    tags: dict[str, str]
    experiment_id: str
    scores: np.ndarray | None = None
    labels: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _client(tracking_uri: str):
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise ReportError(f"no MLflow store at {path}; run experiments first, or pass --tracking-uri "
                              "(or set MLFLOW_TRACKING_URI) to the store that holds them")
    from oneclass.tracking import open_client

    return open_client(tracking_uri, what="--tracking-uri", reach_s=10)  # checked, opened under the store lock


def _experiments(client, name: str | None) -> list:
    if name:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            names = sorted(e.name for e in client.search_experiments())
            raise ReportError(f"no MLflow experiment '{name}'; available: {', '.join(names) or '(none)'}")
        return [exp]
    return list(client.search_experiments())


def _search(client, experiment_ids: list[str], filter_string: str) -> list:
    from mlflow.exceptions import MlflowException

    runs, token = [], None
    while True:
        try:
            page = client.search_runs(experiment_ids, filter_string, max_results=1000,
                                      order_by=["attributes.start_time DESC"], page_token=token)
        except MlflowException as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"invalid --filter {filter_string!r}: {first}") from None
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _has_snapshots(run) -> bool:
    return run.data.params.get("eval.snapshot_epochs", "[]") not in ("", "[]", "None")


def select_runs(client, experiment: str | None = None, sweep: str | None = None, filter_string: str | None = None,
                toy: bool = False) -> tuple[list, str]:
    """The input runs (report runs never) and a short label for the selection.

    Default (no ``sweep``, no ``filter_string``): the runs of the latest sweep; with ``toy``,
    the latest run with score snapshots, and the rest of its sweep if it was part of one.
    """
    exps = _experiments(client, experiment)
    if not exps:
        raise ReportError("the MLflow store has no experiments yet; run `python run.py -m seed=0..2` first")
    clauses = []
    if sweep:
        if "'" in sweep:
            raise ConfigError(f"--sweep {sweep!r}: a sweep id has no quotes")
        clauses.append(f"tags.sweep_id = '{sweep}'")
    if filter_string:
        clauses.append(filter_string)
    runs = _search(client, [e.experiment_id for e in exps], " and ".join(clauses))
    runs = [r for r in runs if r.data.tags.get(REPORT_TAG) != "true"]
    where = f"experiment '{experiment}'" if experiment else "the store"
    if toy:
        runs = [r for r in runs if _has_snapshots(r)]
    if not runs:
        what = "runs with score snapshots (eval.snapshot_epochs)" if toy else "runs"
        asked = " and ".join(clauses) or "(everything)"
        hint = ("run `python run.py -m experiment=gaussian_epochs dataset.signal_mean=0,-4` first" if toy
                else "check --experiment/--sweep/--filter, or list runs with `mlflow ui`")
        raise ReportError(f"no {what} match {asked} in {where}; {hint}")
    if sweep:
        return runs, sweep
    if filter_string:
        return runs, "filtered-" + time.strftime("%Y%m%d-%H%M%S")
    # latest sweep (or, for the toy, the latest run and its sweep)
    newest = runs[0] if toy else next((r for r in runs if r.data.tags.get("sweep_id")), None)
    if newest is None:
        raise ReportError(f"no sweep runs (tag sweep_id) in {where}; run a sweep (`python run.py -m seed=0..2`) "
                          "or select single runs with --filter, e.g. --filter \"tags.model = 'ocdn'\"")
    sweep_id = newest.data.tags.get("sweep_id")
    if not sweep_id:
        return [newest], newest.info.run_name or newest.info.run_id
    return [r for r in runs if r.data.tags.get("sweep_id") == sweep_id], sweep_id


def finished(runs: list) -> list:
    """Runs that ended normally; failed or running ones are reported on stderr and left out."""
    done = [r for r in runs if r.info.status == "FINISHED"]
    skipped = len(runs) - len(done)
    if skipped:
        states = Counter(r.info.status for r in runs if r.info.status != "FINISHED")
        print(f"note: leaving out {skipped} run(s) that did not finish ("
              + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + ")", file=sys.stderr)
    if not done:
        raise ReportError(f"none of the {len(runs)} selected runs finished; nothing to report")
    return done


def check_one_dataset(runs: list) -> str:
    datasets = Counter(r.data.tags.get("dataset", "?") for r in runs)
    if len(datasets) > 1:
        parts = ", ".join(f"{d} ({n} runs)" for d, n in sorted(datasets.items()))
        first = sorted(datasets)[0]
        raise ReportError(f"the selected runs mix datasets: {parts}; report one at a time, "
                          f"e.g. --filter \"tags.dataset = '{first}'\"")
    return next(iter(datasets))


def _download(client, run, artifact: str, directory: str) -> Path | None:
    try:
        return Path(client.download_artifacts(run.info.run_id, artifact, directory))
    except Exception:  # MLflow raises several types for a missing artifact
        return None


def load_scores(client, runs: list) -> list[RunScores]:
    """Every run's ``scores.npz``; a ReportError naming the runs that have none."""
    loaded, missing = [], []
    with tempfile.TemporaryDirectory(prefix="oneclass-report-") as tmp:
        for i, run in enumerate(runs):
            path = _download(client, run, SCORES_FILE, f"{tmp}/{i}")
            rs = _run_scores(run)
            if path is None or not path.is_file():
                missing.append(rs)
                continue
            rs.scores, rs.labels = _read_scores(path, rs)
            loaded.append(rs)
    if missing:
        names = ", ".join(f"{r.name} ({r.run_id[:8]})" for r in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ReportError(f"{len(missing)} of {len(runs)} selected runs have no logged {SCORES_FILE}: {names}; "
                          "rerun them with logger=mlflow, or leave them out with --filter")
    return loaded


def _run_scores(run) -> RunScores:
    tags = dict(run.data.tags)
    return RunScores(
        run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id,
        model=tags.get("model") or "?",
        seed=tags.get("seed", run.data.params.get("seed", "?")),
        params=dict(run.data.params),
        tags=tags,
        experiment_id=run.info.experiment_id,
    )


def _read_scores(path: Path, rs: RunScores) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            scores, labels = np.asarray(f["scores"], dtype=np.float64), np.asarray(f["labels"])
    except (KeyError, ValueError, OSError) as exc:
        raise ReportError(f"run {rs.name} ({rs.run_id[:8]}): {SCORES_FILE} is unreadable or lacks "
                          f"'scores'/'labels' ({exc})") from None
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ReportError(f"run {rs.name} ({rs.run_id[:8]}): {len(scores)} scores for {len(labels)} labels")
    if not np.isfinite(scores).all():
        raise ReportError(f"run {rs.name} ({rs.run_id[:8]}): its scores contain NaN or infinity")
    if set(np.unique(labels).tolist()) != {0, 1}:
        raise ReportError(f"run {rs.name} ({rs.run_id[:8]}): labels must contain both 0 and 1")
    return scores, labels


# --------------------------------------------------------------------------- grouping and numbers
def _short(key: str) -> str:
    return {"trainer.max_epochs": "epochs", "trainer.max_steps": "steps"}.get(key, key.removeprefix("model."))


def group_runs(runs: list[RunScores]) -> dict[str, list[RunScores]]:
    """Detector label -> runs: by tag ``model``; runs of one model with different settings
    (``trainer.max_epochs``, ``model.*``, ``dataset.*``) become separate detectors."""
    by_model: dict[str, list[RunScores]] = {}
    for r in runs:
        by_model.setdefault(r.model, []).append(r)
    groups: dict[str, list[RunScores]] = {}
    for model in sorted(by_model):
        members = by_model[model]
        keys = sorted({k for r in members for k in r.params if k.startswith(_SETTING_PREFIXES) or k in _SETTING_KEYS})
        varying = [k for k in keys if len({r.params.get(k) for r in members}) > 1]
        for r in members:
            label = model
            if varying:
                label += " (" + ", ".join(f"{_short(k)}={r.params.get(k)}" for k in varying) + ")"
            groups.setdefault(label, []).append(r)
    for members in groups.values():
        members.sort(key=lambda r: (_as_float(r.seed) if _as_float(r.seed) is not None else math.inf, r.seed))
    return groups


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def match_reference(model: str, params: dict[str, str], rows: list[dict]) -> dict | None:
    """The reference row for this model whose epochs / nu (where the row has them) equal the
    run's ``trainer.max_epochs`` / ``model.nu``."""
    for row in rows:
        if row["model"] != model:
            continue
        ok = True
        for col, key in (("epochs", "trainer.max_epochs"), ("nu", "model.nu")):
            if row.get(col) is not None:
                value = _as_float(params.get(key))
                ok = ok and value is not None and math.isclose(value, float(row[col]), rel_tol=1e-9, abs_tol=1e-9)
        if ok:
            return row
    return None


def summarize(groups: dict[str, list[RunScores]], min_background: int, reference: list[dict]) -> list[dict]:
    """Per detector: the table row, its best run's curve and the seed band (see plots.comparison_figure)."""
    from oneclass import metrics

    grid = metrics.fpr_grid()
    out = []
    for label, runs in groups.items():
        aucs, sics, curves = [], [], []
        for r in runs:
            n_bkg = int((r.labels == 0).sum())
            if n_bkg < min_background:
                raise ReportError(f"run {r.name} ({r.run_id[:8]}) has {n_bkg} test background events, fewer than "
                                  f"--min-background {min_background}")
            ev = metrics.evaluate(r.scores, r.labels, min_background)
            r.extra.update(auc=ev.auc, max_sic=ev.max_sic, n_background=n_bkg)
            aucs.append(ev.auc)
            sics.append(ev.max_sic)
            curves.append((ev.fpr, ev.tpr, n_bkg))
        ibest = int(np.argmax(aucs))
        auc_mean, auc_std = metrics.spread(aucs)
        sic_mean, sic_std = metrics.spread(sics)
        ref = match_reference(runs[0].model, runs[0].params, reference)
        out.append({
            "label": label,
            "model": runs[0].model,
            "n_runs": len(runs),
            "auc_mean": auc_mean, "auc_std": auc_std, "auc_best": float(max(aucs)),
            "max_sic_mean": sic_mean, "max_sic_std": sic_std, "max_sic_best": float(max(sics)),
            "best_seed": runs[ibest].seed,
            "reference": ref,
            "min_background": min_background,
            "band": metrics.seed_band(curves, grid, min_background),
            "best": {"fpr": curves[ibest][0], "tpr": curves[ibest][1], "n_background": curves[ibest][2],
                     "auc": aucs[ibest], "max_sic": sics[ibest], "seed": runs[ibest].seed},
        })
    return out


# --------------------------------------------------------------------------- tables
TABLE_COLUMNS = ["detector", "model", "n_runs", "auc_mean", "auc_std", "auc_best", "max_sic_mean", "max_sic_std",
                 "max_sic_best", "best_seed", "ref_settings", "ref_runs", "ref_auc_mean", "ref_auc_min",
                 "ref_auc_max", "ref_max_sic_mean", "ref_max_sic_min", "ref_max_sic_max"]


def table_rows(summary: list[dict]) -> list[dict]:
    rows = []
    for d in summary:
        ref = d["reference"] or {}
        rows.append({
            "detector": d["label"], "model": d["model"], "n_runs": d["n_runs"],
            **{k: d[k] for k in ("auc_mean", "auc_std", "auc_best", "max_sic_mean", "max_sic_std", "max_sic_best",
                                 "best_seed")},
            "ref_settings": ref.get("settings", ""),
            "ref_runs": "" if ref.get("runs") is None else int(ref["runs"]),
            **{f"ref_{k}": ref.get(k, "") if ref.get(k) is not None else ""
               for k in ("auc_mean", "auc_min", "auc_max", "max_sic_mean", "max_sic_min", "max_sic_max")},
        })
    return rows


def write_csv(rows: list[dict], path: Path, columns: list[str]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if k in columns})
    return path


def markdown_table(rows: list[dict], header: str, min_background: int) -> str:
    lines = [header, "",
             "| detector | runs | AUC mean ± std | AUC best | max SIC mean ± std | max SIC best | "
             "paper AUC mean [min, max] | paper max SIC mean [min, max] |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["ref_auc_mean"] != "":
            ref_auc = f"{r['ref_auc_mean']:.3f} [{r['ref_auc_min']:.3f}, {r['ref_auc_max']:.3f}] ({r['ref_settings']}, {r['ref_runs']} runs)"
            ref_sic = f"{r['ref_max_sic_mean']:.2f} [{r['ref_max_sic_min']:.2f}, {r['ref_max_sic_max']:.2f}]"
        else:
            ref_auc = ref_sic = "–"
        lines.append(f"| {r['detector']} | {r['n_runs']} | {r['auc_mean']:.4f} ± {r['auc_std']:.4f} | "
                     f"{r['auc_best']:.4f} (seed {r['best_seed']}) | {r['max_sic_mean']:.3f} ± {r['max_sic_std']:.3f} | "
                     f"{r['max_sic_best']:.3f} | {ref_auc} | {ref_sic} |")
    lines += ["", f"std: sample standard deviation over runs (seeds). AUC best: the best run by AUC (plotted in "
                  f"roc_sic_best); max SIC best: the largest max SIC of any run. Max SIC over cuts keeping >= "
                  f"{min_background} test background events. paper: oneclass.reference 'lhco_paper' (the OCDN "
                  f"authors' published LHCO scores), shown where model and epochs/nu match.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- summary run
def _metric_key(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-/]+", "_", label).strip("_")


def log_summary_run(client, experiment_id: str, label: str, output: Path, params: dict, metrics: dict[str, float],
                    tags: dict[str, str]) -> str:
    """One MLflow run tagged ``report=true`` holding the report's numbers and files."""
    from mlflow.entities import Metric, Param, RunTag

    run = client.create_run(experiment_id, run_name=f"report-{label}",
                            tags={REPORT_TAG: "true", "mlflow.source.name": "oneclass report", **tags})
    rid = run.info.run_id
    try:
        now = int(time.time() * 1000)
        client.log_batch(rid, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
        items = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None and math.isfinite(v)]
        for i in range(0, len(items), 500):
            client.log_batch(rid, metrics=items[i:i + 500])
        client.log_artifacts(rid, str(output))
    except BaseException:
        client.set_terminated(rid, status="FAILED")
        raise
    client.set_terminated(rid, status="FINISHED")
    return rid


def _experiment_of(runs: list) -> str:
    return Counter(r.info.experiment_id for r in runs).most_common(1)[0][0]


# --------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oneclass report",
        description="Figures (ROC, SIC: best seed and mean +- std) and a table per detector from MLflow runs. "
                    "Default selection: the latest sweep in the store.")
    p.add_argument("--experiment", help="MLflow experiment name (default: all experiments)")
    p.add_argument("--sweep", help="sweep id: the runs' tag sweep_id, e.g. 01-18-10-6b09b8c6 (multirun folder name + hash; see `mlflow ui`); default: the latest sweep")
    p.add_argument("--filter", dest="filter_string",
                   help="MLflow filter string, e.g. \"tags.model = 'ocdn' and params.trainer.max_epochs = '10'\"; "
                        "without --sweep all matching runs are used")
    p.add_argument("--output", type=Path, help="output folder (default: reports/<sweep id>)")
    p.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or sqlite:///./mlflow.db)")
    p.add_argument("--min-background", type=int, default=10,
                   help="max SIC and SIC curves only over cuts keeping >= this many test background events (default 10)")
    p.add_argument("--toy", action="store_true",
                   help="the epoch-resolved toy figure (paper Fig. 1) from runs with eval.snapshot_epochs")
    p.add_argument("--no-mlflow", action="store_true", help="do not log a summary run to MLflow")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.min_background < 1:
        raise ConfigError(f"--min-background must be >= 1, got {args.min_background}")
    from oneclass.tracking import default_tracking_uri

    uri = args.tracking_uri or default_tracking_uri(Path.cwd())
    client = _client(uri)
    runs, label = select_runs(client, args.experiment, args.sweep, args.filter_string, toy=args.toy)
    runs = finished(runs)
    dataset = check_one_dataset(runs)
    output = args.output or Path("reports") / (f"{label}-toy" if args.toy else label)
    selection = {"tracking_uri": uri, "experiment": args.experiment or "(all)", "sweep": args.sweep or "",
                 "filter": args.filter_string or "", "selection": label, "dataset": dataset,
                 "n_runs": len(runs), "min_background": args.min_background}
    if args.toy:
        files, metrics, shown = _toy(client, runs, output)
    else:
        files, metrics, shown = _comparison(client, runs, output, label, dataset, args.min_background)
    print(shown)
    print(f"wrote {len(files)} files to {output.resolve()}: {', '.join(p.name for p in files)}")
    if not args.no_mlflow:
        rid = log_summary_run(client, _experiment_of(runs), label + ("-toy" if args.toy else ""), output, selection,
                              metrics, {"report_selection": label, "report_n_runs": str(len(runs)), "dataset": dataset})
        print(f"summary MLflow run {rid} (tag report=true) in {uri}")
    return 0


def reference_rows(dataset: str) -> list[dict]:
    """The committed reference table for this dataset (published numbers on LHCO only), else []."""
    from oneclass.reference import load as load_reference

    for prefix, name in REFERENCES.items():
        if dataset.startswith(prefix):
            return load_reference(name)
    return []


def _comparison(client, runs: list, output: Path, label: str, dataset: str, min_background: int):
    from oneclass import plots

    loaded = load_scores(client, runs)
    summary = summarize(group_runs(loaded), min_background, reference_rows(dataset))
    output.mkdir(parents=True, exist_ok=True)
    title = f"{dataset}: {label} ({len(loaded)} runs)"
    files = plots.comparison_figure(summary, "best", output / "roc_sic_best", title)
    files += plots.comparison_figure(summary, "mean", output / "roc_sic_mean", title)
    rows = table_rows(summary)
    files.append(write_csv(rows, output / "table.csv", TABLE_COLUMNS))
    md = markdown_table(rows, f"# {dataset}: {label}, {len(loaded)} runs", min_background)
    (output / "table.md").write_text(md)
    files.append(output / "table.md")
    run_rows = [{"detector": d, "run_id": r.run_id, "run_name": r.name, "seed": r.seed, "auc": r.extra["auc"],
                 "max_sic": r.extra["max_sic"], "n_background": r.extra["n_background"]}
                for d, members in group_runs(loaded).items() for r in members]
    files.append(write_csv(run_rows, output / "runs.csv", list(run_rows[0])))
    metrics = {}
    for row in rows:
        key = _metric_key(row["detector"])
        for k in ("auc_mean", "auc_std", "auc_best", "max_sic_mean", "max_sic_std", "max_sic_best", "n_runs"):
            metrics[f"{key}.{k}"] = float(row[k])
    return files, metrics, md


def _toy(client, runs: list, output: Path):
    from oneclass import metrics as m
    from oneclass import plots
    from oneclass.snapshots import load as load_snapshots

    rows, table, missing = [], [], []
    with tempfile.TemporaryDirectory(prefix="oneclass-report-") as tmp:
        for i, run in enumerate(sorted(runs, key=lambda r: r.info.start_time)):
            path = _download(client, run, SNAPSHOT_FILE, f"{tmp}/{i}")
            if path is None or not path.is_file():
                missing.append(run)
                continue
            snap = load_snapshots(path)
            rs = _run_scores(run)
            title = f"{rs.name}"
            if "dataset.signal_mean" in rs.params:
                title += f": signal mean {rs.params['dataset.signal_mean']}, background mean {rs.params.get('dataset.background_mean', '?')}"
            rows.append((title, snap))
            for e, s in zip(snap["epochs"], snap["scores"]):
                table.append({"run": rs.name, "run_id": rs.run_id, "signal_mean": rs.params.get("dataset.signal_mean", ""),
                              "epoch": int(e), "auc": m.roc_auc(s, snap["labels"])})
    if missing:
        names = ", ".join(r.info.run_name or r.info.run_id for r in missing[:5])
        raise ReportError(f"{len(missing)} selected runs have no logged {SNAPSHOT_FILE}: {names}; "
                          "rerun them with eval.snapshot_epochs set (experiment=gaussian_epochs)")
    output.mkdir(parents=True, exist_ok=True)
    files = plots.snapshot_figure(rows, output / "toy_epochs", formats=("png", "pdf"))
    files.append(write_csv(table, output / "toy_auc.csv", list(table[0])))
    lines = ["| run | signal mean | epoch | test AUC |", "|---|---:|---:|---:|"]
    lines += [f"| {t['run']} | {t['signal_mean']} | {t['epoch']} | {t['auc']:.4f} |" for t in table]
    (output / "toy_auc.md").write_text("\n".join(lines) + "\n")
    files.append(output / "toy_auc.md")
    metrics = {f"{_metric_key(t['run'])}-{t['run_id'][:8]}.auc_epoch_{t['epoch']}": t["auc"] for t in table}
    return files, metrics, "\n".join(lines)


def _entry() -> int:
    try:
        return main()
    except OneClassError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_entry())
