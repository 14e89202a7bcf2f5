"""Command line: ``python run.py [overrides]`` / ``oneclass [overrides]`` (Hydra), plus
subcommands ``oneclass report``, ``runs``, ``score`` and ``download``.

Before Hydra parses the command line we translate integer ranges ``key=a..b`` (inclusive) into
Hydra's ``key=range(a,b+1)``: Hydra's grammar has no ``a..b`` and would silently take ``'0..9'``
as a string. Unknown config-group options (``model=typo``), misspelt keys (``model.lrr=0.1``: the
valid keys of that node, closest first) and over-long paths are reported in one line.
Everything else in ``sys.argv`` is left untouched for ``@hydra.main``. ``oneclass --help`` lists the
subcommands (report, runs, score, download) before Hydra's help; an unknown subcommand is one
line and exit status 2.

Exit status: 0 success; 1 a job or sweep failed (its error in one line, a sweep's summary);
2 the command line itself is wrong (unknown option or key, bad range, bad launcher setting);
130 a sweep interrupted with Ctrl-C (after its summary).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path

from oneclass.errors import ConfigError, OneClassError

# key=a..b where a or b looks like an integer; the key may carry Hydra's +, ++ or ~ prefixes
_RANGE = re.compile(r"^(?P<key>[+~]{0,2}[\w.@/-]+)=(?P<a>[+-]?[\w.]*?)\.\.(?P<b>[+-]?[\w.]*)$")
_INT = re.compile(r"^[+-]?\d+$")
SUBCOMMANDS = {
    "download": "oneclass.data.download",
    "report": "oneclass.report",
    "score": "oneclass.launch.scoring",
    "runs": "oneclass.launch.runs",
    "report-images": "oneclass.report",  # the image view is part of `oneclass report` now
}


def translate_ranges(argv: list[str]) -> list[str]:
    """Rewrite every ``key=a..b`` (integers, inclusive) as ``key=range(a,b+1)``.

    >>> translate_ranges(["-m", "seed=0..9", "dataset.path=../x.npy"])
    ['-m', 'seed=range(0,10)', 'dataset.path=../x.npy']
    """
    out = []
    for arg in argv:
        m = _RANGE.match(arg)
        if m and (_INT.match(m["a"]) or _INT.match(m["b"])):
            a, b = m["a"], m["b"]
            if not (_INT.match(a) and _INT.match(b)):
                raise ConfigError(f"in '{arg}': a..b ranges need two integers (e.g. {m['key']}=0..9)")
            lo, hi = int(a), int(b)
            if hi < lo:
                raise ConfigError(f"in '{arg}': empty range, the end must be >= the start (e.g. {m['key']}={hi}..{lo})")
            arg = f"{m['key']}=range({lo},{hi + 1})"
        out.append(arg)
    return out


CONFIG_DIR_ENV = "ONECLASS_CONFIG_DIR"


def config_dir() -> Path:
    """The config tree: ``$ONECLASS_CONFIG_DIR`` when set (a copy of conf/ with your own YAML),
    else the checkout's ``conf/`` when running from source, else the packaged copy."""
    if own := os.environ.get(CONFIG_DIR_ENV):
        if not (Path(own) / "config.yaml").is_file():
            raise ConfigError(f"{CONFIG_DIR_ENV}={own} has no config.yaml; point it at a copy of oneclass's conf/ "
                              f"(or unset it)")
        return Path(own).resolve()
    package = Path(__file__).resolve().parents[1]  # src/oneclass (this file is src/oneclass/launch/cli.py)
    for candidate in (package.parents[1] / "conf", package / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise ConfigError(f"cannot find the oneclass config tree (conf/config.yaml) near {package}")


def _search_dirs(argv: list[str], conf: Path) -> list[Path]:
    """``conf`` and the ``file://`` folders of a ``hydra.searchpath=[...]`` override (presets kept
    outside the checkout, e.g. a sweep's ``best.yaml`` under ``<dir>/experiment/``)."""
    dirs = [conf]
    for arg in argv:
        if arg.lstrip("+").startswith("hydra.searchpath="):
            for item in arg.split("=", 1)[1].strip("[]").split(","):
                item = item.strip().strip("'\"")
                if item.startswith("file://"):
                    dirs.append(Path(item[len("file://"):]))
    return dirs


def check_group_choices(argv: list[str], conf: Path) -> None:
    """One-line error for ``group=name`` overrides naming an option that has no YAML file."""
    roots = _search_dirs(argv, conf)
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        group = key.lstrip("+~")
        if not group or "." in group or group.startswith("hydra/") or "(" in value or value in ("", "null"):
            continue
        directory = conf / group
        if not directory.is_dir():
            continue
        # an option in a subfolder is named by its path (the preset families: experiment=lhco/ocdn);
        # a list selects several (experiment=[lhco/ocdn,lhco/bb1])
        available = sorted({p.relative_to(root / group).with_suffix("").as_posix() for root in roots
                            for p in (root / group).rglob("*.yaml")})
        for choice in value.strip("[]").split(","):
            choice = choice.strip()
            if choice and "*" not in choice and choice not in available:
                shown = [a for a in available if "/" not in a or group == "experiment"]  # not model/net/... files
                raise ConfigError(f"unknown {group} '{choice}'; available: {', '.join(shown)} (files in {directory})")


def check_path_lengths(argv: list[str]) -> None:
    """One line for a path-like override the OS would refuse as too long (before Hydra makes folders)."""
    name_max, path_max = 255, 4096
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        if "/" not in value:
            continue
        longest = max((len(part) for part in value.split("/")), default=0)
        if longest > name_max or len(value) >= path_max:
            shown = f"{value[:40]}...{value[-20:]}"
            raise ConfigError(f"{key.lstrip('+~')}={shown} is {len(value)} characters long: file names are limited to "
                              f"{name_max} characters and paths to {path_max}; check the path")


def _closest(word: str, candidates: list[str]) -> list[str]:
    return sorted(candidates, key=lambda c: (-difflib.SequenceMatcher(None, word.lower(), c.lower()).ratio(), c))


def check_override_keys(argv: list[str], conf: Path) -> None:
    """``a.b=value`` naming a key the composed config does not have: one line listing the keys that
    node does have, closest match first (Hydra would suggest ``+a.b``, which only fails later)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import DictConfig, OmegaConf

    args = [a for a in argv if not a.startswith("-") and "=" in a]
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(args)
    except Exception:  # a grammar error: one line naming the override (Hydra's message takes four)
        for arg in args:
            try:
                parser.parse_overrides([arg])
            except Exception as exc:
                reason = next((line for line in str(exc).splitlines() if not line.startswith(("Error parsing", "See "))),
                              "not valid override grammar")
                reason = re.sub(r" expecting \{.*\}$", "", reason)
                raise ConfigError(f"cannot parse the override '{arg}': {reason}; check its brackets and quotes (quote "
                                  "special characters: 'key=\"a(b)\"'), see "
                                  "https://hydra.cc/docs/advanced/override_grammar/basic") from None
        return
    checks = [o for o in parsed if "." in o.key_or_group and not (o.is_add() or o.is_delete() or o.is_force_add())
              and o.package is None and not o.key_or_group.startswith("hydra.")]
    if not checks:
        return
    # compose with the group choices (every choice of a swept group) and the additions
    fixed, swept = [], []
    for o in parsed:
        # a config group, nested ones too (model/scheduler=multistep): its keys exist only once composed in
        is_group = "." not in o.key_or_group and (conf / o.key_or_group).is_dir()
        if not (is_group or o.is_add() or o.is_force_add()):
            continue
        values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.value()]
        prefix = o.get_key_element()
        if is_group and len(values) > 1:
            swept.append([f"{prefix}={v}" for v in values])
        else:
            fixed.append(f"{prefix}={values[0]}" if o.is_sweep_override() else o.input_line)
    combos = [fixed] if not swept else [fixed + [choice] for choice in swept[0]]  # the first swept group only
    missing = object()
    configs = []
    try:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            for overrides in combos:
                configs.append(compose(config_name="config", overrides=overrides, return_hydra_config=True))
    except Exception:  # a broken preset or interpolation: Hydra reports it with its own message
        return
    for o in checks:
        key = o.key_or_group
        if any(OmegaConf.select(c, key, default=missing, throw_on_missing=False) is not missing for c in configs):
            continue
        cfg = configs[0]
        parts = key.split(".")
        parent, node = "", cfg
        for i in range(len(parts) - 1, 0, -1):
            candidate = OmegaConf.select(cfg, ".".join(parts[:i]), default=missing, throw_on_missing=False)
            if isinstance(candidate, DictConfig):
                parent, node = ".".join(parts[:i]), candidate
                break
        leaf = key[len(parent) + 1:] if parent else key
        valid = [k for k in node.keys() if not str(k).startswith("_") and (parent or k != "hydra")]
        chosen = cfg.hydra.runtime.choices.get(parent.replace(".", "/")) if parent else None
        where = f"keys of {parent} ({parent.replace('.', '/')}={chosen})" if chosen else f"keys of {parent}" if parent else "top-level keys"
        shown = ", ".join(_closest(leaf.split(".")[0], [str(k) for k in valid]))
        extra = "; another lightning Trainer argument: +trainer.NAME=VALUE" if parent == "trainer" else ""
        raise ConfigError(f"unknown key '{key}' in '{o.input_line}'; valid {where}, closest first: {shown}{extra}")


def _task(cfg):
    import logging

    logging.getLogger("numexpr").setLevel(logging.WARNING)  # logs at import (pandas), before the pipeline can
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        from oneclass.launch.sweep import run_job

        return run_job(cfg)  # a failed job is recorded, never stops the sweep (see oneclass.launch.sweep)
    from oneclass.tracking import check_logger

    try:
        check_logger(cfg.get("logger"))  # a bad store URI: one line before torch is even imported
    except OneClassError as exc:
        raise SystemExit(f"error: {exc}") from None
    from oneclass.run.engine import RunSpec, run, strategy_for

    try:
        spec = RunSpec.from_config(cfg)  # the job's own values, checked once; then one detector or a seed group
        return run(cfg, spec=spec, strategy=strategy_for(spec))
    except (OneClassError, OSError) as exc:
        from oneclass.run.engine import JobInfo
        from oneclass.launch.sweep import _first_line, kept_checkpoint

        if ckpt := kept_checkpoint(cfg, JobInfo.current()):
            print(f"note: the training checkpoint {ckpt} is kept: running the same config again resumes from it "
                  "(delete it if you change the config)", file=sys.stderr)
        raise SystemExit(f"error: {_first_line(exc) if isinstance(exc, OSError) else exc}") from None


def hydra_main(argv: list[str]) -> None:
    import hydra

    conf = config_dir()
    check_group_choices(argv, conf)
    check_path_lengths(argv)
    # Hydra's argparse cannot take a flag between positional overrides (`a=1 -m b=2` fails with
    # "unrecognized arguments"); -m/--multirun take no value, so move them to the front.
    flags = [a for a in argv if a in ("-m", "--multirun")]
    argv = flags + [a for a in argv if a not in ("-m", "--multirun")]
    argv = flags + translate_ranges(argv[len(flags):])
    check_override_keys(argv, conf)
    sys.argv = [sys.argv[0], *argv]
    if flags:
        from oneclass.launch.sweep import interruptible

        with interruptible():  # Ctrl-C: the summary, runs closed as KILLED, exit 130
            hydra.main(config_path=str(conf), config_name="config", version_base="1.3")(_task)()
    else:
        hydra.main(config_path=str(conf), config_name="config", version_base="1.3")(_task)()


USAGE = """usage: oneclass [OVERRIDES...] [-m]           train and evaluate (Hydra: key=value overrides, -m sweeps)
       oneclass SUBCOMMAND [--help] [ARGS...]

subcommands:
  report     figures and tables from a sweep's MLflow runs
  runs       list a sweep's runs with status and metrics (--sweep ID|latest, --metric NAME)
  score      score another file with a finished run's detector
  download   fetch a dataset (lhco, mnist, adbench, odds, kdd ...)

examples: oneclass model=logreg trainer.max_epochs=50 | oneclass -m seed=0..9 | oneclass report --help
"""
SUBCOMMAND_HELP = ("report", "runs", "score", "download")


def check_subcommand(argv: list[str]) -> None:
    """A first argument that is neither an override (``key=value``, ``~key``) nor a flag nor a
    subcommand: one line naming the subcommands (Hydra would say "mismatched input")."""
    if not argv:
        return
    first = argv[0]
    if first.startswith(("-", "~", "+")) or "=" in first or first in SUBCOMMANDS:
        return
    close = difflib.get_close_matches(first, SUBCOMMAND_HELP, n=1)
    hint = f"did you mean `oneclass {close[0]}`? " if close else ""
    raise ConfigError(f"unknown subcommand '{first}'; {hint}subcommands: {', '.join(SUBCOMMAND_HELP)}; "
                      "or give overrides as key=value (oneclass --help)")


def quiet_launch() -> None:
    """Library lines that are not ours, before anything imports them: NumExpr's "defaulting to N
    threads" (printed unless NUMEXPR_MAX_THREADS is set) and the joblib launcher's
    ``Joblib.Parallel(...) is launching N jobs`` repr line."""
    import logging

    os.environ.setdefault("NUMEXPR_MAX_THREADS", str(os.cpu_count() or 1))
    logging.getLogger("numexpr").setLevel(logging.WARNING)
    launcher = logging.getLogger("hydra_plugins.hydra_joblib_launcher._core")
    if not any(isinstance(f, _NoParallelRepr) for f in launcher.filters):
        launcher.addFilter(_NoParallelRepr())


class _NoParallelRepr:
    """Drops the joblib launcher's ``Joblib.Parallel(n_jobs=...,backend=...) is launching N jobs``."""

    def filter(self, record) -> bool:
        return not str(record.msg).startswith("Joblib.Parallel(")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_launch()
    try:
        if argv and argv[0] in ("-h", "--help"):
            print(USAGE)  # then Hydra's own help: the config groups and the composed config
        check_subcommand(argv)
        if argv and argv[0] in SUBCOMMANDS:
            import importlib

            module = importlib.import_module(SUBCOMMANDS[argv[0]])
            sys.exit(module.main(argv[1:]))
        hydra_main(argv)
    except OneClassError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
