"""OC-SVM presets against the exact solver on the LHCO paper split: fit + score time and test AUC.

For both presets (``model=ocsvm_iad``, nu 0.85, and ``model=ocsvm_oad``, nu 0.15) this composes the
real config (``model=X dataset=lhco``), so it measures whatever the presets say (solver, landmarks,
SGD settings), with the pipeline's own timing (``fit_time_s + score_time_s``), for several seeds
(the Nystroem landmarks and the SGD order follow the run's seed). The exact libsvm solver takes
minutes per preset: its numbers are read from ``ocsvm_exact_reference.json`` beside this file,
which ``--exact`` re-measures (and rewrites) on this machine.

    python benchmarks/bench_ocsvm.py                      # presets, seeds 0-4, vs the stored exact run
    python benchmarks/bench_ocsvm.py --exact              # also re-time the exact solver (minutes)
    python benchmarks/bench_ocsvm.py --path /path/to/lhco_rnd_sr_5features.npy

Every timing line carries the load average: the machine is often shared.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).with_name("ocsvm_exact_reference.json")
PRESETS = ("ocsvm_iad", "ocsvm_oad")


def default_path() -> Path:
    shared = Path(os.environ.get("ONECLASS_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return shared / "lhco" / "lhco_rnd_sr_5features.npy"


def load_avg() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def compose(preset: str, path: Path, seed: int, *extra: str):
    from hydra import compose as hydra_compose, initialize_config_dir

    from oneclass.launch.cli import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra_compose(config_name="config",
                             overrides=[f"model={preset}", "dataset=lhco", f"dataset.path={path}", f"seed={seed}", *extra])


def measure(cfg) -> dict:
    """Fit + score one OC-SVM exactly as the pipeline does (build with input_shape, time fit and score)."""
    from oneclass.config import build
    from oneclass.metrics import evaluate

    data = build(cfg.dataset, "dataset").load(int(cfg.seed))
    detector = build(cfg.model, "model", input_shape=data.input_shape)
    t0 = time.perf_counter()
    detector.fit(data.x_train)
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = detector.score(data.x_test)
    score = time.perf_counter() - t0
    ev = evaluate(scores, data.y_test, min_background=int(cfg.eval.min_background))
    return {"fit_time_s": fit, "score_time_s": score, "total_s": fit + score, "auc": ev.auc, "max_sic": ev.max_sic,
            "load_average": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--path", type=Path, default=default_path(), help="LHCO file (.npy or .h5)")
    p.add_argument("--seeds", default="0,1,2,3,4", help="seeds for the presets (comma-separated)")
    p.add_argument("--exact", action="store_true", help="re-time the exact libsvm solver and rewrite the reference file")
    a = p.parse_args(argv)
    seeds = [int(s) for s in a.seeds.split(",")]
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    reference = json.loads(REFERENCE.read_text()) if REFERENCE.is_file() else {}
    if a.exact:
        for preset in PRESETS:
            print(f"exact {preset}: fitting (minutes) ... {load_avg()}", flush=True)
            result = measure(compose(preset, a.path, 0, "model.solver=exact"))
            result["measured"] = time.strftime("%Y-%m-%d %H:%M")
            reference[preset] = result
            print(f"exact {preset}: fit {result['fit_time_s']:.1f} s + score {result['score_time_s']:.1f} s, "
                  f"AUC {result['auc']:.4f}, max SIC {result['max_sic']:.3f}  ({load_avg()})", flush=True)
            REFERENCE.write_text(json.dumps(reference, indent=2) + "\n")
    if not reference:
        raise SystemExit(f"no exact reference in {REFERENCE}; run with --exact once (minutes)")

    print(f"LHCO paper split ({a.path.name}); preset settings from conf/model/<preset>.yaml")
    for preset in PRESETS:
        cfg = compose(preset, a.path, seeds[0])
        m = cfg.model
        ref = reference[preset]
        print(f"\n{preset}: nu {m.nu}, solver {m.solver}, {m.n_components} landmarks, max_iter {m.max_iter}, tol {m.tol}")
        print(f"  exact (libsvm)       : {ref['total_s']:8.1f} s (fit {ref['fit_time_s']:.1f} + score {ref['score_time_s']:.1f}), "
              f"AUC {ref['auc']:.4f}, max SIC {ref['max_sic']:.3f}  [measured {ref.get('measured', '?')}, "
              f"load average {ref.get('load_average', float('nan')):.2f}]")
        rows = []
        for seed in seeds:
            r = measure(compose(preset, a.path, seed))
            rows.append(r)
            print(f"  preset, seed {seed}       : {r['total_s']:8.2f} s (fit {r['fit_time_s']:.2f} + score {r['score_time_s']:.2f}), "
                  f"AUC {r['auc']:.4f} (exact {r['auc'] - ref['auc']:+.4f}), max SIC {r['max_sic']:.3f}, "
                  f"{ref['total_s'] / r['total_s']:5.0f}x faster  ({load_avg()})", flush=True)
        total = np.array([r["total_s"] for r in rows])
        dauc = np.array([abs(r["auc"] - ref["auc"]) for r in rows])
        print(f"  preset over {len(rows)} seeds: median {np.median(total):.2f} s = {ref['total_s'] / np.median(total):.0f}x below "
              f"exact; |AUC - exact| max {dauc.max():.4f}")


if __name__ == "__main__":
    main()
