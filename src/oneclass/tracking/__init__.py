"""Experiment tracking: an MLflow tracker and a no-op tracker with the same interface.

The pipeline is the only caller. The MLflow tracker talks to the store through an explicit
``MlflowClient`` (never the fluent ``mlflow.start_run`` API), so no active run, tracking URI or
experiment leaks from one job into the next when a worker process runs several jobs.

What a user may point the tracker at is checked before MLflow sees it (:func:`check_tracking_uri`):
an unknown scheme, a plain folder (MLflow's retired file store), a file that is not an SQLite
database (left untouched), a missing database driver, an over-long path: one line each.

Parallel jobs and commands share one store:

* **Creating a SQLite store** (MLflow's schema migrations) happens under an inter-process lock (``flock``)
  beside the database (``mlflow.db.lock``, :func:`store_lock`), taken by every entry point (a
  single run, a sweep, ``oneclass report``), so commands started at the same moment never race
  on the schema. A store damaged that way by older versions gets a message saying how to recover.
* **Reaching the store** is checked once at job start, bounded by ``logger.connect_timeout_s``
  (a command pointed at a server that is not there stops with one line naming the URI). Jobs of a
  sweep, whose store the sweep already reached, wait ``logger.retry_timeout_s`` instead.
* **Every call** goes through :meth:`MlflowTracker._call`: "database is locked" (SQLite writers
  colliding) and an unreachable server (restarted, or its database down) are retried with
  jittered exponential backoff for at most ``logger.retry_timeout_s``, then the job fails with one
  line naming the URI. MLflow's own HTTP retries (urllib3, ~4 minutes by default) are switched off
  during our calls (``MLFLOW_HTTP_REQUEST_MAX_RETRIES=0`` and a request timeout within the bound),
  so the bound holds. Creating a run is idempotent across retries (a ``run_key`` tag is looked up
  before creating again), so a lost answer never makes a duplicate run.
* A job that finishes closes the runs of the same config left RUNNING by a killed earlier attempt
  (KILLED, tag ``superseded_by`` = the run that did the work).

The package: :mod:`~oneclass.tracking.uris` (what a user may point it at, UI links),
:mod:`~oneclass.tracking.store` (retries, the creation lock, call counts),
:mod:`~oneclass.tracking.tracker` (the trackers).
"""

from oneclass.tracking.store import (DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_RETRY_TIMEOUT_S, call_stats, cause, is_locked,
                                     is_transient, is_unreachable, patient_store, reset_call_stats, retry, store_lock)
from oneclass.tracking.tracker import (EXPERIMENT_TAGS, MAX_PARAM_LEN, RUN_KEY, SHORT_PARAM, MlflowTracker, NullTracker,
                                       Tracker, open_client)
from oneclass.tracking.uris import (LOCAL_UI, UI_VIEW, VIEW_METRICS, VIEW_TAG, check_experiment_name, check_logger,
                                    check_tracking_uri, default_tracking_uri, experiment_text, redact, sqlite_path, ui_url,
                                    view_key, view_state)

__all__ = ["DEFAULT_CONNECT_TIMEOUT_S", "DEFAULT_RETRY_TIMEOUT_S", "EXPERIMENT_TAGS", "LOCAL_UI", "MAX_PARAM_LEN", "RUN_KEY",
           "SHORT_PARAM", "UI_VIEW", "VIEW_METRICS", "VIEW_TAG", "MlflowTracker", "NullTracker", "Tracker", "call_stats", "cause",
           "check_experiment_name", "check_logger", "check_tracking_uri", "default_tracking_uri", "experiment_text",
           "is_locked", "is_transient", "is_unreachable", "open_client", "patient_store", "redact", "reset_call_stats",
           "retry", "sqlite_path", "store_lock", "ui_url", "view_key", "view_state"]
