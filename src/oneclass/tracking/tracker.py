"""The trackers: :class:`MlflowTracker` (one MLflow run per job) and the no-op :class:`Tracker`.

The MLflow tracker talks to the store through an explicit ``MlflowClient`` (:func:`open_client`),
never the fluent ``mlflow.start_run`` API; every call goes through :meth:`MlflowTracker._call`,
which bounds retries by ``logger.retry_timeout_s`` (see :mod:`oneclass.tracking.store`).
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oneclass.config import require_positive
from oneclass.errors import ConfigError, StoreError, first_line, interrupted
from oneclass.tracking.store import (DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_RETRY_TIMEOUT_S, cause, count_runs, is_patient,
                                     is_locked, is_transient, record_call, retry, store_lock)
from oneclass.tracking.uris import (FIX, VIEW_TAG, check_experiment_name, check_tracking_uri, default_tracking_uri,
                                    experiment_text, redact, sqlite_path, ui_url, view_key, view_state)

MAX_PARAM_LEN = 6000
SHORT_PARAM = 250  # longer param values are shortened; the full value goes to a tag
# Experiments we create are "Machine learning" (model training) experiments in the MLflow 3 UI,
# which then opens them on the runs table, not on the GenAI overview.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
RUN_KEY = "run_key"  # tag making create_run idempotent across retries
log = logging.getLogger(__name__)


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

    def tag_run(self, run_id: str, tags: dict[str, str]) -> None:
        """Tags on another run of the store (an ensemble's members: ``mlflow.parentRunId``)."""

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


def open_client(uri: str, lock_timeout_s: float = 120.0, what: str = "logger.tracking_uri", reach_s: float | None = None):
    """An ``MlflowClient`` on ``uri``: checked, and for SQLite created or migrated under :func:`store_lock`.
    ``reach_s``: also check that the store answers within that many seconds (one line if not)."""
    if reach_s is not None:
        client = open_client(uri, lock_timeout_s, what)
        tracker = MlflowTracker(uri, connect_timeout_s=reach_s)
        tracker.fix = f"fix {what}"
        tracker._call(client.search_experiments, max_results=1, timeout_s=reach_s, connecting=True)
        return client
    check_tracking_uri(uri, what)
    # MLflow's store initialisation (alembic migrations) logs at INFO; keep job output clean.
    for name in ("alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    with store_lock(uri, lock_timeout_s):
        try:
            return MlflowClient(tracking_uri=uri)
        except Exception as exc:
            path = sqlite_path(uri)
            why = cause(exc)
            if path is not None and path.is_file() and path.stat().st_size > 0:
                n = count_runs(path)
                held = "no runs" if n == 0 else "runs" if n is None else f"{n} runs"
                fix = (f"move it aside (mv {path} {path}.broken) and run again" if n == 0 else
                       f"keep a copy, try `mlflow db upgrade sqlite:///{path}`, else move it aside and run again")
                raise StoreError(f"MLflow cannot open the SQLite store {redact(str(path))} ({why}): its schema is "
                                 f"half-built, e.g. by commands that created it at the same moment before oneclass "
                                 f"locked store creation; it holds {held}: {fix}") from None
            if path is not None:
                raise StoreError(f"cannot create the SQLite store {redact(str(path))}: {why} "
                                 "(is its folder writable?); pick another logger.tracking_uri") from None
            raise StoreError(f"cannot open the MLflow store {redact(uri)}: {why}") from None


class MlflowTracker(Tracker):
    """Logs one MLflow run per job.

    Parameters
    ----------
    tracking_uri : store URI; None = ``$MLFLOW_TRACKING_URI`` or ``sqlite:///<root_dir>/mlflow.db``.
    experiment_name : MLflow experiment (created if missing).
    root_dir : directory the command was started from (the default store and artifacts live there).
    connect_timeout_s : how long a command waits for the store at start before it stops (one line).
    retry_timeout_s : how long a running job rides out "database is locked" or a server restart.
    """

    def __init__(self, tracking_uri: str | None = None, experiment_name: str = "default", root_dir: str | os.PathLike | None = None,
                 connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S, retry_timeout_s: float = DEFAULT_RETRY_TIMEOUT_S) -> None:
        super().__init__(root_dir)
        experiment_name = experiment_text(experiment_name)
        check_experiment_name(experiment_name)
        self.tracking_uri = tracking_uri or default_tracking_uri(self.root_dir)
        self.experiment_name = experiment_name
        self.connect_timeout_s = float(require_positive(connect_timeout_s, "logger.connect_timeout_s"))
        self.retry_timeout_s = float(require_positive(retry_timeout_s, "logger.retry_timeout_s"))
        check_tracking_uri(self.tracking_uri)
        self.client = None
        self.run_id = None
        self.experiment_id: str | None = None
        self.fix = FIX  # the advice when the store cannot be reached

    @contextmanager
    def _http_bounds(self, timeout_s: float) -> Iterator[None]:
        """During one of our calls to an HTTP store: no urllib3 retries (ours are bounded) and a request
        timeout within the bound. MLflow reads these variables at every request; restored after."""
        if not self.tracking_uri.lower().startswith(("http:", "https:")):
            yield
            return
        settings = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                    "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(min(timeout_s, self.retry_timeout_s) or self.connect_timeout_s)))}
        saved = {k: os.environ.get(k) for k in settings}
        os.environ.update(settings)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _call(self, fn: Callable[..., Any], *args: Any, timeout_s: float | None = None, connecting: bool = False,
              **kwargs: Any) -> Any:
        """A store call, retried on transient errors for ``timeout_s`` (default ``retry_timeout_s``);
        a store still unreachable or locked after that is a one-line :class:`StoreError`."""
        budget = self.retry_timeout_s if timeout_s is None else timeout_s
        uri = redact(self.tracking_uri)
        started = time.perf_counter()
        with self._http_bounds(budget):
            try:
                return retry(fn, *args, timeout_s=budget, what=uri, **kwargs)
            except Exception as exc:
                if isinstance(exc, (ConfigError, StoreError)) or not is_transient(exc):
                    raise
                key = "logger.connect_timeout_s" if connecting and budget == self.connect_timeout_s else "logger.retry_timeout_s"
                if is_locked(exc):
                    raise StoreError(f"the MLflow store {uri} stayed locked for {budget:g} s ({key}): too many parallel "
                                     "writers; lower hydra.launcher.n_jobs, raise the bound, or use a tracking server") from None
                if connecting:
                    bound = f" ({key})" if self.fix == FIX else ""
                    raise StoreError(f"cannot reach the MLflow tracking store {uri} within {budget:g} s{bound}: "
                                     f"{cause(exc)}; start it, or {self.fix}") from None
                raise StoreError(f"lost the MLflow tracking store {uri} for {budget:g} s ({key}): {cause(exc)}; "
                                 "rerun with resume=true once it is back") from None
            finally:
                took = time.perf_counter() - started
                record_call(getattr(fn, "__name__", "call"), took)

    def _connect(self) -> None:
        if self.client is not None:  # once per job: find_finished (resume=true) and start_run both need it
            return
        budget = self.retry_timeout_s if is_patient() else self.connect_timeout_s
        client = open_client(self.tracking_uri, lock_timeout_s=max(120.0, self.retry_timeout_s))
        experiment = self._call(client.get_experiment_by_name, self.experiment_name, timeout_s=budget, connecting=True)
        self.client = client
        if experiment is None:
            artifact_location = None
            if self.tracking_uri.startswith("sqlite:"):
                # keep artifacts beside the SQLite store, not wherever the process happens to run
                artifact_location = (Path(self.tracking_uri.removeprefix("sqlite:///")).parent / "mlruns").resolve().as_uri()
            try:
                self.experiment_id = self._call(self.client.create_experiment, self.experiment_name,
                                                artifact_location=artifact_location, tags=EXPERIMENT_TAGS)
            except StoreError:
                raise
            except Exception:  # created concurrently by another job
                experiment = self._call(self.client.get_experiment_by_name, self.experiment_name)
                if experiment is None:
                    raise
                self.experiment_id = experiment.experiment_id
        else:
            self.experiment_id = experiment.experiment_id
        if experiment is not None and experiment.lifecycle_stage == "deleted":
            self.client = None
            raise StoreError(f"MLflow experiment '{self.experiment_name}' (id {experiment.experiment_id}) in "
                             f"{redact(self.tracking_uri)} is deleted; restore it with `MLFLOW_TRACKING_URI="
                             f"{self.tracking_uri} mlflow experiments restore --experiment-id {experiment.experiment_id}` "
                             "or pick another logger.experiment_name")

    def _create_run(self, run_name: str, tags: dict[str, str]):
        """``create_run`` that never makes two runs: a retry first looks for the run its lost answer created."""
        key = uuid.uuid4().hex
        tags = {**tags, RUN_KEY: key}
        attempts = 0

        def create():
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                found = self.client.search_runs([self.experiment_id], filter_string=f"tags.{RUN_KEY} = '{key}'", max_results=1)
                if found:
                    return found[0]
            return self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)

        return self._call(create)

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator["MlflowTracker"]:
        self._connect()
        run = self._create_run(run_name, tags or {})
        self.run_id = run.info.run_id
        try:
            yield self
        except BaseException as exc:
            message = first_line(exc)
            # Ctrl-C (Lightning turns it into SystemExit) and SLURM preemption (submitit exits) are KILLED
            killed = isinstance(exc, (KeyboardInterrupt, SystemExit))
            if killed:
                message = interrupted(exc, "rerun the job to resume")
            if os.environ.get("SLURM_JOB_ID"):  # a SLURM requeue or time limit says so, not "rerun"
                from oneclass.requeue import is_slurm_requeue, requeued_note, slurm_attempt, slurm_time_limit

                if killed and is_slurm_requeue(exc):
                    message = requeued_note(slurm_attempt())
                elif isinstance(exc, Exception):
                    message = slurm_time_limit(exc) or message
            # closing the run must neither hide the job's own error nor wait long for a store that is gone
            budget = 0.0 if isinstance(exc, StoreError) else min(self.connect_timeout_s, self.retry_timeout_s)
            try:
                self._call(self.client.log_batch, self.run_id, tags=_tags({"error": message, "error_type": type(exc).__name__}),
                           timeout_s=budget)
                self._call(self.client.set_terminated, self.run_id, status="KILLED" if killed else "FAILED", timeout_s=budget)
            except Exception as close_exc:
                log.warning("could not mark MLflow run %s %s: %s", self.run_id, "KILLED" if killed else "FAILED", cause(close_exc))
            raise
        else:
            self._call(self.client.set_terminated, self.run_id, status="FINISHED")
            self._close_superseded((tags or {}).get("config_fingerprint"))

    def _close_superseded(self, fingerprint: str | None) -> None:
        """Earlier runs of this config left RUNNING (SIGKILL, a lost store) or KILLED: this run did their
        work. RUNNING ones become KILLED; both get ``superseded_by`` = this run."""
        if not fingerprint:
            return
        try:
            runs = self._call(self.client.search_runs, [self.experiment_id],
                              filter_string=f"tags.config_fingerprint = '{fingerprint}'", max_results=200)
            for old in runs:
                if old.info.run_id == self.run_id or old.info.status not in ("RUNNING", "KILLED") or "superseded_by" in old.data.tags:
                    continue
                note = {"superseded_by": self.run_id}
                if old.info.status == "RUNNING":
                    note["error"] = f"never closed (killed or store lost); run {self.run_id} finished this config"
                self._call(self.client.log_batch, old.info.run_id, tags=_tags(note))
                if old.info.status == "RUNNING":
                    self._call(self.client.set_terminated, old.info.run_id, status="KILLED")
        except Exception as exc:  # bookkeeping only: never fail a finished job for it
            log.warning("could not close earlier runs of config %s: %s", fingerprint, cause(exc))

    def prepare(self) -> None:
        self._connect()

    def find_finished(self, fingerprint: str) -> str | None:
        self._connect()
        runs = self._call(self.client.search_runs, [self.experiment_id],
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
            self._call(self.client.log_batch, self.run_id, params=items[i : i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._call(self.client.log_batch, self.run_id, metrics=[Metric(k, float(v), now, step or 0) for k, v in metrics.items()])

    def set_tags(self, tags: dict[str, str]) -> None:
        self._call(self.client.log_batch, self.run_id, tags=_tags(tags))

    def tag_run(self, run_id: str, tags: dict[str, str]) -> None:
        self._call(self.client.log_batch, run_id, tags=_tags(tags))

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._call(self.client.log_artifacts, self.run_id, str(local_dir), artifact_path)

    def share_view(self, search_filter: str | None) -> str | None:
        """Store the runs-table view of ``search_filter`` with our metric columns (experiment tag);
        its share key, or None when the store refuses (the link then carries the filter alone)."""
        key = view_key(search_filter)
        try:
            self._call(self.client.set_experiment_tag, self.experiment_id, VIEW_TAG + key, view_state(search_filter))
        except Exception as exc:  # a link without columns is still a link
            log.warning("could not store the MLflow runs-table view: %s", cause(exc))
            return None
        return key

    def describe(self, sweep_id: str | None = None) -> str:
        """Where to see this run (or, with ``sweep_id``, every run of the sweep) in the MLflow UI."""
        if self.experiment_id is None:
            return f"MLflow store {self.tracking_uri} (experiment '{self.experiment_name}' not created yet)"
        search = f"tags.sweep_id = '{sweep_id}'" if sweep_id else None
        key = self.share_view(search)
        if sweep_id:
            url = ui_url(self.tracking_uri, self.experiment_id, search_filter=search, view=key)
            return f"MLflow: this sweep's runs in experiment '{self.experiment_name}': {url}"
        url = ui_url(self.tracking_uri, self.experiment_id, view=key)
        return f"MLflow run {self.run_id} in experiment '{self.experiment_name}'; runs table: {url}"


def _tags(tags: dict[str, Any]) -> list:
    from mlflow.entities import RunTag

    return [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
