"""``oneclass download lhco`` against local copies: file:// URLs and a small HTTP server with Range
support (resume after an interrupted transfer)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from oneclass.launch import cli
from oneclass.data import download
from oneclass.data.lhco_files import OFFICIAL_FILE

PAYLOAD = bytes(range(256)) * 5000 + b"tail"  # ~1.2 MB: more than one read chunk


def record(md5: str, name: str = OFFICIAL_FILE) -> dict:
    """The shape of https://zenodo.org/api/records/4536377 (only the fields we read)."""
    return {"id": 4536377, "files": [
        {"key": "README.md", "checksum": "md5:" + "0" * 32, "size": 10},
        {"key": name, "checksum": f"md5:{md5}", "size": len(PAYLOAD),
         "links": {"self": f"https://zenodo.org/api/records/4536377/files/{name}/content"}},
    ]}


@pytest.fixture
def mirror(tmp_path):
    """A local 'Zenodo': the payload and a record JSON, as file:// URLs."""
    src = tmp_path / "mirror"
    src.mkdir()
    (src / OFFICIAL_FILE).write_bytes(PAYLOAD)
    (src / "record.json").write_text(json.dumps(record(hashlib.md5(PAYLOAD).hexdigest())))
    (src / "bad_record.json").write_text(json.dumps(record("f" * 32)))
    return src


def args(mirror: Path, dest: Path, record_name: str = "record.json") -> list[str]:
    return ["lhco", "--url", (mirror / OFFICIAL_FILE).as_uri(), "--record-url", (mirror / record_name).as_uri(),
            "--dest", str(dest), "--no-progress"]


def test_download_verifies_and_writes(mirror, tmp_path):
    dest = tmp_path / "out" / OFFICIAL_FILE
    assert download.main(args(mirror, dest)) == 0
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in dest.parent.iterdir()) == [OFFICIAL_FILE]
    # a second run finds the verified file and leaves it alone
    before = dest.stat().st_mtime_ns
    assert download.main(args(mirror, dest)) == 0
    assert dest.stat().st_mtime_ns == before


def test_checksum_mismatch_leaves_nothing(mirror, tmp_path, capsys):
    dest = tmp_path / "out" / OFFICIAL_FILE
    assert download.main(args(mirror, dest, "bad_record.json")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: checksum mismatch for file://")
    assert f"the Zenodo record lists {'f' * 32}" in err[-1] and "not written" in err[-1]
    assert list(dest.parent.iterdir()) == []


def test_stale_partial_file_restarts_cleanly(mirror, tmp_path):
    dest = tmp_path / OFFICIAL_FILE
    (tmp_path / (OFFICIAL_FILE + ".part")).write_bytes(b"garbage from an older attempt")
    assert download.main(args(mirror, dest)) == 0  # file:// ignores Range -> restart from byte 0
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / (OFFICIAL_FILE + ".part")).exists()


def test_corrupt_existing_file_is_replaced(mirror, tmp_path, capsys):
    dest = tmp_path / OFFICIAL_FILE
    dest.write_bytes(b"not the file")
    assert download.main(args(mirror, dest)) == 0
    assert dest.read_bytes() == PAYLOAD
    assert "md5 differs" in capsys.readouterr().err


@pytest.mark.parametrize("record_json, message", [
    ({"files": [{"key": "other.h5", "checksum": "md5:" + "1" * 32}]}, "the record lists no file named " + OFFICIAL_FILE),
    ({"files": [{"key": OFFICIAL_FILE, "checksum": "sha256:abc"}]}, "unexpected checksum 'sha256:abc'"),
])
def test_bad_record(tmp_path, mirror, capsys, record_json, message):
    (mirror / "odd.json").write_text(json.dumps(record_json))
    assert download.main(args(mirror, tmp_path / OFFICIAL_FILE, "odd.json")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_unreachable_record(tmp_path, mirror, capsys):
    assert download.main(args(mirror, tmp_path / OFFICIAL_FILE, "missing.json")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot reach file://") and "missing.json" in err


def test_default_destination_is_the_data_dir(mirror, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONECLASS_DATA_DIR", "store")
    monkeypatch.setenv("ONECLASS_LHCO_URL", (mirror / OFFICIAL_FILE).as_uri())
    monkeypatch.setenv("ONECLASS_LHCO_RECORD_URL", (mirror / "record.json").as_uri())
    with pytest.raises(SystemExit) as exit_:
        cli.main(["download", "lhco", "--no-progress"])  # `oneclass download lhco`
    assert exit_.value.code == 0
    assert (tmp_path / "store" / "lhco" / OFFICIAL_FILE).read_bytes() == PAYLOAD


@pytest.mark.system
def test_module_entry_point(mirror, tmp_path):
    dest = tmp_path / OFFICIAL_FILE
    out = subprocess.run([sys.executable, "-m", "oneclass.data.download", *args(mirror, dest, "bad_record.json")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: checksum mismatch")
    assert not dest.exists()


class RangeServer:
    """Serves PAYLOAD with HTTP Range support; the first response can be cut short."""

    def __init__(self, cut_first_after: int | None = None):
        owner = self
        self.ranges: list[str | None] = []
        self.cut = cut_first_after

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output quiet
                pass

            def do_GET(self):
                if self.path == "/record":
                    body = json.dumps(record(hashlib.md5(PAYLOAD).hexdigest())).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                rng = self.headers.get("Range")
                owner.ranges.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                body = PAYLOAD[start:]
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if owner.cut is not None:
                    body, owner.cut = body[:owner.cut], None  # announce all, send part, hang up
                    self.close_connection = True
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_interrupted_download_resumes(tmp_path, capsys):
    server = RangeServer(cut_first_after=300_000)
    try:
        dest = tmp_path / OFFICIAL_FILE
        argv = ["lhco", "--url", f"{server.url}/file", "--record-url", f"{server.url}/record", "--dest", str(dest),
                "--no-progress"]
        assert download.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith(f"error: download of {server.url}/file interrupted") and "resume" in err
        part = tmp_path / (OFFICIAL_FILE + ".part")
        assert not dest.exists() and part.stat().st_size == 300_000
        assert download.main(argv) == 0
        assert server.ranges == [None, "bytes=300000-"]
        assert dest.read_bytes() == PAYLOAD and not part.exists()
    finally:
        server.close()


def test_bad_url_dest_and_missing_names_are_one_line_exit_2(tmp_path, capsys):
    """27.6 and the loose ends: a --url that is no URL, a --dest that cannot be written (a file in the
    way, /proc) and `oneclass download` without a set are one line with exit status 2, before any
    network access; lhco takes no names, and without names argparse asks for the set only."""
    in_the_way = tmp_path / "file"
    in_the_way.write_text("x")
    for argv, message in [
        (["kdd", "--url", "notaurl", "--dest", str(tmp_path / "d")], "--url 'notaurl' is not a URL; give one starting "
                                                                     "with http://, https:// or file://"),
        (["lhco", "--url", (tmp_path / "x").as_uri(), "--record-url", "zenodo", "--dest", str(tmp_path / "x.h5")],
         "--record-url 'zenodo' is not a URL"),
        (["kdd", "--dest", str(in_the_way)], f"{in_the_way} is a file, not a folder; choose another --dest"),
        (["kdd", "--dest", "/proc/x"], "cannot write /proc/x/kddcup.data_10_percent.gz"),
        (["adbench", "thyroid", "--dest", str(in_the_way)], "is a file, not a folder"),
    ]:
        assert download.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, (argv, err)
    with pytest.raises(SystemExit) as exit_:
        download.main([])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("error: the following arguments are required: dataset") and "names" not in err.splitlines()[-1]
