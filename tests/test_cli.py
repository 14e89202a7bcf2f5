"""Command-line handling: `key=a..b` ranges and one-line errors for bad names."""

import subprocess
import sys
from pathlib import Path

import pytest

from oneclass.launch.cli import check_group_choices, check_override_keys, config_dir, translate_ranges
from oneclass.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "arg, expected",
    [
        ("seed=0..9", "seed=range(0,10)"),
        ("seed=3..3", "seed=range(3,4)"),
        ("seed=-2..1", "seed=range(-2,2)"),
        ("+extra.n=1..2", "+extra.n=range(1,3)"),
        ("model.hidden.0=16..18", "model.hidden.0=range(16,19)"),
    ],
)
def test_integer_ranges_become_hydra_ranges(arg, expected):
    assert translate_ranges([arg]) == [expected]


@pytest.mark.parametrize(
    "arg",
    ["-m", "--cfg", "job", "-sc", "install=bash", "seed=range(0,10)", "seed=0,1,2", "model=ocdn,logreg",
     "dataset.path=../shared/data/lhco/x.npy", "dataset.path=..", "hydra.sweep.dir=a..b/c", "name=foo..bar"],
)
def test_everything_else_is_left_untouched(arg):
    assert translate_ranges([arg]) == [arg]


@pytest.mark.parametrize("arg", ["seed=0..x", "seed=a..9", "seed=0..", "seed=1.5..3"])
def test_non_integer_range_is_an_error(arg):
    with pytest.raises(ConfigError, match="two integers"):
        translate_ranges([arg])


def test_reversed_range_is_an_error():
    with pytest.raises(ConfigError, match="empty range"):
        translate_ranges(["seed=9..0"])


def test_unknown_group_option_names_the_available_ones():
    with pytest.raises(ConfigError, match=r"unknown model 'ocdnn'; available: .*logreg.*ocdn"):
        check_group_choices(["model=ocdnn"], config_dir())
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        check_group_choices(["-m", "model=ocdn,nope"], config_dir())
    check_group_choices(["model=ocdn,logreg", "trainer.max_epochs=3", "hydra/launcher=basic"], config_dir())
    # presets in family folders are named by their path, several at once by a list
    check_group_choices(["-m", "experiment=lhco/ocdn,ruff/deepsvdd_mnist", "experiment=[lhco/ocdn,lhco/bb1]"], config_dir())
    with pytest.raises(ConfigError, match=r"unknown experiment 'lhco_ocdn'; available: .*lhco/ocdn.*nrcan/ae"):
        check_group_choices(["experiment=lhco_ocdn"], config_dir())


def _run(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.system
@pytest.mark.parametrize(
    "args, message",
    [
        (["model=nosuch"], "error: unknown model 'nosuch'"),
        (["-m", "seed=0..x"], "error: in 'seed=0..x': a..b ranges need two integers"),
        (["seed=abc", "logger=none"], "error: seed must be an integer, got 'abc'"),
        (["model.batch_size=-4", "logger=none"], "error: model.batch_size must be positive, got -4"),
        (["dataset.signal_mean=abc", "logger=none"], "error: dataset.signal_mean must be a number, got 'abc'"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, args, message):
    proc = _run(*args, cwd=tmp_path)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert lines[-1].startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.system
def test_unknown_config_key_fails_fast(tmp_path):
    proc = _run("trainer.max_epoch=5", cwd=tmp_path)
    assert proc.returncode != 0
    assert "max_epoch" in proc.stderr and "Traceback" not in proc.stderr


def test_one_helper_gives_the_first_line_of_every_error():
    """errors.first_line is the one "first line of an exception" helper; the download and sweep
    wrappers only add urllib's ``reason`` and a shortened long path."""
    from urllib.error import URLError

    from oneclass.launch import sweep
    from oneclass.data import fetch
    from oneclass.errors import first_line

    assert first_line(ValueError("\n  bad value\nsecond line")) == "bad value"
    assert first_line(KeyError()) == "KeyError"
    assert fetch.error_text(URLError(ConnectionRefusedError(111, "Connection refused"))) == \
        "[Errno 111] Connection refused"
    long_path = "/tmp/" + "a" * 5000
    shown = sweep._first_line(OSError(36, "File name too long", long_path))
    assert shown.startswith("File name too long: /tmp/aaa") and shown.endswith("(5005 characters)")
    copies = [str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py")
              if "splitlines()[0] if" in p.read_text() and p.name != "errors.py"]
    assert copies == [], f"use oneclass.errors.first_line instead of a copy in {copies}"


def test_keys_of_a_nested_group_chosen_on_the_command_line_are_known():
    """model/scheduler=multistep composes the scheduler in: its milestones and gamma are valid keys."""
    conf = config_dir()
    check_override_keys(["model/scheduler=multistep", "model.scheduler.milestones=[5]", "model.scheduler.gamma=0.5"], conf)
    with pytest.raises(ConfigError, match=r"unknown key 'model.scheduler.milestone' .* \(model/scheduler=multistep\), "
                                          r"closest first: milestones, gamma"):
        check_override_keys(["model/scheduler=multistep", "model.scheduler.milestone=[5]"], conf)


@pytest.mark.parametrize("arg, reason", [("seed=(", "extraneous input '('"), ("a=[1,2", "no viable alternative at input '[1,2'")])
def test_bad_override_grammar_is_one_line_naming_the_override(arg, reason):
    with pytest.raises(ConfigError) as err:
        check_override_keys(["logger=none", arg], config_dir())
    text = str(err.value)
    assert text.startswith(f"cannot parse the override '{arg}': {reason}; check its brackets and quotes") and "\n" not in text


@pytest.mark.system
def test_help_lists_the_subcommands_and_an_unknown_one_exits_2_in_one_line(tmp_path):
    help_out = subprocess.run([sys.executable, str(ROOT / "run.py"), "--help"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
    assert help_out.returncode == 0, help_out.stderr[-2000:]
    for sub in ("report", "runs", "score", "download"):
        assert f"\n  {sub} " in help_out.stdout
    assert "== Configuration groups ==" in help_out.stdout  # Hydra's own help follows
    bad = subprocess.run([sys.executable, str(ROOT / "run.py"), "reprot", "--sweep", "x"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "error: unknown subcommand 'reprot'; did you mean `oneclass report`? subcommands: report, runs, score, "
        "download; or give overrides as key=value (oneclass --help)"]


def test_runs_lists_a_sweeps_runs_with_status_and_metrics(tmp_path, new_store, capsys, monkeypatch):
    from mlflow.tracking import MlflowClient

    from oneclass.launch.cli import main

    db = new_store(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    client = MlflowClient(f"sqlite:///{db}")
    exp = client.create_experiment("gaussian")
    ids = {}
    for sweep, num, status, auc in (("old-1", 0, "FINISHED", 0.5), ("new-2", 0, "FINISHED", 0.88271),
                                    ("new-2", 1, "FAILED", None)):
        run = client.create_run(exp, run_name=f"ocdn-gaussian-seed{num}",
                                tags={"sweep_id": sweep, "job_num": str(num), "overrides": f"seed={num}"})
        if auc is not None:
            client.log_metric(run.info.run_id, "test_auc", auc)
        client.set_terminated(run.info.run_id, status=status)
        ids[(sweep, num)] = run.info.run_id
    with pytest.raises(SystemExit) as done:
        main(["runs", "--metric", "test_auc"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "sweep new-2: 2 runs (1 failed, 1 finished)"
    assert lines[1].split() == ["run", "status", "overrides", "test_auc", "run", "id"]
    assert lines[2].split() == ["ocdn-gaussian-seed0", "FINISHED", "seed=0", "0.8827", ids[("new-2", 0)]]
    assert lines[3].split() == ["ocdn-gaussian-seed1", "FAILED", "seed=1", "-", ids[("new-2", 1)]]
    with pytest.raises(SystemExit) as done:
        main(["runs", "--sweep", "old-1", "--metric", "nope"])
    assert done.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --metric nope: no selected run has it; available: test_auc"
