"""Report pieces for the one-class image benchmarks (MNIST, Fashion-MNIST, CIFAR-10): runs grouped
by detector and **normal class**, the per-class AUC table (mean, std over seeds) beside the
published targets (``oneclass.reference`` ``ruff2018_deepsvdd``), and a figure of the most normal
and most anomalous test images of the normal class per class (Ruff et al. 2018, Fig. 3).

The functions take run records (anything with ``model``, ``seed``, ``params``, ``scores``,
``labels`` and optionally ``index`` / ``extra["index"]``: e.g. ``oneclass.report.RunScores``);
:func:`image_report` is what ``oneclass report`` calls when the selected runs are on an image
dataset (it reads MLflow; this module does not):

    oneclass report                                 # the latest sweep in ./mlflow.db
    oneclass report --sweep 16-05-30-1a2b3c4d --output reports/mnist --n-images 16

It writes ``classes.md`` / ``classes.csv`` (one row per detector and class, plus each detector's
mean over classes) and ``extremes_<detector>.png`` (per class: the ``--n-images`` lowest-scored
normal test images left, the highest-scored right; the seed with the best AUC of each class; each
28 x 28 MNIST image drawn about 80 px wide, at most 2400 px in all).

A published target is comparable only where the runs share its schedule and training size
(``trainer.max_epochs``, ``model.pretrain_epochs``, ``dataset.n_train``: Ruff et al. trained 150
epochs after 150 (MNIST) or 350 (CIFAR-10) pretraining epochs on every training image of the class).
Otherwise the target is shown marked ``‡``, with no gap, and a footnote gives both settings.
"""

from __future__ import annotations

import csv
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from oneclass.errors import DataError
from oneclass.config import canonical

REFERENCE = "ruff2018_deepsvdd"
CLASS_KEY = "dataset.normal_class"
NOT_COMPARABLE = "‡"
# settings that never split a detector's runs into separate rows (the class is a column)
_NOT_SETTINGS = {CLASS_KEY, "seed", "model.random_state"}
_SETTING_PREFIXES = ("model.", "dataset.")
_SETTING_KEYS = ("trainer.max_epochs", "trainer.max_steps")


@dataclass
class ImageRun:
    """One run on an image dataset with its test scores."""

    model: str
    dataset: str
    normal_class: int
    seed: str
    params: dict[str, str]
    scores: np.ndarray
    labels: np.ndarray
    index: np.ndarray
    fit_time_s: float | None = None
    run_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _param(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return None if value in (None, "None", "null", "") else str(value)


def as_image_run(record: Any, dataset: str | None = None) -> ImageRun:
    """An :class:`ImageRun` from a report record (``oneclass.report.RunScores`` or alike)."""
    params = dict(getattr(record, "params", {}) or {})
    tags = dict(getattr(record, "tags", {}) or {})
    if tags.get("dataset_class"):  # the dataset's class is a tag (not a param) since the runs table shows fewer params
        params.setdefault("dataset._target_", tags["dataset_class"])
    cls = _param(params, CLASS_KEY)
    if cls is None:
        raise DataError(f"run {getattr(record, 'name', '?')} has no {CLASS_KEY} param; not an image benchmark run")
    extra = getattr(record, "extra", {}) or {}
    index = getattr(record, "index", None)
    index = extra.get("index") if index is None else index
    scores = np.asarray(record.scores, dtype=np.float64)
    fit = extra.get("fit_time_s")
    return ImageRun(model=str(getattr(record, "model", tags.get("model", "?"))),
                    dataset=dataset or tags.get("dataset") or str(params.get("dataset.name", "?")),
                    normal_class=int(float(cls)), seed=str(getattr(record, "seed", params.get("seed", "?"))),
                    params=params, scores=scores, labels=np.asarray(record.labels),
                    index=np.arange(len(scores)) if index is None else np.asarray(index),
                    fit_time_s=None if fit is None else float(fit), run_id=str(getattr(record, "run_id", "")))


# --------------------------------------------------------------------------- grouping and table
def detector_labels(runs: list[ImageRun]) -> dict[str, list[ImageRun]]:
    """Detector label -> runs: by model, plus the settings (``model.*``, ``dataset.*``, epochs) that
    differ between runs of one model, the normal class and seed excepted."""
    by_model: dict[str, list[ImageRun]] = {}
    for r in runs:
        by_model.setdefault(r.model, []).append(r)
    out: dict[str, list[ImageRun]] = {}
    for model in sorted(by_model):
        members = by_model[model]
        keys = sorted({k for r in members for k in r.params
                       if (k.startswith(_SETTING_PREFIXES) or k in _SETTING_KEYS) and k not in _NOT_SETTINGS})
        varying = [k for k in keys if len({canonical(r.params.get(k)) for r in members}) > 1]
        for r in members:
            label = model
            if varying:
                label += " (" + ", ".join(f"{k.removeprefix('model.')}={canonical(r.params.get(k))}" for k in varying) + ")"
            out.setdefault(label, []).append(r)
    return out


def targets(dataset: str) -> dict[tuple[str, int], dict]:
    """(model, normal class) -> the published row for ``dataset`` (empty where none is published)."""
    from oneclass.reference import load

    return {(row["model"], int(row["normal_class"])): row for row in load(REFERENCE) if row["dataset"] == dataset}


def class_table(runs: list[ImageRun], reference: dict[tuple[str, int], dict] | None = None,
                names: dict[str, str] | None = None) -> list[dict]:
    """One row per detector and normal class: runs, AUC mean and std over seeds (ddof 1), the
    target where published, whether it is comparable (same epochs, pretraining epochs and training
    size: ``target_comparable``, ``ours``, ``published``) and the gap (mean - target) where it is,
    mean fit time; then a row ``mean`` per detector (mean over classes of the per-class means).
    ``names``: detector label -> display name (``--label``)."""
    from oneclass.metrics import roc_auc, spread
    from oneclass.report.stats import compare_settings

    reference = reference if reference is not None else (targets(runs[0].dataset) if runs else {})
    rows = []
    for label, members in detector_labels(runs).items():
        label = (names or {}).get(label, label)
        by_class: dict[int, list[ImageRun]] = {}
        for r in members:
            by_class.setdefault(r.normal_class, []).append(r)
        class_means, target_means, comparable = [], [], []
        for c in sorted(by_class):
            rs = by_class[c]
            aucs = [roc_auc(r.scores, r.labels) for r in rs]
            for r, a in zip(rs, aucs):
                r.extra["auc"] = a
            mean, std = spread(aucs)
            ref = reference.get((rs[0].model, c))
            same, ours, published = compare_settings(ref, rs[0].params, "images") if ref is not None else (None, "", "")
            fits = [r.fit_time_s for r in rs if r.fit_time_s is not None]
            row = {"detector": label, "model": rs[0].model, "dataset": rs[0].dataset, "normal_class": c,
                   "class_name": _class_name(rs[0].dataset, c), "n_runs": len(rs),
                   "seeds": ",".join(r.seed for r in rs),
                   "auc_mean": mean, "auc_std": std, "auc_min": float(min(aucs)), "auc_max": float(max(aucs)),
                   "target": None if ref is None else float(ref["auc_mean"]),
                   "target_comparable": same, "ours": ours, "published": published,
                   "gap": None if ref is None or not same else mean - float(ref["auc_mean"]),
                   "fit_time_s": float(np.mean(fits)) if fits else None}
            rows.append(row)
            class_means.append(mean)
            if ref is not None:
                target_means.append(float(ref["auc_mean"]))
                comparable.append(same)
        full = len(target_means) == len(class_means)
        all_same = full and bool(comparable) and all(comparable)
        rows.append({"detector": label, "model": members[0].model, "dataset": members[0].dataset,
                     "normal_class": "mean", "class_name": f"{len(class_means)} classes", "n_runs": len(members),
                     "seeds": "", "auc_mean": float(np.mean(class_means)), "auc_std": None, "auc_min": None,
                     "auc_max": None, "target": float(np.mean(target_means)) if full and target_means else None,
                     "target_comparable": all_same if full and target_means else None, "ours": "", "published": "",
                     "gap": float(np.mean(class_means) - np.mean(target_means)) if all_same else None,
                     "fit_time_s": None})
    return rows


def _class_name(dataset: str, c: int) -> str:
    from oneclass.data.images import CIFAR10_CLASSES, FASHION_MNIST_CLASSES, MNIST_CLASSES

    names = {"mnist": MNIST_CLASSES, "fashion_mnist": FASHION_MNIST_CLASSES, "cifar10": CIFAR10_CLASSES}
    return names.get(dataset, MNIST_CLASSES)[c]


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def markdown(rows: list[dict], title: str = "") -> str:
    """The per-class table, one block per detector, AUC in %; a target whose schedule or training
    size differs from the runs is marked ``‡`` (no gap) and the footnote gives both settings."""
    lines = [f"## {title}", ""] if title else []
    apart: dict[str, tuple[str, str]] = {}
    for label in dict.fromkeys(r["detector"] for r in rows):
        lines += [f"### {label}", "", "| normal class | runs | AUC % mean ± std | target % | gap | fit s (mean) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in (r for r in rows if r["detector"] == label):
            mean_row = r["normal_class"] == "mean"
            name = f"**mean** ({r['class_name']})" if mean_row else f"{r['normal_class']} ({r['class_name']})"
            one = r["auc_std"] is None or (not mean_row and r["n_runs"] == 1)
            spread_ = _pct(r["auc_mean"]) if one else f"{_pct(r['auc_mean'])} ± {_pct(r['auc_std'])}"
            target = _pct(r["target"])
            if r["target"] is not None and r.get("target_comparable") is False:
                target += f" {NOT_COMPARABLE}"
                if r.get("ours"):
                    apart.setdefault(label, (r["ours"], r["published"]))
            gap = "–" if r["gap"] is None else f"{100 * r['gap']:+.1f}"
            fit = "–" if r["fit_time_s"] is None else f"{r['fit_time_s']:.0f}"
            lines.append(f"| {name} | {r['n_runs']} | {spread_} | {target} | {gap} | {fit} |")
        lines.append("")
    lines += ["std: sample standard deviation over seeds (none shown for one seed). target: one-class Deep SVDD, "
              "Ruff et al. (ICML 2018) Table 1 (oneclass.reference 'ruff2018_deepsvdd'), shown for model deepsvdd on "
              "MNIST and CIFAR-10. gap: mean - target in AUC points, only where the runs' schedule (epochs, "
              "pretraining epochs) and training size match the paper's.", ""]
    for label, (ours, published) in apart.items():
        lines += [f"{NOT_COMPARABLE} {label}: our runs {ours}; published {published}: not comparable.", ""]
    return "\n".join(lines)


def write_csv(rows: list[dict], path: Path) -> Path:
    columns = ["detector", "model", "dataset", "normal_class", "class_name", "n_runs", "seeds", "auc_mean", "auc_std",
               "auc_min", "auc_max", "target", "target_comparable", "gap", "fit_time_s"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else str(row[k]).lower() if isinstance(row[k], bool)
                            else f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in columns})
    return path


# --------------------------------------------------------------------------- Ruff's Fig. 3
def extremes(run: ImageRun, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Official test-image numbers of the ``n`` lowest- and ``n`` highest-scored test images of the
    normal class (label 0), most normal first / most anomalous first."""
    normal = np.flatnonzero(run.labels == 0)
    order = normal[np.argsort(run.scores[normal], kind="stable")]
    return run.index[order[:n]], run.index[order[::-1][:n]]


def test_images_loader(run: ImageRun) -> Callable[[], np.ndarray]:
    """A loader of the raw (uint8) official test images of the run's dataset, from its logged
    ``dataset._target_`` and ``dataset.path``."""
    from hydra.utils import get_class

    target, path = _param(run.params, "dataset._target_"), _param(run.params, "dataset.path")
    if target is None:
        raise DataError(f"run {run.run_id[:8]} has no dataset._target_ param; cannot find its images")

    def load() -> np.ndarray:
        dataset = get_class(target)(normal_class=run.normal_class, path=path)
        return dataset.read("test", None)[0]

    return load


def _tile(images: np.ndarray, cols: int) -> np.ndarray:
    """(n, C, H, W) -> one (rows*H, cols*W[, C]) mosaic, empty cells white."""
    n, c, h, w = images.shape
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * h, cols * w, c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        out[r * h:(r + 1) * h, k * w:(k + 1) * w] = np.moveaxis(img, 0, -1)
    return out[..., 0] if c == 1 else out


TILE_IN = 0.55  # inches per image: a 28-pixel MNIST image ~80 px wide at DPI
DPI = 150


def extremes_figure(best: dict[int, ImageRun], test_images: np.ndarray, path: Path, n: int = 32, cols: int = 8,
                    title: str = "") -> Path:
    """Per class (one row): the ``n`` most normal (left) and most anomalous (right) test images of
    the normal class, by the given run's scores; ``test_images`` (N, C, H, W) uint8 indexed by
    the official test-image number. Each image ~:data:`TILE_IN` inches at :data:`DPI` dpi (8
    columns per side: ~1400 px wide, never over 2400 px)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from oneclass.plots import wrap_title

    classes = sorted(best)
    cols = max(1, min(cols, n))
    rows_per_class = math.ceil(n / cols)
    size = (2 * TILE_IN * cols + 1.4, TILE_IN * rows_per_class * len(classes) + 0.5 * len(classes) + 1.0)
    fig, axes = plt.subplots(len(classes), 2, figsize=size, squeeze=False)
    for row, c in enumerate(classes):
        low, high = extremes(best[c], n)
        for col, (idx, what) in enumerate(((low, "most normal"), (high, "most anomalous"))):
            ax = axes[row, col]
            ax.imshow(_tile(test_images[idx], cols), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(what, fontsize=11)
            if col == 0:
                auc = 100 * best[c].extra.get("auc", np.nan)
                ax.set_ylabel(f"{c}: {_class_name(best[c].dataset, c)}\nAUC {auc:.1f}", fontsize=10)
    if title:
        fig.suptitle(wrap_title(title, size[0], 11), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- the hook
def image_report(records: list[Any], output: Path, dataset: str | None = None, n_images: int = 32,
                 images: np.ndarray | None = None, title: str | None = None,
                 labels: list[str] | None = None) -> tuple[list[Path], dict[str, float], str]:
    """The image part of a report: ``classes.md`` / ``classes.csv`` and one ``extremes_<detector>.png``
    per detector in ``output``. Returns (files, metrics for a summary run, the table as text).

    ``images``: the raw test images (N, C, H, W) indexed by official number; None = read them
    with the dataset class the runs logged (skipped, with a note, when the files are missing).
    ``title``: the figures' title (None: the dataset's name); ``labels``: ``--label MODEL=TEXT``.
    """
    from oneclass.report.stats import display_names

    runs = [r if isinstance(r, ImageRun) else as_image_run(r, dataset) for r in records]
    if not runs:
        raise DataError("no runs to report")
    groups = detector_labels(runs)
    names, _ = display_names(labels, {label: members[0].model for label, members in groups.items()})
    output.mkdir(parents=True, exist_ok=True)
    rows = class_table(runs, names=names)
    text = markdown(rows, f"{runs[0].dataset}: AUC per normal class ({len(runs)} runs)")
    files = [output / "classes.md", write_csv(rows, output / "classes.csv")]
    files[0].write_text(text)
    metrics = {}
    for r in rows:
        key = f"auc_{_safe(r['detector'])}_class_{r['normal_class']}"
        metrics[key] = r["auc_mean"]
    title = runs[0].dataset if title is None else title
    for key, members in groups.items():
        label = names.get(key, key)  # the display name; the file keeps the detector's own label
        best: dict[int, ImageRun] = {}
        for r in members:
            if r.normal_class not in best or r.extra["auc"] > best[r.normal_class].extra["auc"]:
                best[r.normal_class] = r
        pictures = images
        if pictures is None:
            try:
                pictures = test_images_loader(next(iter(best.values())))()
            except DataError as exc:
                print(f"note: no extremes figure for {label}: {exc}", file=sys.stderr)
                continue
        what = f"{label}: most normal / most anomalous test images of the normal class"
        files.append(extremes_figure(best, pictures, output / f"extremes_{_safe(key)}.png", n=n_images,
                                     title=f"{title}, {what}" if title else what))
    return files, metrics, text


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in label).strip("_")
