"""``oneclass report``: a sweep's MLflow runs -> the paper's figures and a table.

    oneclass report                              # the latest sweep in ./mlflow.db
    oneclass report --sweep 14-02-11-3fa2c1de    # one sweep (its id is the run tag sweep_id)
    oneclass report --experiment lhco --filter "tags.model = 'ocdn'"
    oneclass report --format png,pdf,svg         # figure formats
    oneclass report --title "LHCO R&D" --label ocdn=OCDN   # figure title, display names of curves and rows
    oneclass report --toy                        # the Gaussian toy's epoch snapshots (paper Fig. 1)
    python -m oneclass.report ...                # the same

Runs are grouped by detector (tag ``model``, plus the settings that differ between runs of one
model, e.g. ``trainer.max_epochs``; seeds, seed-derived params such as ``model.random_state:
${seed}`` and split seeds never split a detector: see :mod:`.stats`). For each detector the report
reads every run's logged test scores (``scores.npz``) and writes, to ``--output`` and to a summary
MLflow run tagged ``report=true`` in the runs' experiment:

- ``roc_sic_best.png/.pdf``: ROC, background rejection 1/FPR and SIC of the best seed (by AUC)
  per detector (paper Fig. 2 top);
- ``roc_sic_mean.png/.pdf``: mean over seeds with a +-1 std band (paper Fig. 2 bottom); curves are
  averaged as TPR at fixed FPR, rejection and SIC only where every run keeps >=
  ``--min-background`` background events;
- ``table.md`` / ``table.csv``: every metric of :data:`oneclass.metrics.METRICS` per detector
  (mean, std, best, runs) beside the committed reference values (``oneclass.reference``) where
  the detector has them, marked where our schedule or training size differ
  (:func:`.stats.compare_settings`); ``table.md`` shows F1 for F1 = precision = recall, no empty
  reference columns and a one-run row's value alone (numbers: :mod:`.numbers`);
- ``runs.csv``: one line per input run.

On LHCO runs it adds the physics views (:mod:`.physics_views`: rejection at fixed signal
efficiency, mass sculpting, the signal-injection scan); on tabular datasets (adbench, odds, kdd) it
writes the dataset x detector table and rank plot per ``--metric`` instead (:mod:`.tabular`); on
image datasets (mnist, fashion_mnist, cifar10) the AUC table per detector and normal class beside
Ruff et al.'s targets and the most normal / most anomalous test images per class (:mod:`.images`).

Report runs are never selected as inputs. Bad selections (no runs, runs without scores, runs of
different datasets) stop with one ``error: ...`` line before any figure is written.

Figures keep a fixed width (<= 2400 px); ``--title`` sets their title, ``--label MODEL=TEXT`` the
display names of detectors (:func:`.stats.display_names`).

Modules: :mod:`.selection` (MLflow query, checks, downloads), :mod:`.stats` (grouping, numbers,
display names, published settings), :mod:`.numbers` (how tables print numbers),
:mod:`.tables`, :mod:`.figures`, :mod:`.toy` (Fig. 1), :mod:`.physics_views`, :mod:`.tabular`, :mod:`.images`, :mod:`.summary_run` (the report's MLflow
write), :mod:`.cli`.
"""

from oneclass.report.cli import build_parser, comparison, entry, main
from oneclass.report.selection import REPORT_TAG, SCORES_FILE, SNAPSHOT_FILE, ReportError, RunScores, select_runs
from oneclass.report.stats import group_runs, summarize

__all__ = ["REPORT_TAG", "SCORES_FILE", "SNAPSHOT_FILE", "ReportError", "RunScores", "build_parser", "comparison",
           "entry", "group_runs", "main", "select_runs", "summarize"]
