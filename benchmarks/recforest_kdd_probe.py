"""Why RecForest ranks KDD's (nrcan protocol) test rows backwards: per-feature error split by class."""
import time, warnings
import numpy as np
warnings.filterwarnings("ignore")
from kdd_nrcan import load_kdd_nrcan
from oneclass.metrics import roc_auc
from oneclass.models.recforest import RecForest

xtr, xte, y = load_kdd_nrcan()
print("train", xtr.shape, "test", xte.shape, "test anomalies", int(y.sum()))
uniq = np.unique(xtr, axis=0)
print(f"distinct training rows: {len(uniq)} of {len(xtr)}")
t = time.time(); rf = RecForest(input_shape=xtr.shape[1:], random_state=0).fit(xtr); print(f"fit {time.time()-t:.1f}s")
sizes = [e.tree_.node_count for e in rf.forest_.estimators_]; depths = [e.tree_.max_depth for e in rf.forest_.estimators_]
print(f"tree nodes mean {np.mean(sizes):.0f}, depth mean {np.mean(depths):.1f}")
rng = np.random.default_rng(0)
idx = np.r_[rng.choice(np.flatnonzero(y == 0), 5000, replace=False), rng.choice(np.flatnonzero(y == 1), 5000, replace=False)]
x, yy = xte[idx], y[idx]
t = time.time(); lower, upper = rf.boxes(x); print(f"boxes of 10000 test rows {time.time()-t:.1f}s")
err = (x - 0.5 * (lower + upper)) ** 2
score = err.sum(1)
print(f"AUC on the 10k sample {roc_auc(score, yy):.3f}; reversed {roc_auc(-score, yy):.3f}")
for name, m in (("normal (attacks)", yy == 0), ("anomaly (normal traffic)", yy == 1)):
    loose = ((lower[m] == rf.amin_) & (upper[m] == rf.amax_)).sum(1)
    width = (upper[m] - lower[m]).sum(1)
    print(f"{name}: median score {np.median(score[m]):.3f}, mean {score[m].mean():.3f}; features never split on "
          f"(whole range) median {np.median(loose):.0f}; box width sum median {np.median(width):.2f}; "
          f"in-training-range rows {np.mean(((x[m] >= rf.amin_) & (x[m] <= rf.amax_)).all(1)):.2f}")
# which features carry the error of each class
mean0, mean1 = err[yy == 0].mean(0), err[yy == 1].mean(0)
top = np.argsort(-(mean0 - mean1))[:8]
rng_w = rf.amax_ - rf.amin_
print("features where the attacks' error exceeds normal traffic's most:")
for f in top:
    vals, counts = np.unique(xtr[:, f], return_counts=True)
    print(f"  f{f}: err attacks {mean0[f]:.3f} vs normal {mean1[f]:.3f}; training range {rf.amin_[f]:.2f}..{rf.amax_[f]:.2f} "
          f"({len(vals)} distinct values, top share {counts.max()/len(xtr):.3f}); attacks' x median {np.median(x[yy==0, f]):.2f}, "
          f"their box centre median {np.median(0.5*(lower[yy==0, f]+upper[yy==0, f])):.2f}")
# a training-row check: inside its own box, and the duplicates' share
sub = xtr[rng.choice(len(xtr), 2000, replace=False)]
lo, up = rf.boxes(sub)
x32 = sub.astype(np.float32)
print("training rows inside their boxes:", bool(((lo <= x32) & (x32 <= up)).all()),
      "; their median score", float(np.median(((sub - 0.5 * (lo + up)) ** 2).sum(1))))
