"""RecForest on KDD (nrcan): box tightness follows the number of splits on a row's paths, which counts
distinct training rows, not rows: the same forest on the distinct training rows only ranks the same."""
import warnings
import numpy as np
warnings.filterwarnings("ignore")
from kdd_nrcan import load_kdd_nrcan
from oneclass.metrics import roc_auc
from oneclass.models.recforest import RecForest

xtr, xte, y = load_kdd_nrcan()
rng = np.random.default_rng(0)
idx = np.r_[rng.choice(np.flatnonzero(y == 0), 5000, replace=False), rng.choice(np.flatnonzero(y == 1), 5000, replace=False)]
x, yy = xte[idx], y[idx]
uniq, inverse, counts = np.unique(xtr, axis=0, return_inverse=True, return_counts=True)
print(f"distinct training rows {len(uniq)}; the 5 largest groups of identical rows hold "
      f"{counts[np.argsort(-counts)[:5]].tolist()} rows ({counts[np.argsort(-counts)[:5]].sum()/len(xtr):.1%})")
# test attacks that equal a training row, and the size of that row's group
lookup = {r.tobytes(): c for r, c in zip(uniq, counts)}
mult = np.array([lookup.get(r.tobytes(), 0) for r in x])
print(f"test attacks identical to a training row: {np.mean(mult[yy == 0] > 0):.1%} (median group size "
      f"{np.median(mult[(yy == 0) & (mult > 0)]):.0f}); normal traffic: {np.mean(mult[yy == 1] > 0):.1%}")
for name, train in (("all training rows", xtr), ("distinct training rows only", uniq)):
    rf = RecForest(input_shape=xtr.shape[1:], random_state=0).fit(train)
    s = rf.score(x)
    depth = np.mean([e.decision_path(x.astype(np.float32)).sum(1).A1 - 1 for e in rf.forest_.estimators_], axis=0)
    print(f"{name}: AUC {roc_auc(s, yy):.3f}; splits per path, median attacks {np.median(depth[yy == 0]):.1f} vs "
          f"normal traffic {np.median(depth[yy == 1]):.1f}; AUC of -splits {roc_auc(-depth, yy):.3f}; "
          f"rank corr(score, -splits) {np.corrcoef(np.argsort(np.argsort(s)), np.argsort(np.argsort(-depth)))[0, 1]:.2f}")
