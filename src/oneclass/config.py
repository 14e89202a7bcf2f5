"""Building objects from config, with errors a user can act on.

All objects (models, datasets, trainers, trackers) are built through :func:`build`, i.e. Hydra's
``instantiate`` on a node with a ``_target_``. A new model or dataset is one class plus one YAML.
"""

from __future__ import annotations

import math
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from oneclass.errors import ConfigError, OneClassError, first_line


def _trainer_hint(reason: str) -> str:
    lowered = reason.lower()
    if any(word in lowered for word in ("gpu", "cuda", "mps", "accelerator")):
        return "; on a machine without that device use trainer=default (CPU)"
    return ""


# the fix to suggest after a build error's root cause, per config group
HINTS = {"trainer": _trainer_hint}


def build(node: DictConfig, what: str, **kwargs: Any) -> Any:
    """Instantiate ``node`` (a config with ``_target_``), re-raising its errors as one line.

    Parameters
    ----------
    node : the config node, e.g. ``cfg.model``.
    what : the group name used in messages (``"model"``, ``"dataset"`` ...).
    kwargs : extra constructor arguments known only at run time (e.g. ``n_features``).
    """
    if node is None or "_target_" not in node:
        raise ConfigError(f"{what}: the config has no _target_; pick one with {what}=<name>")
    try:
        return instantiate(node, **kwargs, _convert_="all")
    except InstantiationException as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, OneClassError):
            if isinstance(cause, TypeError) and "argument" in str(cause):
                raise ConfigError(f"{what} ({node._target_}): {cause}") from None
            cause = cause.__cause__
        if isinstance(cause, OneClassError):
            raise cause from None
        root = exc
        while root.__cause__ is not None:  # the deepest cause says what is wrong
            root = root.__cause__
        reason = first_line(root) if root is not exc else first_line(exc)
        hint = HINTS.get(what, lambda _: "")(reason)
        raise ConfigError(f"{what}: cannot build {node._target_}: {reason}{hint}") from None


def spec_of(obj: Any) -> dict[str, Any] | None:
    """A plain ``{"_target_": "module.Class", **keyword arguments}`` for a class or partial (None otherwise)."""
    if isinstance(obj, dict):
        return obj
    func = getattr(obj, "func", obj)
    if not isinstance(func, type):
        return None
    keywords = dict(getattr(obj, "keywords", {}) or {})
    return {"_target_": f"{func.__module__}.{func.__qualname__}", **keywords}


def from_spec(obj: Any, name: str) -> Any:
    """A partial from a spec dict (``{"_target_": ..., ...}``), else ``obj`` unchanged."""
    if not isinstance(obj, dict):
        return obj
    if "_target_" not in obj:
        raise ConfigError(f"{name} needs a _target_ (e.g. {name}._target_=torch.optim.Adam)")
    try:
        return instantiate({**obj, "_partial_": True})
    except Exception as exc:
        raise ConfigError(f"{name}: cannot build {obj['_target_']}: {first_line(exc)}") from None


def flatten(cfg: DictConfig | dict, prefix: str = "") -> dict[str, Any]:
    """Flatten a (resolved) config into ``{"model.lr": 0.001, ...}`` for tracking params."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    out: dict[str, Any] = {}
    for key, value in container.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def require_int(value: Any, name: str) -> int:
    """``value`` as an int, or a ConfigError naming ``name`` (bools and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    return value


def require_number(value: Any, name: str) -> float:
    """``value`` as a float, or a ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    return float(value)


def require_positive(value: Any, name: str, integer: bool = False) -> float | int:
    """A strictly positive number (or int), or a ConfigError naming ``name``."""
    number = require_int(value, name) if integer else require_number(value, name)
    if not number > 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return number


def require_fraction(value: Any, name: str, low_open: bool = True) -> float:
    """A number in (0, 1] (or [0, 1] with ``low_open=False``), else a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number in (0, 1], got {value!r}")
    ok = (0 < value <= 1) if low_open else (0 <= value <= 1)
    if not ok:
        raise ConfigError(f"{name} must be in {'(0, 1]' if low_open else '[0, 1]'}, got {value!r}")
    return float(value)


def canonical(value: Any) -> str:
    """A param's value as one spelling per value, so runs group by value, not by string: ``0``,
    ``0.0`` and ``0.00`` are ``0``; ``1e-3`` and ``0.001`` are ``0.001``; ``None``/``null`` are ``None``;
    anything else is kept as written."""
    text = str(value)
    if text in ("None", "null", "~"):
        return "None"
    if text.lower() in ("true", "false"):
        return text.lower()
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)
