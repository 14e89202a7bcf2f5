"""Degenerate fits of the deep tabular detectors at their default presets (issue 25): ``ae``,
``deepsvdd`` and ``dagmm`` on every shared ADBench set (protocol ``adbench_dedup``, the default),
ODDS arrhythmia (``nrcan``) and KDD Cup 99 10 % (``dataset=kdd`` at its default ``nrcan`` protocol, set ``kdd``, and
KDDCUP-Rev, ``kdd_rev``: ``dataset.variant=rev``; each detector at its KDD preset
``experiment=[nrcan/<detector>,nrcan/kdd]``, batch 1024 and 20 epochs), split seeds 0-4. Each fit is
checked on its training rows by :func:`oneclass.models.degeneracy.degeneracy` (as the pipeline does); one
CSV row per fit (AUROC and the reason, "" = healthy), then the table of degenerate counts.

    ONECLASS_DATA_DIR=../shared/data python benchmarks/bench_degenerate.py --out degenerate.csv
    python benchmarks/bench_degenerate.py --detectors ae --only-sets breastw,thyroid,mammography
    python benchmarks/bench_degenerate.py --summary degenerate.csv
    python benchmarks/bench_degenerate.py --only-sets shuttle --seeds 0 --out degenerate.csv   # one split seed
    python benchmarks/bench_degenerate.py --only-sets kdd,kdd_rev --seeds 0 --out degenerate.csv   # then --seeds 1-4
    python benchmarks/bench_degenerate.py --results-csv docs/results/data/degenerate_runs.csv \
        --runs docs/results/data/runs/degenerate_runs.csv --load "average 2-4" --command "..."

Rows already in ``--out`` are skipped (an interrupted sweep resumes). Sets run smallest first, and
within a set detector by detector over ``--seeds`` (run ``--seeds 0`` first for every detector on a
large set, then the rest). Extra overrides for every fit: ``--override model.net.rep_dim=1`` (e.g.
the old funnel). ``--results-csv`` rewrites a docs results CSV (long layout, read by
``docs/gen_results.py``) from per-run rows: one row per (set, protocol, detector) with its degenerate
fits, fits, AUROC mean and sample std in % over its split seeds, and an ``all`` row per detector (where
there is more than one set); a
row whose numbers are unchanged keeps its machine, load, date and command, a changed or new one gets
the newest date of its runs and ``--load`` / ``--command``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tabular import FIELDS, done_rows, machine, one  # noqa: E402

from oneclass.run.job import quiet_libraries  # noqa: E402

DETECTORS = ["ae", "deepsvdd", "dagmm"]
# (label, dataset config, overrides), smallest first
SETS = [("arrhythmia", "odds", ["dataset.name=arrhythmia", "dataset.protocol=nrcan"])] + [
    (n, "adbench", [f"dataset.name={n}"]) for n in ("breastw", "cardio", "thyroid", "satimage-2", "satellite",
                                                    "annthyroid", "mammography", "shuttle")] + [
    # KDD Cup 99 10 % at its default protocol (nrcan: train on half the normal class); one() adds the
    # detector's KDD preset, experiment=[nrcan/<detector>,nrcan/kdd] (batch 1024, 20 epochs).
    # KDDCUP-Rev (normal traffic the normal class, attacks subsampled to 20 % of it with the split seed;
    # 48,639 training rows), then KDD (attacks the normal class, normal traffic the ANOMALY: the DAGMM
    # convention; 198,371 training rows)
    ("kdd_rev", "kdd", ["dataset.protocol=nrcan", "dataset.variant=rev"]),
    ("kdd", "kdd", ["dataset.protocol=nrcan"])]
SEEDS = range(5)
MACHINE = "2 shared CPU cores (the project's test machine)"
RESULT_FIELDS = ["set", "protocol", "split_seeds", "detector", "degenerate", "runs", "mean", "std",
                 "machine", "load", "date", "command"]


def seed_range(seeds: list[int]) -> str:
    """0,1,2,3,4 -> "0-4"; a gap: "0-2, 4"."""
    parts, run = [], []
    for s in sorted(set(seeds)):
        if run and s != run[-1] + 1:
            parts.append(run)
            run = []
        run.append(s)
    parts += [run] if run else []
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in parts)


def parse_seeds(text: str) -> list[int]:
    """ "0-4" or "0,3,4" or "3-4" -> the split seeds."""
    out = []
    for part in text.split(","):
        a, _, b = part.strip().partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out


def results_csv(runs_path: Path, into: Path, load: str, command: str) -> None:
    """``into`` (a docs results CSV) rewritten from the per-run rows of ``runs_path``."""
    with open(runs_path) as f:
        rows = [r for r in csv.DictReader(f) if not r["error"]]
    old = {}
    if into.is_file():
        with open(into) as f:
            old = {(r["set"], r["protocol"], r["detector"]): r for r in csv.DictReader(f)}
    dets = [d for d in DETECTORS + sorted({r["detector"] for r in rows} - set(DETECTORS)) if any(r["detector"] == d for r in rows)]
    out, totals = [], {d: [0, 0, [], []] for d in dets}
    for s, proto in dict.fromkeys((r["set"], r["protocol"]) for r in rows):
        for d in dets:
            sub = [r for r in rows if (r["set"], r["protocol"], r["detector"]) == (s, proto, d)]
            if not sub:
                continue
            auc = np.array([100 * float(r["auc"]) for r in sub])
            bad = sum(bool(r["degenerate"]) for r in sub)
            t = totals[d]
            t[0] += bad
            t[1] += len(sub)
            t[2] += [int(r["split_seed"]) for r in sub]
            t[3] += [r["date"] for r in sub]
            out.append({"set": s, "protocol": proto, "split_seeds": seed_range([int(r["split_seed"]) for r in sub]),
                        "detector": d, "degenerate": bad, "runs": len(sub), "mean": f"{auc.mean():.1f}",
                        "std": f"{auc.std(ddof=1):.1f}" if auc.size > 1 else "", "_dates": [r["date"] for r in sub]})
    many = len({(r["set"], r["protocol"]) for r in out}) > 1  # the "all" row: over more than one set
    out += [{"set": "all", "protocol": "the sets above", "split_seeds": seed_range(t[2]), "detector": d,
             "degenerate": t[0], "runs": t[1], "mean": "", "std": "", "_dates": t[3]} for d, t in totals.items() if many]
    with open(into, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RESULT_FIELDS, lineterminator="\n")
        w.writeheader()
        for r in out:
            prev = old.get((r["set"], r["protocol"], r["detector"]))
            dates = r.pop("_dates")
            if prev is not None and all(str(r[k]) == prev[k] for k in ("split_seeds", "degenerate", "runs", "mean", "std")):
                r.update({k: prev[k] for k in ("machine", "load", "date", "command")})
            else:
                r.update(machine=MACHINE, load=load, date=max(dates), command=command)
            w.writerow(r)


def summary(path: Path) -> str:
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if not r["error"]]
    dets = [d for d in DETECTORS + sorted({r["detector"] for r in rows} - set(DETECTORS)) if any(r["detector"] == d for r in rows)]
    out = ["| set | " + " | ".join(f"{d}: degenerate / runs | {d}: AUROC" for d in dets) + " |",
           "|---|" + "---:|---:|" * len(dets)]
    totals = {d: [0, 0] for d in dets}
    for s in dict.fromkeys(r["set"] for r in rows):
        cells = []
        for d in dets:
            sub = [r for r in rows if (r["set"], r["detector"]) == (s, d)]
            if not sub:
                cells += ["–", "–"]
                continue
            bad = [r["degenerate"] for r in sub if r["degenerate"]]
            totals[d][0] += len(bad)
            totals[d][1] += len(sub)
            auc = np.array([float(r["auc"]) for r in sub])
            why = f" ({', '.join(sorted(set(bad)))})" if bad else ""
            cells += [f"{len(bad)} / {len(sub)}{why}", f"{auc.mean():.3f} ± {auc.std(ddof=1) if auc.size > 1 else 0:.3f}"]
        out.append(f"| {s} | " + " | ".join(cells) + " |")
    out.append("| **all** | " + " | ".join(f"**{b} / {n}** | " for d, (b, n) in totals.items()) + "|")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("degenerate.csv"))
    p.add_argument("--detectors", default=",".join(DETECTORS))
    p.add_argument("--only-sets", default=None)
    p.add_argument("--override", action="append", default=[], help="an extra override for every fit (repeatable)")
    p.add_argument("--label", default=None, help="the CSV's detector name (default: the model), e.g. ae_old")
    p.add_argument("--seeds", default="0-4", help="split seeds, e.g. 0, 1-4 or 0,3,4 (default 0-4)")
    p.add_argument("--summary", type=Path, default=None)
    p.add_argument("--results-csv", type=Path, default=None, help="rewrite this docs results CSV from --runs")
    p.add_argument("--runs", type=Path, default=None, help="the per-run rows for --results-csv")
    p.add_argument("--load", default="", help="--results-csv: the load of the new rows' machine")
    p.add_argument("--command", default="", help="--results-csv: the command that made the new rows")
    args = p.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return 0
    if args.results_csv:
        if args.runs is None:
            p.error("--results-csv needs --runs")
        results_csv(args.runs, args.results_csv, args.load, args.command)
        return 0
    seeds = parse_seeds(args.seeds)
    os.environ.setdefault("ONECLASS_DATA_DIR", str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    quiet_libraries()
    only = set(args.only_sets.split(",")) if args.only_sets else None
    seen = done_rows(args.out)
    new = not args.out.is_file()
    cache: dict = {}  # the last split loaded (KDD: one load for the three detectors of --seeds 0)
    with open(args.out, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        for label, ds, over in SETS:
            if only is not None and label not in only:
                continue
            proto = next((o.split("=")[1] for o in over if o.startswith("dataset.protocol=")), "adbench_dedup")
            for det in args.detectors.split(","):
                name = args.label or det
                for seed in seeds:
                    if (label, proto, str(seed), name) in seen:
                        continue
                    row = {"set": label, "protocol": proto, "split_seed": seed, "detector": name, "error": "",
                           "machine": machine(), "date": time.strftime("%Y-%m-%d", time.gmtime())}
                    try:
                        row.update(one(ds, over, seed, det, cache, ["threads=1", *args.override]))
                    except Exception as exc:  # recorded, the sweep goes on
                        row["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                    w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
                    f.flush()
                    print(f"{label:12s} {seed} {name:10s} auc={row.get('auc', float('nan')):.4f} "
                          f"fit={row.get('fit_s', float('nan')):.1f}s {row.get('degenerate', '')} {row['error']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
