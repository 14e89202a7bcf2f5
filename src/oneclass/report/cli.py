"""The ``oneclass report`` command line: arguments, then selection -> statistics -> tables and
figures -> summary run (see the package docstring)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from oneclass.errors import ConfigError, OneClassError
from oneclass.report import physics_views, stats, tables
from oneclass.report.selection import (check_one_dataset, client as make_client, dataset_kind, experiment_of, finished, load_scores,
                                       select_runs)
from oneclass.report.summary_run import log_summary_run
from oneclass.report.tabular import DEFAULT_METRICS
from oneclass.report.toy import toy_report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oneclass report",
        description="Figures (ROC, background rejection, SIC: best seed and mean +- std) and a table per detector "
                    "from MLflow runs. Default selection: the latest sweep in the store.")
    p.add_argument("--experiment", help="MLflow experiment name (default: all experiments)")
    p.add_argument("--sweep", help="sweep id: the runs' tag sweep_id, e.g. 01-18-10-6b09b8c6 (multirun folder name + hash; see `mlflow ui`); default: the latest sweep")
    p.add_argument("--filter", dest="filter_string",
                   help="MLflow filter string, e.g. \"tags.model = 'ocdn' and params.trainer.max_epochs = '10'\"; "
                        "without --sweep all matching runs are used")
    p.add_argument("--output", type=Path, help="output folder (default: reports/<sweep id>)")
    p.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or sqlite:///./mlflow.db)")
    p.add_argument("--min-background", type=int, default=10,
                   help="max SIC, rejection and SIC curves only over cuts keeping >= this many test background "
                        "events (default 10)")
    p.add_argument("--format", default="png,pdf", dest="formats",
                   help="figure formats, comma-separated (default png,pdf; e.g. png,pdf,svg)")
    p.add_argument("--toy", action="store_true",
                   help="the epoch-resolved toy figure (paper Fig. 1) from runs with eval.snapshot_epochs")
    p.add_argument("--metric", action="append", dest="metrics",
                   help="tabular datasets (adbench, odds, kdd, any dataset_kind=tabular): the run metric of a dataset x detector table and rank "
                        "plot, repeatable (default: test_auc, test_aupr, test_f1, fit_time_s)")
    p.add_argument("--n-images", type=int, default=32,
                   help="image datasets (mnist, fashion_mnist, cifar10, any dataset_kind=images): normal-class test images per side in the "
                        "most normal / most anomalous figure (default 32)")
    p.add_argument("--title",
                   help="figure title, in place of '<dataset>, <N> runs' (each figure adds what it shows after "
                        "a colon); --title '' leaves only that part")
    p.add_argument("--label", action="append", dest="labels", metavar="MODEL=TEXT",
                   help="display name of a model's curves and rows, repeatable, e.g. --label ocdn=OCDN "
                        "--label 'deepsvdd_soft=soft-boundary Deep SVDD'; a detector label with its settings "
                        "works too: --label 'ocdn (epochs=5)=OCDN, 5 epochs'")
    p.add_argument("--no-mlflow", action="store_true", help="do not log a summary run to MLflow")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n_images < 1:
        raise ConfigError(f"--n-images must be >= 1, got {args.n_images}")
    if args.min_background < 1:
        raise ConfigError(f"--min-background must be >= 1, got {args.min_background}")
    if args.output is not None and args.output.exists() and not args.output.is_dir():
        raise ConfigError(f"--output {args.output} is a file, not a folder; choose another --output")
    from oneclass.plots import check_formats
    from oneclass.tracking import default_tracking_uri, ui_url

    formats = check_formats(args.formats)
    uri = args.tracking_uri or default_tracking_uri(Path.cwd())
    client = make_client(uri)
    runs, label = select_runs(client, args.experiment, args.sweep, args.filter_string, toy=args.toy)
    runs = finished(runs)
    # what the report shows follows the datasets' kind (tag dataset_kind), not their names
    kinds = {dataset_kind(r) for r in runs}
    tabular = kinds == {"tabular"}
    if args.metrics and not tabular:
        raise ConfigError("--metric is for runs on tabular datasets (dataset_kind=tabular: adbench, odds, kdd, ...); "
                          "these runs are not all tabular")
    dataset = "tabular" if tabular else check_one_dataset(runs)
    output = args.output or Path("reports") / (f"{label}-toy" if args.toy else label)
    selection = {"tracking_uri": uri, "experiment": args.experiment or "(all)", "sweep": args.sweep or "",
                 "filter": args.filter_string or "", "selection": label, "dataset": dataset,
                 "n_runs": len(runs), "min_background": args.min_background}
    if args.toy:
        files, metrics, shown = toy_report(client, runs, output, formats, args.title, args.labels)
    elif tabular:
        files, metrics, shown = tabular_report(runs, output, args.metrics or list(DEFAULT_METRICS), formats,
                                               args.title, args.labels)
    elif kinds == {"images"}:
        files, metrics, shown = image_view(client, runs, output, dataset, args.n_images, args.title, args.labels)
    else:
        files, metrics, shown = comparison(client, runs, output, label, dataset, args.min_background, formats,
                                           args.title, args.labels)
    print(shown)
    print(f"wrote {len(files)} files to {output.resolve()}: {', '.join(p.name for p in files)}")
    if not args.no_mlflow:
        experiment_id = experiment_of(runs)
        rid = log_summary_run(client, experiment_id, label + ("-toy" if args.toy else ""), output, selection,
                              metrics, {"report_selection": label, "report_n_runs": str(len(runs)), "dataset": dataset})
        print(f"summary MLflow run {rid} (tag report=true) in {uri}")
        print(f"view: {ui_url(uri, experiment_id, run_id=rid)}")
    return 0


def comparison(client, runs: list, output: Path, label: str, dataset: str, min_background: int,
               formats: Sequence[str] = ("png", "pdf"), title: str | None = None, labels: list[str] | None = None):
    """The detector comparison: (files written, summary-run metrics, the markdown table).
    ``title``: the figures' title (None: ``<dataset>, <N> runs``; the sweep id stays in table.md);
    ``labels``: ``--label MODEL=TEXT`` display names."""
    from oneclass.report import figures  # matplotlib: only once there is something to draw

    loaded = load_scores(client, runs)
    groups = stats.group_runs(loaded)
    names, model_names = stats.display_names(labels, {d: members[0].model for d, members in groups.items()})
    groups = stats.rename(groups, names)
    summary = stats.summarize(groups, min_background, stats.reference_rows(dataset))
    output.mkdir(parents=True, exist_ok=True)
    title = f"{dataset}, {len(loaded)} runs" if title is None else title
    files = figures.comparison_figure(summary, "best", output / "roc_sic_best", title, formats)
    files += figures.comparison_figure(summary, "mean", output / "roc_sic_mean", title, formats)
    rows = tables.table_rows(summary)
    files.append(tables.write_csv(rows, output / "table.csv", tables.table_columns()))
    md = tables.markdown_table(rows, f"# {dataset}: {label}, {len(loaded)} runs", min_background)
    (output / "table.md").write_text(md)
    files.append(output / "table.md")
    if physics_views.has_mjj(groups):  # LHCO: rejection at fixed efficiency, sculpting, injection scan
        more, physics_md = physics_views.write(groups, output, min_background, formats, title, model_names)
        files += more
        md += "\n" + physics_md
        (output / "table.md").write_text(md)
    files.append(tables.write_csv(tables.run_rows(groups), output / "runs.csv", tables.run_columns()))
    return files, tables.summary_metrics(rows), md


def image_view(client, runs: list, output: Path, dataset: str, n_images: int, title: str | None = None,
               labels: list[str] | None = None):
    """Runs on an image dataset: the AUC table per detector and normal class beside Ruff et al.'s
    targets (mean, std over seeds) and the most normal / most anomalous test images per class."""
    from oneclass.report import images

    return images.image_report(load_scores(client, runs), output, dataset, n_images=n_images, title=title,
                               labels=labels)


def tabular_report(runs: list, output: Path, metric_names: Sequence[str], formats: Sequence[str] = ("png", "pdf"),
                   title: str | None = None, labels: list[str] | None = None):
    """Runs on tabular datasets: per metric a dataset x detector table (mean ± std over seeds and
    split seeds) and a mean-rank plot; (files, summary-run metrics, the markdown). A rank plot
    without the Nemenyi critical difference (too few datasets) says so in one ``warning:`` line."""
    import dataclasses

    from oneclass.report import tabular

    records = tabular.records_from_runs(runs)
    detectors = sorted({r.detector for r in records})
    names, _ = stats.display_names(labels, {d: d for d in detectors})
    records = [dataclasses.replace(r, detector=names.get(r.detector, r.detector)) for r in records]
    missing = [m for m in metric_names if not any(m in r.metrics for r in records)]
    if missing:
        have = sorted({k for r in records for k in r.metrics})
        raise ConfigError(f"--metric {', '.join(missing)}: no selected run logged it; the runs have {', '.join(have)}")
    files, shown, summary, warnings = [], [], {}, []
    for name in metric_names:
        more, md = tabular.write_report(records, name, output, formats, title or "")
        files += more
        shown.append(md)
        warnings += [line for line in md.splitlines() if line.startswith(tabular.NO_CD) and line not in warnings]
        table = tabular.metric_table(records, name)
        for ds, det in table.cells:
            summary[f"{tables.metric_key(ds)}.{tables.metric_key(det)}.{name}_mean"] = table.mean(ds, det)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    return files, summary, "\n".join(shown)


def entry(argv: list[str] | None = None) -> int:
    """``python -m oneclass.report``: errors as one ``error: ...`` line, exit status 2."""
    try:
        return main(argv)
    except OneClassError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
