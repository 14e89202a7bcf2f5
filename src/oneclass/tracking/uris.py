"""What a user may point the tracker at, and where the MLflow UI shows it.

The store URI and the experiment name are checked here before MLflow sees them
(:func:`check_tracking_uri`): an unknown scheme, a plain folder (MLflow's retired file store), a
file that is not an SQLite database (left untouched), a missing database driver, an over-long
path or name: one line each. :func:`ui_url` builds the links a command prints.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

from oneclass.errors import ConfigError, StoreError

LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a local store
UI_VIEW = "workflowType=machine_learning"  # the MLflow UI's model-training view (see ui_url)
# the runs table's columns our links open with (MLflow 3.x shows no metric by default): a shared view
# state, stored as the experiment tag mlflow.sharedViewState.<key> and named by ?viewStateShareKey=<key>
VIEW_TAG = "mlflow.sharedViewState."
VIEW_METRICS = ("test_auc", "test_aupr", "test_f1", "test_max_sic", "fit_time_s")
MAX_EXPERIMENT_NAME = 500  # MLflow's limit (mlflow.utils.validation.MAX_EXPERIMENT_NAME_LENGTH)
FIX = "fix logger.tracking_uri / MLFLOW_TRACKING_URI (logger=none: no tracking)"
_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks")
_DRIVERS = {"psycopg2": "psycopg2", "psycopg": "psycopg", "pg8000": "pg8000", "pymysql": "pymysql",
            "mysqldb": "MySQLdb", "mysqlconnector": "mysql.connector", "pyodbc": "pyodbc", "pymssql": "pymssql"}
_DEFAULT_DRIVER = {"postgresql": "psycopg", "mysql": "mysqldb", "mssql": "pyodbc"}  # SQLAlchemy 2.1's defaults


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


def redact(uri: str) -> str:
    """``uri`` without its password, shortened when absurdly long."""
    uri = re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", str(uri))
    return uri if len(uri) <= 160 else f"{uri[:80]}...{uri[-40:]} ({len(uri)} characters)"


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


def default_tracking_uri(root_dir: Path) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else the SQLite store ``<root_dir>/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(root_dir / 'mlflow.db').resolve()}"


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
