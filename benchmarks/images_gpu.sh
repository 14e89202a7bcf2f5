#!/usr/bin/env bash
# The image benchmark on one GPU (issue 13): the full MNIST Deep SVDD table (classes 0-9 x seeds
# 0-2, Ruff's schedule: 150 pretraining + 150 training epochs) with the PyTorch README's settings
# (experiment=ruff/deepsvdd_mnist) and the Theano code's (deepsvdd_mnist_icml; MNIST_EXPERIMENTS to
# choose), then DCAE, OC-NN and Fashion-MNIST
# Deep SVDD at seed 0, every job on the GPU with its images on the device (trainer=gpu). Parallel
# jobs share the one GPU through the joblib launcher (the LeNets are far too small to fill it).
#
#   ONECLASS_DATA_DIR=../shared/data bash benchmarks/images_gpu.sh OUT [MNIST_LIMIT_S] [OTHERS_LIMIT_S]
#
# Jobs log nowhere but their folders (logger=none; use logger=mlflow with a store to compare them in
# the MLflow UI and `oneclass report`). OUT/summary.md gets the per-class table beside Ruff et
# al.'s targets and the wall times; OUT/results.tgz every job's status.json and scores.npz.
set -u
out=${1:?usage: images_gpu.sh OUT [MNIST_LIMIT_S] [OTHERS_LIMIT_S]}
mnist_limit=${2:-660}
others_limit=${3:-200}
py=${PYTHON:-python}
jobs=${N_JOBS:-12}
mkdir -p "$out"
common=(logger=none "trainer=${TRAINER:-gpu}" threads=1 hydra/launcher=local_parallel "hydra.launcher.n_jobs=$jobs")

# A one-epoch job first: a broken set-up fails here in seconds, not after the sweep's limit.
if ! $py run.py experiment=ruff/deepsvdd_mnist dataset.normal_class=0 model.pretrain_epochs=1 trainer.max_epochs=1 \
        logger=none "trainer=${TRAINER:-gpu}" "hydra.run.dir=$out/smoke" >"$out/smoke.log" 2>&1; then
    tail -30 "$out/smoke.log"; echo "smoke job failed"; exit 1
fi
tail -1 "$out/smoke.log"

t0=$(date +%s)
timeout "$mnist_limit" $py run.py -m "experiment=${MNIST_EXPERIMENTS:-ruff/deepsvdd_mnist,ruff/deepsvdd_mnist_icml}" seed=0..2 dataset.normal_class=0..9 "${common[@]}" \
    "hydra.sweep.dir=$out/mnist" >"$out/mnist.log" 2>&1
echo "mnist table: rc $? wall $(( $(date +%s) - t0 )) s" | tee "$out/wall.txt"
t1=$(date +%s)
timeout "$others_limit" $py run.py -m experiment=ruff/dcae_mnist,ruff/ocnn_mnist,ruff/deepsvdd_fashion_mnist dataset.normal_class=0..9 \
    seed=0 "${common[@]}" "hydra.sweep.dir=$out/others" >"$out/others.log" 2>&1
echo "dcae/ocnn/fashion: rc $? wall $(( $(date +%s) - t1 )) s" | tee -a "$out/wall.txt"

$py - "$out" <<'EOF' | tee "$out/summary.md"
import json, sys, statistics as st
from pathlib import Path
out = Path(sys.argv[1])
target = [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5]
rows = {}
for f in sorted(out.glob("*/*/status.json")):
    s = json.loads(f.read_text())
    o = dict(x.split("=", 1) for x in s["overrides"] if "=" in x)
    key = (o.get("experiment"), int(o["dataset.normal_class"]))
    auc = s.get("metrics", {}).get("test_auc")
    rows.setdefault(key, []).append((int(o.get("seed", 0)), s["status"], auc, s.get("metrics", {}).get("fit_time_s")))
for exp in sorted({k[0] for k in rows}):
    print(f"\n## {exp}\n\n| class | AUC % (seeds) | mean | std | target | gap | fit s |\n|---|---|---|---|---|---|---|")
    for c in range(10):
        r = sorted(rows.get((exp, c), []))
        a = [100 * x[2] for x in r if x[2] is not None]
        m = st.mean(a) if a else float("nan")
        sd = st.stdev(a) if len(a) > 1 else 0.0
        t = target[c] if exp.startswith("deepsvdd_mnist") else None
        fit = [x[3] for x in r if x[3]]
        print(f"| {c} | {' '.join(f'{x:.1f}' for x in a) or '-'} | {m:.1f} | {sd:.1f} | {t or ''} | "
              f"{'' if t is None or not a else f'{m - t:+.1f}'} | {st.mean(fit):.0f} |" if fit else
              f"| {c} | {' '.join(f'{x:.1f}' for x in a) or '-'} | {m:.1f} | {sd:.1f} | {t or ''} | | |")
EOF
cat "$out/wall.txt"
tar czf "$out/results.tgz" -C "$out" --exclude='*.ckpt' --exclude='*.png' mnist others smoke 2>/dev/null
ls -la "$out"
