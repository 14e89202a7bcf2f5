"""The MLflow UI as a user sees it: `mlflow ui` on a loopback port, rendered by headless Chromium
(Debian's chromium package; .ci/run installs it). The runs table our link opens shows the main
metric without clicking "show more columns", in the machine-learning view."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from oneclass.run.engine import JobInfo, run
from oneclass.tracking import LOCAL_UI, MlflowTracker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (Debian's package; .ci/run installs it)")
    return found


@pytest.mark.system
@pytest.mark.slow
def test_the_runs_table_shows_test_auc_in_headless_chromium(cfg_factory, tmp_path, new_store):
    browser = _chromium()
    new_store(tmp_path)
    for seed in (0, 1):
        run(cfg_factory("model=logreg", f"seed={seed}"), JobInfo(output_dir=tmp_path / f"job{seed}", launch_dir=tmp_path,
                                                                 multirun=True, job_num=seed, sweep_id="ui-1",
                                                                 overrides=[f"seed={seed}"], choices={"model": "logreg"}))
    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", db, "--host", "127.0.0.1",
                               "--port", str(port), "--workers", "1"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                pytest.fail(f"mlflow ui did not start on {base}")
            time.sleep(0.5)
        # the link a sweep prints at its end (the runs table with our columns), against this UI
        tracker = MlflowTracker(tracking_uri=db, experiment_name="gaussian", root_dir=tmp_path)
        tracker.prepare()
        printed = tracker.describe("ui-1")
        link = printed[printed.index(LOCAL_UI):].split(" (start the UI", 1)[0].replace(LOCAL_UI, base)
        assert "workflowType=machine_learning" in link and "viewStateShareKey=" in link
        profile = tmp_path / "chromium-profile"
        shown = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                f"--user-data-dir={profile}", "--virtual-time-budget=30000", "--window-size=1600,900",
                                "--dump-dom", link], capture_output=True, text=True, timeout=180)
        dom = shown.stdout
        shot = tmp_path / "runs.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        f"--user-data-dir={profile}", "--virtual-time-budget=30000", "--window-size=1600,900",
                        f"--screenshot={shot}", link], capture_output=True, text=True, timeout=180)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert "logreg-gaussian-seed0" in dom and "logreg-gaussian-seed1" in dom, (link, shown.stderr[-2000:])
    assert "test_auc" in dom and "test_aupr" in dom  # columns of the rendered table, not behind "show more columns"
    assert "Machine learning" in dom or "Model training" in dom
    assert shot.is_file() and shot.stat().st_size > 10_000
