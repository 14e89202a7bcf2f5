"""Seed ensembles against their members on the LHCO paper split (issue: is the ensemble's AUC above
the members' mean, and how much smaller is its spread over independent ensembles?).

For each detector, at the paper's settings (``experiment=lhco/<model>``), this runs ``--ensembles`` independent groups of ``--members`` seeds (seeds
0-9, 10-19, ... with the defaults) through ``hydra/sweeper=seed_batch``: every group logs its
members' runs and one ``<model>-ensemble<N>`` run. It then prints, per detector, the members'
AUC and max SIC (mean, sample std, [min, max] over all members), the ensembles' (over the
independent ensembles), the mean gain of an ensemble over its own members' mean, and the ratio of
the spreads.

    python benchmarks/ensemble_study.py --models ocdn,ae,deepsvdd        # runs, then the table
    python benchmarks/ensemble_study.py --workdir DIR --table-only       # the table of runs already in DIR
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "ensemble_study"


def default_path() -> Path:
    shared = Path(os.environ.get("ONECLASS_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return shared / "lhco" / "lhco_rnd_sr_5features.npy"


def run_groups(workdir: Path, model: str, ensembles: int, members: int, path: Path, extra: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("MLFLOW_TRACKING_URI", None)
    args = [sys.executable, str(ROOT / "run.py"), "-m", f"experiment=lhco/{model}", f"dataset.path={path}",
            f"seed=0..{ensembles * members - 1}", "hydra/sweeper=seed_batch", f"hydra.sweeper.max_batch={members}",
            f"logger.experiment_name={EXPERIMENT}", *extra]
    print("$ " + " ".join(args[1:]), flush=True)
    subprocess.run(args, cwd=workdir, env=env, check=True)


def stats(values: list[float]) -> str:
    a = np.asarray(values, dtype=float)
    std = a.std(ddof=1) if len(a) > 1 else float("nan")
    return f"{a.mean():.4f} ± {std:.4f} [{a.min():.4f}, {a.max():.4f}]"


def table(workdir: Path, experiment: str = EXPERIMENT) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise SystemExit(f"no '{experiment}' experiment in {workdir / 'mlflow.db'}")
    runs = [r for r in client.search_runs([exp.experiment_id], max_results=5000)
            if r.info.status == "FINISHED" and r.data.tags.get("vectorised") == "true"]
    groups: dict[tuple[str, str], dict] = {}
    for r in runs:
        t = r.data.tags
        model = t["model"].split("-ensemble")[0]
        g = groups.setdefault((model, t["seed_group"]), {"members": [], "ensemble": None, "seeds": t["group_seeds"]})
        if t.get("ensemble") == "true":
            g["ensemble"] = r
        else:
            g["members"].append(r)
    # the same seeds trained again (another config fingerprint, e.g. after a code update): the latest group counts
    latest: dict[tuple[str, str], tuple[str, str]] = {}
    for key, g in groups.items():
        if g["ensemble"] is None:
            continue
        other = latest.get((key[0], g["seeds"]))
        if other is None or groups[other]["ensemble"].info.start_time < g["ensemble"].info.start_time:
            latest[(key[0], g["seeds"])] = key
    groups = {key: groups[key] for key in latest.values()}
    lines = ["| detector | ensembles | members | members' AUC | ensembles' AUC | ensemble - own members' mean AUC "
             "| AUC spread members / ensembles | members' max SIC | ensembles' max SIC |", "|---" * 9 + "|"]
    for model in sorted({m for m, _ in groups}):
        gs = [g for (m, _), g in groups.items() if m == model and g["ensemble"] is not None]
        member_auc = [r.data.metrics["test_auc"] for g in gs for r in g["members"]]
        member_sic = [r.data.metrics["test_max_sic"] for g in gs for r in g["members"]]
        ens_auc = [g["ensemble"].data.metrics["test_auc"] for g in gs]
        ens_sic = [g["ensemble"].data.metrics["test_max_sic"] for g in gs]
        gain = [g["ensemble"].data.metrics["test_auc"] - np.mean([r.data.metrics["test_auc"] for r in g["members"]]) for g in gs]
        ratio = np.std(member_auc, ddof=1) / np.std(ens_auc, ddof=1) if len(ens_auc) > 1 else float("nan")
        lines.append(f"| {model} | {len(gs)} | {len(member_auc)} | {stats(member_auc)} | {stats(ens_auc)} | "
                     f"{np.mean(gain):+.4f} (per ensemble: {', '.join(f'{x:+.3f}' for x in gain)}) | {ratio:.1f}x | "
                     f"{stats(member_sic)} | {stats(ens_sic)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="ocdn,ae,deepsvdd")
    p.add_argument("--ensembles", type=int, default=5)
    p.add_argument("--members", type=int, default=10)
    p.add_argument("--path", type=Path, default=default_path())
    p.add_argument("--workdir", type=Path, default=Path("ensemble_study"))
    p.add_argument("--table-only", action="store_true")
    p.add_argument("--experiment", default=EXPERIMENT, help="MLflow experiment of the runs (--table-only)")
    p.add_argument("extra", nargs="*", help="more overrides for every run (e.g. threads=1 hydra/launcher=local_parallel)")
    a = p.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    if not a.table_only:
        for model in a.models.split(","):
            run_groups(a.workdir, model, a.ensembles, a.members, a.path.resolve(), a.extra)
    print(table(a.workdir, a.experiment))


if __name__ == "__main__":
    main()
