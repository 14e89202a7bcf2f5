"""Command line: ``python run.py [overrides]`` / ``oneclass [overrides]`` (Hydra), plus
subcommands ``oneclass download ...`` and ``oneclass report ...``.

Before Hydra parses the command line we translate integer ranges ``key=a..b`` (inclusive) into
Hydra's ``key=range(a,b+1)``: Hydra's grammar has no ``a..b`` and would silently take ``'0..9'``
as a string. Unknown config-group options (``model=typo``) are reported in one line.
Everything else in ``sys.argv`` is left untouched for ``@hydra.main``.
"""

from __future__ import annotations

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
    "report-images": "oneclass.report_images",
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


def config_dir() -> Path:
    """The config tree: the checkout's ``conf/`` when running from source, else the packaged copy."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise ConfigError(f"cannot find the oneclass config tree (conf/config.yaml) near {here.parent}")


def check_group_choices(argv: list[str], conf: Path) -> None:
    """One-line error for ``group=name`` overrides naming an option that has no YAML file."""
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
        available = sorted(p.stem for p in directory.glob("*.yaml"))
        for choice in value.split(","):
            choice = choice.strip()
            if choice and "*" not in choice and choice not in available:
                raise ConfigError(f"unknown {group} '{choice}'; available: {', '.join(available)} (files in {directory})")


def _task(cfg):
    import logging

    logging.getLogger("numexpr").setLevel(logging.WARNING)  # logs at import (pandas), before the pipeline can
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from oneclass.pipeline import run

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        from oneclass.sweep import run_job

        return run_job(cfg)  # a failed job is recorded, never stops the sweep (see oneclass.sweep)
    try:
        return run(cfg)
    except OneClassError as exc:
        raise SystemExit(f"error: {exc}") from None


def hydra_main(argv: list[str]) -> None:
    import hydra

    conf = config_dir()
    check_group_choices(argv, conf)
    # Hydra's argparse cannot take a flag between positional overrides (`a=1 -m b=2` fails with
    # "unrecognized arguments"); -m/--multirun take no value, so move them to the front.
    flags = [a for a in argv if a in ("-m", "--multirun")]
    argv = flags + [a for a in argv if a not in ("-m", "--multirun")]
    sys.argv = [sys.argv[0], *translate_ranges(argv)]
    hydra.main(config_path=str(conf), config_name="config", version_base="1.3")(_task)()


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
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
