"""`oneclass download mnist|fashion_mnist|cifar10|kdd|adbench|nsl_kdd` against file:// mirrors
written here (or the real files in shared/data): published md5s, content checks where no checksum
is published, atomic writes, and one-line errors."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from oneclass.launch import cli
from oneclass.data import download
from oneclass.data.images import load_idx_split, read_cifar10
from oneclass.data.kdd import read_nsl_kdd
from oneclass.data.tabular import read_npz
from image_files import cifar_tar, write_mnist
from test_tabular import KDD_ROWS


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def run(*argv: str) -> int:
    return download.main([*argv, "--no-progress"])


def last_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ")
    return err[-1]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def with_md5s(monkeypatch, name: str, mirror: Path) -> None:
    """Point BUNDLES[name]'s md5s at the mirror's files (synthetic data cannot have the official md5s)."""
    bundle = download.BUNDLES[name]
    monkeypatch.setitem(download.BUNDLES, name, dataclasses.replace(
        bundle, files={f: md5(mirror / f) for f in bundle.files}))


# ------------------------------------------------------------------------------------- images


def test_mnist_from_a_mirror(tmp_path, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    data = write_mnist(mirror)
    with_md5s(monkeypatch, "mnist", mirror)
    dest = tmp_path / "out"
    assert run("mnist", "--url", mirror.as_uri(), "--dest", str(dest)) == 0
    assert listing(dest) == sorted(download.BUNDLES["mnist"].files)
    x, y = load_idx_split(dest, "test")
    np.testing.assert_array_equal(x, data["test"][0])
    before = [p.stat().st_mtime_ns for p in sorted(dest.iterdir())]
    assert run("mnist", "--url", mirror.as_uri() + "/", "--dest", str(dest)) == 0  # verified: left alone
    assert [p.stat().st_mtime_ns for p in sorted(dest.iterdir())] == before
    assert "is already there and matches md5" in capsys.readouterr().err


def test_official_md5s_reject_other_files(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    write_mnist(mirror)
    dest = tmp_path / "out"
    assert run("mnist", "--url", mirror.as_uri(), "--dest", str(dest)) == 2
    err = last_error(capsys)
    got = md5(mirror / "train-images-idx3-ubyte.gz")
    assert err == (f"error: checksum mismatch for {(mirror / 'train-images-idx3-ubyte.gz').as_uri()}: md5 {got}, the "
                   f"published MNIST md5 list lists f68b3c2dcbeaaa9fbdd348bbdeb94873; the download was discarded and "
                   f"{dest / 'train-images-idx3-ubyte.gz'} not written; run the command again (or check --url / --record-url)")
    assert listing(dest) == []  # no file, no .part


def test_official_mnist_test_files_match_the_published_md5s(shared_data, tmp_path, monkeypatch):
    """The shared t10k files are the official downloads: they pass the built-in md5s unchanged."""
    folder = shared_data("mnist")
    bundle = download.BUNDLES["mnist"]
    monkeypatch.setitem(download.BUNDLES, "mnist", dataclasses.replace(
        bundle, files={f: m for f, m in bundle.files.items() if f.startswith("t10k")}))
    assert run("mnist", "--url", folder.as_uri(), "--dest", str(tmp_path)) == 0
    assert load_idx_split(tmp_path, "test")[0].shape == (10000, 28, 28)


def test_fashion_mnist_default_destination(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    write_mnist(mirror, seed=1)
    with_md5s(monkeypatch, "fashion_mnist", mirror)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONECLASS_DATA_DIR", "store")
    monkeypatch.setenv("ONECLASS_FASHION_MNIST_URL", mirror.as_uri())
    with pytest.raises(SystemExit) as exit_:
        cli.main(["download", "fashion_mnist", "--no-progress"])  # `oneclass download fashion_mnist`
    assert exit_.value.code == 0
    assert listing(tmp_path / "store" / "fashion-mnist") == sorted(download.BUNDLES["fashion_mnist"].files)


def test_a_checksummed_file_that_is_no_idx_is_discarded(tmp_path, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    write_mnist(mirror)
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"<html>moved</html>"))
    with_md5s(monkeypatch, "mnist", mirror)
    dest = tmp_path / "out"
    assert run("mnist", "--url", mirror.as_uri(), "--dest", str(dest)) == 2
    err = last_error(capsys)
    assert "is not the expected file (" in err and "wrong magic number" in err and "the download was discarded" in err
    assert "t10k-labels-idx1-ubyte.gz" not in listing(dest) and not any(n.endswith(".part") for n in listing(dest))


def test_cifar10_from_a_mirror_and_mismatch(tmp_path, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    cifar_tar(mirror / "cifar-10-python.tar.gz")
    dest = tmp_path / "out"
    assert run("cifar10", "--url", mirror.as_uri(), "--dest", str(dest)) == 2
    assert "the CIFAR-10 page lists c58f30108f718f92721af3b95e74349a" in last_error(capsys)
    assert listing(dest) == []
    with_md5s(monkeypatch, "cifar10", mirror)
    # --url may also name the file itself
    assert run("cifar10", "--url", (mirror / "cifar-10-python.tar.gz").as_uri(), "--dest", str(dest)) == 0
    assert read_cifar10(dest / "cifar-10-python.tar.gz", "train")[0].shape == (30, 3, 32, 32)


# ------------------------------------------------------------------------------------- tabular


def test_kdd_official_file_passes_the_published_md5(shared_data, tmp_path):
    src = shared_data("kdd/kddcup.data_10_percent.gz")
    assert run("kdd", "--url", src.parent.as_uri(), "--dest", str(tmp_path)) == 0
    assert md5(tmp_path / "kddcup.data_10_percent.gz") == "c421989ff187d340c1265ac3080a3229"


def test_kdd_mismatch(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "kddcup.data_10_percent.gz").write_bytes(gzip.compress(("\n".join(KDD_ROWS) + "\n").encode()))
    assert run("kdd", "--url", mirror.as_uri(), "--dest", str(tmp_path / "out")) == 2
    assert "oneclass's record of the official UCI file lists c421989ff187d340c1265ac3080a3229" in last_error(capsys)
    assert listing(tmp_path / "out") == []


def test_adbench_from_the_shared_files(shared_data, tmp_path, capsys):
    mirror = shared_data("adbench")
    assert run("adbench", "thyroid", "6_cardio", "--url", mirror.as_uri(), "--dest", str(tmp_path)) == 0
    assert listing(tmp_path) == ["38_thyroid.npz", "6_cardio.npz"]
    assert "no published checksum: the content is checked instead" in capsys.readouterr().err
    assert read_npz(tmp_path / "38_thyroid.npz").y.sum() == 93
    assert run("adbench", "38", "--url", mirror.as_uri(), "--dest", str(tmp_path)) == 0
    assert "38_thyroid.npz is already there and passes the content check" in capsys.readouterr().err


def test_adbench_wrong_content_is_discarded_and_replaced(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    y = np.r_[np.ones(92), np.zeros(3680)]
    np.savez(mirror / "38_thyroid.npz", X=np.zeros((3772, 6)), y=y)
    dest = tmp_path / "out"
    assert run("adbench", "thyroid", "--url", mirror.as_uri(), "--dest", str(dest)) == 2
    err = last_error(capsys)
    assert "is not the expected file (" in err and "ADBench publishes 3772 x 6 with 93 for 38_thyroid" in err
    assert listing(dest) == []
    y[0] = 0
    y[-1] = 1
    y[-2] = 1  # 93 anomalies
    np.savez(mirror / "38_thyroid.npz", X=np.zeros((3772, 6)), y=y)
    dest.mkdir(exist_ok=True)
    (dest / "38_thyroid.npz").write_bytes(b"broken")  # an existing file that fails the check is fetched again
    assert run("adbench", "thyroid", "--url", mirror.as_uri(), "--dest", str(dest)) == 0
    assert "exists but does not verify; downloading again" in capsys.readouterr().err
    assert read_npz(dest / "38_thyroid.npz").y.sum() == 93


@pytest.mark.parametrize("argv, message", [
    (["adbench"], "name the ADBench set(s) to download, e.g. `oneclass download adbench thyroid`; known: 1_ALOI"),
    (["adbench", "thyriod"], "unknown ADBench set 'thyriod'; known: 1_ALOI"),
    (["mnist", "thyroid"], "extra argument(s) thyroid: only `oneclass download adbench` takes names"),
    (["cifar10", "--record-url", "file:///x"], "--record-url is for lhco only"),
])
def test_bad_arguments(tmp_path, capsys, argv, message):
    assert run(*argv, "--dest", str(tmp_path)) == 2
    assert message in last_error(capsys)


def nsl_zip(path: Path, train_rows: int, test_rows: int, prefix: str = "NSL-KDD/") -> None:
    rows = [r.rstrip(".") + ",21" for r in KDD_ROWS]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(prefix + "KDDTrain+.txt", "\n".join((rows * 10)[:train_rows]) + "\n")
        z.writestr(prefix + "KDDTest+.txt", "\n".join((rows * 10)[:test_rows]) + "\n")
        z.writestr(prefix + "index.html", "<html></html>")


def test_nsl_kdd_zip_extracted_with_row_counts(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(download, "NSL_KDD_ROWS", {"KDDTrain+.txt": 8, "KDDTest+.txt": 3})
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    nsl_zip(mirror / "NSL-KDD.zip", 8, 2)
    dest = tmp_path / "out"
    assert run("nsl_kdd", "--url", mirror.as_uri(), "--dest", str(dest)) == 2
    err = last_error(capsys)
    assert "cannot extract KDDTest+.txt" in err and "2 rows, the published NSL-KDD KDDTest+.txt has 3" in err
    assert "KDDTest+.txt" not in listing(dest) and not any(n.endswith(".part") for n in listing(dest))
    nsl_zip(mirror / "NSL-KDD.zip", 8, 3)
    assert run("nsl_kdd", "--url", mirror.as_uri(), "--dest", str(dest), "--force") == 0
    table = read_nsl_kdd(dest / "KDDTrain+.txt")
    assert table.x.shape[0] == 8 and table.y.tolist() == [0, 1, 0, 1] * 2
    assert run("nsl_kdd", "--url", "file:///nowhere", "--dest", str(dest)) == 0  # both files verify: no download
    assert "already there with the published row counts" in capsys.readouterr().err


def test_nsl_kdd_zip_without_the_files(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "NSL-KDD.zip", "w") as z:
        z.writestr("readme.txt", "nothing here")
    assert run("nsl_kdd", "--url", mirror.as_uri(), "--dest", str(tmp_path / "out")) == 2
    assert "the archive holds no KDDTrain+.txt, KDDTest+.txt" in last_error(capsys)
    assert listing(tmp_path / "out") == []
