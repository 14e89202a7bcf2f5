"""``oneclass runs``: a sweep's MLflow runs, one line each, with status and metrics.

    oneclass runs                          # the latest sweep in ./mlflow.db
    oneclass runs --sweep 14-02-11-3fa2c1de --metric test_auc --metric val_auc
    oneclass runs --experiment lhco --sweep latest

Columns: run name, status, the varying overrides (tag ``overrides``), the metrics asked for
(default ``test_auc``, ``test_aupr``, ``test_max_sic``, ``fit_time_s``; ``-`` where a run has none),
and the run id. Report runs (``report=true``) and Optuna parent runs are included as they are.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from oneclass.errors import ConfigError

DEFAULT_METRICS = ("test_auc", "test_aupr", "test_max_sic", "fit_time_s")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oneclass runs", description="List a sweep's MLflow runs with status and metrics.")
    p.add_argument("--sweep", default="latest",
                   help="sweep id (the runs' tag sweep_id, e.g. 01-18-10-6b09b8c6) or 'latest' (default)")
    p.add_argument("--experiment", help="MLflow experiment name (default: all experiments)")
    p.add_argument("--metric", action="append", dest="metrics",
                   help=f"a metric column, repeatable (default: {', '.join(DEFAULT_METRICS)})")
    p.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or sqlite:///./mlflow.db)")
    return p


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"


def table(runs: list, metrics: Sequence[str]) -> str:
    """The runs as aligned text columns (job order, then start time)."""
    def order(r) -> tuple:
        num = r.data.tags.get("job_num", "")
        return (int(num) if num.isdigit() else 1 << 30, r.info.start_time or 0)

    header = ["run", "status", "overrides", *metrics, "run id"]
    rows = [[r.info.run_name or "", r.info.status, r.data.tags.get("overrides", ""),
             *(_cell(r.data.metrics.get(m)) for m in metrics), r.info.run_id] for r in sorted(runs, key=order)]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows])


def main(argv: list[str] | None = None) -> int:
    from oneclass.report.selection import client as make_client
    from oneclass.report.selection import select_runs
    from oneclass.tracking import default_tracking_uri

    args = build_parser().parse_args(argv)
    if args.sweep in ("", None):
        raise ConfigError("--sweep needs a sweep id or 'latest'")
    client = make_client(args.tracking_uri or default_tracking_uri(Path.cwd()))
    runs, label = select_runs(client, args.experiment, None if args.sweep == "latest" else args.sweep)
    metrics = args.metrics or list(DEFAULT_METRICS)
    known = {k for r in runs for k in r.data.metrics}
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ConfigError(f"--metric {unknown[0]}: no selected run has it; available: {', '.join(sorted(known)) or '(none)'}")
    states: dict[str, int] = {}
    for r in runs:
        states[r.info.status] = states.get(r.info.status, 0) + 1
    print(f"sweep {label}: {len(runs)} runs (" + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + ")")
    print(table(runs, metrics))
    sys.stdout.flush()
    return 0
