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
"""

from __future__ import annotations

import contextvars
import importlib.util
import logging
import math
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oneclass.config import require_positive
from oneclass.errors import ConfigError, StoreError, first_line, interrupted

MAX_PARAM_LEN = 6000
SHORT_PARAM = 250  # longer param values are shortened; the full value goes to a tag
# Experiments we create are "Machine learning" (model training) experiments in the MLflow 3 UI,
# which then opens them on the runs table, not on the GenAI overview.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a local store
UI_VIEW = "workflowType=machine_learning"  # the MLflow UI's model-training view (see ui_url)
# the runs table's columns our links open with (MLflow 3.x shows no metric by default): a shared view
# state, stored as the experiment tag mlflow.sharedViewState.<key> and named by ?viewStateShareKey=<key>
VIEW_TAG = "mlflow.sharedViewState."
VIEW_METRICS = ("test_auc", "test_aupr", "test_f1", "test_max_sic", "fit_time_s")


def view_state(search_filter: str | None = None, params: tuple[str, ...] = ("seed",)) -> str:
    """The MLflow UI's runs-table state (JSON): our main metrics and ``params`` as columns, newest first."""
    import json

    columns = ["attributes.`Source`", *(f"metrics.`{m}`" for m in VIEW_METRICS), *(f"params.`{p}`" for p in params)]
    state = {"selectedColumns": columns, "orderByKey": "attributes.start_time", "orderByAsc": False,
             "searchFilter": search_filter or ""}
    return json.dumps(state, separators=(",", ":"))


def view_key(search_filter: str | None) -> str:
    """A short, stable share key for one runs-table view (the same filter, the same key)."""
    import hashlib

    return "oneclass-" + hashlib.sha1((search_filter or "").encode()).hexdigest()[:12]
MAX_EXPERIMENT_NAME = 500  # MLflow's limit (mlflow.utils.validation.MAX_EXPERIMENT_NAME_LENGTH)
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_RETRY_TIMEOUT_S = 60.0
RUN_KEY = "run_key"  # tag making create_run idempotent across retries
FIX = "fix logger.tracking_uri / MLFLOW_TRACKING_URI (logger=none: no tracking)"
_LOCKED = ("database is locked", "database table is locked", "busy", "deadlock", "could not obtain lock",
           "temporarily unavailable")
_UNREACHABLE = ("connection", "max retries exceeded", "timed out", "timeout", "error responses", "could not connect",
                "server closed", "name or service not known", "name resolution", "503", "502", "504")
_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks")
_DRIVERS = {"psycopg2": "psycopg2", "psycopg": "psycopg", "pg8000": "pg8000", "pymysql": "pymysql",
            "mysqldb": "MySQLdb", "mysqlconnector": "mysql.connector", "pyodbc": "pyodbc", "pymssql": "pymssql"}
_DEFAULT_DRIVER = {"postgresql": "psycopg", "mysql": "mysqldb", "mssql": "pyodbc"}  # SQLAlchemy 2.1's defaults
_jitter = random.Random()  # never the global RNG: that belongs to the job's seed
_patient = contextvars.ContextVar("oneclass_patient_store", default=False)
_stats: dict[str, Any] = {}  # this process's store calls since reset_call_stats(): count, time, slowest
log = logging.getLogger(__name__)


def reset_call_stats() -> None:
    _stats.clear()
    _stats.update(calls=0, retries=0, total_s=0.0, slowest_s=0.0, slowest_call="")


def call_stats() -> dict[str, Any]:
    """Store calls made by this process since :func:`reset_call_stats` (a job's ``status.json`` keeps them)."""
    return {**_stats, "total_s": round(_stats.get("total_s", 0.0), 4), "slowest_s": round(_stats.get("slowest_s", 0.0), 4)}


reset_call_stats()


def is_locked(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(t in text for t in _LOCKED)


def is_unreachable(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(t in text for t in _UNREACHABLE)


def is_transient(exc: BaseException) -> bool:
    """A store error worth retrying (lock contention, a server momentarily unreachable)."""
    return not isinstance(exc, (ConfigError, StoreError)) and (is_locked(exc) or is_unreachable(exc))


def cause(exc: BaseException) -> str:
    """The root cause of a store error in a few words (MLflow's HTTP messages run to 500 characters)."""
    text = str(exc)
    if m := re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text):
        return m.group(1).strip().rstrip(".").lower()
    if m := re.search(r"too many (\d+) error responses", text):
        return f"the server answers HTTP {m.group(1)} (is its database down?)"
    if "timed out" in text.lower():
        return "no answer (timed out)"
    return first_line(exc)[:300]


def redact(uri: str) -> str:
    """``uri`` without its password, shortened when absurdly long."""
    uri = re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", str(uri))
    return uri if len(uri) <= 160 else f"{uri[:80]}...{uri[-40:]} ({len(uri)} characters)"


def retry(fn: Callable[..., Any], *args: Any, timeout_s: float = DEFAULT_RETRY_TIMEOUT_S, what: str = "",
          **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, retried on transient store errors for at most ``timeout_s`` seconds
    (0.1 s doubling to 5 s, jittered); ``timeout_s=0``: one attempt. Other errors raise at once."""
    deadline = time.monotonic() + timeout_s
    delay, attempt, warned = 0.1, 0, False
    while True:
        attempt += 1
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            left = deadline - time.monotonic()
            if left <= 0 or not is_transient(exc):
                raise
            name = getattr(fn, "__name__", repr(fn))
            _stats["retries"] = _stats.get("retries", 0) + 1
            if is_unreachable(exc) and not warned:
                log.warning("tracking store %s unreachable (%s); retrying for up to %.0f s", what or "", cause(exc), left)
                warned = True
            else:
                log.debug("tracking call %s failed (%s); retry %d in %.1f s", name, cause(exc), attempt, delay)
            time.sleep(min(left, delay * (0.5 + _jitter.random())))
            delay = min(delay * 2, 5.0)


@contextmanager
def patient_store() -> Iterator[None]:
    """Inside a sweep job (the sweep already reached the store): a store that is down when the job
    starts is waited for ``retry_timeout_s`` like a restart, not failed after ``connect_timeout_s``."""
    token = _patient.set(True)
    try:
        yield
    finally:
        _patient.reset(token)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _scheme(uri: str) -> str:
    m = re.match(r"^([A-Za-z][\w+.-]*):", uri)
    return m.group(1).lower() if m and len(m.group(1)) > 1 else ""  # "C:" is a Windows drive, not a scheme


def check_tracking_uri(uri: Any, what: str = "logger.tracking_uri") -> None:
    """One-line errors for a URI MLflow would choke on (before MLflow sees it; files are never written)."""
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError(f"{what} must be a store URI such as sqlite:///mlflow.db or http://HOST:5000, got {uri!r}")
    scheme = _scheme(uri)
    base = scheme.split("+", 1)[0]
    if base in ("", "file"):
        path = uri.removeprefix("file://").removeprefix("file:")
        db = path if path.endswith(".db") else str(Path(path) / "mlflow.db")
        raise ConfigError(f"{what}={redact(uri)} is a plain path, not a store URI (MLflow would use it as its retired "
                          f"file store); write sqlite:///{redact(db)} for a SQLite store, or http://HOST:5000 for a server")
    if base not in _SCHEMES:
        raise ConfigError(f"{what}={redact(uri)}: unknown scheme '{scheme}'; use sqlite:///PATH/mlflow.db, "
                          "http(s)://HOST:PORT (an MLflow server) or postgresql+psycopg2://USER:PASSWORD@HOST/DB")
    if base == "sqlite":
        path = sqlite_path(uri)
        if path is None:
            raise ConfigError(f"{what}={uri}: an in-memory SQLite store keeps nothing; give a file: sqlite:///PATH/mlflow.db")
        try:
            if path.is_dir():
                raise ConfigError(f"{what}: {redact(str(path))} is a folder; give the database file, e.g. "
                                  f"sqlite:///{redact(str(path / 'mlflow.db'))}")
            if path.is_file() and path.stat().st_size > 0:
                with open(path, "rb") as handle:
                    header = handle.read(16)
                if header != b"SQLite format 3\x00":
                    raise StoreError(f"{redact(str(path))} is not an SQLite database (it was left untouched); point "
                                     f"{what} at an MLflow .db file or at a new file name")
        except OSError as exc:
            raise ConfigError(f"{what}={redact(uri)}: {exc.strerror or exc}") from None
    if base in _DEFAULT_DRIVER:
        driver = scheme.split("+", 1)[1] if "+" in scheme else _DEFAULT_DRIVER[base]
        module = _DRIVERS.get(driver)
        if module and importlib.util.find_spec(module.split(".")[0]) is None:
            hint = (" (`postgresql://` means psycopg 3 to SQLAlchemy 2: write postgresql+psycopg2://... and "
                    "pip install 'oneclass[server]')") if base == "postgresql" else ""
            raise ConfigError(f"{what}={redact(uri)}: the database driver '{module}' is not installed{hint}")


def experiment_text(name: Any) -> Any:
    """A number given as the experiment name (``dataset=adbench dataset.name=38`` reaches
    ``${dataset.name}`` as the int 38) is taken as its text; anything else is left to the check."""
    return str(name) if isinstance(name, int) and not isinstance(name, bool) else name


def check_experiment_name(name: Any) -> None:
    name = experiment_text(name)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"logger.experiment_name must be a non-empty string, got {name!r}")
    if len(name) > MAX_EXPERIMENT_NAME:
        raise ConfigError(f"logger.experiment_name is {len(name)} characters long; MLflow allows at most {MAX_EXPERIMENT_NAME}")


def check_logger(node: Any, root_dir: str | os.PathLike | None = None) -> None:
    """The checks of an MLflow ``logger`` config that need no MLflow (run before the heavy imports)."""
    try:
        if node is None or not str(node.get("_target_", "")).endswith("MlflowTracker"):
            return
        name, uri = node.get("experiment_name"), node.get("tracking_uri")
    except Exception:  # a broken interpolation: the job reports it
        return
    check_experiment_name(name)
    check_tracking_uri(uri or default_tracking_uri(Path(root_dir or os.getcwd())))


@contextmanager
def store_lock(uri: str, timeout_s: float = 120.0) -> Iterator[None]:
    """Inter-process lock ``<database>.lock`` held while a SQLite store is opened (created or
    migrated); nothing for other stores. An fcntl lock: it goes with its process, never stale."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    import fcntl

    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as MLflow would when it creates the store
        handle = open(f"{path}.lock", "a")
    except OSError as exc:
        raise StoreError(f"cannot use the SQLite store {redact(uri)}: cannot create {redact(str(path))}.lock beside it "
                         f"({exc.strerror or exc}); pick a writable folder with logger.tracking_uri") from None
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"waited {timeout_s:.0f} s for {redact(str(path))}.lock: another command is still "
                                     "creating this MLflow store (a hung process? see `ps`)") from None
                time.sleep(0.05)
        yield
    finally:
        handle.close()  # releases the lock


def _count_runs(path: Path) -> int | None:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except Exception:
        return None


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
                n = _count_runs(path)
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


def ui_url(tracking_uri: str, experiment_id: str, run_id: str | None = None, search_filter: str | None = None,
           view: str | None = None) -> str:
    """The MLflow UI page of a run, or the runs table of an experiment (optionally filtered), with
    the command that starts the UI for a local store: a tracking server's own address for
    ``http(s)://`` stores, else the address ``mlflow ui`` serves.

    Every link opens the UI's "Machine learning" view (``workflowType=machine_learning``): MLflow
    3.17's UI decides GenAI vs machine-learning from its own switch (remembered in the browser,
    default GenAI), overridable by that URL parameter, and no longer from the experiment's
    ``mlflow.experimentKind`` tag (which we still set for older UIs)."""
    from urllib.parse import quote

    served = tracking_uri.startswith(("http://", "https://"))
    url = f"{tracking_uri.rstrip('/') if served else LOCAL_UI}/#/experiments/{experiment_id}"
    url += f"/runs/{run_id}" if run_id else "/runs"
    url += f"?{UI_VIEW}"
    if view:  # a shared view state (see view_state): its columns and its filter; a URL filter would override it
        url += f"&viewStateShareKey={view}"
    elif search_filter:
        url += "&searchFilter=" + quote(search_filter, safe="")
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
                _stats["calls"] += 1
                _stats["total_s"] += took
                if took > _stats["slowest_s"]:
                    _stats["slowest_s"], _stats["slowest_call"] = took, getattr(fn, "__name__", "call")

    def _connect(self) -> None:
        if self.client is not None:  # once per job: find_finished (resume=true) and start_run both need it
            return
        budget = self.retry_timeout_s if _patient.get() else self.connect_timeout_s
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
                from oneclass.run.jobenv import is_slurm_requeue, requeued_note, slurm_attempt, slurm_time_limit

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
