"""Experiment tracking: an MLflow tracker and a no-op tracker with the same interface.

The pipeline is the only caller. The MLflow tracker talks to the store through an explicit
``MlflowClient`` (never the fluent ``mlflow.start_run`` API), so no active run, tracking URI or
experiment leaks from one job into the next when a worker process runs several jobs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oneclass.errors import ConfigError

MAX_PARAM_LEN = 6000


class Tracker:
    """No-op base: code never has to ask whether a tracker exists."""

    run_id: str | None = None

    def __init__(self, root_dir: str | os.PathLike | None = None) -> None:
        self.root_dir = Path(root_dir or os.getcwd())

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator["Tracker"]:
        yield self

    def log_params(self, params: dict[str, Any]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def set_tags(self, tags: dict[str, str]) -> None: ...

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None = None) -> None: ...

    def describe(self) -> str:
        """One line telling the user where the run can be seen."""
        return "tracking off (logger=none)"


class NullTracker(Tracker):
    """Tracking switched off (``logger=none``); results stay in the Hydra output folder."""


def default_tracking_uri(root_dir: Path) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else the SQLite store ``<root_dir>/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(root_dir / 'mlflow.db').resolve()}"


class MlflowTracker(Tracker):
    """Logs one MLflow run per job.

    Parameters
    ----------
    tracking_uri : store URI; None = ``$MLFLOW_TRACKING_URI`` or ``sqlite:///<root_dir>/mlflow.db``.
    experiment_name : MLflow experiment (created if missing).
    root_dir : directory the command was started from (the default store and artifacts live there).
    """

    def __init__(self, tracking_uri: str | None = None, experiment_name: str = "default", root_dir: str | os.PathLike | None = None) -> None:
        super().__init__(root_dir)
        if not isinstance(experiment_name, str) or not experiment_name.strip():
            raise ConfigError(f"logger.experiment_name must be a non-empty string, got {experiment_name!r}")
        self.tracking_uri = tracking_uri or default_tracking_uri(self.root_dir)
        self.experiment_name = experiment_name
        self.client = None
        self.run_id = None
        self.experiment_id: str | None = None

    def _connect(self) -> None:
        import logging

        from mlflow.tracking import MlflowClient

        # MLflow's store initialisation (alembic migrations) logs at INFO; keep job output clean.
        for name in ("alembic", "mlflow.store.db.utils"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            artifact_location = None
            if self.tracking_uri.startswith("sqlite:"):
                # keep artifacts beside the SQLite store, not wherever the process happens to run
                artifact_location = (Path(self.tracking_uri.removeprefix("sqlite:///")).parent / "mlruns").resolve().as_uri()
            try:
                self.experiment_id = self.client.create_experiment(self.experiment_name, artifact_location=artifact_location)
            except Exception:  # created concurrently by another job
                experiment = self.client.get_experiment_by_name(self.experiment_name)
                if experiment is None:
                    raise
                self.experiment_id = experiment.experiment_id
        else:
            self.experiment_id = experiment.experiment_id

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator["MlflowTracker"]:
        self._connect()
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags or {})
        self.run_id = run.info.run_id
        try:
            yield self
        except BaseException as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            try:
                self.client.set_tag(self.run_id, "error", message[:5000])
                self.client.set_tag(self.run_id, "error_type", type(exc).__name__)
            finally:
                status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
                self.client.set_terminated(self.run_id, status=status)
            raise
        else:
            self.client.set_terminated(self.run_id, status="FINISHED")

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:MAX_PARAM_LEN]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow accepts at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step or 0) for k, v in metrics.items()])

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(local_dir), artifact_path)

    def describe(self) -> str:
        uri = self.tracking_uri
        ui = f"mlflow ui --backend-store-uri {uri}" if uri.startswith(("sqlite:", "postgresql", "mysql", "file:")) or "://" not in uri else f"open {uri}"
        return f"MLflow run {self.run_id} in experiment '{self.experiment_name}' ({uri}); view with: {ui}"
