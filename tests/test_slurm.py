"""Sweeps on a real single-node SLURM cluster (tests/slurm_cluster.py): arrays, requeue, preemption,
the time limit, memory, scancel; each test reads the MLflow store and the jobs' status.json.

The cluster is started once for the module (about 2 s) with Debian's slurm-wlm and munge; without
them the tests fail in one line (``.ci/run`` installs them), they never skip. The submitting command
runs as a user would type it on a login node, with ``srun`` on the PATH.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from slurm_cluster import slurm_cluster  # noqa: F401  (the module-scoped fixture)
from test_team_server import _team_up, team  # noqa: F401  (PostgreSQL + mlflow server, started only for the test that asks)

ROOT = Path(__file__).resolve().parents[1]
TINY = ["dataset.n_train=1000", "dataset.n_test_background=1000", "dataset.n_test_signal=1000",
        "trainer.accelerator=cpu", "threads=1"]
SLURM = ["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.cpus_per_task=1",
         "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=10"]
NOISE = ("Bypassing sacct error", "accounting storage is disabled", "The `srun` command is available", "Traceback")
pytestmark = [pytest.mark.slow, pytest.mark.system]


def command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "run.py"), "-m", *SLURM, *TINY, *args]


def env_for(cluster) -> dict[str, str]:
    env = {k: v for k, v in cluster.env.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_sweep(cluster, cwd: Path, *args: str, timeout: int = 400) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env_for(cluster))


def start_sweep(cluster, cwd: Path, *args: str) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(command(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env_for(cluster), start_new_session=True)


def finish(proc: subprocess.Popen, timeout: int = 400) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"sweep did not end in {timeout} s:\n{out[-3000:]}\n{err[-3000:]}")
    return proc.returncode, out, err


def wait_for(predicate, timeout_s: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout_s
    while not predicate():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the sweep ended while waiting for {what}:\n{out[-3000:]}\n{err[-3000:]}")
        if time.time() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.3)


def runs(cwd: Path, experiment: str = "gaussian") -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000) if exp else []


def statuses(cwd: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((cwd / "multirun").rglob("status.json")) if ".submitit" not in p.parts]


def assert_quiet(out: str, err: str) -> None:
    for noise in NOISE:
        assert noise not in out + err, f"{noise!r} on the console:\n{out[-2000:]}\n{err[-2000:]}"


def checkpoint_epochs(cwd: Path) -> int:
    """Epochs in the newest last.ckpt under the sweep's checkpoints/ (0 when none yet)."""
    import torch

    best = 0
    for path in cwd.rglob("checkpoints/*/last.ckpt"):
        try:
            best = max(best, int(torch.load(path, map_location="cpu", weights_only=True)["epoch"]) + 1)
        except Exception:
            continue
    return best


# ----------------------------------------------------------------------------------- arrays
def test_array_of_8_jobs_never_runs_more_than_2_at_once(slurm_cluster, tmp_path):
    """8 jobs, 4 rounds of 2 (ArrayTaskThrottle=2). Each job is as cheap as a job gets (1 epoch of the
    tiny OCDN on 1,000 events, one thread); its ~15 s are Python's start-up on a busy 2-core machine."""
    n = 8
    cwd = tmp_path / "array"
    proc = start_sweep(slurm_cluster, cwd, "hydra.launcher.array_parallelism=2", "trainer.max_epochs=1", f"seed=0..{n - 1}")
    running: list[int] = []
    while proc.poll() is None:
        running.append(sum(1 for j in slurm_cluster.jobs() if j["State"] == "RUNNING"))
        time.sleep(0.5)
    rc, out, err = finish(proc)
    assert rc == 0, out[-3000:] + err[-3000:]
    assert f"sweep: {n} jobs: {n} finished, 0 failed" in out
    assert max(running) == 2, running  # SLURM ran two at a time (ArrayTaskThrottle=2), never more
    found = runs(cwd)
    assert len(found) == n and all(r.info.status == "FINISHED" for r in found)
    assert sorted(int(r.data.params["seed"]) for r in found) == list(range(n))
    records = statuses(cwd)
    assert len(records) == n and all(r["status"] == "finished" and r["attempt"] == 1 for r in records)
    array = {r["slurm_job_id"].split("_")[0] for r in records}
    assert len(array) == 1 and sorted(int(r["slurm_job_id"].split("_")[1]) for r in records) == list(range(n))
    assert {r.info.run_id for r in found} == {r["run_id"] for r in records}
    # the console: no sacct or srun noise, at most one status line per poll and none repeated
    assert_quiet(out, err)
    lines = [line for line in out.splitlines() if line.startswith("slurm: ")]
    assert lines and all(a != b for a, b in zip(lines, lines[1:])), lines
    assert "sacct does not answer" in next(cwd.rglob("slurm.log")).read_text()
    print(f"\nARRAY: {n} jobs, {len(running)} squeue samples, at most {max(running)} running; {len(lines)} status lines")


def test_seed_batch_on_slurm_runs_one_array_task_per_group(slurm_cluster, tmp_path):
    cwd = tmp_path / "seed_batch"
    proc = run_sweep(slurm_cluster, cwd, "hydra/sweeper=seed_batch", "hydra.sweeper.max_batch=2", "trainer.max_epochs=1", "seed=0..3")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "seed_batch: 4 sweep points -> 2 jobs (2 vectorised seed groups)" in proc.stdout
    assert "sweep: 2 jobs: 2 finished, 0 failed (4 seeds in vectorised groups: 4 finished, 0 failed)" in proc.stdout
    assert_quiet(proc.stdout, proc.stderr)
    records = statuses(cwd)
    tasks = sorted(r["slurm_job_id"] for r in records)
    assert len(tasks) == 2 and len({t.split("_")[0] for t in tasks}) == 1 and [t.split("_")[1] for t in tasks] == ["0", "1"]
    assert sorted(m["seed"] for r in records for m in r["members"]) == [0, 1, 2, 3]
    found = runs(cwd)
    members = [r for r in found if r.data.tags.get("ensemble") != "true"]
    ensembles = [r for r in found if r.data.tags.get("ensemble") == "true"]
    assert sorted(r.data.params["seed"] for r in members) == ["0", "1", "2", "3"]
    assert len(ensembles) == 2 and all(r.info.status == "FINISHED" for r in found)
    assert len({r.data.tags["seed_group"] for r in found}) == 2


# ----------------------------------------------------------------------------------- jobs SLURM ends
def test_out_of_memory_names_the_cause(slurm_cluster, tmp_path):
    cwd = tmp_path / "oom"
    # mem_gb takes whole GB; 100 MB is less than the Python process alone
    proc = run_sweep(slurm_cluster, cwd, "hydra.launcher.mem_gb=null", "+hydra.launcher.additional_parameters.mem=100M",
                     "trainer.max_epochs=1", "seed=0")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "sweep: 1 jobs: 0 finished, 1 failed" in proc.stdout
    (record,) = statuses(cwd)
    assert record["status"] == "failed" and record["slurm_state"] == "OUT_OF_MEMORY", record
    assert "out of memory" in record["error"] and "exceeded memory limit (" in record["error"]
    assert f"seed=0]: {record['error']}" in proc.stdout
    assert_quiet(proc.stdout, proc.stderr)
    assert all(r.info.status != "FINISHED" for r in runs(cwd))


def job_ids(cluster) -> dict[int, str]:
    """{array task: "<array>_<task>"} of the jobs SLURM knows now."""
    return {int(j["JobID"].split("_")[1]): j["JobID"] for j in cluster.jobs() if "_" in j["JobID"]}


def epochs_of(cwd: Path, seed: int) -> int:
    import torch

    for path in cwd.glob(f"checkpoints/*-seed{seed}-*/last.ckpt"):
        try:
            return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"]) + 1
        except Exception:
            return 0
    return 0


def submitted_job(cwd: Path) -> str | None:
    """The SLURM job id of a one-job sweep under ``cwd`` (submitit's ``.submitit/<id>`` folder), None before sbatch."""
    found = [p.name for p in cwd.glob("multirun/*/*/.submitit/*") if p.is_dir() and p.name.isdigit()]
    return found[0] if found else None


def submitit_log(cwd: Path, job: str) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(cwd.glob(f"multirun/*/*/.submitit/{job}/*_log.*")))


def test_time_limit_requeues_up_to_max_num_timeout_then_finishes_or_ends_in_one_line(slurm_cluster, tmp_path):
    """timeout_min=1, signal_delay_s=1: SLURM itself sends SIGUSR2 before the limit; submitit's handler
    sees a job at its time limit, checkpoints it and requeues it (``scontrol requeue``) while
    max_num_timeout allows. Two sweeps side by side share the wait for that signal:

    - ``stop``, max_num_timeout=0: not requeued; one line saying it hit the time limit;
    - ``requeue``, max_num_timeout=2, 40 s of training (Lightning's ``max_time``): more than one
      attempt holds before its signal, so it is requeued, resumes from last.ckpt and FINISHES.

    slurmctld checks time limits every 30 s, and signals a job at the first check at most
    signal_delay_s + 30 s before its end (tests/slurm_cluster.py, CHECK_EVERY_S): 29 to 59 s after
    the start, by chance. The jobs are submitted held and released 15-24 s after a check, so the
    signal comes 34-44 s after their start: never while Python is still importing, and before 40 s
    of training. A requeued attempt starts a few seconds after a check and gets ~50 s."""
    limit = ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=1", "+hydra.launcher.additional_parameters.hold=true",
             "trainer.max_epochs=100000", "seed=0"]
    stop_cwd, requeue_cwd = tmp_path / "stop", tmp_path / "requeue"
    stop = start_sweep(slurm_cluster, stop_cwd, *limit, "hydra.launcher.max_num_timeout=0")
    requeue = start_sweep(slurm_cluster, requeue_cwd, *limit, "hydra.launcher.max_num_timeout=2", "+trainer.max_time=00:00:00:40")
    jobs: dict[str, str] = {}

    def submitted() -> bool:
        for name, cwd in (("stop", stop_cwd), ("requeue", requeue_cwd)):
            if name not in jobs and (job := submitted_job(cwd)):
                jobs[name] = job
        return len(jobs) == 2

    wait_for(submitted, 120, "both jobs submitted", stop)
    wait_for(lambda: {slurm_cluster.job_field(j, "Reason") for j in jobs.values()} == {"JobHeldUser"}, 30, "both jobs held")
    phase = slurm_cluster.release_in_phase(list(jobs.values()), 15, 24)
    # while the sweeps run: release each requeue from SLURM's 2-minute hold, and read status.json
    seen: list[tuple] = []
    restarts = 0

    def sample() -> None:
        for r in statuses(requeue_cwd):
            if (key := (r["status"], r.get("attempt"), r.get("note") or r.get("error"))) not in seen:
                seen.append(key)

    deadline = time.time() + 400
    while requeue.poll() is None or stop.poll() is None:
        n = int(slurm_cluster.job_field(jobs["requeue"], "Restarts") or 0)
        if n > restarts:
            restarts = n
            slurm_cluster.eligible_now(jobs["requeue"])
        sample()
        if time.time() > deadline:
            for proc in (stop, requeue):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the time-limit sweeps did not end in 400 s; status.json of `requeue` said {seen}")
        time.sleep(0.3)
    sample()
    starts = slurm_cluster.job_field(jobs["requeue"], "StartTime")
    rc, out, err = finish(stop)
    assert rc == 1, out[-3000:] + err[-3000:]
    log = submitit_log(stop_cwd, jobs["stop"])
    assert "Caught signal SIGUSR2" in log and "this job is timed-out" in log and "Job not requeued because: timed-out" in log, log[-3000:]
    (record,) = statuses(stop_cwd)
    assert record["status"] == "failed", record
    (run,) = runs(stop_cwd)
    if "DUE TO TIME LIMIT" not in log:  # submitit's exception ended the job: its own one line, its run FAILED
        stopped_by = "submitit's exception"
        assert record["error"].startswith("hit the SLURM time limit (timeout_min=1, requeued up to max_num_timeout=0 times)")
        assert run.info.status == "FAILED" and run.data.tags["error"] == record["error"]
    else:  # seen once in ~30 tries: the exception, raised wherever the signal found Python, did not end
        # it (a library swallowed it, or the job hung after it); SLURM killed it at the limit 30 s later
        stopped_by = "SLURM's kill at the limit"
        assert record["error"].startswith(f"SLURM job {jobs['stop']} hit the SLURM time limit (timeout_min) and was not requeued; "
                                          "slurmstepd: ") and "DUE TO TIME LIMIT" in record["error"], record
        assert run.info.status == "KILLED"
    failed = [line for line in out.splitlines() if line.startswith("  FAILED job 0")]
    assert len(failed) == 1 and failed[0].endswith(f"seed=0]: {record['error']}  ({record['output_dir']})"), out
    assert_quiet(out, err)

    rc, out, err = finish(requeue)
    assert rc == 0, out[-3000:] + err[-3000:]
    assert "sweep: 1 jobs: 1 finished, 0 failed" in out
    assert_quiet(out, err)
    (record,) = statuses(requeue_cwd)
    k = record["attempt"]
    assert record["status"] == "finished" and 2 <= k <= 3 and restarts == k - 1, (record, restarts)
    log = submitit_log(requeue_cwd, jobs["requeue"])
    # submitit's INFO lines, once each per attempt: SLURM's signal seen as the time limit, and its requeue
    assert log.count("Job has timed out.") == log.count("remaining timeouts)") == k - 1, log[-3000:]
    assert "DUE TO TIME LIMIT" not in log, log[-3000:]
    # status.json said what was going on: attempt 1 "requeued", attempt 2 "running" with a note, then finished
    note = "requeued by SLURM (preemption / time limit / requeue), attempt 1: attempt 2 resumes from the last epoch's checkpoint"
    assert any(s == "running" and a == 2 and text.startswith(note) for s, a, text in seen), seen
    assert seen[-1][:2] == ("finished", k), seen
    found = runs(requeue_cwd)
    done = [r for r in found if r.info.status == "FINISHED"]
    killed = sorted((r for r in found if r.info.status == "KILLED"), key=lambda r: r.info.start_time)
    assert len(done) == 1 and len(killed) == k - 1 and len(found) == k, [(r.info.status, r.data.tags) for r in found]
    assert done[0].info.run_id == record["run_id"]
    for attempt, r in enumerate(killed, 1):
        assert r.data.tags["superseded_by"] == done[0].info.run_id
        # closed by its own attempt; or, when SLURM's kill of the requeued attempt came first, by the next one
        assert r.data.tags["error"].startswith((f"requeued by SLURM (preemption / time limit / requeue), attempt {attempt}: ",
                                                "never closed (killed or store lost)")), r.data.tags
    # the last attempt resumed from the checkpoint of the one before: it trained only the epochs after it
    client = MlflowClient(tracking_uri=f"sqlite:///{requeue_cwd / 'mlflow.db'}")
    steps = [m.step for m in client.get_metric_history(done[0].info.run_id, "train_loss")]
    assert steps and steps[0] == int(done[0].data.tags["resumed_after_epochs"]) > 0, steps[:3]
    print(f"\nTIME LIMIT: released {phase:.1f} s after a time-limit check; stop: ended by {stopped_by}; "
          f"requeue: {k} attempts, last started {starts}")


# ----------------------------------------------------------------------------------- requeue, preemption
def test_requeue_and_preemption_resume_from_the_checkpoint(slurm_cluster, tmp_path):
    """Job 0: ``scontrol requeue`` (SLURM kills it and runs it again); job 1: SIGUSR2, what SLURM sends
    a job it preempts (``scancel --signal=USR2``): submitit requeues it itself. Both resume from
    their last epoch."""
    cwd = tmp_path / "requeue"
    epochs = 80  # ~0.1 s each here: time to requeue mid-training
    proc = start_sweep(slurm_cluster, cwd, f"trainer.max_epochs={epochs}", "seed=0,1")
    wait_for(lambda: epochs_of(cwd, 0) >= 2 and epochs_of(cwd, 1) >= 2, 200, "2 epochs of both jobs", proc)
    ids = job_ids(slurm_cluster)
    slurm_cluster.run("scontrol", "requeue", ids[0])
    slurm_cluster.run("scancel", "--signal=USR2", ids[1])
    wait_for(lambda: all(slurm_cluster.job_field(i, "Restarts") == "1" for i in ids.values()), 60, "both requeued", proc)
    for job in ids.values():
        slurm_cluster.eligible_now(job)
    rc, out, err = finish(proc)
    assert rc == 0, out[-3000:] + err[-3000:]
    assert "sweep: 2 jobs: 2 finished, 0 failed" in out
    assert_quiet(out, err)
    records = {r["job_num"]: r for r in statuses(cwd)}
    assert all(r["status"] == "finished" and r["attempt"] == 2 for r in records.values()), records
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")
    found = runs(cwd)
    for seed in (0, 1):
        mine = [r for r in found if r.data.params["seed"] == str(seed)]
        done = [r for r in mine if r.info.status == "FINISHED"]
        killed = [r for r in mine if r.info.status == "KILLED"]
        assert len(done) == 1 and len(killed) == 1 and len(mine) == 2, [(r.info.status, r.data.tags) for r in mine]
        assert killed[0].data.tags["superseded_by"] == done[0].info.run_id
        assert done[0].info.run_id == records[seed]["run_id"]
        # the second attempt trained only the epochs the first had not finished
        steps = [m.step for m in client.get_metric_history(done[0].info.run_id, "train_loss")]
        assert steps and steps[0] >= 2 and steps[-1] == epochs - 1, steps
    # bit-identical to an uninterrupted run (the CPU path is deterministic at threads=1): the same
    # job without SLURM and without a requeue gives the same test metrics and final loss, to the bit
    clean = tmp_path / "clean"
    clean.mkdir()
    alone = subprocess.run([sys.executable, str(ROOT / "run.py"), *TINY, f"trainer.max_epochs={epochs}", "seed=0"],
                           cwd=clean, capture_output=True, text=True, timeout=400, env=env_for(slurm_cluster))
    assert alone.returncode == 0, alone.stderr[-3000:]
    (reference,) = runs(clean)
    (requeued,) = [r for r in found if r.data.params["seed"] == "0" and r.info.status == "FINISHED"]
    for key in ("test_auc", "test_max_sic", "train_loss"):
        assert requeued.data.metrics[key] == reference.data.metrics[key], (key, requeued.data.metrics, reference.data.metrics)


# ----------------------------------------------------------------------------------- scancel
def test_scancel_of_the_array_lists_killed_jobs_and_resume_completes_them(slurm_cluster, tmp_path):
    cwd = tmp_path / "scancel"
    args = ["trainer.max_epochs=150", "seed=0,1"]  # ~0.1 s an epoch here
    proc = start_sweep(slurm_cluster, cwd, *args)
    wait_for(lambda: epochs_of(cwd, 0) >= 1 and epochs_of(cwd, 1) >= 1, 200, "both jobs training", proc)
    array = next(iter(job_ids(slurm_cluster).values())).split("_")[0]
    slurm_cluster.run("scancel", array)
    rc, out, err = finish(proc)
    assert rc == 1, out[-3000:] + err[-3000:]
    assert "sweep: 2 jobs: 0 finished, 0 failed, 2 killed" in out, out
    records = statuses(cwd)
    assert [r["status"] for r in records] == ["killed", "killed"] and all("cancelled (scancel)" in r["error"] for r in records)
    for r in records:
        assert f"KILLED job {r['job_num']} [" in out and r["error"] in out
    assert_quiet(out, err)
    assert sorted(r.info.status for r in runs(cwd)) == ["KILLED", "KILLED"]  # none left RUNNING

    again = run_sweep(slurm_cluster, cwd, *args, "resume=true")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "sweep: 2 jobs: 2 finished, 0 failed" in again.stdout
    assert_quiet(again.stdout, again.stderr)
    found = runs(cwd)
    done = {r.info.run_id for r in found if r.info.status == "FINISHED"}
    assert len(done) == 2 and len(found) == 4
    assert all(r.data.tags.get("superseded_by") in done for r in found if r.info.status == "KILLED")


# ----------------------------------------------------------------------------------- the team server
def test_jobs_on_slurm_log_to_the_postgres_backed_team_server(slurm_cluster, team, tmp_path):
    """tests/test_team_server.py's PostgreSQL + `mlflow server`: the jobs reach it from the compute
    node, nothing is written to a local store."""
    cwd = tmp_path / "team"
    proc = run_sweep(slurm_cluster, cwd, f"logger.tracking_uri={team.url}", "logger.experiment_name=slurm",
                     "trainer.max_epochs=1", "seed=0,1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "sweep: 2 jobs: 2 finished, 0 failed" in proc.stdout
    assert_quiet(proc.stdout, proc.stderr)
    assert not (cwd / "mlflow.db").exists() and not (cwd / "mlruns").exists()
    client = MlflowClient(tracking_uri=team.url)
    found = client.search_runs([client.get_experiment_by_name("slurm").experiment_id])
    records = {r["run_id"]: r for r in statuses(cwd)}
    assert sorted(r.data.params["seed"] for r in found) == ["0", "1"] and all(r.info.status == "FINISHED" for r in found)
    assert set(records) == {r.info.run_id for r in found}
    for r in found:
        assert r.info.artifact_uri.startswith("mlflow-artifacts:")
        assert {"scores.npz", "model.ckpt"} <= {a.path for a in client.list_artifacts(r.info.run_id)}
        assert records[r.info.run_id]["slurm_job_id"].endswith(("_0", "_1"))
