"""Reuse a trained detector: ``oneclass score`` and :func:`load_detector`.

A finished run's artifacts hold everything needed to score new data the same way: ``config.yaml``
(the resolved config: which dataset class reads the file, with which selection), ``data_info.json``
(the preprocessing statistics fitted on that run's training rows) and the detector
(``model.ckpt``, a Lightning checkpoint loaded with ``weights_only=True``, or ``model.joblib`` for
scikit-learn style adapters: joblib files are pickles and run code when loaded, so only load runs
you trust).

    oneclass score --run RUN_ID --data black_box.h5 --output scores.npz [--log] [--force] [--include-training]

writes the scores (and the metrics, when the file has labels) and logs nothing unless ``--log``.
Every dataset read from files can score another file of its kind (``Dataset.score_rows``): LHCO
``.h5``/``.npy`` (labelled or not), ADBench ``.npz``, ODDS ``.mat``, KDD files, MNIST /
Fashion-MNIST IDX image files, CIFAR-10 archives (their test batch). When the file is the one the
run trained on, its training rows are left out (``--include-training`` keeps them). ``RUN_ID`` may
be a unique prefix of the id. An existing ``--output`` is refused unless ``--force`` (as ``oneclass
report`` refuses to overwrite).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from oneclass.errors import DataError, OneClassError, first_line

CONFIG = "config.yaml"
DATA_INFO = "data_info.json"
CHECKPOINT = "model.ckpt"
PICKLE = "model.joblib"
TRAINING_ROWS = "training_rows.npz"  # as written by oneclass.run.artifacts.write_artifacts


@dataclass
class LoadedRun:
    """A trained detector with the config and data facts of the run that trained it."""

    run_id: str
    detector: Any
    cfg: DictConfig
    data_info: dict[str, Any]
    training_rows: np.ndarray | None = None  # rows of the run's training file it trained on


def _client(tracking_uri: str | None):
    from oneclass.tracking import default_tracking_uri, open_client

    uri = tracking_uri or default_tracking_uri(Path.cwd())
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise DataError(f"no MLflow store at {uri.removeprefix('sqlite:///')}; pass --tracking-uri (or set "
                        "MLFLOW_TRACKING_URI) to the store that holds the run")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return open_client(uri, what="--tracking-uri", reach_s=10), uri


def _download(client, run_id: str, name: str, directory: str) -> Path | None:
    try:
        return Path(client.download_artifacts(run_id, name, directory))
    except Exception:  # absent artifact: MLflow raises store-specific types
        return None


def resolve_run_id(client, run_id: str, uri: str) -> Any:
    """The run ``run_id`` names: its full id, or a unique prefix of one (one line listing the matches
    when several runs share it)."""
    try:
        return client.get_run(run_id)
    except Exception as exc:
        reason = first_line(exc)
    matches = []
    if run_id and len(run_id) < 32 and all(c in "0123456789abcdef" for c in run_id.lower()):
        try:
            ids = [e.experiment_id for e in client.search_experiments()]
            runs = client.search_runs(ids, max_results=50000) if ids else []
            matches = [r for r in runs if r.info.run_id.startswith(run_id.lower())]
        except Exception:  # the search is a convenience: fall back to the plain "no such run"
            matches = []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(f"{r.info.run_id} ({r.info.run_name})" for r in matches[:5]) + (" ..." if len(matches) > 5 else "")
        raise DataError(f"run id prefix {run_id!r} matches {len(matches)} runs: {shown}; give more of the id")
    raise DataError(f"no MLflow run {run_id!r} in {uri} ({reason}); copy the run id (or a unique prefix of it) from "
                    "the MLflow UI or the job's output")


def load_detector(run_id: str, tracking_uri: str | None = None) -> LoadedRun:
    """The trained detector of MLflow run ``run_id`` (a full id or a unique prefix;
    ``MLFLOW_TRACKING_URI`` or ``./mlflow.db`` by default)."""
    client, uri = _client(tracking_uri)
    run = resolve_run_id(client, run_id, uri)
    run_id = run.info.run_id
    if run.info.status != "FINISHED":
        raise DataError(f"run {run_id} is {run.info.status}, not FINISHED: it has no trained detector to reuse")
    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = _download(client, run_id, CONFIG, tmp)
        if cfg_path is None:
            raise DataError(f"run {run_id} has no {CONFIG} artifact; it was not written by `oneclass` (or its artifacts were deleted)")
        cfg = OmegaConf.load(cfg_path)
        info_path = _download(client, run_id, DATA_INFO, tmp)
        data_info = json.loads(info_path.read_text()) if info_path else {}
        rows_path = _download(client, run_id, TRAINING_ROWS, tmp)
        training_rows = np.load(rows_path)["index"] if rows_path else None
        ckpt = _download(client, run_id, CHECKPOINT, tmp)
        if ckpt is not None:
            detector = _load_checkpoint(cfg, ckpt)
        elif (pickled := _download(client, run_id, PICKLE, tmp)) is not None:
            import joblib

            detector = joblib.load(pickled)  # trusted: the run's own adapter (see the module docstring)
        else:
            raise DataError(f"run {run_id} has no model artifact ({CHECKPOINT} or {PICKLE}); only runs that "
                            "finished with this version of oneclass can be reused")
    return LoadedRun(run_id, detector, cfg, data_info, training_rows)


def _load_checkpoint(cfg: DictConfig, path: Path) -> Any:
    from hydra.utils import get_class

    try:
        cls = get_class(cfg.model._target_)
        return cls.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    except OneClassError:
        raise
    except Exception as exc:
        raise DataError(f"cannot load the run's checkpoint into {cfg.model._target_} ({first_line(exc)}); it was "
                        "written by another version of the code") from None


def score_file(loaded: LoadedRun, path: str | os.PathLike, include_training: bool = False) -> dict[str, Any]:
    """Score every usable event of ``path`` (a file of the run's dataset kind) as the run did. When
    ``path`` is the file the run trained on, its training rows are left out unless
    ``include_training`` (``n_training_excluded`` says how many)."""
    from oneclass.config import build

    dataset = build(loaded.cfg.dataset, "dataset")
    x, labels, index = dataset.score_rows(str(path), loaded.data_info)
    excluded = 0
    if not include_training and loaded.training_rows is not None and dataset.trained_on(path):
        keep = ~np.isin(index, loaded.training_rows)
        excluded = int((~keep).sum())
        x, index = x[keep], index[keep]
        labels = None if labels is None else labels[keep]
        if not len(x):
            raise DataError(f"{path}: every event was a training event of run {loaded.run_id}; pass --include-training "
                            "to score them anyway")
    shape = getattr(loaded.detector, "input_shape", None) or getattr(loaded.detector, "shape_", None)
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise DataError(f"{path}: events of shape {tuple(x.shape[1:])}, the detector of run {loaded.run_id} takes "
                        f"{tuple(shape)}; score a file of the same kind and features")
    scores = np.asarray(loaded.detector.score(x), dtype=np.float64)
    out: dict[str, Any] = {"scores": scores, "index": index, "n_training_excluded": np.int64(excluded)}
    if labels is not None:
        out["labels"] = labels
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oneclass score", description="Score a file with the detector of a finished run.")
    p.add_argument("--run", required=True, help="MLflow run id (or a unique prefix of it) of a FINISHED oneclass run")
    p.add_argument("--data", required=True, help="file of the same dataset kind as the run's (an LHCO .h5/.npy, ADBench "
                                                 ".npz, ODDS .mat, KDD file, IDX images file, CIFAR-10 archive)")
    p.add_argument("--output", default="scores.npz", help="where to write scores (and labels, index) [scores.npz]; "
                                                          "an existing file is refused unless --force")
    p.add_argument("--force", action="store_true", help="overwrite an existing --output")
    p.add_argument("--include-training", action="store_true",
                   help="also score the run's own training events when --data is the file it trained on")
    p.add_argument("--tracking-uri", default=None, help="MLflow store (default: $MLFLOW_TRACKING_URI or ./mlflow.db)")
    p.add_argument("--log", action="store_true", help="also record the scoring as a new MLflow run")
    p.add_argument("--min-background", type=int, default=10, help="max SIC over cuts keeping >= this many background events")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        output = Path(args.output)
        if output.is_dir():
            raise DataError(f"--output {output} is a folder; give a file name such as {output / 'scores.npz'}")
        if not output.parent.exists():
            raise DataError(f"--output: folder {output.parent} does not exist")
        if output.exists() and not args.force:
            raise DataError(f"--output {output} exists; choose another file or pass --force to overwrite it")
        data = Path(args.data)
        if data.is_dir():
            raise DataError(f"--data {data} is a folder; give the data file itself (e.g. {data / 'file.npy'})")
        if not data.is_file():
            raise DataError(f"--data {data}: no such file")
        loaded = load_detector(args.run, args.tracking_uri)
        result = score_file(loaded, data, include_training=args.include_training)
        line = f"scored {len(result['scores'])} events of {data} with run {loaded.run_id}"
        if excluded := int(result["n_training_excluded"]):
            line += f" ({excluded} training events of the run left out; --include-training keeps them)"
        metrics: dict[str, float] = {}
        if "labels" in result and len(set(np.unique(result["labels"]).tolist())) == 2:
            from oneclass.metrics import evaluate

            metrics = evaluate(result["scores"], result["labels"], min_background=args.min_background).metrics()
            line += f": AUC {metrics['test_auc']:.4f}, max SIC {metrics['test_max_sic']:.3f}"
        tmp = output.with_name(output.name + ".tmp.npz")
        np.savez_compressed(tmp, **result)
        os.replace(tmp, output)
        print(f"{line}; wrote {output}")
        if args.log:
            _log(args, loaded, data, output, metrics)
    except OneClassError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _log(args, loaded: LoadedRun, data: Path, output: Path, metrics: dict[str, float]) -> None:
    client, _ = _client(args.tracking_uri)
    source = client.get_run(loaded.run_id)
    run = client.create_run(source.info.experiment_id, run_name=f"score-{source.info.run_name}",
                            tags={"scored_from": loaded.run_id, "scored_file": str(data.resolve()),
                                  "model": source.data.tags.get("model", ""), "mlflow.source.name": "oneclass score"})
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.log_artifact(run.info.run_id, str(output))
    client.set_terminated(run.info.run_id)
    print(f"logged as MLflow run {run.info.run_id}")


if __name__ == "__main__":
    sys.exit(main())
