"""Sweeps at scale: launchers, one store that loses nothing, failing jobs, resuming.

The end-to-end tests run the real command (``run.py -m ...``) in a subprocess with cwd=tmp_path
and read the results back from the MLflow store; the resume tests call ``pipeline.run`` in
process and interrupt it with a callback (what a SLURM preemption or Ctrl-C does: SystemExit).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from oneclass import requeue
from oneclass.run import jobenv, resume
from oneclass.errors import ConfigError
from oneclass.run.engine import JobInfo, run
from oneclass.tracking import is_transient, retry

ROOT = Path(__file__).resolve().parents[1]
TINY = ["trainer.max_epochs=1", "dataset.n_train=2000", "dataset.n_test_background=2000",
        "dataset.n_test_signal=2000", "trainer.accelerator=cpu"]
ARTIFACTS = {"config.yaml", "scores.npz", "roc.png", "sic.png", "model.ckpt"}


def sweep(tmp_path: Path, *args: str, env: dict | None = None, timeout: int = 400) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", *args, *TINY], cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout, env=full_env)


def runs_in(uri: str, experiment: str = "gaussian"):
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    return client, (client.search_runs([exp.experiment_id]) if exp else [])


def statuses(tmp_path: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "multirun").rglob("status.json"))]


# ----------------------------------------------------------------------------------- units
def test_threads_default_to_cores_over_parallel_jobs_and_are_configurable():
    cores = jobenv.available_cores()
    assert jobenv.job_threads(None) is None  # one job at a time: torch's default
    assert jobenv.job_threads(None, parallel_jobs=2) == max(1, cores // 2)
    assert jobenv.job_threads(None, parallel_jobs=cores * 4) == 1
    assert jobenv.job_threads(None, parallel_jobs=2, cpus_per_task=3) == 3
    assert jobenv.job_threads(5, parallel_jobs=2, cpus_per_task=3) == 5
    assert jobenv.concurrent_jobs(-1) == cores
    with pytest.raises(ConfigError, match="threads must be positive"):
        jobenv.job_threads(0)


def test_isolated_restores_threads_seeds_and_random_state():
    before = jobenv.process_state()
    threads = torch.get_num_threads()
    with jobenv.isolated():
        jobenv.set_threads(threads + 1)  # not the threads it found, so that the check below can fail
        L.seed_everything(123, verbose=False)
        torch.rand(10), np.random.rand(3)
    after = jobenv.process_state()
    assert torch.get_num_threads() == threads
    assert after["rng"] == before["rng"] and after["pl_global_seed"] == before["pl_global_seed"]


def test_retry_rides_out_lock_errors_but_not_real_errors():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return "ok"

    assert retry(flaky) == "ok" and len(calls) == 3
    assert not is_transient(ValueError("Changing param values is not allowed"))
    with pytest.raises(ValueError):
        retry(lambda: (_ for _ in ()).throw(ValueError("bad value")))


def test_under_slurm_lightning_does_not_requeue(cfg_factory, monkeypatch):
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    from oneclass.run.job import make_trainer

    for key, value in {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "oneclass", "SLURM_JOB_ID": "42",
                       "SLURM_NODELIST": "node1", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("shutil.which", lambda name: None)  # no srun on this machine
    trainer = make_trainer(cfg_factory(), [])
    env = trainer._accelerator_connector.cluster_environment
    assert isinstance(env, SLURMEnvironment) and env.auto_requeue is False


def test_slurm_requeue_and_time_limit_are_named_in_the_job(monkeypatch):
    """What a job records when submitit ends an attempt (the cluster tests in test_slurm.py run it for real)."""
    from mlflow.exceptions import MlflowException
    from submitit.core.utils import UncompletedJobError

    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")
    assert requeue.slurm_attempt() == 3
    assert requeue.is_slurm_requeue(SystemExit(-1))  # submitit: scontrol requeue, then sys.exit(-1)
    assert not requeue.is_slurm_requeue(KeyboardInterrupt())
    assert requeue.requeued_note(3).startswith("requeued by SLURM (preemption / time limit / requeue), attempt 3: attempt 4 resumes")
    try:  # the handler raises wherever the job is, e.g. inside MLflow logging a metric
        try:
            raise UncompletedJobError("Job not requeued because: timed-out too many times.")
        except UncompletedJobError as inner:
            raise MlflowException(f"API request failed: {inner}") from inner
    except MlflowException as exc:
        assert requeue.slurm_time_limit(exc).startswith("hit the SLURM time limit")
    assert requeue.slurm_time_limit(ValueError("timed-out")) is None
    monkeypatch.delenv("SLURM_JOB_ID")
    assert not requeue.is_slurm_requeue(SystemExit(-1))  # not under SLURM: Ctrl-C's SystemExit


def test_slurm_preset_becomes_the_expected_sbatch_script(tmp_path, monkeypatch):
    """The preset's keys reach sbatch (no SLURM needed: the submission text is captured)."""
    import submitit
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    from oneclass.launch.cli import config_dir

    monkeypatch.chdir(tmp_path)
    captured = {}

    class Captured(Exception):
        pass

    def capture(self, submissions):
        captured["text"] = self._make_submission_file_text("python -u -m submitit.core._submit FOLDER", "uid")
        captured["n"] = len(submissions)
        raise Captured

    monkeypatch.setattr(submitit.SlurmExecutor, "_internal_process_submissions", capture)
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # "srun is here"
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True, overrides=[
            "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.account=myproj",
            "hydra.launcher.qos=high", "hydra.launcher.gpus_per_node=1", "hydra.launcher.timeout_min=90",
            "hydra.launcher.constraint=a100", "hydra.launcher.exclude='node[01-02]'",
            "++hydra.launcher.additional_parameters={mail-type: FAIL}",
            "hydra.launcher.setup=['module load cuda/12.4','source venv/bin/activate']"])
        HydraConfig.instance().set_config(cfg)
        try:
            launcher = instantiate(cfg.hydra.launcher)
            launcher.config = cfg
            with pytest.raises(Captured):
                launcher.launch([["seed=0"], ["seed=1"]], initial_job_idx=0)
        finally:  # a HydraConfig left set makes later tests in this worker resolve paths from tmp_path
            HydraConfig.instance().cfg = None
    text = captured["text"]
    assert captured["n"] == 2
    for line in ("#SBATCH --partition=gpu", "#SBATCH --account=myproj", "#SBATCH --qos=high",
                 "#SBATCH --constraint=a100", "#SBATCH --exclude='node[01-02]'", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --time=90", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=16GB",
                 "#SBATCH --signal=USR2@120", "#SBATCH --mail-type=FAIL", "module load cuda/12.4", "source venv/bin/activate"):
        assert line in text, f"{line!r} missing from:\n{text}"


# ----------------------------------------------------------------------------------- resume
class _Preempt(L.Callback):
    """Kills training when the second epoch starts, the way submitit's SIGUSR handler exits."""

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise SystemExit(-1)


def _scores(job: JobInfo) -> np.ndarray:
    with np.load(job.output_dir / "scores.npz") as npz:
        return npz["scores"]


def test_killed_job_resumes_from_its_last_epoch_and_matches_an_uninterrupted_run(cfg_factory, tmp_path, monkeypatch,
                                                                                   new_store):
    import oneclass.run.job as job_module

    cfg = cfg_factory("trainer.max_epochs=2", "seed=5")
    launch = tmp_path / "launch"
    new_store(launch)
    new_store(tmp_path / "clean")
    make_trainer = job_module.make_trainer
    monkeypatch.setattr(job_module, "make_trainer", lambda c, cbs, **kw: make_trainer(c, cbs + [_Preempt()], **kw))
    with pytest.raises(SystemExit):
        run(cfg, JobInfo(output_dir=launch / "out1", launch_dir=launch))
    monkeypatch.setattr(job_module, "make_trainer", make_trainer)
    ckpt = resume.checkpoint_dir(launch, "ocdn-gaussian-seed5", resume.fingerprint(cfg)) / resume.LAST
    assert ckpt.is_file()

    resumed = JobInfo(output_dir=launch / "out2", launch_dir=launch)
    run(cfg, resumed)
    fresh = JobInfo(output_dir=tmp_path / "clean" / "out", launch_dir=tmp_path / "clean")
    run(cfg, fresh)

    np.testing.assert_array_equal(_scores(resumed), _scores(fresh))
    assert not ckpt.parent.exists()  # removed once the job finished
    client, runs = runs_in(f"sqlite:///{launch / 'mlflow.db'}")
    by_status = {r.info.status: r for r in runs}
    assert set(by_status) == {"KILLED", "FINISHED"}
    done = by_status["FINISHED"]
    assert done.data.tags["resumed_after_epochs"] == "1"
    resumed_epochs = [m.step for m in client.get_metric_history(done.info.run_id, "train_loss")]
    assert resumed_epochs == [1]  # only the second epoch was trained again
    clean_client, (clean,) = runs_in(f"sqlite:///{tmp_path / 'clean' / 'mlflow.db'}")
    clean_loss = {m.step: m.value for m in clean_client.get_metric_history(clean.info.run_id, "train_loss")}
    assert client.get_metric_history(done.info.run_id, "train_loss")[0].value == clean_loss[1]


def _write_bad_checkpoint(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        path.write_bytes(b"not a checkpoint at all" * 10)
    elif kind == "truncated":
        torch.save({"state_dict": {"w": torch.randn(1000)}, "loops": {}}, path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:  # a pickle that would run code: refused by weights_only=True
        torch.save({"state_dict": {}, "loops": {}, "payload": _Preempt()}, path)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "unsafe"])
def test_corrupt_checkpoint_gives_a_warning_and_a_fresh_start(cfg_factory, tmp_path, caplog, kind):
    cfg = cfg_factory("seed=2")
    ckpt = resume.checkpoint_dir(tmp_path, "ocdn-gaussian-seed2", resume.fingerprint(cfg)) / resume.LAST
    _write_bad_checkpoint(ckpt, kind)
    with caplog.at_level("WARNING", logger="oneclass.run.resume"):
        run(cfg, JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path))
    (warning,) = [r.message for r in caplog.records if "unreadable" in r.message]
    assert "starts from scratch" in warning
    assert "weights_only set to" not in warning and "Re-running" not in warning  # never torch's unsafe-load advice
    client, (r,) = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert r.info.status == "FINISHED" and "resumed_after_epochs" not in r.data.tags
    assert [m.step for m in client.get_metric_history(r.info.run_id, "train_loss")] == [0]


def test_incompatible_checkpoint_is_set_aside_and_kept(cfg_factory, tmp_path, caplog):
    """A readable checkpoint of another network (code changed between kill and rerun): warn, keep
    it outside the job's folder (which is removed when the job ends), start fresh."""
    cfg = cfg_factory("seed=3")
    ckpt_dir = resume.checkpoint_dir(tmp_path, "ocdn-gaussian-seed3", resume.fingerprint(cfg))
    other = cfg_factory("seed=3", "model.net.hidden=[7]")
    run(other, JobInfo(output_dir=tmp_path / "other", launch_dir=tmp_path))  # a finished job of another net...
    ckpt_dir.mkdir(parents=True)
    torch.save(torch.load(tmp_path / "other" / "model.ckpt", weights_only=True), ckpt_dir / resume.LAST)
    with caplog.at_level("WARNING", logger="oneclass.run.resume"):
        run(cfg, JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path))
    (warning,) = [r.message for r in caplog.records if "does not fit this model" in r.message]
    assert "starts from scratch" in warning and "missing ['net.hidden.1.bias'" in warning
    kept = list((tmp_path / resume.CHECKPOINT_ROOT / resume.SET_ASIDE).glob("*-incompatible.ckpt"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0 and not ckpt_dir.exists()
    _, runs = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert all(r.info.status == "FINISHED" and "resumed_after_epochs" not in r.data.tags for r in runs)


def test_resume_true_skips_a_config_that_already_finished(cfg_factory, tmp_path, capsys):
    job = lambda name: JobInfo(output_dir=tmp_path / name, launch_dir=tmp_path)  # noqa: E731
    run(cfg_factory("seed=1"), job("a"))
    # the same computation, other threads: identical fingerprint, so skipped without a new run
    assert run(cfg_factory("seed=1", "resume=true", "threads=1"), job("b")) == {}
    assert "skipped, identical config already FINISHED" in capsys.readouterr().out
    run(cfg_factory("seed=2", "resume=true"), job("c"))  # a new config runs
    _, runs = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert sorted(r.data.params["seed"] for r in runs) == ["1", "2"]
    assert all(r.info.status == "FINISHED" and len(r.data.tags["config_fingerprint"]) == 16 for r in runs)
    assert not (tmp_path / "b" / "scores.npz").exists()


# ----------------------------------------------------------------------------------- sweeps
@pytest.mark.system
@pytest.mark.slow
def test_bad_value_in_one_sweep_point_fails_that_job_only(tmp_path):
    proc = sweep(tmp_path, "model.lr=0.001,-1,0.002")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "sweep: 3 jobs: 2 finished, 1 failed" in proc.stdout
    assert "FAILED job 1 [model.lr=-1" in proc.stdout and "model.lr must be positive" in proc.stdout
    _, runs = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    by_lr = {r.data.params["model.lr"]: r for r in runs}
    # a bad value is refused before the MLflow run is created: no FAILED run, status.json says why
    assert {k: r.info.status for k, r in by_lr.items()} == {"0.001": "FINISHED", "0.002": "FINISHED"}
    assert len({r.data.tags["sweep_id"] for r in runs}) == 1
    records = statuses(tmp_path)
    assert [s["status"] for s in records] == ["finished", "failed", "finished"]
    assert records[1]["error"] == "model.lr must be positive, got -1" and records[1]["error_type"] == "ConfigError"
    assert records[1]["run_id"] is None


@pytest.mark.system
@pytest.mark.slow
def test_diverging_job_in_a_parallel_sweep_is_reported_and_the_other_finishes(tmp_path):
    proc = sweep(tmp_path, "hydra/launcher=local_parallel", "model.lr=0.001,1e30")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "sweep: 2 jobs: 1 finished, 1 failed" in proc.stdout
    _, runs = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    failed = [r for r in runs if r.info.status == "FAILED"]
    assert len(runs) == 2 and len(failed) == 1
    assert failed[0].data.tags["error"] == "OCDN: training loss is nan in epoch 0; the model diverged (lower model.lr?)"
    assert "test_auc" not in failed[0].data.metrics  # never an AUC from NaN scores


@pytest.mark.system
@pytest.mark.slow
def test_eight_parallel_jobs_into_one_sqlite_store_lose_nothing(tmp_path):
    proc = sweep(tmp_path, "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2", "seed=0..7")
    report = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, report
    assert "sweep: 8 jobs: 8 finished, 0 failed" in proc.stdout, report
    client, runs = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(runs) == 8 and all(r.info.status == "FINISHED" for r in runs)
    assert sorted(int(r.data.tags["job_num"]) for r in runs) == list(range(8))
    assert sorted(int(r.data.params["seed"]) for r in runs) == list(range(8))
    assert len({r.data.tags["sweep_id"] for r in runs}) == 1
    for r in runs:
        assert {"test_auc", "test_max_sic", "fit_time_s", "score_time_s", "train_loss"} <= set(r.data.metrics)
        assert [m.step for m in client.get_metric_history(r.info.run_id, "train_loss")] == [0]
        assert ARTIFACTS <= {a.path for a in client.list_artifacts(r.info.run_id)}
        assert Path(r.data.tags["output_dir"], "status.json").is_file()
        assert r.data.tags["overrides"].startswith(f"seed={r.data.params['seed']} ")
    # loky reuses worker processes: each job found the state a fresh job would (nothing leaked)
    records = statuses(tmp_path)
    by_pid: dict[int, list[dict]] = {}
    for s in records:
        by_pid.setdefault(s["process"]["pid"], []).append(s["process"])
    assert len(by_pid) < 8, f"expected worker reuse: {by_pid}"
    for found in by_pid.values():
        assert len({(f["torch_threads"], f["rng"], f["mlflow_tracking_uri"]) for f in found}) == 1, found
        assert all(f["pl_global_seed"] is None and f["mlflow_active_run"] is None for f in found), found
    assert {s["process"]["threads_used"] for s in records} == {max(1, jobenv.available_cores() // 2)}


@pytest.mark.system
@pytest.mark.slow
def test_submitit_local_sweep_end_to_end(tmp_path):
    proc = sweep(tmp_path, "hydra/launcher=submitit_local", "seed=0,1")
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    assert "sweep: 2 jobs: 2 finished, 0 failed" in proc.stdout
    client, runs = runs_in(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert len({r.data.tags["sweep_id"] for r in runs}) == 1
    assert sorted(r.data.tags["job_num"] for r in runs) == ["0", "1"]
    for r in runs:
        assert ARTIFACTS <= {a.path for a in client.list_artifacts(r.info.run_id)}
    assert list((tmp_path / "multirun").rglob(".submitit/*/*_log.out"))  # submitit's per-job logs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on 127.0.0.1 (free port), stopped at the end."""
    port = _free_port()
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    log = open(server_dir / "server.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{server_dir / 'mlflow.db'}",
         "--artifacts-destination", str(server_dir / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        import urllib.request

        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                pytest.fail(f"mlflow server did not start:\n{(server_dir / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.system
@pytest.mark.slow
def test_sweep_against_a_real_mlflow_server(tmp_path, mlflow_server):
    proc = sweep(tmp_path, "seed=0,1", f"logger.tracking_uri={mlflow_server}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (tmp_path / "mlflow.db").exists()  # everything went to the server
    client, runs = runs_in(mlflow_server)
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert sorted(r.data.params["seed"] for r in runs) == ["0", "1"]
    assert len({r.data.tags["sweep_id"] for r in runs}) == 1
    for r in runs:
        assert {"test_auc", "test_max_sic"} <= set(r.data.metrics)
        assert ARTIFACTS <= {a.path for a in client.list_artifacts(r.info.run_id)}
        local = client.download_artifacts(r.info.run_id, "scores.npz", str(tmp_path / r.info.run_id))
        with np.load(local) as npz:
            assert npz["scores"].shape == (4000,)
    assert list((tmp_path / "server" / "artifacts").rglob("scores.npz"))  # stored by the server


# ----------------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_gpu_job_keeps_its_data_on_the_device(cfg_factory, tmp_path, monkeypatch, precision):
    import oneclass.run.job as job_module

    seen = {}

    class Probe(L.Callback):
        def on_train_start(self, trainer, pl_module):
            seen["device"] = pl_module.train_data.device.type

    make_trainer = job_module.make_trainer
    monkeypatch.setattr(job_module, "make_trainer", lambda c, cbs, **kw: make_trainer(c, cbs + [Probe()], **kw))
    cfg = cfg_factory("trainer=gpu", f"trainer.precision={precision}")
    cfg.trainer.accelerator = "gpu"
    metrics = run(cfg, JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path))
    assert seen["device"] == "cuda"
    # the same job on the CPU: the same model up to float (32-true) or bfloat16 rounding
    on_cpu = run(cfg_factory("trainer=default", "logger=none"), JobInfo(output_dir=tmp_path / "cpu", launch_dir=tmp_path))
    assert metrics["test_auc"] == pytest.approx(on_cpu["test_auc"], abs=0.005 if precision == "32-true" else 0.05)


def test_gpu_slots_give_parallel_jobs_different_gpus(tmp_path):
    """The lock logic behind one-job-per-GPU (runs without GPUs: it only hands out indices)."""
    import threading

    with jobenv.gpu_slot(2, tmp_path) as first, jobenv.gpu_slot(2, tmp_path) as second:
        assert {first, second} == {0, 1}
        got = []
        waiter = threading.Thread(target=lambda: got.append(jobenv.gpu_slot(2, tmp_path, poll_s=0.05).__enter__()))
        waiter.start()
        time.sleep(0.3)
        assert got == []  # both held: the third job waits
    waiter.join(timeout=5)
    assert got == [0]


def test_end_of_sweep_table_gives_mean_and_std_per_setting_over_seeds():
    from oneclass.launch.sweep import result_table

    records = [{"status": "finished", "overrides": [f"model={m}", f"seed={s}", "trainer.max_epochs=3"],
                "metrics": {"test_auc": auc}}
               for m, s, auc in (("ae", 0, 0.8), ("ae", 1, 0.9), ("ocsvm", 0, 0.95), ("ocsvm", 1, 0.97))]
    records.append({"status": "failed", "overrides": ["model=ae", "seed=2"]})
    lines = result_table(records)
    assert lines[0] == "  test_auc per setting (mean ± std over seeds, runs):"
    assert lines[1] == f"    model=ocsvm  0.9600 ± {np.std([0.95, 0.97], ddof=1):.4f}  (2)"
    assert lines[2] == f"    model=ae     0.8500 ± {np.std([0.8, 0.9], ddof=1):.4f}  (2)"
    assert result_table(records[:1]) == []
