"""Fetching a file safely: URL checks, md5 from a Zenodo record, resumable atomic downloads.

:func:`fetch` writes ``<file>.part`` and renames it only after the checksum (and an optional content
check) passes; an interrupted download resumes with an HTTP Range request. Used by
:mod:`oneclass.data.download`, which knows the official sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from oneclass.errors import DataError, first_line

CHUNK = 1 << 20
TIMEOUT_S = 60


def error_text(exc: BaseException) -> str:
    """urllib's errors carry their cause in ``reason``."""
    return first_line(getattr(exc, "reason", None) or exc)


URL_SCHEMES = ("http", "https", "ftp", "file")


def check_url(url: str, option: str = "--url") -> str:
    """``url`` if urllib can fetch it (http(s)://, ftp://, file://), else one line naming ``option``."""
    from urllib.parse import urlsplit

    scheme = urlsplit(str(url)).scheme.lower()
    if scheme not in URL_SCHEMES or (scheme != "file" and not urlsplit(str(url)).netloc):
        raise DataError(f"{option} {url!r} is not a URL; give one starting with http://, https:// or file:// "
                        f"(e.g. file:///mirror/folder/ for local copies)")
    return url


def _open(request: urllib.request.Request | str):
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        raise DataError(f"cannot reach {url} ({error_text(exc)}); check the network or the URL") from None


def record_md5(record_url: str, filename: str) -> str:
    """The md5 Zenodo's record API lists for ``filename`` (``files[].checksum`` = ``md5:<hex>``)."""
    try:
        with _open(record_url) as resp:
            record = json.load(resp)
    except urllib.error.HTTPError as exc:
        raise DataError(f"cannot read the Zenodo record {record_url} (HTTP {exc.code}); check the network or --record-url") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{record_url} is not a Zenodo record (invalid JSON: {error_text(exc)}); check --record-url") from None
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


def fetch(url: str, dest: Path, md5: str | None, progress: bool = True, md5_source: str = "the Zenodo record",
          validate: Callable[[Path], None] | None = None) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, verify ``md5`` (None: no published
    checksum) and ``validate(part)`` (raises :class:`DataError`), rename. Returns ``dest``."""
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(check_url(url), headers={"User-Agent": "oneclass-download"})
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
                raise DataError(f"download of {url} interrupted ({error_text(exc)}); {part.stat().st_size} bytes kept "
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
    if md5 is not None and got != md5:
        part.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {url}: md5 {got}, {md5_source} lists {md5}; the download was "
                        f"discarded and {dest} not written; run the command again (or check --url / --record-url)")
    if validate is not None:
        try:
            validate(part)
        except DataError as exc:
            part.unlink(missing_ok=True)
            raise DataError(f"downloaded {url} is not the expected file ({exc}); the download was discarded and "
                            f"{dest} not written; check --url") from None
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
