"""Tracking at team scale with the real parts: PostgreSQL, `mlflow server` on it, sweeps against it.

A module-scoped fixture starts a real PostgreSQL server (Debian's ``postgresql`` package: ``initdb``
and ``pg_ctl`` into a temporary folder, a free port on 127.0.0.1) and a real ``mlflow server
--backend-store-uri postgresql+psycopg2://... --artifacts-destination <tmp>`` on 127.0.0.1, both
torn down at the end. These are the "team server" commands of docs/cluster.md. Without PostgreSQL the tests
fail with one line saying how to install it (``.ci/run`` installs it): they never skip.

Each test uses its own experiment; the fault tests stop the MLflow server or PostgreSQL while a
sweep runs and check what a team relies on: no run lost, none duplicated, none left RUNNING.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["trainer.max_epochs=1", "dataset.n_train=1000", "dataset.n_test_background=1000",
         "dataset.n_test_signal=1000", "trainer.accelerator=cpu"]
ARTIFACTS = {"config.yaml", "scores.npz", "roc.png", "sic.png", "model.ckpt"}
PG_HINT = "install Debian's postgresql package (apt-get install postgresql; .ci/run does it)"
pytestmark = [pytest.mark.slow, pytest.mark.system]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin_dir() -> Path:
    """Folder with initdb and pg_ctl: $ONECLASS_PG_BIN, the PATH, or Debian's /usr/lib/postgresql/N/bin."""
    candidates = [Path(os.environ["ONECLASS_PG_BIN"])] if os.environ.get("ONECLASS_PG_BIN") else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name.zfill(4), reverse=True)
    if which := shutil.which("pg_ctl"):
        candidates.append(Path(which).resolve().parent)
    for candidate in candidates:
        if all((candidate / name).is_file() for name in ("initdb", "pg_ctl", "createdb", "postgres")):
            return candidate
    pytest.fail(f"PostgreSQL server binaries (initdb, pg_ctl, createdb) not found: {PG_HINT}", pytrace=False)


class Postgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1 with a password-protected database ``mlflow``."""

    user, password, database = "mlflow", "team-secret", "mlflow"

    def __init__(self) -> None:
        self.bin = pg_bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="oneclass-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            if shutil.which("runuser") is None:
                pytest.fail("running as root needs `runuser` to start PostgreSQL as the postgres user", pytrace=False)
            try:
                shutil.chown(self.dir, "postgres")
            except (LookupError, OSError) as exc:
                pytest.fail(f"running as root without a usable postgres user ({exc}): {PG_HINT}", pytrace=False)
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.uri = f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *cmd: str, owner: bool = True) -> None:
        env = {**os.environ, "PGPASSWORD": self.password}
        proc = subprocess.run([*(self.as_owner if owner else []), *cmd], capture_output=True, text=True, timeout=120, env=env)
        if proc.returncode:
            log = (self.dir / "pg.log").read_text()[-2000:] if (self.dir / "pg.log").is_file() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}\n{log}")

    def init(self) -> None:
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.as_owner:
            shutil.chown(pwfile, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=scram-sha-256",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        # fsync off: a test cluster, nothing to keep; unix socket in our folder, TCP on 127.0.0.1 only
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-o", opts, "-w", "-t", "60", "start")

    def createdb(self) -> None:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database, owner=False)

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class MlflowServer:
    """`mlflow server` on 127.0.0.1 with a database backend and proxied artifacts; stop() and start() again."""

    def __init__(self, backend_uri: str, artifacts: Path, log_path: Path) -> None:
        self.backend_uri, self.artifacts, self.log_path = backend_uri, artifacts, log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 300) -> float:
        t0 = time.time()
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", "1", "--backend-store-uri", self.backend_uri, "--artifacts-destination", str(self.artifacts)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return time.time() - t0
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() - t0 > timeout_s:
                self.stop()
                pytest.fail(f"mlflow server did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


class Team:
    def __init__(self, pg: Postgres, server: MlflowServer, root: Path) -> None:
        self.pg, self.server, self.root = pg, server, root
        self.url = server.url


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    try:
        import psycopg2  # noqa: F401  (the server's driver: oneclass[server])
    except ImportError:
        pytest.fail("psycopg2 is not installed: pip install -e '.[server]' (.ci/run does)", pytrace=False)
    root = tmp_path_factory.mktemp("team")
    pg = Postgres()
    server = None
    try:
        pg.init()
        pg.start()
        pg.createdb()
        server = MlflowServer(pg.uri, root / "artifacts", root / "server.log")
        server.start()
        yield Team(pg, server, root)
    finally:
        if server is not None:
            server.stop()
        pg.destroy()


@pytest.fixture(autouse=True)
def _team_up(request):
    """Every test starts with PostgreSQL and the MLflow server up, whatever an earlier test left."""
    if "team" in request.fixturenames:
        team = request.getfixturevalue("team")
        if not (team.pg.data / "postmaster.pid").exists():
            team.pg.start()
        if team.server.proc is None or team.server.proc.poll() is not None:
            team.server.stop()
            team.server.start()
    yield


def sweep_cmd(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "run.py"), "-m", *args, *SMALL]


def run_sweep(cwd: Path, *args: str, timeout: int = 400) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(sweep_cmd(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def start_sweep(cwd: Path, *args: str) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen(sweep_cmd(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)


def finish(proc: subprocess.Popen, timeout: int = 400) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"sweep did not end in {timeout} s:\n{out[-3000:]}\n{err[-3000:]}")
    return proc.returncode, out, err


def runs_of(url: str, experiment: str) -> list:
    client = MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000) if exp else []


def count_runs(url: str, experiment: str, status: str | None = None) -> int:
    """For polling while the server may be down: 0 instead of an error."""
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    try:
        return sum(1 for r in runs_of(url, experiment) if status is None or r.info.status == status)
    except Exception:
        return 0
    finally:
        os.environ.pop("MLFLOW_HTTP_REQUEST_MAX_RETRIES", None)


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.time() + timeout_s
    while not predicate():
        if time.time() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.5)


def statuses(cwd: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((cwd / "multirun").rglob("status.json"))]


def outcome(url: str, experiment: str, expected_seeds: list[int]) -> dict[str, int]:
    """Runs expected / finished / lost / duplicated / left RUNNING, by seed."""
    runs = runs_of(url, experiment)
    finished: dict[int, int] = {}
    for r in runs:
        if r.info.status == "FINISHED":
            seed = int(r.data.params["seed"])
            finished[seed] = finished.get(seed, 0) + 1
    return {"expected": len(expected_seeds), "finished": sum(finished.values()),
            "lost": sum(1 for s in expected_seeds if s not in finished),
            "duplicated": sum(n - 1 for n in finished.values() if n > 1),
            "running": sum(1 for r in runs if r.info.status == "RUNNING")}


# ----------------------------------------------------------------------------------------- load
def test_load_32_jobs_8_parallel_against_postgres_backed_server(team, tmp_path):
    cwd = tmp_path / "load"
    t0 = time.time()
    proc = run_sweep(cwd, "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=8", "seed=0..31",
                     f"logger.tracking_uri={team.url}", "logger.experiment_name=load", timeout=900)
    wall = time.time() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "sweep: 32 jobs: 32 finished, 0 failed" in proc.stdout
    assert not (cwd / "mlflow.db").exists() and not (cwd / "mlruns").exists()  # all through the server

    client = MlflowClient(tracking_uri=team.url)
    runs = runs_of(team.url, "load")
    assert len(runs) == 32 and all(r.info.status == "FINISHED" for r in runs)
    assert sorted(int(r.data.params["seed"]) for r in runs) == list(range(32))
    records = {s["run_id"]: s for s in statuses(cwd)}
    calls = [s["tracking_calls"] for s in records.values()]
    slowest = max(calls, key=lambda c: c["slowest_s"])
    print(f"\nLOAD: 32 runs in {wall:.1f} s = {32 / wall:.2f} runs/s; {sum(c['calls'] for c in calls)} tracking calls, "
          f"slowest {slowest['slowest_s']:.3f} s ({slowest['slowest_call']}), mean per job "
          f"{sum(c['total_s'] for c in calls) / 32:.2f} s")
    for r in runs:
        job = records[r.info.run_id]
        local = Path(job["output_dir"])
        # every param is the job's resolved config, every metric the job's own, every tag set
        assert r.data.params["trainer.max_epochs"] == "1" and r.data.params["dataset.n_train"] == "1000"
        assert {k: round(v, 12) for k, v in job["metrics"].items()} == \
            {k: round(r.data.metrics[k], 12) for k in job["metrics"]}
        assert [m.step for m in client.get_metric_history(r.info.run_id, "train_loss")] == [0]
        assert r.data.tags["sweep_id"] == job["sweep_id"] and r.data.tags["job_num"] == str(job["job_num"])
        assert r.data.tags["output_dir"] == str(local) and len(r.data.tags["config_fingerprint"]) == 16
        assert r.info.artifact_uri.startswith("mlflow-artifacts:")
        assert ARTIFACTS <= {a.path for a in client.list_artifacts(r.info.run_id)}
    # artifacts read back through the server are the job's files, byte for byte
    for r in runs[:4]:
        got = client.download_artifacts(r.info.run_id, "scores.npz", str(tmp_path / "dl" / r.info.run_id))
        assert Path(got).read_bytes() == (Path(records[r.info.run_id]["output_dir"]) / "scores.npz").read_bytes()

    # the same runs through `oneclass report`
    report = subprocess.run([sys.executable, "-m", "oneclass.launch.cli", "report", "--tracking-uri", team.url,
                             "--experiment", "load", "--output", str(tmp_path / "report"), "--no-mlflow"],
                            cwd=cwd, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    with open(tmp_path / "report" / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    by_id = {r.info.run_id: r for r in runs}
    assert sorted(row["run_id"] for row in rows) == sorted(by_id)
    for row in rows:
        assert float(row["auc"]) == pytest.approx(by_id[row["run_id"]].data.metrics["test_auc"], abs=1e-6)  # runs.csv: 6 digits


# ----------------------------------------------------------------------------------------- faults
def test_server_restart_mid_sweep_loses_and_duplicates_nothing(team, tmp_path):
    cwd = tmp_path / "restart"
    proc = start_sweep(cwd, "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2", "seed=0..5",
                       f"logger.tracking_uri={team.url}", "logger.experiment_name=restart",
                       "logger.retry_timeout_s=300")  # the server's restart takes 13 s here, minutes on a loaded machine
    try:
        wait_for(lambda: count_runs(team.url, "restart", "FINISHED") >= 1, 300, "a finished run")
        team.server.stop()
        time.sleep(3)
        restart_s = team.server.start()  # down for 3 s + the server's start-up
    finally:
        rc, out, err = finish(proc)
    assert rc == 0, out[-3000:] + err[-3000:]
    assert "sweep: 6 jobs: 6 finished, 0 failed" in out
    result = outcome(team.url, "restart", list(range(6)))
    retried = sum(s["tracking_calls"]["retries"] for s in statuses(cwd))
    print(f"\nRESTART (server down {3 + restart_s:.0f} s): {result}, {retried} tracking calls retried")
    assert retried > 0  # the jobs did meet the outage
    assert result == {"expected": 6, "finished": 6, "lost": 0, "duplicated": 0, "running": 0}
    assert len(runs_of(team.url, "restart")) == 6


def test_server_down_longer_than_the_bound_fails_in_one_line_and_resume_completes(team, tmp_path):
    cwd = tmp_path / "outage"
    args = ["hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2", "seed=0..3",
            f"logger.tracking_uri={team.url}", "logger.experiment_name=outage", "logger.retry_timeout_s=4"]
    proc = start_sweep(cwd, *args)
    try:
        wait_for(lambda: count_runs(team.url, "outage", "FINISHED") >= 1, 300, "a finished run")
        team.server.stop()
        rc, out, err = finish(proc)  # the server stays down until the sweep has ended
    finally:
        team.server.start()
    first = outcome(team.url, "outage", list(range(4)))
    assert rc == 1, out[-3000:] + err[-3000:]
    failed = [s for s in statuses(cwd) if s["status"] == "failed"]
    assert failed and first["lost"] == len(failed), (first, out)
    assert "Traceback" not in out
    for s in failed:
        assert team.url in s["error"] and "logger.retry_timeout_s" in s["error"], s["error"]
        line = f"FAILED job {s['job_num']} [seed={s['overrides'][0].split('=')[1]}"
        assert line in out and s["error"] in out, out
        # the job's own output: one line naming the URI
        assert f"[{s['job_num'] + 1}/4] seed=" in out
    assert f"sweep: 4 jobs: {4 - len(failed)} finished, {len(failed)} failed" in out

    again = run_sweep(cwd, *args, "resume=true")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"{4 - len(failed)} skipped (already FINISHED, resume=true)" in again.stdout
    result = outcome(team.url, "outage", list(range(4)))
    print(f"\nOUTAGE: first sweep {first}; after resume=true {result}; failed jobs {len(failed)}")
    assert result == {"expected": 4, "finished": 4, "lost": 0, "duplicated": 0, "running": 0}
    # the runs the outage left RUNNING were closed by the runs that did their work
    runs = runs_of(team.url, "outage")
    stale = [r for r in runs if r.info.status == "KILLED"]
    finished_ids = {r.info.run_id for r in runs if r.info.status == "FINISHED"}
    assert all(r.data.tags.get("superseded_by") in finished_ids for r in stale)
    assert len(runs) - len(stale) == 4


def test_postgres_restart_mid_sweep_loses_and_duplicates_nothing(team, tmp_path):
    cwd = tmp_path / "pg"
    proc = start_sweep(cwd, "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2", "seed=0..3",
                       f"logger.tracking_uri={team.url}", "logger.experiment_name=pgdown",
                       "logger.retry_timeout_s=300")
    try:
        # the third job has just started: it is about to log its params and metrics
        wait_for(lambda: count_runs(team.url, "pgdown") >= 3, 300, "the third run")
        team.pg.stop()
        time.sleep(5)
        team.pg.start()
    finally:
        rc, out, err = finish(proc)
    assert rc == 0, out[-3000:] + err[-3000:]
    assert "sweep: 4 jobs: 4 finished, 0 failed" in out
    result = outcome(team.url, "pgdown", list(range(4)))
    retried = sum(s["tracking_calls"]["retries"] for s in statuses(cwd))
    print(f"\nPOSTGRES DOWN 5 s: {result}, {retried} tracking calls retried")
    assert retried > 0  # the jobs did meet the outage
    assert result == {"expected": 4, "finished": 4, "lost": 0, "duplicated": 0, "running": 0}
    assert len(runs_of(team.url, "pgdown")) == 4


# ----------------------------------------------------------------------------------------- artifacts
def test_job_from_another_directory_stores_artifacts_on_the_server(team, tmp_path):
    elsewhere = tmp_path / "compute-node" / "scratch"
    elsewhere.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), f"logger.tracking_uri={team.url}",
                           "logger.experiment_name=artifacts", "seed=3", *SMALL],
                          cwd=elsewhere, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = runs_of(team.url, "artifacts")
    assert run.info.status == "FINISHED" and run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert not (elsewhere / "mlruns").exists() and not (elsewhere / "mlflow.db").exists()
    stored = {p.name for p in (team.root / "artifacts").rglob("*") if run.info.run_id in p.parts}
    assert ARTIFACTS <= stored  # in the server's --artifacts-destination
    got = MlflowClient(tracking_uri=team.url).download_artifacts(run.info.run_id, "scores.npz", str(tmp_path / "dl"))
    with np.load(got) as npz:
        assert npz["scores"].shape == (2000,) and set(np.unique(npz["labels"])) == {0, 1}
