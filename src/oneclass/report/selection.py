"""Which runs a report reads: the MLflow query, the checks on the selection, and the download of
each run's ``scores.npz``. Report runs (tag ``report=true``) are never selected."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.errors import ConfigError, DataError, first_line

REPORT_TAG = "report"
SCORES_FILE = "scores.npz"
SNAPSHOT_FILE = "snapshots.npz"


class ReportError(DataError):
    """The selected runs cannot make a report (none, no scores, mixed datasets)."""


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
    mjj: np.ndarray | None = None  # the test events' dijet mass (LHCO runs), for the physics views
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name (run id prefix)``, for messages."""
        return f"{self.name} ({self.run_id[:8]})"


def client(tracking_uri: str):
    """An ``MlflowClient`` on an existing store (a missing SQLite file is an error, never created)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # the report prints its own link
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
            raise ConfigError(f"invalid --filter {filter_string!r}: {first_line(exc)}") from None
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


def dataset_kind(run: Any) -> str | None:
    """A run's dataset kind (physics / tabular / images): its ``dataset_kind`` tag, else (runs of
    older versions) what its ``dataset._target_`` class declares."""
    from oneclass.data.base import kind_of

    return run.data.tags.get("dataset_kind") or kind_of(run.data.params.get("dataset._target_"))


def check_one_dataset(runs: list) -> str:
    datasets = Counter(r.data.tags.get("dataset", "?") for r in runs)
    if len(datasets) > 1:
        parts = ", ".join(f"{d} ({n} runs)" for d, n in sorted(datasets.items()))
        first = sorted(datasets)[0]
        raise ReportError(f"the selected runs mix datasets: {parts}; report one at a time, "
                          f"e.g. --filter \"tags.dataset = '{first}'\"")
    return next(iter(datasets))


def experiment_of(runs: list) -> str:
    """The experiment most of the runs belong to."""
    return Counter(r.info.experiment_id for r in runs).most_common(1)[0][0]


def download(client, run, artifact: str, directory: str) -> Path | None:
    """One artifact of one run into ``directory``; None if the run has no such artifact."""
    try:
        return Path(client.download_artifacts(run.info.run_id, artifact, directory))
    except Exception:  # MLflow raises several types for a missing artifact
        return None


def run_scores(run) -> RunScores:
    """A run's identity (no scores yet)."""
    tags = dict(run.data.tags)
    return RunScores(
        run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id,
        model=tags.get("model") or "?",
        seed=tags.get("seed", run.data.params.get("seed", "?")),
        params=dict(run.data.params),
        tags=tags,
        experiment_id=run.info.experiment_id,
        extra={"fit_time_s": run.data.metrics["fit_time_s"]} if "fit_time_s" in run.data.metrics else {},
    )


def load_scores(client, runs: list) -> list[RunScores]:
    """Every run's ``scores.npz``; a ReportError naming the runs that have none."""
    loaded, missing = [], []
    with tempfile.TemporaryDirectory(prefix="oneclass-report-") as tmp:
        for i, run in enumerate(runs):
            path = download(client, run, SCORES_FILE, f"{tmp}/{i}")
            rs = run_scores(run)
            if path is None or not path.is_file():
                missing.append(rs)
                continue
            _read_scores(path, rs)
            loaded.append(rs)
    if missing:
        names = ", ".join(r.label for r in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ReportError(f"{len(missing)} of {len(runs)} selected runs have no logged {SCORES_FILE}: {names}; "
                          "rerun them with logger=mlflow, or leave them out with --filter")
    return loaded


def _read_scores(path: Path, rs: RunScores) -> None:
    """Fill ``rs`` from one read of its ``scores.npz``: scores, labels, mjj (LHCO) and the test rows'
    index (image runs: the official test-image numbers) in ``rs.extra["index"]``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            scores, labels = np.asarray(f["scores"], dtype=np.float64), np.asarray(f["labels"])
            mjj = np.asarray(f["mjj"], dtype=np.float64) if "mjj" in f.files else None
            index = np.asarray(f["index"]) if "index" in f.files else None
    except (KeyError, ValueError, OSError) as exc:
        raise ReportError(f"run {rs.label}: {SCORES_FILE} is unreadable or lacks 'scores'/'labels' ({exc})") from None
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ReportError(f"run {rs.label}: {len(scores)} scores for {len(labels)} labels")
    if not np.isfinite(scores).all():
        raise ReportError(f"run {rs.label}: its scores contain NaN or infinity")
    if set(np.unique(labels).tolist()) != {0, 1}:
        raise ReportError(f"run {rs.label}: labels must contain both 0 and 1")
    if mjj is not None and mjj.shape != scores.shape:
        raise ReportError(f"run {rs.label}: {len(mjj)} mjj values for {len(scores)} scores in {SCORES_FILE}")
    rs.scores, rs.labels, rs.mjj = scores, labels, mjj
    if index is not None:
        rs.extra["index"] = index
