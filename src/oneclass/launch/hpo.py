"""Hyperparameter search: a Hydra sweeper on Optuna (``hydra/sweeper=optuna``).

Hydra's own Optuna sweeper plugin pins optuna < 3; this one runs on current Optuna. The search
space is written in Hydra's override grammar, on the command line or in ``hydra.sweeper.params``::

    python run.py -m hydra/sweeper=optuna dataset.n_val=20000 hydra.sweeper.n_trials=30 \\
        'model.lr=tag(log,interval(1e-5,1e-2))' 'model.batch_size=choice(32,64,128)'

* ``interval(a,b)`` is a float range (``tag(log, ...)`` log-uniform, ``tag(int, ...)`` integers),
  ``range(a,b[,step])`` integers, ``choice(...)`` / ``a,b,c`` categorical; other overrides are fixed.
* The objective is a **validation** metric (default ``val_auc``) from ``dataset.n_val``: held-out
  background plus labelled signal events, never test events. That uses labels (as the benchmark
  literature's model selection does); the test metrics stay an unbiased estimate.
* TPE, seeded (``sampler_seed``); ``n_trials`` in all; ``n_jobs`` trials are asked and launched
  together through the configured launcher (joblib, SLURM...), each trial one job and one MLflow
  run nested under the study's parent run (tag ``mlflow.parentRunId``).
* At the end the best trial is printed and saved as a preset, ``<sweep dir>/best.yaml``
  (``# @package _global_``: copy it to ``conf/experiment/`` and use ``experiment=<name>``), with
  every trial in ``<sweep dir>/trials.csv``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from oneclass.errors import ConfigError
from oneclass.launch.sweep import one_line_exit as _one_line

log = logging.getLogger(__name__)
DIRECTIONS = ("maximize", "minimize")


INSTALL = "hydra/sweeper=optuna needs Optuna: pip install 'oneclass[hpo]' (or pip install optuna)"


def require_optuna() -> None:
    """One line with the install command when Optuna (the ``hpo`` extra) is absent."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL) from None


def validation_metrics() -> list[str]:
    """The validation metrics every job with ``dataset.n_val`` reports (``val_auc``, ``val_max_sic`` ...)."""
    from oneclass.metrics import METRICS

    return [f"val_{m.name}" for m in METRICS]


def distribution(override: Override) -> Any:
    """The Optuna distribution of one sweep override (interval, range or choice)."""
    import optuna.distributions as D

    key = override.get_key_element()
    value = override.value()
    tags = set(getattr(value, "tags", None) or ())
    if isinstance(value, IntervalSweep):
        lo, hi = float(value.start), float(value.end)
        if not lo < hi:
            raise ConfigError(f"{key}: interval({value.start}, {value.end}) is empty; the start must be below the end")
        if "log" in tags and lo <= 0:
            raise ConfigError(f"{key}: a log interval needs a positive start, got {value.start}")
        if "int" in tags:
            return D.IntDistribution(int(lo), int(hi), log="log" in tags)
        return D.FloatDistribution(lo, hi, log="log" in tags)
    if isinstance(value, RangeSweep):
        values = list(override.sweep_iterator())
        if not values:
            raise ConfigError(f"{key}: range(...) is empty")
        if all(isinstance(v, int) for v in values):
            step = int(value.step or 1)
            return D.IntDistribution(min(values), max(values), step=abs(step))
        return D.CategoricalDistribution(values)
    if isinstance(value, ChoiceSweep):
        # typed choices (choice(32,64) are ints), so best.yaml loads back as a preset with its types
        typed = list(override.sweep_iterator())
        if all(v is None or isinstance(v, (bool, int, float, str)) for v in typed):
            return D.CategoricalDistribution(typed)
        return D.CategoricalDistribution(list(override.sweep_string_iterator()))
    raise ConfigError(f"{key}: the optuna sweeper searches interval(...), range(...) and choice(...), got {override.input_line}")


class OptunaSweeper(Sweeper):
    """See the module docstring. Parameters are ``hydra.sweeper.*`` (conf/hydra/sweeper/optuna.yaml)."""

    @_one_line
    def __init__(self, objective: str = "val_auc", direction: str = "maximize", n_trials: int = 20,
                 n_jobs: int | None = None, sampler_seed: int | None = 0, study_name: str | None = None,
                 params: dict[str, str] | None = None) -> None:
        if direction not in DIRECTIONS:
            raise ConfigError(f"hydra.sweeper.direction must be maximize or minimize, got {direction!r}")
        require_optuna()
        known = validation_metrics()
        if not isinstance(objective, str) or not objective.startswith("val_"):
            raise ConfigError(f"hydra.sweeper.objective must be a validation metric ({', '.join(known)}), got "
                              f"{objective!r}: tuning on test metrics would bias them")
        if objective not in known:
            from oneclass.launch.cli import _closest

            raise ConfigError(f"hydra.sweeper.objective: no validation metric {objective!r}; the jobs report "
                              f"{', '.join(_closest(objective, known))} (closest first)")
        for name, value in (("n_trials", n_trials), ("n_jobs", n_jobs)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"hydra.sweeper.{name} must be a positive integer, got {value!r}")
        self.objective, self.direction, self.n_trials = objective, direction, n_trials
        self.n_jobs, self.sampler_seed, self.study_name = n_jobs, sampler_seed, study_name
        self.params = dict(params or {})
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context, task_function=task_function,
                                                                config=config)

    # ------------------------------------------------------------------ the search
    def _space(self, arguments: list[str]) -> tuple[dict[str, Any], list[str]]:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        space: dict[str, Any] = {}
        fixed: list[str] = []
        for override in parser.parse_overrides(lines):
            if override.is_sweep_override():
                space[override.get_key_element()] = distribution(override)
            else:
                fixed.append(override.input_line)
        if not space:
            raise ConfigError("hydra/sweeper=optuna needs a search space, e.g. 'model.lr=tag(log,interval(1e-5,1e-2))' "
                              "or 'model.batch_size=choice(32,64)'")
        return space, fixed

    def _check_validation(self, fixed: list[str]) -> None:
        n_val = self.config.dataset.get("n_val", None) if "dataset" in self.config else None
        for line in fixed:
            if line.split("=", 1)[0].lstrip("+") == "dataset.n_val":
                n_val = line.split("=", 1)[1]
        if n_val in (None, 0, "0", "null"):
            raise ConfigError(f"hydra/sweeper=optuna optimises {self.objective} on a validation split: set dataset.n_val=N "
                              "(held-out background + labelled signal events; it uses labels)")

    def _batch_size(self) -> int:
        if self.n_jobs is not None:
            return self.n_jobs
        n = self.config.hydra.launcher.get("n_jobs", None) if "launcher" in self.config.hydra else None
        return n if isinstance(n, int) and n > 0 else 1

    @_one_line
    def sweep(self, arguments: list[str]) -> Any:
        import optuna

        space, fixed = self._space(arguments)
        self._check_validation(fixed)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=self.sampler_seed)
        study = optuna.create_study(direction=self.direction, sampler=sampler, study_name=self.study_name)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        parent = _ParentRun(self.config, sweep_dir, self.objective, space)
        returns = []
        done = 0
        try:
            while done < self.n_trials:
                size = min(self._batch_size(), self.n_trials - done)
                trials = [study.ask(space) for _ in range(size)]
                batch = [fixed + [f"{k}={_fmt(v)}" for k, v in t.params.items()] + parent.overrides(t.number)
                         for t in trials]
                self.validate_batch_is_legal(batch)
                results = self.launcher.launch(batch, initial_job_idx=done)
                for trial, result in zip(trials, results):
                    value = _objective(result, self.objective)
                    if value is None:
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    else:
                        study.tell(trial, value)
                returns.append(results)
                done += size
        finally:
            best = _report(study, self.objective, sweep_dir, fixed)
            parent.close(best)
        return returns


def _fmt(value: Any) -> str:
    """A trial's value in Hydra's override grammar (``null``, ``true``, ``0.001``, ``128``, ``adam``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


def _objective(result: Any, name: str) -> float | None:
    try:
        metrics = result.return_value
    except Exception:  # a job that raised: FAILED (the sweep summary says why)
        return None
    value = metrics.get(name) if isinstance(metrics, dict) else None
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def _report(study: Any, objective: str, sweep_dir: Path, fixed: list[str]) -> Any:
    """Print the best trial, write best.yaml (a preset) and trials.csv; None when no trial finished."""
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    frame = study.trials_dataframe(attrs=("number", "value", "params", "state"))
    frame.to_csv(sweep_dir / "trials.csv", index=False)
    if not complete:
        print(f"optuna: no trial finished ({len(study.trials)} tried); see the sweep summary", flush=True)
        return None
    best = study.best_trial
    preset: dict[str, Any] = {}
    parser = OverridesParser.create()
    for key, value in best.params.items():
        if isinstance(value, str):  # choice(...) values travel as their override text: back to typed values
            value = parser.parse_override(f"{key}={value}").value()
        node = preset
        *parents, leaf = key.lstrip("+").split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    header = (f"# @package _global_\n# Best of {len(complete)} finished trials ({objective} = {best.value:.6g}, "
              f"trial {best.number}); fixed overrides: {' '.join(fixed) or '(none)'}\n"
              "# Copy to conf/experiment/<name>.yaml and run `python run.py experiment=<name>`.\n")
    (sweep_dir / "best.yaml").write_text(header + OmegaConf.to_yaml(OmegaConf.create(preset)))
    shown = " ".join(f"{k}={_fmt(v)}" for k, v in best.params.items())
    print(f"optuna: best of {len(complete)} trials: {objective} = {best.value:.4f} with {shown} "
          f"(trial {best.number}); preset written to {sweep_dir / 'best.yaml'}", flush=True)
    return best


class _ParentRun:
    """The study's MLflow run; trials are nested under it through ``hpo.parent_run_id``."""

    def __init__(self, config: DictConfig, sweep_dir: Path, objective: str, space: dict[str, Any]) -> None:
        self.client = self.run_id = None
        self.objective = objective
        if "_target_" not in config.get("logger", {}) or "Mlflow" not in str(config.logger._target_):
            return
        from oneclass.config import build

        tracker = build(config.logger, "logger", root_dir=Path.cwd())
        tracker.prepare()
        self.client = tracker.client
        run = self.client.create_run(tracker.experiment_id, run_name=f"optuna-{sweep_dir.name}",
                                     tags={"hpo_study": "true", "objective": objective, "sweep_dir": str(sweep_dir.resolve()),
                                           "mlflow.source.name": "oneclass optuna"})
        self.run_id = run.info.run_id
        for key, dist in space.items():
            self.client.log_param(self.run_id, f"space.{key}", str(dist)[:500])

    def overrides(self, number: int) -> list[str]:
        mine = [f"hpo.trial={number}", f"hpo.objective={self.objective}"]
        return [f"hpo.parent_run_id={self.run_id}", *mine] if self.run_id else mine

    def close(self, best: Any) -> None:
        if self.run_id is None:
            return
        if best is not None:
            self.client.log_metric(self.run_id, "best_value", best.value)
            self.client.set_tag(self.run_id, "best_trial", str(best.number))
            for key, value in best.params.items():
                self.client.log_param(self.run_id, f"best.{key}", str(value))
        self.client.set_terminated(self.run_id, status="FINISHED" if best is not None else "FAILED")
