"""The report's own MLflow write: one summary run tagged ``report=true`` with its numbers and files.

It lives in the experiment of the runs it summarises and carries no ``sweep_id`` and no
``model`` tag, so a sweep's runs (``tags.sweep_id = '...'``) never include it; the training runs
alone are ``tags.report IS NULL`` (docs/tracking.md, "Comparing runs in the MLflow UI").
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from oneclass.report.selection import REPORT_TAG

SHORT = 250


def log_summary_run(client, experiment_id: str, label: str, output: Path, params: dict, metrics: dict[str, float],
                    tags: dict[str, str]) -> str:
    """Create, fill and finish the summary run; its id. Params longer than ``SHORT`` characters
    (a long --filter) go to tags, so the runs table stays readable."""
    from mlflow.entities import Metric, Param

    long = {k: str(v)[:5000] for k, v in params.items() if len(str(v)) > SHORT}
    run = client.create_run(experiment_id, run_name=f"report-{label}",
                            tags={REPORT_TAG: "true", "mlflow.source.name": "oneclass report", **tags, **long})
    rid = run.info.run_id
    try:
        now = int(time.time() * 1000)
        client.log_batch(rid, params=[Param(k, str(v)) for k, v in params.items() if k not in long])
        items = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None and math.isfinite(v)]
        for i in range(0, len(items), 500):
            client.log_batch(rid, metrics=items[i:i + 500])
        client.log_artifacts(rid, str(output))
    except BaseException:
        client.set_terminated(rid, status="FAILED")
        raise
    client.set_terminated(rid, status="FINISHED")
    return rid
