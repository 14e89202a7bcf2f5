"""The paper sweep P, vectorised (``hydra/sweeper=seed_batch``) against the sequential
basic-launcher path, measured in the same run: wall time per detector and in total.

Sweep P on the LHCO paper split (the authors' settings: the presets conf/experiment/lhco/):
10 seeds x {OCDN 10 epochs batch 32, AE 1 epoch batch 32, Deep SVDD one-class 10 epochs batch 50
(paper_fc), Deep SVDD soft-boundary nu 0.15 10 epochs} + OC-SVM IAD + OAD (one job each).

Sweep P runs as docs/results/speed.md's commands: one per set of overrides, the detectors of a set in one
multirun (``experiment=lhco/a,lhco/b``): three commands per path, each paying the start-up once:

    run.py -m experiment=lhco/ocdn,lhco/ae,lhco/deepsvdd seed=0..9 hydra/sweeper=seed_batch ...
    run.py -m experiment=lhco/deepsvdd_soft model.nu=0.15 seed=0..9 hydra/sweeper=seed_batch ...
    run.py -m experiment=lhco/ocsvm_iad,lhco/ocsvm_oad seed=0 ...

Every command runs in a fresh process with its own MLflow store in a temporary folder. A detector's
time is its jobs' time (status.json: fit, scoring, tracking, artifacts); each command's time outside
its jobs (interpreter and library start-up, the tracking store, the sweep summary) is its own row,
so the total is the sum of the commands' wall times. The sequential path runs
``--sequential-seeds`` of the seeds as ordinary jobs (basic launcher) and extrapolates to all seeds
with the mean job time. OC-SVMs are the same jobs on both paths (not vectorised).

    python benchmarks/bench_sweep.py                          # full sweep P (tens of minutes on 2 cores)
    python benchmarks/bench_sweep.py --quick                  # 4 seeds, 20k training events, 2 epochs
    python benchmarks/bench_sweep.py --detectors ocdn --sequential-seeds 10   # the ten-seed OCDN sweep, both paths in full
    python benchmarks/bench_sweep.py --trainer gpu            # on a GPU (trainer=gpu)

Every line carries the load average: on a shared machine the times are pessimistic.

The arithmetic floor printed with the table is this machine's float32 matmul throughput (the best of
square products of 512-2048, on the threads a job uses) divided into the sweep's floating-point work:
per detector, the FLOPs of one forward pass per event (counted by ``torch.utils.flop_counter`` on the
detector the command composes, pretraining included where the preset pretrains) x 3 (forward and
backward) x training events x epochs x seeds. No step can go faster than its arithmetic at peak
throughput, so the floor is a bound the sweep approaches, never reaches.

Below the floor, each neural detector's vectorised job time is set beside its group's optimizer step
alone (``bare_step``: the members stacked as the job stacks them, the configured fused optimizer, the
preset's batch size, random batches, no Lightning, data pipeline, scoring or tracking), times the
job's optimizer steps, and the parts of that step spent in matmul kernels (at the step's own shapes:
each member's batch of 32-50 events) and in the optimizer's update (memory-bound: it reads and writes
every parameter and its two Adam moments each step). The job minus the bare steps is what the job adds
around its steps; the bare steps minus matmuls and update is the step's other work (BatchNorm,
dropout masks, activations, autograd and Python).
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# name -> (preset, further overrides, vectorisable). Detectors with the same further overrides and
# vectorisability run as one command (experiment=lhco/a,lhco/b), as the docs run the paper's study.
DETECTORS = {
    "ocdn": ("lhco/ocdn", (), True),
    "ae": ("lhco/ae", (), True),
    "deepsvdd": ("lhco/deepsvdd", (), True),
    "deepsvdd_soft_nu0.15": ("lhco/deepsvdd_soft", ("model.nu=0.15",), True),
    "ocsvm_iad": ("lhco/ocsvm_iad", (), False),
    "ocsvm_oad": ("lhco/ocsvm_oad", (), False),
}
QUICK = ["dataset.n_train=20000", "trainer.max_epochs=2"]


def load_avg() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def default_path() -> Path:
    shared = Path(os.environ.get("ONECLASS_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return shared / "lhco" / "lhco_rnd_sr_5features.npy"


def commands(names: list[str]) -> list[tuple[list[str], list[str], bool]]:
    """The detectors as commands: (detector names, overrides, vectorisable), in first-seen order."""
    groups: dict[tuple, list[str]] = {}
    for name in names:
        _, extra, vectorisable = DETECTORS[name]
        groups.setdefault((extra, vectorisable), []).append(name)
    return [(members, [f"experiment={','.join(DETECTORS[n][0] for n in members)}", *extra], vectorisable)
            for (extra, vectorisable), members in groups.items()]


def matmul_flops_per_s(threads: int, seconds: float = 1.0) -> float:
    """This machine's float32 matmul throughput (FLOP/s): the best of square products of 512, 1024
    and 2048 on ``threads`` torch threads (0 = torch's default)."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    best = 0.0
    try:
        for n in (512, 1024, 2048):
            a, b = torch.randn(n, n), torch.randn(n, n)
            torch.mm(a, b)  # warm-up
            count, t0 = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - t0) < seconds / 3 or count < 2:
                torch.mm(a, b)
                count += 1
            best = max(best, 2 * n ** 3 * count / elapsed)
    finally:
        torch.set_num_threads(before)
    return best


def training_flops(cfg: Any, seeds: int) -> float | None:
    """Floating-point work of training the detector ``cfg`` composes (``_compose``) for
    ``seeds`` seeds: forward FLOPs per event x 3 x training events x epochs (+ pretraining). None
    for a detector that is no torch module (the OC-SVMs: their job time counts as their floor)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from oneclass.config import build

    n_features = len(cfg.dataset.features)
    detector = build(cfg.model, "model", input_shape=(n_features,))
    if not isinstance(detector, torch.nn.Module):
        return None
    x = torch.randn(256, n_features)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        detector(x)
    per_event = counter.get_total_flops() / len(x)
    epochs = int(cfg.trainer.max_epochs) + (int(cfg.model.get("pretrain_epochs") or 0) if cfg.model.get("pretrain") else 0)
    return 3 * per_event * int(cfg.dataset.n_train) * epochs * seeds


def _compose(overrides: list[str]) -> Any:
    """The config ``overrides`` compose (this checkout's conf/ and sources, as the commands get them)."""
    if str(ROOT / "src") not in sys.path:
        sys.path.insert(0, str(ROOT / "src"))
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=[o for o in overrides if not o.startswith(("hydra/", "hydra."))])


def bare_step(cfg: Any, seeds: int, threads: int, steps: int = 60) -> tuple[float, float, float, int] | None:
    """The stacked group's optimizer step alone, as the vectorised job builds it (``seeds`` members of
    the detector ``cfg`` composes, the configured fused optimizer, the preset's batch size, large
    tensors on the heap), on random batches without Lightning, data pipeline, scoring or tracking:
    (seconds per step, of which matmul kernels, of which the optimizer's update, optimizer steps in
    the job's training). Splits the job time into the step's arithmetic at its own shapes, the
    step's other work, and everything around the steps. None for a detector that is no torch module."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from oneclass import vectorised
    from oneclass.config import build

    n_features = len(cfg.dataset.features)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        members, generators = [], []
        for seed in range(seeds):
            torch.manual_seed(seed)
            members.append(build(cfg.model, "model", input_shape=(n_features,)))
            generators.append(vectorised.member_generator())
        if not isinstance(members[0], torch.nn.Module):
            return None
        group = vectorised.stack(members, generators, list(range(seeds)))
        group.train()
        group._set_dropout_generators(torch.device("cpu"))
        optimizer = group.make_optimizer(group.parameters())
        batch = int(group.batch_size)
        x = torch.randn(seeds, (2 * steps + 10) * batch, n_features)

        def run(batches: tuple[torch.Tensor, ...]) -> None:
            for b in batches:
                loss = group.training_loss(b).sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

        chunks = x.split(batch, dim=1)
        with vectorised.heap_allocations():
            run(chunks[:10])  # warm-up
            t0 = time.perf_counter()
            run(chunks[10 : 10 + steps])
            per_step = (time.perf_counter() - t0) / steps
            # the profiler slows every operator a little: its shares of the profiled steps, applied to per_step
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                t0 = time.perf_counter()
                run(chunks[10 + steps : 10 + 2 * steps])
                profiled = time.perf_counter() - t0
        self_us = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
        matmul = sum(self_us.get(k, 0.0) for k in ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")) / 1e6 / profiled
        update = sum(v for k, v in self_us.items() if k.startswith("aten::_fused_") or k.startswith("aten::_foreach_")) / 1e6 / profiled
        n_train = int(cfg.dataset.n_train)
        return per_step, matmul * per_step, update * per_step, -(-n_train // batch) * int(cfg.trainer.max_epochs)
    finally:
        torch.set_num_threads(before)


def run_multirun(workdir: Path, args: list[str], timeout: float, need: str = "") -> float:
    """Run ``run.py -m args`` in ``workdir`` (this checkout's sources, a store of its own); its wall
    seconds. Stops with the command's output when it fails or its stdout lacks ``need``."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("MLFLOW_TRACKING_URI", None)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", *args], cwd=workdir, capture_output=True,
                          text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or need not in proc.stdout:
        raise SystemExit(f"sweep failed (exit {proc.returncode}): run.py -m {' '.join(args)}\n"
                         f"{(proc.stdout + proc.stderr)[-2000:]}")
    return wall


def sweep(workdir: Path, args: list[str], timeout: float) -> tuple[float, dict[str, list[float]], float]:
    """Run ``run.py -m args`` in ``workdir``: (wall seconds, each detector's job times from the
    jobs' status.json by the name in DETECTORS, the seconds outside the jobs)."""
    wall = run_multirun(workdir, args, timeout)
    by_preset = {preset: name for name, (preset, _, _) in DETECTORS.items()}
    jobs: dict[str, list[float]] = {}
    for path in (workdir / "multirun").rglob("status.json"):
        record = json.loads(path.read_text())
        preset = next(o.split("=", 1)[1] for o in record["overrides"] if o.startswith("experiment="))
        jobs.setdefault(by_preset[preset], []).append(record["ended"] - record["started"])
    return wall, jobs, wall - sum(sum(times) for times in jobs.values())


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
    rows: dict[str, tuple[int, float, float, str]] = {}  # name -> (runs, vectorised s, sequential s, how)
    overheads: list[tuple[str, float, float]] = []  # command -> (vectorised, sequential) wall outside its jobs
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(a.keep.resolve())) if a.keep else tempfile.TemporaryDirectory(prefix="bench_sweep_")) as tmp:
        for i, (members, overrides, vectorisable) in enumerate(commands(names)):
            base = [*overrides, *common]
            label = " ".join(overrides)
            if not vectorisable:
                wall, jobs, outside = sweep(Path(tmp) / f"{i}-single", [*base, "seed=0"], a.timeout)
                for name in members:
                    rows[name] = (1, jobs[name][0], jobs[name][0], "same job")
                overheads.append((label, outside, outside))
                print(f"  {label:40s} {len(members)} job(s), not vectorised: {wall:6.1f} s  [{load_avg()}]", flush=True)
                continue
            vec_args = [*base, f"seed=0..{seeds - 1}", "hydra/sweeper=seed_batch", f"hydra/launcher={a.launcher}"]
            if a.max_batch:
                vec_args.append(f"hydra.sweeper.max_batch={a.max_batch}")
            vec_wall, vec_jobs, vec_outside = sweep(Path(tmp) / f"{i}-vectorised", vec_args, a.timeout)
            print(f"  {label:40s} vectorised: {vec_wall:6.1f} s ({sum(map(len, vec_jobs.values()))} group job(s))  "
                  f"[{load_avg()}]", flush=True)
            k = min(a.sequential_seeds, seeds)
            seq_wall, seq_jobs, seq_outside = sweep(Path(tmp) / f"{i}-sequential", [*base, f"seed=0..{k - 1}"], a.timeout)
            print(f"  {label:40s} sequential: {seq_wall:6.1f} s ({sum(map(len, seq_jobs.values()))} job(s), "
                  f"seeds 0..{k - 1})  [{load_avg()}]", flush=True)
            overheads.append((label, vec_outside, seq_outside))
            for name in members:
                per_job = sum(seq_jobs[name]) / len(seq_jobs[name])
                how = "measured" if k == seeds else f"{k} measured + {seeds - k} x {per_job:.1f} s"
                rows[name] = (seeds, sum(vec_jobs[name]), per_job * seeds, how)
    w = max(len(label) for label, _, _ in overheads) + 16
    print(f"\n{'detector':{w}s} {'runs':>4s} {'vectorised':>11s} {'sequential':>11s} {'ratio':>6s}")
    for name in names:
        n, vec, seq, how = rows[name]
        print(f"{name:{w}s} {n:4d} {vec:9.1f} s {seq:9.1f} s {seq / vec:5.1f}x   ({how}; job time)")
    for label, vec, seq in overheads:
        print(f"{'outside jobs: ' + label:{w}s} {'':4s} {vec:9.1f} s {seq:9.1f} s {'':6s}   "
              "(start-up, sweep set-up and summary)")
    vec_total = sum(r[1] for r in rows.values()) + sum(o[1] for o in overheads)
    seq_total = sum(r[2] for r in rows.values()) + sum(o[2] for o in overheads)
    print(f"{'total':{w}s} {'':4s} {vec_total:9.1f} s {seq_total:9.1f} s {seq_total / vec_total:5.1f}x   "
          f"= {vec_total / 60:.1f} min vectorised, {len(overheads)} command(s)  [{load_avg()}]")
    peak = matmul_flops_per_s(a.threads)
    cfgs = {name: _compose([f"experiment={DETECTORS[name][0]}", *DETECTORS[name][1], *common]) for name in names}
    work = {name: training_flops(cfgs[name], rows[name][0]) for name in names}
    flops = sum(f for f in work.values() if f is not None)
    as_measured = sum(rows[name][1] for name, f in work.items() if f is None)  # OC-SVMs: their job time
    floor = flops / peak + as_measured
    print(f"\narithmetic floor: {flops / 1e12:.2f} TFLOP of training at {peak / 1e9:.1f} GFLOP/s (float32 matmul, "
          f"threads={a.threads or 'default'}) = {flops / peak:.1f} s, + {as_measured:.1f} s of OC-SVM jobs as measured "
          f"= {floor:.1f} s ({floor / 60:.1f} min); vectorised {vec_total / floor:.2f}x the floor, sequential "
          f"{seq_total / floor:.2f}x  [{load_avg()}]")
    print(f"  {'detector':{w - 2}s} {'TFLOP':>7s} {'at peak':>9s} {'matmuls':>9s} {'optimizer':>9s} {'bare steps':>10s} "
          f"{'job':>9s} {'job/floor':>9s}   (bare steps: the group's optimizer step alone x the job's steps; "
          "matmuls, optimizer: their kernels in it)")
    for name in names:
        if work[name] is None:
            continue
        step = bare_step(cfgs[name], rows[name][0], a.threads)
        at_peak = work[name] / peak
        cells = (f"{'':>9s} {'':>9s} {'':>10s}" if step is None else
                 f"{step[1] * step[3]:7.1f} s {step[2] * step[3]:7.1f} s {step[0] * step[3]:8.1f} s")
        how = "" if step is None else f"   ({step[0] * 1e3:.2f} ms x {step[3]} steps)"
        print(f"  {name:{w - 2}s} {work[name] / 1e12:7.3f} {at_peak:7.1f} s {cells} {rows[name][1]:7.1f} s "
              f"{rows[name][1] / at_peak:8.1f}x{how}")
    print(f"  [{load_avg()}]")


if __name__ == "__main__":
    main()
