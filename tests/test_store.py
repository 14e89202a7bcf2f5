"""Nothing a user types breaks the tracking store or hangs (issue 11, store and tracking items).

Each case runs the real command line (``run.py`` / ``python -m oneclass.launch.cli``) in a subprocess and
checks the last line it prints, the exit status, and that no traceback escaped. The one-line cases
run a few at a time (they are mostly Python start-up) to keep the suite short.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from oneclass.run import resume
from oneclass.errors import DataError
from oneclass.run.engine import JobInfo, run
from oneclass.launch.sweep import kept_checkpoint, summarize, write_status

# a store, server, launcher or subprocess in every test: `make test-fast` leaves them out
pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[1]
TINY = ["trainer.max_epochs=1", "dataset.n_train=1000", "dataset.n_test_background=1000",
        "dataset.n_test_signal=1000", "trainer.accelerator=cpu"]
LONG = "/tmp/" + "a" * 5000


def oneclass(*args: str, cwd: Path, module: bool = False, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    cmd = [sys.executable, "-m", "oneclass.launch.cli", *args] if module else [sys.executable, str(ROOT / "run.py"), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def last_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runs_in(uri: str, experiment: str = "gaussian"):
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    return client, (client.search_runs([exp.experiment_id]) if exp else [])


def half_built_store(path: Path) -> None:
    """A SQLite store left as two processes creating it at once left it (reproduced with MLflow 3.x:
    a migration stopped half-way, alembic's temporary table still there)."""
    import sqlalchemy
    from alembic import command
    from mlflow.store.db.utils import InitialBase, _get_alembic_config

    url = f"sqlite:///{path}"
    engine = sqlalchemy.create_engine(url)
    InitialBase.metadata.create_all(engine)
    config = _get_alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "a8c4a736bde6")
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE _alembic_tmp_latest_metrics (x INTEGER)")


# ---------------------------------------------------------------------------------------- item 1
@pytest.mark.slow
def test_four_runs_started_at_once_on_a_new_store_all_finish(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    procs = [subprocess.Popen([sys.executable, str(ROOT / "run.py"), f"seed={seed}", "threads=1", *TINY], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for seed in range(4)]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "test AUC = " in out
    client, runs = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert sorted(r.data.params["seed"] for r in runs) == ["0", "1", "2", "3"]
    assert all(r.info.status == "FINISHED" for r in runs)
    assert (tmp_path / "mlflow.db.lock").exists()
    # the store still works: a later run can be written and read back
    later = client.create_run(runs[0].info.experiment_id, run_name="later")
    client.set_terminated(later.info.run_id)
    assert len(runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")[1]) == 5


@pytest.mark.slow
def test_a_half_built_store_says_what_happened_and_is_left_untouched(tmp_path):
    store = tmp_path / "mlflow.db"
    half_built_store(store)
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    proc = oneclass("logger.tracking_uri=sqlite:///mlflow.db", *TINY, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert last_line(proc).startswith("error: MLflow cannot open the SQLite store mlflow.db ((sqlite3.OperationalError) "
                                      "table _alembic_tmp_latest_metrics already exists): its schema is half-built")
    assert last_line(proc).endswith("it holds no runs: move it aside (mv mlflow.db mlflow.db.broken) and run again")
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before


# ---------------------------------------------------------------------------------------- items 2, 3, 11, 12
def _deleted_experiment(tmp_path: Path) -> str:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp_id = client.create_experiment("old")
    client.delete_experiment(exp_id)
    return exp_id


@pytest.mark.slow
def test_bad_store_and_paths_give_one_line_each(tmp_path):
    port = free_port()  # nothing listens there
    (tmp_path / "notes.db").write_text("my notes, not a database\n")
    exp_id = _deleted_experiment(tmp_path)
    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cases = [  # (args, module?, exit status, the last line starts with)
        ([f"logger.tracking_uri=http://127.0.0.1:{port}", "logger.connect_timeout_s=2"], False, 1,
         f"error: cannot reach the MLflow tracking store http://127.0.0.1:{port} within 2 s (logger.connect_timeout_s): "
         "connection refused; start it"),
        (["logger.tracking_uri=sqlite:////proc/oneclass/mlflow.db"], False, 1,
         "error: cannot use the SQLite store sqlite:////proc/oneclass/mlflow.db: cannot create"),
        (["logger.tracking_uri=foo://host/x"], False, 1, "error: logger.tracking_uri=foo://host/x: unknown scheme 'foo'; use"),
        ([f"logger.tracking_uri={tmp_path}/runs"], False, 1,
         f"error: logger.tracking_uri={tmp_path}/runs is a plain path, not a store URI"),
        (["logger.tracking_uri=sqlite:///notes.db"], False, 1,
         "error: notes.db is not an SQLite database (it was left untouched)"),
        (["logger.tracking_uri=postgresql://u:pw@127.0.0.1/db"], False, 1,
         "error: logger.tracking_uri=postgresql://u:***@127.0.0.1/db: the database driver 'psycopg' is not installed"),
        ([f"logger.tracking_uri={db}", "logger.experiment_name=old"], False, 1,
         f"error: MLflow experiment 'old' (id {exp_id}) in {db} is deleted; restore it with `MLFLOW_TRACKING_URI={db} "
         f"mlflow experiments restore --experiment-id {exp_id}` or pick another logger.experiment_name"),
        (["logger.experiment_name=" + "x" * 501], False, 1,
         "error: logger.experiment_name is 501 characters long; MLflow allows at most 500"),
        (["report", "--tracking-uri", "sqlite:///notes.db"], True, 2, "error: notes.db is not an SQLite database"),
        (["report", "--tracking-uri", f"http://127.0.0.1:{port}"], True, 2,
         f"error: cannot reach the MLflow tracking store http://127.0.0.1:{port} within 10 s: connection refused; "
         "start it, or fix --tracking-uri"),
        (["download", "lhco", "--dest", "/proc/oneclass/lhco.h5"], True, 2,
         "error: cannot write /proc/oneclass/lhco.h5: No such file or directory; choose a writable place with --dest"),
        (["download", "lhco", "--dest", LONG], True, 2, "error: cannot write /tmp/aaaa"),
        ([f"dataset.path={LONG}", "logger=none"], False, 2, "error: dataset.path=/tmp/aaaa"),
        ([f"hydra.run.dir={LONG}", "logger=none"], False, 2, "error: hydra.run.dir=/tmp/aaaa"),
        (["-m", "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=0", "logger=none"], False, 2,
         "error: hydra.launcher.n_jobs must be a non-zero integer: the number of parallel jobs (-1 = one per core), got 0"),
        (["model.lrr=0.1"], False, 2,
         "error: unknown key 'model.lrr' in 'model.lrr=0.1'; valid keys of model (model=ocdn), closest first: lr, "),
        (["model=ae", "model.net.rep_dimm=2"], False, 2,
         "error: unknown key 'model.net.rep_dimm' in 'model.net.rep_dimm=2'; valid keys of model.net "
         "(model/net=dense_ae), closest first: rep_dim"),
    ]
    with ThreadPoolExecutor(4) as pool:
        procs = list(pool.map(lambda c: oneclass(*c[0], *([] if c[1] else TINY), cwd=tmp_path, module=c[1], timeout=900), cases))
    for (args, _, status, start), proc in zip(cases, procs):
        shown = " ".join(args)[:120]
        assert "Traceback" not in proc.stderr, f"{shown}:\n{proc.stderr[-3000:]}"
        assert last_line(proc).startswith(start), f"{shown}: got {last_line(proc)!r}"
        assert proc.returncode == status, f"{shown}: exit {proc.returncode}"
        assert len(last_line(proc)) < 600, f"{shown}: an over-long line"
    assert (tmp_path / "notes.db").read_text() == "my notes, not a database\n"


# ---------------------------------------------------------------------------------------- item 4
@pytest.mark.slow
def test_a_rerun_closes_the_run_a_sigkill_left_running(tmp_path):
    args = ["seed=4", "threads=1", "trainer.max_epochs=40", "dataset.n_train=1000", "dataset.n_test_background=1000",
            "dataset.n_test_signal=1000", "trainer.accelerator=cpu"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not list((tmp_path / "checkpoints").rglob(resume.LAST)):
            assert proc.poll() is None and time.time() < deadline, "the job ended before writing a checkpoint"
            time.sleep(0.2)
    finally:
        proc.kill()  # SIGKILL: nothing in the job can react
        proc.wait()
    _, (stale,) = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert stale.info.status == "RUNNING"
    again = oneclass(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    _, runs = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    by_id = {r.info.run_id: r for r in runs}
    (done,) = [r for r in runs if r.info.status == "FINISHED"]
    assert int(done.data.tags["resumed_after_epochs"]) >= 1  # the rerun resumed from the killed run's checkpoint
    old = by_id[stale.info.run_id]
    assert old.info.status == "KILLED" and old.data.tags["superseded_by"] == done.info.run_id
    assert "never closed" in old.data.tags["error"]


@pytest.mark.slow
def test_ctrl_c_in_a_parallel_sweep_ends_with_the_summary(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    args = ["-m", "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2", "seed=0..3", "trainer.max_epochs=200",
            "dataset.n_train=1000", "dataset.n_test_background=1000", "dataset.n_test_signal=1000", "trainer.accelerator=cpu"]
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    try:
        deadline = time.time() + 300
        while len(list((tmp_path / "checkpoints").rglob(resume.LAST))) < 2:  # both jobs are training
            assert proc.poll() is None and time.time() < deadline, proc.communicate()
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does: the whole foreground group
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, out[-2000:] + err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert "sweep: 2 jobs: 0 finished, 0 failed, 2 killed (interrupted" in out, out
    assert out.count("KILLED job ") == 2 and "the same command with resume=true" in out
    killed = [ln for ln in out.splitlines() if "KILLED job " in ln]
    assert all("interrupted (" in ln for ln in killed), killed  # the reason, never a bare exit code
    records = sorted((tmp_path / "multirun").rglob("status.json"))
    assert len(records) == 2
    _, runs = runs_in(uri)
    assert len(runs) == 2 and all(r.info.status == "KILLED" for r in runs), [r.info.status for r in runs]


# ---------------------------------------------------------------------------------------- item 13
def test_checkpoint_of_a_job_that_failed_after_training_is_kept_and_listed(cfg_factory, tmp_path, monkeypatch):
    from oneclass.run import engine

    cfg = cfg_factory("trainer.max_epochs=2", "seed=7")
    job = JobInfo(output_dir=tmp_path / "sweep" / "0", launch_dir=tmp_path)

    def disk_full(*args, **kwargs):
        raise DataError("no space left to write the plots")

    monkeypatch.setattr(engine, "write_artifacts", disk_full)
    with pytest.raises(DataError):
        run(cfg, job)
    kept = kept_checkpoint(cfg, job)
    assert kept == resume.checkpoint_dir(tmp_path, "ocdn-gaussian-seed7", resume.fingerprint(cfg)) and (kept / resume.LAST).is_file()
    write_status(job.output_dir, {"job_num": 0, "overrides": ["seed=7"], "output_dir": str(job.output_dir),
                                  "status": "failed", "error": "no space left to write the plots", "checkpoint_dir": str(kept)})
    text, n_bad = summarize(tmp_path / "sweep")
    assert n_bad == 1
    assert f"training checkpoints kept for a rerun (delete them if you change the config): {kept}" in text
