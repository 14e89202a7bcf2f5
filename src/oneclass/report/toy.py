"""``oneclass report --toy``: the epoch-resolved toy figure (the paper's Fig. 1) and its AUC table
from runs that saved score snapshots (``eval.snapshot_epochs``)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oneclass.report.selection import SNAPSHOT_FILE, ReportError, download, run_scores
from oneclass.report.tables import metric_key, write_csv


def toy_report(client, runs: list, output: Path, formats: Sequence[str] = ("png", "pdf"), title: str | None = None,
               labels: list[str] | None = None):
    """(files written, summary-run metrics, the markdown table). ``title``: the figure's title;
    ``labels``: ``--label MODEL=TEXT`` (or ``RUN NAME=TEXT``) display names of the rows."""
    from oneclass import metrics as m
    from oneclass import plots
    from oneclass.report.stats import display_names

    ordered = sorted(runs, key=lambda r: r.info.start_time)
    identities = [run_scores(r) for r in ordered]
    names, _ = display_names(labels, {rs.name: rs.model for rs in identities})

    rows, table, missing = [], [], []
    with tempfile.TemporaryDirectory(prefix="oneclass-report-") as tmp:
        for i, (run, rs) in enumerate(zip(ordered, identities)):
            path = download(client, run, SNAPSHOT_FILE, f"{tmp}/{i}")
            if path is None or not path.is_file():
                missing.append(run)
                continue
            with np.load(path, allow_pickle=False) as f:  # snapshots.npz (oneclass.run.snapshots writes it)
                snap = {k: f[k] for k in f.files}
            row = names.get(rs.name, rs.name)
            if "dataset.signal_mean" in rs.params:
                row += f": signal mean {rs.params['dataset.signal_mean']}, background mean {rs.params.get('dataset.background_mean', '?')}"
            rows.append((row, snap))
            for e, s in zip(snap["epochs"], snap["scores"]):
                table.append({"run": rs.name, "run_id": rs.run_id, "signal_mean": rs.params.get("dataset.signal_mean", ""),
                              "epoch": int(e), "auc": m.roc_auc(s, snap["labels"])})
    if missing:
        names = ", ".join(r.info.run_name or r.info.run_id for r in missing[:5])
        raise ReportError(f"{len(missing)} selected runs have no logged {SNAPSHOT_FILE}: {names}; "
                          "rerun them with eval.snapshot_epochs set (experiment=gaussian_epochs)")
    output.mkdir(parents=True, exist_ok=True)
    files = plots.snapshot_figure(rows, output / "toy_epochs", formats=tuple(formats), title=title or None)
    files.append(write_csv(table, output / "toy_auc.csv", list(table[0])))
    lines = ["| run | signal mean | epoch | test AUC |", "|---|---:|---:|---:|"]
    lines += [f"| {t['run']} | {t['signal_mean']} | {t['epoch']} | {t['auc']:.4f} |" for t in table]
    (output / "toy_auc.md").write_text("\n".join(lines) + "\n")
    files.append(output / "toy_auc.md")
    metrics = {f"{metric_key(t['run'])}-{t['run_id'][:8]}.auc_epoch_{t['epoch']}": t["auc"] for t in table}
    return files, metrics, "\n".join(lines)
