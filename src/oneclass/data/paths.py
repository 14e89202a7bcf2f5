"""Where data files live: ``$ONECLASS_DATA_DIR``, else ``data/`` under the launch directory."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "ONECLASS_DATA_DIR"


def launch_dir() -> Path:
    """The directory the command was started from (Hydra's ``runtime.cwd`` inside a Hydra job)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return Path(HydraConfig.get().runtime.cwd)
    except ImportError:  # pragma: no cover - hydra is a dependency
        pass
    return Path.cwd()


def data_dir() -> Path:
    """``$ONECLASS_DATA_DIR`` (relative paths from the launch directory), else ``<launch dir>/data``."""
    env = os.environ.get(DATA_DIR_ENV)
    base = Path(env).expanduser() if env else Path("data")
    return base if base.is_absolute() else launch_dir() / base


def resolve(path: str | os.PathLike) -> Path:
    """A user-given path: ``~`` expanded, relative paths taken from the launch directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else launch_dir() / p


def refuse_folder(path: Path, option: str = "dataset.path") -> None:
    """One line when a folder is given where a data file is expected (instead of "not found")."""
    if path.is_dir():
        from oneclass.errors import DataError

        raise DataError(f"{path} is a folder, not a file; point {option} at the data file itself "
                        f"(e.g. one of: {', '.join(sorted(p.name for p in path.iterdir())[:4]) or 'the folder is empty'})")
