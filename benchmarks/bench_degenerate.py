"""Degenerate fits of the deep tabular detectors at their default presets (issue 25): ``ae``,
``deepsvdd`` and ``dagmm`` on every shared ADBench set (protocol ``adbench_dedup``, the default) and
ODDS arrhythmia (``nrcan``), split seeds 0-4. Each fit is checked on its training rows by
:func:`oneclass.models.base.degeneracy` (as the pipeline does); one CSV row per fit (AUROC and the
reason, "" = healthy), then the table of degenerate counts.

    ONECLASS_DATA_DIR=../shared/data python benchmarks/bench_degenerate.py --out degenerate.csv
    python benchmarks/bench_degenerate.py --detectors ae --only-sets breastw,thyroid,mammography
    python benchmarks/bench_degenerate.py --summary degenerate.csv

Rows already in ``--out`` are skipped (an interrupted sweep resumes). Sets run smallest first.
Extra overrides for every fit: ``--override model.net.rep_dim=1`` (e.g. the old funnel).
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
                                                    "annthyroid", "mammography", "shuttle")]
SEEDS = range(5)


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
    p.add_argument("--summary", type=Path, default=None)
    args = p.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return 0
    os.environ.setdefault("ONECLASS_DATA_DIR", str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    quiet_libraries()
    only = set(args.only_sets.split(",")) if args.only_sets else None
    seen = done_rows(args.out)
    new = not args.out.is_file()
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
                for seed in SEEDS:
                    if (label, proto, str(seed), name) in seen:
                        continue
                    row = {"set": label, "protocol": proto, "split_seed": seed, "detector": name, "error": "",
                           "machine": machine(), "date": time.strftime("%Y-%m-%d", time.gmtime())}
                    try:
                        row.update(one(ds, over, seed, det, {}, ["threads=1", *args.override]))
                    except Exception as exc:  # recorded, the sweep goes on
                        row["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                    w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
                    f.flush()
                    print(f"{label:12s} {seed} {name:10s} auc={row.get('auc', float('nan')):.4f} "
                          f"fit={row.get('fit_s', float('nan')):.1f}s {row.get('degenerate', '')} {row['error']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
