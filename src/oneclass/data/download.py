"""``oneclass download DATASET``: fetch official data files, verify them, write them atomically.

* ``lhco``: the LHC Olympics 2020 R&D features file from Zenodo, verified against the md5 that
  Zenodo's record API lists for it (``files[].checksum`` = ``md5:...``; nothing is hard-coded).
* ``mnist``, ``fashion_mnist``, ``cifar10``, ``kdd``: the official files, verified against the md5s
  their publishers list (:data:`BUNDLES`).
* ``adbench NAME [NAME ...]``: ADBench "Classical" ``.npz`` files from the ADBench GitHub repository.
  ADBench publishes no checksums, so none is checked; instead each file must parse and have the
  rows, features and anomalies of ADBench's published table before it is kept.
* ``nsl_kdd``: UNB's ``NSL-KDD.zip`` (no published checksum); ``KDDTrain+.txt`` and ``KDDTest+.txt``
  are extracted and must hold the published 125,973 and 22,544 rows.

Every file is written atomically: bytes go to ``<file>.part``, which is renamed to the final name
only after the checksum (and content check) passes. An interrupted download leaves only the
``.part`` file; the next run resumes it with an HTTP Range request (or restarts it when the server
does not support ranges). A failed check deletes the ``.part`` file. A file already in place is
kept when it verifies, else fetched again.

URLs can be overridden (``--url``, ``--record-url`` or the environment variables below), e.g. to
use a mirror or local ``file://`` copies: for ``lhco`` ``--url`` is the file's URL, for the other
sets the URL of the folder that holds the files::

    oneclass download lhco
    oneclass download mnist --url file:///mirror/mnist/
    oneclass download adbench thyroid cardio
    python -m oneclass.data.download lhco --dest /data/lhco/events_anomalydetection_v2.features.h5
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from oneclass.data.fetch import CHUNK, check_url, check_writable, error_text, fetch, file_md5, record_md5
from oneclass.data.lhco_files import BOXES, OFFICIAL_FILE, box_files, default_path
from oneclass.data.paths import data_dir, resolve
from oneclass.errors import DataError, OneClassError


@dataclass(frozen=True)
class Source:
    """A file in a Zenodo record."""

    filename: str
    url: str
    record_url: str
    url_env: str
    record_env: str


SOURCES = {
    "lhco": Source(
        filename=OFFICIAL_FILE,
        url=f"https://zenodo.org/record/4536377/files/{OFFICIAL_FILE}",
        record_url="https://zenodo.org/api/records/4536377",
        url_env="ONECLASS_LHCO_URL",
        record_env="ONECLASS_LHCO_RECORD_URL",
    ),
}
# The black boxes' features and key files (Zenodo record 4536624), md5s from the same record API.
BOX_RECORD = "https://zenodo.org/api/records/4536624"
BOX_FOLDER = "https://zenodo.org/record/4536624/files"


def download(name: str, dest: Path | None = None, url: str | None = None, record_url: str | None = None,
             force: bool = False, progress: bool = True) -> Path:
    """Fetch dataset ``name`` (``lhco``) to ``dest`` (default: where ``dataset=lhco`` looks)."""
    source = SOURCES[name]
    dest = dest or default_path()
    url = url or os.environ.get(source.url_env) or source.url
    record_url = record_url or os.environ.get(source.record_env) or source.record_url
    check_writable(dest)
    _fetch_verified(url, dest, record_md5(record_url, source.filename), record_url, force, progress)
    print(f"saved {dest} (md5 verified). Use it with: python run.py dataset=lhco"
          + ("" if dest == default_path() else f" dataset.path={dest}"), file=sys.stderr)
    return dest


def _fetch_verified(url: str, dest: Path, md5: str, record_url: str, force: bool, progress: bool) -> None:
    """``url`` to ``dest`` unless a file with ``md5`` is already there."""
    if dest.exists() and not force:
        if not dest.is_file():
            raise DataError(f"{dest} exists and is not a file; choose another --dest")
        if file_md5(dest) == md5:
            print(f"{dest} is already there and matches md5 {md5}", file=sys.stderr)
            return
        print(f"{dest} exists but its md5 differs from the record's {md5}; downloading again", file=sys.stderr)
    print(f"downloading {url}\n  -> {dest} (md5 {md5} from {record_url})", file=sys.stderr)
    fetch(url, dest, md5, progress=progress)


def download_box(box: int, dest: Path | None = None, url: str | None = None, record_url: str | None = None,
                 force: bool = False, progress: bool = True) -> Path:
    """Fetch black box ``box``'s features file to ``dest`` (default: where ``dataset.box=N`` looks) and
    its key file next to it, each verified against the md5 the Zenodo record lists. ``url``: the
    folder holding both files (env ONECLASS_LHCO_BOX_URL)."""
    if box not in BOXES:
        raise DataError(f"--box must be one of {', '.join(map(str, BOXES))}, got {box}")
    features, key = box_files(box)
    dest = dest or default_path(box)
    folder = (url or os.environ.get("ONECLASS_LHCO_BOX_URL") or BOX_FOLDER).rstrip("/")
    record_url = record_url or os.environ.get("ONECLASS_LHCO_BOX_RECORD_URL") or BOX_RECORD
    check_writable(dest)
    md5s = {name: record_md5(record_url, name) for name in (features, key)}  # both listed before fetching either
    _fetch_verified(f"{folder}/{features}", dest, md5s[features], record_url, force, progress)
    _fetch_verified(f"{folder}/{key}", dest.parent / key, md5s[key], record_url, force, progress)
    shown = "" if dest == default_path(box) else f" dataset.path={dest}"
    print(f"saved {dest} and {dest.parent / key} (md5 verified). Use them with: python run.py "
          f"'experiment=[lhco/ocdn,lhco/bb{box}]'{shown}", file=sys.stderr)
    return dest


# ----------------------------------------------------------------------------------------------
# Data sets with published checksums (or content checks): several files from one folder URL


@dataclass(frozen=True)
class Bundle:
    """Files of one data set, fetched from one folder URL into ``<data dir>/<folder>``."""

    files: dict[str, str | None]  # file name -> published md5 (None: none published)
    url: str  # folder URL, ends with /
    url_env: str
    folder: str
    md5_source: str
    usage: str
    validate: Callable[[Path, str], None] | None = None  # (file, its name) -> raises DataError


def _check_adbench(path: Path, name: str) -> None:
    from oneclass.data.tabular import check_adbench_published, read_npz

    check_adbench_published(read_npz(path), name[:-4])


def _check_idx(path: Path, name: str) -> None:
    from oneclass.data.images import read_idx

    read_idx(path)


BUNDLES: dict[str, Bundle] = {
    # LeCun, Cortes, Burges; yann.lecun.com now refuses downloads, torchvision's mirror serves the same files.
    "mnist": Bundle(
        files={"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
               "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
               "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
               "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
        url="https://ossci-datasets.s3.amazonaws.com/mnist/", url_env="ONECLASS_MNIST_URL", folder="mnist",
        md5_source="the published MNIST md5 list", usage="python run.py dataset=mnist", validate=_check_idx),
    # Xiao, Rasul, Vollgraf 2017; md5s from github.com/zalandoresearch/fashion-mnist (README).
    "fashion_mnist": Bundle(
        files={"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
               "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
               "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
               "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
        url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", url_env="ONECLASS_FASHION_MNIST_URL",
        folder="fashion-mnist", md5_source="the Fashion-MNIST README", usage="python run.py dataset=fashion_mnist",
        validate=_check_idx),
    # Krizhevsky 2009, www.cs.toronto.edu/~kriz/cifar.html lists the md5.
    "cifar10": Bundle(
        files={"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
        url="https://www.cs.toronto.edu/~kriz/", url_env="ONECLASS_CIFAR10_URL", folder="cifar10",
        md5_source="the CIFAR-10 page", usage="python run.py dataset=cifar10"),
    # KDD Cup 1999, 10 % subset (UCI KDD archive).
    "kdd": Bundle(
        files={"kddcup.data_10_percent.gz": "c421989ff187d340c1265ac3080a3229"},
        url="http://kdd.ics.uci.edu/databases/kddcup99/", url_env="ONECLASS_KDD_URL", folder="kdd",
        md5_source="oneclass's record of the official UCI file", usage="python run.py dataset=kdd"),
}
# ADBench publishes no checksums: files are checked against its table of shapes (see the docstring).
ADBENCH_URL = "https://raw.githubusercontent.com/Minqi824/ADBench/main/adbench/datasets/Classical/"
ADBENCH_URL_ENV = "ONECLASS_ADBENCH_URL"
# NSL-KDD (Tavallaee et al. 2009), as UNB's Canadian Institute for Cybersecurity distributes it; no checksum published.
NSL_KDD_URL = "http://205.174.165.80/CICDataset/NSL-KDD/Dataset/"
NSL_KDD_URL_ENV = "ONECLASS_NSL_KDD_URL"
NSL_KDD_ZIP = "NSL-KDD.zip"
NSL_KDD_ROWS = {"KDDTrain+.txt": 125973, "KDDTest+.txt": 22544}
DATASETS = ("lhco", *BUNDLES, "adbench", "nsl_kdd")


def _join(base: str, name: str) -> str:
    """``base`` + ``name``; a ``base`` that already names the file is taken as it is."""
    return base if base.endswith("/" + name) else base.rstrip("/") + "/" + name


def _verified(path: Path, md5: str | None, check: Callable[[Path], None] | None) -> bool:
    """Whether a file already in place passes the md5 (or, without one, the content check)."""
    if not path.is_file():
        if path.exists():
            raise DataError(f"{path} exists and is not a file; move it away or choose another --dest")
        return False
    try:
        if md5 is not None:
            return file_md5(path) == md5
        if check is not None:
            check(path)
        return True
    except DataError:
        return False


def _get(url: str, dest: Path, md5: str | None, md5_source: str, check: Callable[[Path], None] | None,
         force: bool, progress: bool) -> Path:
    if not force and _verified(dest, md5, check):
        print(f"{dest} is already there and " + (f"matches md5 {md5}" if md5 else "passes the content check"),
              file=sys.stderr)
        return dest
    if dest.exists() and not force:
        print(f"{dest} exists but does not verify; downloading again", file=sys.stderr)
    note = f"md5 {md5} from {md5_source}" if md5 else "no published checksum: the content is checked instead"
    print(f"downloading {url}\n  -> {dest} ({note})", file=sys.stderr)
    return fetch(url, dest, md5, progress=progress, md5_source=md5_source, validate=check)


def download_bundle(name: str, folder: Path | None = None, url: str | None = None, force: bool = False,
                    progress: bool = True) -> list[Path]:
    """Fetch every file of ``BUNDLES[name]`` into ``folder`` (default ``<data dir>/<bundle folder>``)."""
    bundle = BUNDLES[name]
    folder = folder or data_dir() / bundle.folder
    base = url or os.environ.get(bundle.url_env) or bundle.url
    check_writable(folder / next(iter(bundle.files)))
    out = []
    for filename, md5 in bundle.files.items():
        check = (lambda path, f=filename: bundle.validate(path, f)) if bundle.validate else None
        out.append(_get(_join(base, filename), folder / filename, md5, bundle.md5_source, check, force, progress))
    print(f"saved {len(out)} file(s) in {folder}. Use them with: {bundle.usage}"
          + ("" if folder == data_dir() / bundle.folder else f" dataset.path={folder}"), file=sys.stderr)
    return out


def download_adbench(names: list[str], folder: Path | None = None, url: str | None = None, force: bool = False,
                     progress: bool = True) -> list[Path]:
    """Fetch ADBench Classical sets (``thyroid``, ``38_thyroid`` ...) into ``folder`` (default
    ``<data dir>/adbench``). No checksum is published: each file must match ADBench's table."""
    from oneclass.data.tabular import ADBENCH_SETS, adbench_name

    if not names:
        raise DataError(f"name the ADBench set(s) to download, e.g. `oneclass download adbench thyroid`; known: "
                        f"{', '.join(ADBENCH_SETS)}")
    stems = []
    for name in names:
        stem = adbench_name(name)
        if stem is None:
            raise DataError(f"unknown ADBench set {name!r}; known: {', '.join(ADBENCH_SETS)}")
        stems.append(stem)
    folder = folder or data_dir() / "adbench"
    base = url or os.environ.get(ADBENCH_URL_ENV) or ADBENCH_URL
    check_writable(folder / f"{stems[0]}.npz")
    out = []
    for stem in stems:
        filename = f"{stem}.npz"
        out.append(_get(_join(base, filename), folder / filename, None, "ADBench",
                        lambda path, f=filename: _check_adbench(path, f), force, progress))
    print(f"saved {len(out)} file(s) in {folder}. Use them with: python run.py dataset=adbench dataset.name={stems[0]}",
          file=sys.stderr)
    return out


def _count_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(CHUNK), b""))


def _check_nsl_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            names = {n.rsplit("/", 1)[-1] for n in z.namelist()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path}: not a zip archive ({error_text(exc)})") from None
    missing = [n for n in NSL_KDD_ROWS if n not in names]
    if missing:
        raise DataError(f"{path}: the archive holds no {', '.join(missing)}")


def _check_nsl_txt(path: Path, name: str) -> None:
    rows = _count_rows(path)
    if rows != NSL_KDD_ROWS[name]:
        raise DataError(f"{path}: {rows} rows, the published NSL-KDD {name} has {NSL_KDD_ROWS[name]}")


def download_nsl_kdd(folder: Path | None = None, url: str | None = None, force: bool = False,
                     progress: bool = True) -> list[Path]:
    """Fetch UNB's NSL-KDD.zip into ``folder`` (default ``<data dir>/nsl_kdd``) and extract
    ``KDDTrain+.txt`` and ``KDDTest+.txt`` (atomically, row counts checked)."""
    folder = folder or data_dir() / "nsl_kdd"
    targets = [folder / n for n in NSL_KDD_ROWS]
    if not force and all(_verified(t, None, lambda p, n=t.name: _check_nsl_txt(p, n)) for t in targets):
        print(f"{', '.join(map(str, targets))} are already there with the published row counts", file=sys.stderr)
        return targets
    check_writable(folder / NSL_KDD_ZIP)
    base = url or os.environ.get(NSL_KDD_URL_ENV) or NSL_KDD_URL
    archive = _get(_join(base, NSL_KDD_ZIP), folder / NSL_KDD_ZIP, None, "UNB", _check_nsl_zip, force, progress)
    with zipfile.ZipFile(archive) as z:
        members = {n.rsplit("/", 1)[-1]: n for n in z.namelist()}
        for target in targets:
            part = target.with_name(target.name + ".part")
            try:
                with z.open(members[target.name]) as src, open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                _check_nsl_txt(part, target.name)
            except (DataError, zipfile.BadZipFile, OSError, EOFError) as exc:
                part.unlink(missing_ok=True)
                raise DataError(f"cannot extract {target.name} from {archive} ({error_text(exc)}); delete the archive "
                                f"and run the command again") from None
            os.replace(part, target)
    print(f"saved {', '.join(map(str, targets))}", file=sys.stderr)
    return targets


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oneclass download",
        description="Download an official dataset, verify it (published md5, or its content where no checksum is "
                    "published), write it atomically; an interrupted download resumes.",
    )
    p.add_argument("dataset", choices=DATASETS,
                   help="lhco: LHC Olympics 2020 R&D features (Zenodo 4536377); mnist, fashion_mnist: the four IDX "
                        "files; cifar10: cifar-10-python.tar.gz; adbench NAME...: ADBench Classical .npz files "
                        "(e.g. thyroid cardio); kdd: KDD Cup 99 10%%; nsl_kdd: KDDTrain+.txt and KDDTest+.txt")
    p.add_argument("names", nargs="*", default=[], help="adbench only: the set(s), e.g. thyroid or 38_thyroid")
    p.add_argument("--dest", help=f"lhco: output file (default: $ONECLASS_DATA_DIR or ./data, then lhco/{OFFICIAL_FILE}); "
                                  "other sets: output folder (default: <data dir>/<set folder>)")
    p.add_argument("--url", help="lhco: the file URL (env ONECLASS_LHCO_URL); other sets: the URL of the folder holding "
                                 "the files (env ONECLASS_<SET>_URL); file:// works")
    p.add_argument("--record-url", help="lhco only: Zenodo record API URL listing the md5 (env ONECLASS_LHCO_RECORD_URL; "
                                        "with --box: ONECLASS_LHCO_BOX_RECORD_URL)")
    p.add_argument("--box", type=int, choices=BOXES,
                   help="lhco only: a black box of the LHC Olympics 2020 (Zenodo 4536624): its features file and "
                        "key file; --url is then the folder holding both (env ONECLASS_LHCO_BOX_URL)")
    p.add_argument("--force", action="store_true", help="download even if a verified file is already there")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``oneclass download``; returns the exit status (errors: one line, status 2)."""
    args = parser().parse_args(argv)
    progress = not args.no_progress
    dest = resolve(args.dest) if args.dest else None
    try:
        if args.names and args.dataset != "adbench":
            raise DataError(f"extra argument(s) {' '.join(args.names)}: only `oneclass download adbench` takes names")
        for option, value in (("--url", args.url), ("--record-url", args.record_url)):
            if value:
                check_url(value, option)
        if args.record_url and args.dataset != "lhco":
            raise DataError("--record-url is for lhco only (the other sets have their checksums built in)")
        if args.box is not None and args.dataset != "lhco":
            raise DataError("--box is for lhco only (the LHC Olympics black boxes)")
        if args.dataset == "lhco" and args.box is not None:
            download_box(args.box, dest=dest, url=args.url, record_url=args.record_url, force=args.force,
                         progress=progress)
        elif args.dataset == "lhco":
            download(args.dataset, dest=dest, url=args.url, record_url=args.record_url, force=args.force,
                     progress=progress)
        elif args.dataset == "adbench":
            download_adbench(args.names, folder=dest, url=args.url, force=args.force, progress=progress)
        elif args.dataset == "nsl_kdd":
            download_nsl_kdd(folder=dest, url=args.url, force=args.force, progress=progress)
        else:
            download_bundle(args.dataset, folder=dest, url=args.url, force=args.force, progress=progress)
    except OneClassError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk filling up mid-download, a folder vanishing: one line, never a traceback
        print(f"error: {exc.strerror or exc}{': ' + str(exc.filename)[:160] if exc.filename else ''}; check --dest",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; the partial download is kept as a .part file, run the command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
