"""Experiment tracking: an MLflow tracker and a no-op tracker with the same interface.

The pipeline is the only caller. The MLflow tracker talks to the store through an explicit
``MlflowClient`` (never the fluent ``mlflow.start_run`` API), so no active run, tracking URI or
experiment leaks from one job into the next when a worker process runs several jobs.

Parallel jobs share one store. Every call to the store goes through :func:`retry`: SQLite answers
"database is locked" when two writers collide (immediately, without waiting, when a read
transaction must be upgraded), and a tracking server may be briefly unreachable; such calls are
retried with jittered exponential backoff. The store and experiment are created once by the
launching process before jobs start (:meth:`MlflowTracker.prepare`, called by the sweep callback),
so jobs never race on SQLite schema creation.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oneclass.errors import ConfigError

MAX_PARAM_LEN = 6000
SHORT_PARAM = 250  # longer param values are shortened; the full value goes to a tag
# Experiments we create are "Machine learning" (model training) experiments in the MLflow 3 UI,
# which then opens them on the runs table, not on the GenAI overview.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a local store
RETRIES = 10
_TRANSIENT = ("database is locked", "database table is locked", "busy", "deadlock", "could not obtain lock",
              "connection", "no such table", "duplicate column", "temporarily unavailable", "timed out", "max retries exceeded", "503", "502")
_jitter = random.Random()  # never the global RNG: that belongs to the job's seed
log = logging.getLogger(__name__)


def is_transient(exc: BaseException) -> bool:
    """A store error worth retrying (lock contention, a server momentarily unreachable)."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(t in text for t in _TRANSIENT)


def retry(fn: Callable[..., Any], *args: Any, attempts: int = RETRIES, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, retried on transient store errors (0.1 s doubling to 5 s, jittered)."""
    delay = 0.1
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            log.info("tracking call %s failed (%s); retry %d in %.1f s", getattr(fn, "__name__", fn), exc, attempt, delay)
            time.sleep(delay * (0.5 + _jitter.random()))
            delay = min(delay * 2, 5.0)


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

    def find_finished(self, fingerprint: str) -> str | None:
        """Id of a FINISHED run with this ``config_fingerprint`` tag, if the store has one."""
        return None

    def prepare(self) -> None:
        """Create the store and experiment (once, before parallel jobs start)."""

    def describe(self, sweep_id: str | None = None) -> str:
        """One line telling the user where the run (or the sweep's runs) can be seen."""
        return "tracking off (logger=none)"


class NullTracker(Tracker):
    """Tracking switched off (``logger=none``); results stay in the Hydra output folder."""


def ui_url(tracking_uri: str, experiment_id: str, run_id: str | None = None, search_filter: str | None = None) -> str:
    """The MLflow UI page of a run, or the runs table of an experiment (optionally filtered), with
    the command that starts the UI for a local store: a tracking server's own address for
    ``http(s)://`` stores, else the address ``mlflow ui`` serves."""
    from urllib.parse import quote

    served = tracking_uri.startswith(("http://", "https://"))
    url = f"{tracking_uri.rstrip('/') if served else LOCAL_UI}/#/experiments/{experiment_id}"
    url += f"/runs/{run_id}" if run_id else "/runs"
    if search_filter:
        url += "?searchFilter=" + quote(search_filter, safe="")
    return url if served else f"{url} (start the UI first: mlflow ui --backend-store-uri {tracking_uri})"


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
        if self.client is not None:  # once per job: find_finished (resume=true) and start_run both need it
            return
        import logging

        from mlflow.tracking import MlflowClient

        # MLflow's store initialisation (alembic migrations) logs at INFO; keep job output clean.
        for name in ("alembic", "mlflow.store.db.utils"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        experiment = retry(self.client.get_experiment_by_name, self.experiment_name)
        if experiment is None:
            artifact_location = None
            if self.tracking_uri.startswith("sqlite:"):
                # keep artifacts beside the SQLite store, not wherever the process happens to run
                artifact_location = (Path(self.tracking_uri.removeprefix("sqlite:///")).parent / "mlruns").resolve().as_uri()
            try:
                self.experiment_id = retry(self.client.create_experiment, self.experiment_name,
                                           artifact_location=artifact_location, tags=EXPERIMENT_TAGS)
            except Exception:  # created concurrently by another job
                experiment = retry(self.client.get_experiment_by_name, self.experiment_name)
                if experiment is None:
                    raise
                self.experiment_id = experiment.experiment_id
        else:
            self.experiment_id = experiment.experiment_id

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator["MlflowTracker"]:
        self._connect()
        run = retry(self.client.create_run, self.experiment_id, run_name=run_name, tags=tags or {})
        self.run_id = run.info.run_id
        try:
            yield self
        except BaseException as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # Ctrl-C (Lightning turns it into SystemExit) and SLURM preemption (submitit exits) are KILLED
            killed = isinstance(exc, (KeyboardInterrupt, SystemExit))
            if killed:
                code = f", exit code {exc.code}" if isinstance(exc, SystemExit) else ""
                message = f"interrupted ({type(exc).__name__}{code}): Ctrl-C or preemption; rerun the job to resume"
            try:
                self.set_tags({"error": message, "error_type": type(exc).__name__})
            finally:
                retry(self.client.set_terminated, self.run_id, status="KILLED" if killed else "FAILED")
            raise
        else:
            retry(self.client.set_terminated, self.run_id, status="FINISHED")

    def prepare(self) -> None:
        self._connect()

    def find_finished(self, fingerprint: str) -> str | None:
        self._connect()
        runs = retry(self.client.search_runs, [self.experiment_id],
                     filter_string=f"tags.config_fingerprint = '{fingerprint}' and attributes.status = 'FINISHED'",
                     max_results=1)
        return runs[0].info.run_id if runs else None

    def log_params(self, params: dict[str, Any]) -> None:
        """Params as given; a value longer than ``SHORT_PARAM`` characters (a long list) is shortened
        to keep the runs table readable, its full text in the tag ``param.<key>`` (and config.yaml)."""
        from mlflow.entities import Param

        values = {k: str(v) for k, v in params.items()}
        long = {k: v for k, v in values.items() if len(v) > SHORT_PARAM}
        if long:
            self.set_tags({f"param.{k}": v for k, v in long.items()})
        items = [Param(k, v[: SHORT_PARAM - 40] + f"... ({len(v)} chars: tag param.{k})" if k in long else v)
                 for k, v in values.items()]
        for i in range(0, len(items), 100):  # MLflow accepts at most 100 params per batch
            retry(self.client.log_batch, self.run_id, params=items[i : i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        retry(self.client.log_batch, self.run_id, metrics=[Metric(k, float(v), now, step or 0) for k, v in metrics.items()])

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        retry(self.client.log_batch, self.run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
        retry(self.client.log_artifacts, self.run_id, str(local_dir), artifact_path)

    def describe(self, sweep_id: str | None = None) -> str:
        """Where to see this run (or, with ``sweep_id``, every run of the sweep) in the MLflow UI."""
        if self.experiment_id is None:
            return f"MLflow store {self.tracking_uri} (experiment '{self.experiment_name}' not created yet)"
        if sweep_id:
            url = ui_url(self.tracking_uri, self.experiment_id, search_filter=f"tags.sweep_id = '{sweep_id}'")
            return f"MLflow: this sweep's runs in experiment '{self.experiment_name}': {url}"
        url = ui_url(self.tracking_uri, self.experiment_id)
        return f"MLflow run {self.run_id} in experiment '{self.experiment_name}'; runs table: {url}"
