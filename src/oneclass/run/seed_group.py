"""What a vectorised seed group adds to a job: its members' set-up and its ensemble run.

``vectorised.seeds=[s0, s1, ...]`` (set by ``hydra/sweeper=seed_batch`` for sweep points that differ
only in ``seed``, or given directly) makes the job train one member per seed as one batched
computation (:mod:`oneclass.vectorised`), run by the one job path of :mod:`oneclass.run.engine`
(:class:`oneclass.run.members.Stacked`), and record:

* one MLflow run per member, as its single-seed job would: the same name, params (the member's
  config, i.e. ``seed=s`` and ``vectorised.seeds=null``), tags (``overrides`` as the single job's),
  metrics and artifacts (``config.yaml``, ``scores.npz``, ``roc.png``, ``sic.png``, ``model.ckpt``,
  snapshots), in ``<job dir>/<model>-seed<s>/``, plus the tags ``vectorised=true``,
  ``seed_group`` (the group id) and ``group_seeds``. ``fit_time_s`` / ``score_time_s`` are the
  group's times divided by the number of members (``group_fit_time_s`` is the whole);
* one ``<model>-<dataset>-ensemble<N>`` run (``model`` tag ``<model>-ensemble<N>``): score = mean over the N members of their normalised scores
  (``vectorised.ensemble``: ``standardize`` = z-score against the member's scores of the
  training set; ``rank`` = fraction of the member's training scores below the event's; the
  training scores are those of a fixed subset of ``vectorised.calibration_events`` events), with
  ``members_auc_mean`` / ``members_auc_std`` beside its own AUC, and ``ensemble.json`` (members'
  run ids and normalisation constants).

A member whose training loss becomes NaN fails only its own run (FAILED, with the single-seed
job's message); the others and the ensemble (of the healthy members) finish, and the job is
reported failed. ``resume=true`` skips members whose config already has a FINISHED run (their
fingerprint is a single job's); a killed group resumes from one checkpoint holding all members.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, open_dict

from oneclass.metrics import evaluate
from oneclass.run import resume
from oneclass.run.artifacts import write_artifacts
from oneclass.run.job import JobInfo, PreparedJob, detector_name, prepare, run_params, set_name, test_metrics
from oneclass.run.spec import RunSpec

SEEDS_KEY = "vectorised.seeds"


# --------------------------------------------------------------------------- config
def calibration_rows(n_train: int, events: int | None) -> np.ndarray | None:
    """The fixed subset of ``events`` training rows (sorted, from a generator seeded 0: the same
    for every member and run), or None = all rows."""
    if events is None or events >= n_train:
        return None
    return np.sort(np.random.default_rng(0).choice(n_train, size=events, replace=False))


def member_cfg(cfg: DictConfig, seed: int) -> DictConfig:
    """The config of the single-seed job this member stands for: ``seed`` set, ``vectorised.seeds`` null."""
    out = cfg.copy()
    with open_dict(out):
        out.seed = seed
        out.vectorised.seeds = None
    return out


def member_overrides(overrides: list[str], seed: int) -> list[str]:
    """The single-seed job's command-line overrides: ``vectorised.seeds=[...]`` becomes ``seed=s``."""
    out, placed = [], False
    for o in overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if key == SEEDS_KEY:
            out.append(f"seed={seed}")
            placed = True
        elif key != "seed":
            out.append(o)
    return out if placed else [*out, f"seed={seed}"]


def group_fingerprint(cfg: DictConfig, seeds: list[int], how: str) -> str | None:
    """The group's (and its ensemble run's) fingerprint: the config's, the seeds and the ensemble."""
    base = resume.fingerprint(cfg)
    if base is None:
        return None
    return hashlib.sha256(json.dumps([base, seeds, how]).encode()).hexdigest()[:16]


def _seeds_label(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return hashlib.sha1(",".join(map(str, seeds)).encode()).hexdigest()[:8]


def plan_group(cfg: DictConfig, job: JobInfo, spec: RunSpec) -> tuple[PreparedJob, list[PreparedJob], dict[str, str]]:
    """A group's set-up: its own (the ensemble run's name and fingerprint, the trainer), one per
    member (the single-seed job it stands for: config, overrides, ``<job dir>/<model>-seed<s>/``),
    and the tags every member run gets."""
    seeds = list(spec.seeds)
    detector = detector_name(cfg, job)
    fp = group_fingerprint(cfg, seeds, spec.ensemble)
    gid = (fp or hashlib.sha1(repr((detector, seeds, time.time())).encode()).hexdigest())[:12]
    group_tags = {"vectorised": "true", "seed_group": gid, "group_seeds": ",".join(map(str, seeds))}
    group = prepare(cfg, job, spec)
    group = dataclasses.replace(group, name=f"{detector}-{set_name(cfg, job)}-ensemble{len(seeds)}", fingerprint=fp,
                                finished_run=group.tracker.find_finished(fp) if fp and spec.resume else None)
    preps = []
    for s in seeds:
        mjob = dataclasses.replace(job, output_dir=job.output_dir / f"{detector}-seed{s}",
                                   overrides=member_overrides(job.overrides, s), status=None, run_id=None,
                                   process={}, members=[])
        prep = prepare(member_cfg(cfg, s), mjob, spec.member(s))
        prep.tags.update(group_tags)
        preps.append(prep)
    return group, preps, group_tags


def checkpoint_dir(job: JobInfo, detector: str, fingerprint: str | None, trained: list[int]) -> Path | None:
    """The resume folder of a group's training: one checkpoint holding every member trained."""
    return resume.checkpoint_dir(job.launch_dir, f"{detector}-seeds{_seeds_label(trained)}", fingerprint) if fingerprint else None


# --------------------------------------------------------------------------- ensemble
def normalise(test: np.ndarray, train: np.ndarray, how: str) -> tuple[np.ndarray, dict[str, float]]:
    """One member's test scores made comparable across members, from its training-set scores
    (background only: no test information): ``standardize`` = (s - mean) / std, ``rank`` = the
    fraction of training scores <= s (events beyond every training score tie at 1)."""
    if how == "standardize":
        mean, std = float(np.mean(train)), float(np.std(train))
        std = std if std > 0 else 1.0
        return (test - mean) / std, {"mean": mean, "std": std}
    ordered = np.sort(train)
    return np.searchsorted(ordered, test, side="right") / len(ordered), {"n_train": int(len(ordered))}


def ensemble_scores(test: np.ndarray, train: np.ndarray, how: str) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Mean over members (rows) of the normalised test scores, and each member's constants."""
    parts = [normalise(t, r, how) for t, r in zip(test, train)]
    return np.mean([p[0] for p in parts], axis=0), [p[1] for p in parts]


def ensemble_run(cfg: DictConfig, job: JobInfo, group: PreparedJob, group_tags: dict[str, str], data: Any,
                 healthy: list[int], used: list[int], run_ids: list[str | None], member_test: np.ndarray,
                 member_val: np.ndarray | None, train_scores: np.ndarray, evals: dict[int, Any], fit_time: float,
                 score_time: float, prefix: str) -> dict[str, dict[str, float]]:
    """The ``<model>-ensemble<N>`` run of the healthy members (``healthy``: rows of the scores;
    ``used``: their seeds; ``run_ids``: their runs)."""
    how = group.spec.ensemble
    # run name <model>-<dataset>-ensemble<N> (as <model>-<dataset>-seed<s>); the detector (model tag) <model>-ensemble<N>
    name = group.name.rsplit("-ensemble", 1)[0] + f"-ensemble{len(healthy)}"
    model = f"{group.tags['model']}-ensemble{len(healthy)}"
    tags = {**group.tags, **group_tags, "model": model, "seed": ",".join(map(str, used)), "ensemble": "true",
            "ensemble_normalisation": how, "member_runs": ",".join(r or "" for r in run_ids)}
    if group.fingerprint:
        tags["config_fingerprint"] = group.fingerprint
    out = job.output_dir / model
    with group.tracker.start_run(name, tags=tags):
        job.run_id = group.tracker.run_id
        group.tracker.log_params(run_params(cfg, job))
        # the members nest under their ensemble run in the MLflow UI
        for run_id in run_ids:
            if run_id:
                group.tracker.tag_run(run_id, {"mlflow.parentRunId": group.tracker.run_id})
        scores, constants = ensemble_scores(member_test[healthy], train_scores[healthy], how)
        ev, test = test_metrics(group.spec.eval, data, scores)
        val = {}
        if member_val is not None:
            val_scores, _ = ensemble_scores(member_val[healthy], train_scores[healthy], how)
            val = evaluate(val_scores, data.y_val, min_background=1).metrics("val")
        write_artifacts(cfg, data, scores, ev, name, out)
        aucs = [evals[i].auc for i in healthy]
        sics = [evals[i].max_sic for i in healthy]
        (out / "ensemble.json").write_text(json.dumps({
            "normalisation": how, "calibration_events": int(train_scores.shape[-1]), "seeds": used, "member_runs": run_ids,
            "constants": constants, "member_auc": aucs, "member_max_sic": sics}, indent=2))
        metrics = {**test, **val, "fit_time_s": fit_time, "score_time_s": score_time, "members": float(len(healthy)),
                   "members_auc_mean": float(np.mean(aucs)), "members_auc_std": float(np.std(aucs)),
                   "members_max_sic_mean": float(np.mean(sics))}
        group.tracker.log_metrics(metrics)
        group.tracker.log_artifacts(out)
    print(f"{prefix}{name}: test AUC {ev.auc:.4f}, max SIC {ev.max_sic:.3f} (members: AUC {np.mean(aucs):.4f} "
          f"+- {np.std(aucs):.4f})", flush=True)
    return {name: metrics}
