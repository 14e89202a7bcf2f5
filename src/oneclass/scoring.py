"""Reuse a trained detector: ``oneclass score`` and :func:`load_detector`.

A finished run's artifacts hold everything needed to score new data the same way: ``config.yaml``
(the resolved config: which dataset class reads the file, with which selection), ``data_info.json``
(the preprocessing statistics fitted on that run's training rows) and the detector
(``model.ckpt``, a Lightning checkpoint loaded with ``weights_only=True``, or ``model.joblib`` for
scikit-learn style adapters: joblib files are pickles and run code when loaded, so only load runs
you trust).

    oneclass score --run RUN_ID --data black_box.h5 --output scores.npz [--log]

writes the scores (and the metrics, when the file has labels) and logs nothing unless ``--log``.
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


@dataclass
class LoadedRun:
    """A trained detector with the config and data facts of the run that trained it."""

    run_id: str
    detector: Any
    cfg: DictConfig
    data_info: dict[str, Any]


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


def load_detector(run_id: str, tracking_uri: str | None = None) -> LoadedRun:
    """The trained detector of MLflow run ``run_id`` (``MLFLOW_TRACKING_URI`` or ``./mlflow.db`` by default)."""
    client, uri = _client(tracking_uri)
    try:
        run = client.get_run(run_id)
    except Exception as exc:
        raise DataError(f"no MLflow run {run_id!r} in {uri} ({first_line(exc)}); copy the run id from the MLflow UI "
                        "or the job's output") from None
    if run.info.status != "FINISHED":
        raise DataError(f"run {run_id} is {run.info.status}, not FINISHED: it has no trained detector to reuse")
    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = _download(client, run_id, CONFIG, tmp)
        if cfg_path is None:
            raise DataError(f"run {run_id} has no {CONFIG} artifact; it was not written by `oneclass` (or its artifacts were deleted)")
        cfg = OmegaConf.load(cfg_path)
        info_path = _download(client, run_id, DATA_INFO, tmp)
        data_info = json.loads(info_path.read_text()) if info_path else {}
        ckpt = _download(client, run_id, CHECKPOINT, tmp)
        if ckpt is not None:
            detector = _load_checkpoint(cfg, ckpt)
        elif (pickled := _download(client, run_id, PICKLE, tmp)) is not None:
            import joblib

            detector = joblib.load(pickled)  # trusted: the run's own adapter (see the module docstring)
        else:
            raise DataError(f"run {run_id} has no model artifact ({CHECKPOINT} or {PICKLE}); only runs that "
                            "finished with this version of oneclass can be reused")
    return LoadedRun(run_id, detector, cfg, data_info)


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


def score_file(loaded: LoadedRun, path: str | os.PathLike) -> dict[str, Any]:
    """Score every usable event of ``path`` (a file of the run's dataset kind) as the run did."""
    from oneclass.config import build

    dataset = build(loaded.cfg.dataset, "dataset")
    x, labels, index = dataset.score_rows(path, loaded.data_info)
    shape = getattr(loaded.detector, "input_shape", None) or getattr(loaded.detector, "shape_", None)
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise DataError(f"{path}: events of shape {tuple(x.shape[1:])}, the detector of run {loaded.run_id} takes "
                        f"{tuple(shape)}; score a file of the same kind and features")
    scores = np.asarray(loaded.detector.score(x), dtype=np.float64)
    out: dict[str, Any] = {"scores": scores, "index": index}
    if labels is not None:
        out["labels"] = labels
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oneclass score", description="Score a file with the detector of a finished run.")
    p.add_argument("--run", required=True, help="MLflow run id of a FINISHED oneclass run")
    p.add_argument("--data", required=True, help="file of the same dataset kind as the run's (e.g. an LHCO .h5/.npy)")
    p.add_argument("--output", default="scores.npz", help="where to write scores (and labels, index) [scores.npz]")
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
        data = Path(args.data)
        if not data.is_file():
            raise DataError(f"--data {data}: no such file")
        loaded = load_detector(args.run, args.tracking_uri)
        result = score_file(loaded, data)
        line = f"scored {len(result['scores'])} events of {data} with run {args.run}"
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
