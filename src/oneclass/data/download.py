"""``oneclass download lhco``: fetch the official LHC Olympics 2020 R&D features file from Zenodo.

The file is verified against the md5 that Zenodo's record API lists for it (``files[].checksum``
= ``md5:...``; nothing is hard-coded) and written atomically: bytes go to ``<file>.part``, which
is renamed to the final name only after the checksum matches. A download that is interrupted
leaves only the ``.part`` file; the next run resumes it with an HTTP Range request (or restarts it
when the server does not support ranges). A checksum mismatch deletes the ``.part`` file.

URLs can be overridden (``--url``, ``--record-url`` or the environment variables below), e.g. to
use a mirror or local ``file://`` copies::

    oneclass download lhco
    python -m oneclass.data.download lhco --dest /data/lhco/events_anomalydetection_v2.features.h5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from oneclass.data.lhco import OFFICIAL_FILE, default_path
from oneclass.data.paths import resolve
from oneclass.errors import DataError, OneClassError

CHUNK = 1 << 20
TIMEOUT_S = 60


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


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open(request: urllib.request.Request | str):
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        raise DataError(f"cannot reach {url} ({_first_line(exc)}); check the network or the URL") from None


def record_md5(record_url: str, filename: str) -> str:
    """The md5 Zenodo's record API lists for ``filename`` (``files[].checksum`` = ``md5:<hex>``)."""
    try:
        with _open(record_url) as resp:
            record = json.load(resp)
    except urllib.error.HTTPError as exc:
        raise DataError(f"cannot read the Zenodo record {record_url} (HTTP {exc.code}); check the network or --record-url") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{record_url} is not a Zenodo record (invalid JSON: {_first_line(exc)}); check --record-url") from None
    files = record.get("files") if isinstance(record, dict) else None
    if isinstance(files, dict):  # some API versions: {"entries": {name: {...}}}
        files = list((files.get("entries") or {}).values())
    for entry in files or []:
        if isinstance(entry, dict) and filename in (entry.get("key"), entry.get("filename")):
            checksum = str(entry.get("checksum", ""))
            algo, _, digest = checksum.rpartition(":")
            if (algo or "md5") != "md5" or len(digest) != 32:
                raise DataError(f"{record_url}: unexpected checksum {checksum!r} for {filename} (expected md5:<32 hex digits>)")
            return digest.lower()
    raise DataError(f"{record_url}: the record lists no file named {filename}; check --record-url")


def file_md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fetch(url: str, dest: Path, md5: str, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, verify ``md5``, rename. Returns ``dest``."""
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "oneclass-download"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        resp = _open(request)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # range not satisfiable: the .part may already be complete
            resp = None
        else:
            raise DataError(f"cannot download {url} (HTTP {exc.code} {exc.reason}); check the URL or try again later") from None

    h = hashlib.md5()
    if resp is None:
        h.update(part.read_bytes())
    else:
        with resp:
            content_range = resp.headers.get("Content-Range", "")
            resumed = offset > 0 and getattr(resp, "status", None) == 206 and content_range.startswith(f"bytes {offset}-")
            if resumed:
                with open(part, "rb") as f:
                    while chunk := f.read(CHUNK):
                        h.update(chunk)
            else:
                offset = 0  # no (usable) range support: restart from scratch
            length = resp.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else None
            try:
                with open(part, "ab" if resumed else "wb") as f, tqdm(
                    total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=dest.name, disable=not progress, file=sys.stderr,
                ) as bar:
                    while chunk := resp.read(CHUNK):
                        f.write(chunk)
                        h.update(chunk)
                        bar.update(len(chunk))
            except (OSError, urllib.error.URLError, ValueError) as exc:
                raise DataError(f"download of {url} interrupted ({_first_line(exc)}); {part.stat().st_size} bytes kept "
                                f"in {part}, run the command again to resume") from None
            except Exception as exc:
                # http.client.IncompleteRead & co. are HTTPExceptions, not OSErrors
                if type(exc).__module__ == "http.client":
                    raise DataError(f"download of {url} interrupted ({type(exc).__name__}); {part.stat().st_size} bytes "
                                    f"kept in {part}, run the command again to resume") from None
                raise
            if total is not None and part.stat().st_size < total:
                raise DataError(f"download of {url} interrupted after {part.stat().st_size} of {total} bytes; "
                                f"run the command again to resume ({part} is kept)")

    got = h.hexdigest()
    if got != md5:
        part.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {url}: md5 {got}, the Zenodo record lists {md5}; the download was "
                        f"discarded and {dest} not written; run the command again (or check --url / --record-url)")
    os.replace(part, dest)
    return dest


def check_writable(dest: Path) -> None:
    """One line, before any network access, when ``dest`` cannot be written."""
    import tempfile

    shown = str(dest) if len(str(dest)) <= 160 else f"{str(dest)[:80]}... ({len(str(dest))} characters)"
    try:
        dest.exists()  # an over-long name fails here
        for parent in dest.parents:
            if parent.exists() and not parent.is_dir():
                raise DataError(f"cannot write {shown}: {parent} is a file, not a folder; choose another --dest")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".oneclass-write-test-"):
            pass
    except OSError as exc:
        raise DataError(f"cannot write {shown}: {exc.strerror or exc}; choose a writable place with --dest") from None


def download(name: str, dest: Path | None = None, url: str | None = None, record_url: str | None = None,
             force: bool = False, progress: bool = True) -> Path:
    """Fetch dataset ``name`` (``lhco``) to ``dest`` (default: where ``dataset=lhco`` looks)."""
    source = SOURCES[name]
    dest = dest or default_path()
    url = url or os.environ.get(source.url_env) or source.url
    record_url = record_url or os.environ.get(source.record_env) or source.record_url
    check_writable(dest)
    md5 = record_md5(record_url, source.filename)
    if dest.exists() and not force:
        if not dest.is_file():
            raise DataError(f"{dest} exists and is not a file; choose another --dest")
        if file_md5(dest) == md5:
            print(f"{dest} is already there and matches md5 {md5}", file=sys.stderr)
            return dest
        print(f"{dest} exists but its md5 differs from the record's {md5}; downloading again", file=sys.stderr)
    print(f"downloading {url}\n  -> {dest} (md5 {md5} from {record_url})", file=sys.stderr)
    fetch(url, dest, md5, progress=progress)
    print(f"saved {dest} (md5 verified). Use it with: python run.py dataset=lhco"
          + ("" if dest == default_path() else f" dataset.path={dest}"), file=sys.stderr)
    return dest


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oneclass download",
        description="Download an official dataset, verify its md5 against the Zenodo record, write it atomically.",
    )
    p.add_argument("dataset", choices=sorted(SOURCES), help="lhco: LHC Olympics 2020 R&D features file (Zenodo 4536377, 1.1 M events)")
    p.add_argument("--dest", help=f"output file (default: $ONECLASS_DATA_DIR or ./data, then lhco/{OFFICIAL_FILE})")
    p.add_argument("--url", help="file URL (default: Zenodo; env ONECLASS_LHCO_URL); file:// works")
    p.add_argument("--record-url", help="Zenodo record API URL listing the md5 (default: Zenodo; env ONECLASS_LHCO_RECORD_URL)")
    p.add_argument("--force", action="store_true", help="download even if a verified file is already there")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``oneclass download``; returns the exit status (errors: one line, status 2)."""
    args = parser().parse_args(argv)
    try:
        download(args.dataset, dest=resolve(args.dest) if args.dest else None, url=args.url,
                 record_url=args.record_url, force=args.force, progress=not args.no_progress)
    except OneClassError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk filling up mid-download, a folder vanishing: one line, never a traceback
        print(f"error: {exc.strerror or exc}{': ' + str(exc.filename)[:160] if exc.filename else ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; the partial download is kept as a .part file, run the command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
