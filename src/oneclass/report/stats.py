"""Runs -> detectors -> numbers: grouping, per-detector statistics over seeds, reference rows.

A detector is a model (tag ``model``) at one setting. Settings are the params ``model.*``,
``dataset.*``, ``trainer.max_epochs`` and ``trainer.max_steps`` that differ between runs of that
model, except

- seeds: a param equal to the run's ``seed`` in every run of the model (``model.random_state:
  ${seed}`` in the OC-SVM presets) is the seed itself, so its runs are seeds of one detector;
- split seeds (``dataset.split_seed``): the data split is a second random axis, shown in the
  table's ``split seeds`` column and pooled into the spread, never separate detectors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from oneclass import metrics
from oneclass.config import canonical
from oneclass.report.selection import ReportError, RunScores

# params that tell runs of one model apart (besides seeds); others (accelerator...) do not
_SETTING_PREFIXES = ("model.", "dataset.")
_SETTING_KEYS = ("trainer.max_epochs", "trainer.max_steps")
# committed reference tables (oneclass.reference) by dataset: a dataset tag starting with the key
REFERENCES = {"lhco": "lhco_paper"}


def is_split_seed(key: str) -> bool:
    return key.rsplit(".", 1)[-1] == "split_seed"


def seed_keys(runs: list[RunScores]) -> set[str]:
    """Params whose value is the run's seed in every one of ``runs``."""
    keys = {k for r in runs for k in r.params if k != "seed"}
    return {k for k in keys if all(r.params.get(k) == r.seed for r in runs)}


def split_seeds(runs: list[RunScores]) -> str:
    """The split seeds of ``runs``, e.g. ``"0, 1, 2"``; ``""`` when every run uses the fixed split."""
    values = {canonical(v) for r in runs for k, v in r.params.items() if is_split_seed(k) and v not in ("None", "null", "")}
    return ", ".join(sorted(values, key=lambda v: (_as_float(v) is None, _as_float(v) or 0.0, v)))


def _short(key: str) -> str:
    return {"trainer.max_epochs": "epochs", "trainer.max_steps": "steps"}.get(key, key.removeprefix("model."))


def group_runs(runs: list[RunScores]) -> dict[str, list[RunScores]]:
    """Detector label -> runs (sorted by seed): by tag ``model``; runs of one model with different
    settings (see the module docstring) become separate detectors, e.g. ``ocdn (epochs=5)``."""
    by_model: dict[str, list[RunScores]] = {}
    for r in runs:
        by_model.setdefault(r.model, []).append(r)
    groups: dict[str, list[RunScores]] = {}
    for model in sorted(by_model):
        members = by_model[model]
        seeds = seed_keys(members)
        keys = sorted({k for r in members for k in r.params
                       if (k.startswith(_SETTING_PREFIXES) or k in _SETTING_KEYS) and k not in seeds and not is_split_seed(k)})
        varying = [k for k in keys if len({canonical(r.params.get(k)) for r in members}) > 1]
        for r in members:
            label = model
            if varying:
                label += " (" + ", ".join(f"{_short(k)}={canonical(r.params.get(k))}" for k in varying) + ")"
            groups.setdefault(label, []).append(r)
    for members in groups.values():
        members.sort(key=lambda r: (_as_float(r.seed) if _as_float(r.seed) is not None else math.inf, r.seed))
    return groups


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def reference_rows(dataset: str) -> list[dict]:
    """The committed reference table for this dataset (published numbers on LHCO only), else []."""
    from oneclass.reference import load as load_reference

    for prefix, name in REFERENCES.items():
        if dataset.startswith(prefix):
            return load_reference(name)
    return []


# the published settings a run must share before its numbers are compared with a published value:
# reference column -> (the run's param, how the setting reads in a footnote)
PUBLISHED_SETTINGS = (("epochs", "trainer.max_epochs", "epochs"),
                      ("pretrain_epochs", "model.pretrain_epochs", "pretraining epochs"),
                      ("nu", "model.nu", "nu"),
                      ("n_train", "dataset.n_train", "training {unit}"))


def match_reference(model: str, params: dict[str, str], rows: list[dict]) -> dict | None:
    """The reference row for this model whose epochs / nu (where the row has them) equal the
    run's ``trainer.max_epochs`` / ``model.nu``; when none does, the model's row nearest in epochs
    and nu (shown marked as not comparable, see :func:`compare_settings`). None: the model has no row."""
    candidates = [row for row in rows if row["model"] == model]
    if not candidates:
        return None

    def distance(row: dict) -> tuple[float, float]:
        out = []
        for col, key in (("epochs", "trainer.max_epochs"), ("nu", "model.nu")):
            value = _as_float(params.get(key))
            out.append(0.0 if row.get(col) is None else math.inf if value is None else abs(value - float(row[col])))
        return out[0], out[1]

    return min(candidates, key=distance)  # min keeps the first of equals: an exact match is distance (0, 0)


def _setting(col: str, value: Any, unit: str) -> str:
    noun = dict((c, n) for c, _, n in PUBLISHED_SETTINGS)[col].format(unit=unit)
    if col == "n_train" and canonical(value) in ("None", "all"):
        return f"all {noun}"
    number = _as_float(value)
    if number is None:
        return f"{noun} {value}"
    if col == "nu":
        return f"nu {number:g}"
    count = int(number) if number.is_integer() else number
    return f"{count:,} {noun[:-1] if count == 1 and noun.endswith('s') else noun}"


def compare_settings(row: dict, params: dict[str, str], unit: str = "events") -> tuple[bool, str, str]:
    """Whether a run with ``params`` was trained as the published ``row`` (schedule: epochs,
    pretraining epochs, nu; training size: ``n_train``, ``all`` = the whole training set), and both
    sides as text for a footnote: ``(False, "2 epochs, 20,000 training events", "10 epochs, 97,081
    training events")``. A setting the run did not record counts as a difference."""
    same, ours, theirs = True, [], []
    for col, key, noun in PUBLISHED_SETTINGS:
        published = row.get(col)
        if published is None or published == "":
            continue
        theirs.append(_setting(col, published, unit))
        value = params.get(key)
        if value is None:
            same = False
            ours.append(f"{noun.format(unit=unit)} not recorded")
            continue
        ours.append(_setting(col, value, unit))
        if col == "n_train" and canonical(published) == "all":
            same &= canonical(value) == "None"
        else:
            number = _as_float(value)
            same &= number is not None and math.isclose(number, float(published), rel_tol=1e-9, abs_tol=1e-9)
    return same, ", ".join(ours), ", ".join(theirs)


def summarize(groups: dict[str, list[RunScores]], min_background: int, reference: list[dict]) -> list[dict]:
    """Per detector: ``<metric>_mean/_std/_best`` for every metric of :data:`oneclass.metrics.METRICS`,
    its best run (by the first metric) with its curve, and the seed band (see ``figures``).

    Each run's metrics go to ``run.extra`` (``runs.csv``)."""
    grid = metrics.fpr_grid()
    out = []
    for label, runs in groups.items():
        values: dict[str, list[float]] = {m.name: [] for m in metrics.METRICS}
        evals = []
        for r in runs:
            n_bkg = int((r.labels == 0).sum())
            if n_bkg < min_background:
                raise ReportError(f"run {r.label} has {n_bkg} test background events, fewer than "
                                  f"--min-background {min_background}")
            ev = metrics.evaluate(r.scores, r.labels, min_background)
            for m in metrics.METRICS:
                values[m.name].append(float(getattr(ev, m.name)))
            r.extra.update({m.name: float(getattr(ev, m.name)) for m in metrics.METRICS}, n_background=n_bkg)
            evals.append(ev)
        ibest = int(np.argmax(values[metrics.METRICS[0].name]))
        ref = match_reference(runs[0].model, runs[0].params, reference)
        best = evals[ibest]
        d: dict[str, Any] = {"label": label, "model": runs[0].model, "n_runs": len(runs)}
        for m in metrics.METRICS:
            d[f"{m.name}_mean"], d[f"{m.name}_std"] = metrics.spread(values[m.name])
            d[f"{m.name}_best"] = float(max(values[m.name]))
        d.update({
            "best_seed": runs[ibest].seed,
            "split_seeds": split_seeds(runs),
            "reference": ref,
            # (comparable, our settings, the published ones): schedule and training size must match
            "reference_check": compare_settings(ref, runs[0].params) if ref is not None else None,
            "min_background": min_background,
            "band": metrics.seed_band([(ev.fpr, ev.tpr, ev.n_background) for ev in evals], grid, min_background),
            "best": {"fpr": best.fpr, "tpr": best.tpr, "n_background": best.n_background, "seed": runs[ibest].seed,
                     **{m.name: values[m.name][ibest] for m in metrics.METRICS}},
        })
        out.append(d)
    return out


def display_names(items: list[str] | None, detectors: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``--label`` values (``MODEL=TEXT`` or ``DETECTOR=TEXT``) -> (detector label -> display name,
    model -> display name). ``detectors``: each detector label of the report -> its model.

    ``--label ocdn=OCDN`` renames every detector of model ``ocdn`` (``ocdn (epochs=5)`` becomes
    ``OCDN (epochs=5)``); ``--label "ocdn (epochs=5)=OCDN, 5 epochs"`` one detector (it wins over
    its model's name). A key that is neither, an empty name or two detectors given one name is a
    ConfigError."""
    from oneclass.errors import ConfigError

    by_detector: dict[str, str] = {}
    by_model: dict[str, str] = {}
    models = sorted(set(detectors.values()))
    for item in items or []:
        # a detector label may itself hold "=" (ocdn (epochs=5)): the longest label the item starts with wins
        key = next((d for d in sorted(detectors, key=len, reverse=True) if item.startswith(d + "=")), None)
        if key is None and "=" not in item:
            raise ConfigError(f"--label {item!r}: expected MODEL=TEXT, e.g. --label ocdn=OCDN")
        target, text = (key, item[len(key) + 1:]) if key is not None else item.split("=", 1)
        if not text.strip():
            raise ConfigError(f"--label {item!r}: the display name after '=' is empty")
        if key is not None:
            by_detector[key] = text
        elif target in models:
            by_model[target] = text
        else:
            raise ConfigError(f"--label {item!r}: no model or detector {target!r} in these runs; they have "
                              + ", ".join(sorted(set(models) | set(detectors))))
    names = {}
    for label, model in detectors.items():
        if label in by_detector:
            names[label] = by_detector[label]
        elif model in by_model and label.startswith(model):
            names[label] = by_model[model] + label[len(model):]
    shown = [names.get(label, label) for label in detectors]
    twice = sorted({n for n in shown if shown.count(n) > 1})
    if twice:
        raise ConfigError(f"--label: two detectors would both be shown as {twice[0]!r}; give each its own name")
    return names, by_model


def rename(groups: dict[str, list], names: dict[str, str]) -> dict[str, list]:
    """``groups`` with each detector label replaced by its display name (order kept)."""
    return {names.get(label, label): runs for label, runs in groups.items()}
