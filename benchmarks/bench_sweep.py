"""The paper sweep P, vectorised (``hydra/sweeper=seed_batch``) against the sequential
basic-launcher path, measured in the same run: wall time per detector and in total.

Sweep P on the LHCO paper split (the authors' settings from conf/dataset_model/):
10 seeds x {OCDN 10 epochs batch 32, AE 1 epoch batch 32, Deep SVDD one-class 10 epochs batch 50
(paper_fc), Deep SVDD soft-boundary nu 0.15 10 epochs} + OC-SVM IAD + OAD (one job each).

Every measurement is a real command (``run.py -m ...``) in a fresh process with its own MLflow
store in a temporary folder, so start-up, tracking and artifacts are included. The sequential
path runs ``--sequential-seeds`` of the seeds as ordinary jobs (basic launcher) and is extrapolated
to all seeds with the measured per-job time (from the jobs' status.json): sequential = measured
wall + (seeds - measured) x mean job time. OC-SVMs are the same jobs on both paths (not vectorised).

    python benchmarks/bench_sweep.py                          # full sweep P (tens of minutes on 2 cores)
    python benchmarks/bench_sweep.py --quick                  # 4 seeds, 20k training events, 2 epochs
    python benchmarks/bench_sweep.py --detectors ocdn --sequential-seeds 10   # the ten-seed OCDN sweep, both paths in full
    python benchmarks/bench_sweep.py --trainer gpu            # on a GPU (trainer=gpu)

Every line carries the load average: on a shared machine the times are pessimistic.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# name -> (overrides, vectorisable)
DETECTORS = {
    "ocdn": (["model=ocdn"], True),
    "ae": (["model=ae"], True),
    "deepsvdd": (["model=deepsvdd"], True),
    "deepsvdd_soft_nu0.15": (["model=deepsvdd_soft", "model.nu=0.15"], True),
    "ocsvm_iad": (["model=ocsvm_iad"], False),
    "ocsvm_oad": (["model=ocsvm_oad"], False),
}
QUICK = ["dataset.n_train=20000", "trainer.max_epochs=2"]


def load_avg() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def default_path() -> Path:
    shared = Path(os.environ.get("ONECLASS_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return shared / "lhco" / "lhco_rnd_sr_5features.npy"


def sweep(workdir: Path, args: list[str], timeout: float) -> tuple[float, list[dict], str]:
    """Run ``run.py -m args`` in ``workdir``; (wall seconds, the jobs' status records, output tail)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("MLFLOW_TRACKING_URI", None)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", *args], cwd=workdir, capture_output=True,
                          text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - t0
    tail = (proc.stdout + proc.stderr)[-2000:]
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed (exit {proc.returncode}): run.py -m {' '.join(args)}\n{tail}")
    records = [json.loads(p.read_text()) for p in (workdir / "multirun").rglob("status.json")]
    return wall, records, tail


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--path", type=Path, default=default_path(), help="LHCO file (.npy or .h5)")
    p.add_argument("--quick", action="store_true", help="scaled down: 4 seeds, 20,000 training events, 2 epochs")
    p.add_argument("--seeds", type=int, default=None, help="seeds per neural detector (default 10; 4 with --quick)")
    p.add_argument("--sequential-seeds", type=int, default=1,
                   help="seeds run on the sequential path per detector (the rest extrapolated from their job time)")
    p.add_argument("--detectors", default=",".join(DETECTORS), help=f"comma-separated subset of {','.join(DETECTORS)}")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads per job (both paths); 0 (default) = the framework's default: all cores for one job")
    p.add_argument("--launcher", default="basic", help="launcher of the vectorised path (basic | local_parallel)")
    p.add_argument("--max-batch", type=int, default=None, help="seeds per vectorised job (default: all)")
    p.add_argument("--trainer", default="default", help="trainer preset (default | gpu)")
    p.add_argument("--timeout", type=float, default=7200, help="seconds allowed per command")
    p.add_argument("--keep", type=Path, default=None, help="run in this folder and keep its MLflow stores (default: a temporary one)")
    a = p.parse_args(argv)
    seeds = a.seeds or (4 if a.quick else 10)
    names = [d.strip() for d in a.detectors.split(",") if d.strip()]
    unknown = set(names) - set(DETECTORS)
    if unknown:
        raise SystemExit(f"unknown detectors {sorted(unknown)}; choose from {', '.join(DETECTORS)}")
    common = ["dataset=lhco", f"dataset.path={a.path.resolve()}", f"trainer={a.trainer}", "logger.experiment_name=bench"]
    if a.threads:
        common.append(f"threads={a.threads}")
    if a.quick:
        common += QUICK
    print(f"sweep P{' (quick: ' + ' '.join(QUICK) + ')' if a.quick else ''}: {seeds} seeds, LHCO {a.path.name}, "
          f"threads={a.threads or 'default'}, vectorised launcher {a.launcher}, {load_avg()}", flush=True)
    rows = []
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(a.keep.resolve())) if a.keep else tempfile.TemporaryDirectory(prefix="bench_sweep_")) as tmp:
        for name in names:
            overrides, vectorisable = DETECTORS[name]
            base = [*overrides, *common]
            if not vectorisable:
                wall, _, _ = sweep(Path(tmp) / name, [*base, "seed=0"], a.timeout)
                rows.append((name, 1, wall, wall, "same job"))
                print(f"  {name:22s} 1 job           {wall:8.1f} s (not vectorised)  [{load_avg()}]", flush=True)
                continue
            vec_args = [*base, f"seed=0..{seeds - 1}", "hydra/sweeper=seed_batch", f"hydra/launcher={a.launcher}"]
            if a.max_batch:
                vec_args.append(f"hydra.sweeper.max_batch={a.max_batch}")
            vec, records, tail = sweep(Path(tmp) / f"{name}-vectorised", vec_args, a.timeout)
            aucs = [m.get("test_auc") for r in records for k, m in (r.get("metrics") or {}).items() if "ensemble" not in k]
            print(f"  {name:22s} vectorised      {vec:8.1f} s ({len(records)} job(s), {len(aucs)} member runs)  [{load_avg()}]",
                  flush=True)
            k = min(a.sequential_seeds, seeds)
            seq_wall, seq_records, _ = sweep(Path(tmp) / f"{name}-sequential", [*base, f"seed=0..{k - 1}"], a.timeout)
            per_job = sum(r["ended"] - r["started"] for r in seq_records) / len(seq_records)
            seq = seq_wall + (seeds - k) * per_job
            how = "measured" if k == seeds else f"{k} measured + {seeds - k} x {per_job:.1f} s"
            print(f"  {name:22s} sequential      {seq:8.1f} s ({how})  ratio {seq / vec:4.1f}x  [{load_avg()}]", flush=True)
            rows.append((name, seeds, vec, seq, how))
    print(f"\n{'detector':22s} {'runs':>4s} {'vectorised':>11s} {'sequential':>11s} {'ratio':>6s}")
    for name, n, vec, seq, how in rows:
        print(f"{name:22s} {n:4d} {vec:9.1f} s {seq:9.1f} s {seq / vec:5.1f}x   ({how})")
    vec_total, seq_total = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"{'total':22s} {'':4s} {vec_total:9.1f} s {seq_total:9.1f} s {seq_total / vec_total:5.1f}x   "
          f"= {vec_total / 60:.1f} min vectorised  [{load_avg()}]")


if __name__ == "__main__":
    main()
