"""The LHC Olympics 2020 R&D event files (Kasieczka, Nachman, Shih; Zenodo record 4536377) and
its black boxes (record 4536624), read into the five features of the resonant anomaly detection
literature (:data:`FEATURES`); selecting and splitting them is :class:`oneclass.data.lhco.LHCO`'s.

Two file formats are read, detected from the file's first bytes:

* the official features file ``events_anomalydetection_v2.features.h5`` (pandas HDF5 table with
  per-jet columns ``pxj1 pyj1 pzj1 mj1 tau1j1 tau2j1 ... label`` in GeV); the five features are
  computed here (:func:`features_from_jets`);
* a CATHODE-style ``.npy`` array with columns ``mjj mj1 delta_mj tau21_1 tau21_2 label``
  (masses in TeV).

Features (all in TeV where dimensionful): ``mjj`` dijet invariant mass, ``mj1`` mass of the
lighter jet, ``delta_mj`` heavier minus lighter jet mass, ``tau21_1`` / ``tau21_2`` the
N-subjettiness ratio tau2/tau1 of the lighter / heavier jet (0 where tau1 = 0).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from oneclass.data.paths import data_dir, refuse_folder
from oneclass.errors import DataError, first_line

log = logging.getLogger(__name__)

FEATURES = ("mjj", "mj1", "delta_mj", "tau21_1", "tau21_2")
NPY_COLUMNS = (*FEATURES, "label")
JET_COLUMNS = ("pxj1", "pyj1", "pzj1", "mj1", "tau1j1", "tau2j1",
               "pxj2", "pyj2", "pzj2", "mj2", "tau1j2", "tau2j2", "label")
OFFICIAL_FILE = "events_anomalydetection_v2.features.h5"
# The LHC Olympics 2020 black boxes (Zenodo record 4536624): a features file in the R&D file's
# layout without the label column, and a key file with one truth label per event (0 = background).
BOXES = (1, 2, 3)


def box_files(box: int) -> tuple[str, str]:
    """(features file, key file) of black box ``box`` as named in the Zenodo record."""
    return f"events_LHCO2020_BlackBox{box}.features.h5", f"events_LHCO2020_BlackBox{box}.masterkey"


_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NPY_MAGIC = b"\x93NUMPY"
GEV_PER_TEV = 1000.0


def default_path(box: int | None = None) -> Path:
    """Where ``oneclass download lhco [--box N]`` puts the official file: ``<data dir>/lhco/<file>``."""
    return data_dir() / "lhco" / (OFFICIAL_FILE if box is None else box_files(box)[0])


def missing_file_message(path: Path) -> str:
    return (f"LHCO data file {path} not found; download the official file with `oneclass download lhco` "
            f"(saved as {default_path()}) or point to an existing .h5/.npy file with dataset.path=/path/to/file")


def features_from_jets(cols: dict[str, np.ndarray]) -> np.ndarray:
    """The five paper features from per-jet columns in GeV (vectorised over events).

    Parameters
    ----------
    cols : arrays ``pxj1 pyj1 pzj1 mj1 tau1j1 tau2j1`` and the same for jet 2, each shape (n,).

    Returns
    -------
    (n, 5) float64: mjj [TeV], lighter-jet mass [TeV], heavier minus lighter mass [TeV],
    tau21 of the lighter jet, tau21 of the heavier jet (0 where tau1 = 0).
    """
    c = {k: np.asarray(cols[k], dtype=np.float64) for k in JET_COLUMNS if k != "label"}
    # E = sqrt(|p|^2 + m^2) per jet; mjj^2 = (E1 + E2)^2 - |p1 + p2|^2 (clipped at 0 against rounding).
    e1 = np.sqrt(c["pxj1"] ** 2 + c["pyj1"] ** 2 + c["pzj1"] ** 2 + c["mj1"] ** 2)
    e2 = np.sqrt(c["pxj2"] ** 2 + c["pyj2"] ** 2 + c["pzj2"] ** 2 + c["mj2"] ** 2)
    m2 = (e1 + e2) ** 2 - (c["pxj1"] + c["pxj2"]) ** 2 - (c["pyj1"] + c["pyj2"]) ** 2 - (c["pzj1"] + c["pzj2"]) ** 2
    mjj = np.sqrt(np.clip(m2, 0.0, None))

    def tau21(tau2: np.ndarray, tau1: np.ndarray) -> np.ndarray:
        out = np.zeros_like(tau2)
        np.divide(tau2, tau1, out=out, where=tau1 != 0)
        return np.where(np.isnan(tau1) | np.isnan(tau2), np.nan, out)

    t21_j1 = tau21(c["tau2j1"], c["tau1j1"])
    t21_j2 = tau21(c["tau2j2"], c["tau1j2"])
    # Lighter jet first; on equal masses jet 1 counts as the lighter one.
    swap = c["mj2"] < c["mj1"]
    m_light = np.where(swap, c["mj2"], c["mj1"])
    m_heavy = np.where(swap, c["mj1"], c["mj2"])
    t21_light = np.where(swap, t21_j2, t21_j1)
    t21_heavy = np.where(swap, t21_j1, t21_j2)
    return np.column_stack([mjj / GEV_PER_TEV, m_light / GEV_PER_TEV, (m_heavy - m_light) / GEV_PER_TEV,
                            t21_light, t21_heavy])


def detect_format(path: Path) -> str:
    """``"hdf5"`` or ``"npy"`` from the file's magic bytes."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    if head.startswith(_NPY_MAGIC):
        return "npy"
    raise DataError(f"{path}: not an HDF5 (.h5) or NumPy (.npy) file; the LHCO reader takes the official "
                    f"Zenodo {OFFICIAL_FILE} or a .npy with columns {' '.join(NPY_COLUMNS)}")


def _read_npy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as .npy ({first_line(exc)}); re-create or re-download the file") from None
    if arr.ndim != 2 or arr.shape[1] not in (len(FEATURES), len(NPY_COLUMNS)):
        raise DataError(f"{path}: expected a 2-D array with {len(NPY_COLUMNS)} columns ({' '.join(NPY_COLUMNS)}), "
                        f"or {len(FEATURES)} without the label, got shape {arr.shape}; save the five features and "
                        f"the label in that order")
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{path}: expected numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.shape[1] == len(FEATURES):  # unlabelled (a black box): labels NaN, as an HDF5 file without them
        return arr, np.full(len(arr), np.nan)
    return arr[:, :5], arr[:, 5]


def _read_hdf5(path: Path, key: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a pandas HDF5 features file; labels are NaN when the file has no
    ``label`` column (a black box: its labels come from the key file)."""
    import pandas as pd

    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store.keys()]
            if not keys:
                raise DataError(f"{path}: the HDF5 file holds no pandas table; it is not an LHCO features file "
                                f"(get the official one with `oneclass download lhco`)")
            if key is None:
                if len(keys) == 1:
                    key = keys[0]
                elif "df" in keys:
                    key = "df"
                else:
                    raise DataError(f"{path}: the HDF5 file holds tables {keys or '(none)'}; pick one with dataset.hdf_key=<name>")
            elif key not in keys:
                raise DataError(f"{path}: no table '{key}' in the HDF5 file (it holds {keys or 'none'}); fix dataset.hdf_key")
            frame = store.get(key)
    except DataError:
        raise
    except Exception as exc:  # pandas/pytables raise many types for unreadable files
        raise DataError(f"{path}: cannot read as a pandas HDF5 table ({first_line(exc)}); re-download it with `oneclass download lhco`") from None
    if not hasattr(frame, "columns"):
        raise DataError(f"{path}: table '{key}' is not a pandas DataFrame")
    missing = [c for c in JET_COLUMNS if c not in frame.columns and c != "label"]
    if missing:
        raise DataError(f"{path}: HDF5 table '{key}' lacks column(s) {' '.join(missing)}; expected the official "
                        f"LHCO features file with {' '.join(JET_COLUMNS)}")
    try:
        cols = {c: frame[c].to_numpy(dtype=np.float64) for c in JET_COLUMNS if c in frame.columns}
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: non-numeric values in the jet columns ({exc})") from None
    labels = cols["label"] if "label" in cols else np.full(len(frame), np.nan)
    return features_from_jets(cols), labels


def read_key(path: Path, n_events: int, events: Path) -> np.ndarray:
    """Truth labels from a black-box key file: one integer per event (newlines or commas), 0 =
    background, > 0 = signal (a box may hold several signal processes); int8 0/1."""
    refuse_folder(path, "dataset.key_path")
    if not path.is_file():
        raise DataError(f"key file {path} not found; get it with `oneclass download lhco --box N` or point "
                        f"dataset.key_path at it")
    try:
        text = path.read_text()
        values = np.array([float(v) for v in text.replace(",", " ").split()])
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"key file {path}: not a list of numbers, one per event ({first_line(exc)})") from None
    if len(values) != n_events:
        raise DataError(f"key file {path} lists {len(values)} labels but {events} holds {n_events} events; "
                        f"the key must belong to that file (same black box)")
    if not (np.isfinite(values).all() and (values >= 0).all() and (values == np.round(values)).all()):
        raise DataError(f"key file {path}: labels must be integers >= 0 (0 = background, > 0 = signal)")
    return (values > 0).astype(np.float64)


_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray, str]] = {}


def read_events(path: str | os.PathLike, hdf_key: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """All events of an LHCO file: features (n, 5) float64, raw labels (n,) float64, format name.

    Results are cached per (path, size, mtime) so a seed sweep in one process reads the file once;
    the returned arrays are read-only.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(missing_file_message(path))
    if not path.is_file():
        raise DataError(f"{path} is not a file; point dataset.path at the LHCO .h5 or .npy file")
    st = path.stat()
    cache_key = (str(path.resolve()), st.st_size, st.st_mtime_ns, hdf_key)
    if cache_key not in _CACHE:
        fmt = detect_format(path)
        x, labels = _read_npy(path) if fmt == "npy" else _read_hdf5(path, hdf_key)
        x = np.ascontiguousarray(x)
        labels = np.ascontiguousarray(labels)
        x.setflags(write=False)
        labels.setflags(write=False)
        _CACHE.clear()  # keep at most one file (the official one is ~50 MB as features)
        _CACHE[cache_key] = (x, labels, fmt)
    return _CACHE[cache_key]
