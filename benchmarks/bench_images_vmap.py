"""Seed-batched image nets against single-seed jobs: N seeds of Ruff's MNIST Deep SVDD (LeNet,
autoencoder pretraining) on one class, as one vectorised group (``hydra/sweeper=seed_batch``) and as
N ordinary jobs one after the other (basic launcher), measured in the same run.

Both paths are one ``run.py -m`` command each, in a fresh process with its own MLflow store in a
temporary folder, with the same overrides:

    run.py -m experiment=ruff/deepsvdd_mnist dataset.normal_class=C seed=0..N-1 model.pretrain_epochs=E
        trainer.max_epochs=E [dataset.n_train=...] hydra/sweeper=seed_batch     # vectorised
    run.py -m ... (the same without the sweeper)                                # N single-seed jobs

The vectorised path runs first, then the sequential one. Printed per path: the command's wall time
(start-up, the jobs, the sweep summary), the jobs' time (status.json: fit, scoring, tracking,
artifacts) and the test AUCs of the seeds (mean ± std; members equal their single-seed jobs
within seed noise), then the ratios.

    python benchmarks/bench_images_vmap.py                                   # class 3, 10 seeds, 2 + 2 epochs, all images
    python benchmarks/bench_images_vmap.py --n-train 2000 --epochs 2 --pretrain-epochs 2 --threads 1
    python benchmarks/bench_images_vmap.py --trainer gpu                     # on a GPU (trainer=gpu)

The MNIST files are read from ``--data`` (default ``$ONECLASS_DATA_DIR/mnist``, else
``../shared/data/mnist`` beside the checkout). Every line carries the load average: on a shared
machine the times are pessimistic.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_sweep import run_multirun  # noqa: E402


def load_avg() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def default_data() -> Path:
    if os.environ.get("ONECLASS_DATA_DIR"):
        return Path(os.environ["ONECLASS_DATA_DIR"]) / "mnist"
    shared = Path(os.environ.get("ONECLASS_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return shared / "mnist"


def sweep(workdir: Path, args: list[str], timeout: float) -> tuple[float, float, dict[int, float]]:
    """Run ``run.py -m args`` in ``workdir``: (wall seconds, the jobs' seconds from their
    status.json, each seed's test AUC)."""
    wall = run_multirun(workdir, args, timeout, need="0 failed")
    jobs, aucs = 0.0, {}
    for path in (workdir / "multirun").rglob("status.json"):
        record = json.loads(path.read_text())
        jobs += record["ended"] - record["started"]
        metrics = record.get("metrics") or {}
        if "test_auc" in metrics:  # a single-seed job
            seed = next(int(o.split("=", 1)[1]) for o in record["overrides"] if o.startswith("seed="))
            aucs[seed] = metrics["test_auc"]
        else:  # a seed group: one entry per run (<name>-seed<s> and the ensemble)
            for name, m in metrics.items():
                if found := re.search(r"-seed(\d+)$", name):
                    aucs[int(found.group(1))] = m["test_auc"]
    return wall, jobs, aucs


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--normal-class", type=int, default=3)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--pretrain-epochs", type=int, default=2, help="autoencoder pretraining epochs (Ruff: 150)")
    p.add_argument("--epochs", type=int, default=2, help="Deep SVDD epochs (Ruff: 150)")
    p.add_argument("--n-train", type=int, default=None, help="first N training images of the class (default: all)")
    p.add_argument("--experiment", default="deepsvdd_mnist", help="the preset (deepsvdd_mnist | deepsvdd_mnist_icml ...)")
    p.add_argument("--data", type=Path, default=None, help="folder of the MNIST IDX files")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads per job (both paths); 0 (default) = the framework's default: all cores for one job")
    p.add_argument("--trainer", default="default", help="trainer preset (default | gpu)")
    p.add_argument("--timeout", type=float, default=7200, help="seconds allowed per command")
    p.add_argument("--keep", type=Path, default=None, help="run in this folder and keep its MLflow stores (default: a temporary one)")
    a = p.parse_args(argv)
    # checked here, in one line each, rather than by a sweep that fails after its start-up
    if not 0 <= a.normal_class <= 9:
        p.error(f"--normal-class must be one of MNIST's classes 0..9, got {a.normal_class}")
    for flag, value, least in (("--seeds", a.seeds, 1), ("--epochs", a.epochs, 1), ("--pretrain-epochs", a.pretrain_epochs, 0),
                               ("--n-train", a.n_train, 1), ("--threads", a.threads, 0)):
        if value is not None and value < least:
            p.error(f"{flag} must be >= {least}, got {value}")
    if a.timeout <= 0:
        p.error(f"--timeout must be positive seconds, got {a.timeout:g}")
    data = (a.data or default_data()).resolve()
    if not (data / "train-images-idx3-ubyte.gz").exists() and not (data / "train-images-idx3-ubyte").exists():
        raise SystemExit(f"no MNIST files in {data}; give --data or get them with `oneclass download mnist`")
    common = [f"experiment={a.experiment}", f"dataset.normal_class={a.normal_class}", f"dataset.path={data}",
              f"model.pretrain_epochs={a.pretrain_epochs}", f"trainer.max_epochs={a.epochs}", f"trainer={a.trainer}",
              f"seed=0..{a.seeds - 1}", "logger.experiment_name=bench"]
    if a.n_train:
        common.append(f"dataset.n_train={a.n_train}")
    if a.threads:
        common.append(f"threads={a.threads}")
    print(f"{a.experiment}: MNIST class {a.normal_class}, {a.seeds} seeds, {a.pretrain_epochs} + {a.epochs} epochs, "
          f"{a.n_train or 'all'} training images, threads={a.threads or 'default'}, trainer={a.trainer}, {load_avg()}",
          flush=True)
    print(f"  command: run.py -m {' '.join(common)} [hydra/sweeper=seed_batch]", flush=True)
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
    rows = []
    with (contextlib.nullcontext(str(a.keep.resolve())) if a.keep else tempfile.TemporaryDirectory(prefix="bench_images_vmap_")) as tmp:
        for label, extra in (("vectorised (one group)", ["hydra/sweeper=seed_batch"]), (f"{a.seeds} single-seed jobs", [])):
            wall, jobs, aucs = sweep(Path(tmp) / label.split()[0], [*common, *extra], a.timeout)
            rows.append((label, wall, jobs, aucs))
            print(f"  {label:25s} {wall:7.1f} s wall, {jobs:7.1f} s in jobs  [{load_avg()}]", flush=True)
    print(f"\n{'path':27s} {'wall':>9s} {'jobs':>9s}   test AUC of the {a.seeds} seeds")
    for label, wall, jobs, aucs in rows:
        values = list(aucs.values())
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{label:27s} {wall:7.1f} s {jobs:7.1f} s   {statistics.mean(values):.4f} ± {spread:.4f} ({len(values)} runs)")
    (_, vec_wall, vec_jobs, vec_aucs), (_, seq_wall, seq_jobs, seq_aucs) = rows
    gap = max(abs(vec_aucs[s] - seq_aucs[s]) for s in seq_aucs)
    print(f"{'ratio (single / vectorised)':27s} {seq_wall / vec_wall:7.2f}x {seq_jobs / vec_jobs:7.2f}x   "
          f"largest |AUC member - its job| {gap:.4f}  [{load_avg()}]")


if __name__ == "__main__":
    main()
