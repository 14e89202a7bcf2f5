"""The documentation as a user meets it: README.md and docs/ build, their results tables match their
CSVs, and every shell block in them either runs (quick ones, ``<!-- test: run -->``) or composes
(``<!-- test: compose -->``: the checks ``--cfg job`` does, in-process), or says why not
(``<!-- test: skip REASON -->``)."""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MARKER = re.compile(r"^<!-- test: (?P<kind>run|compose|skip)(?P<rest>.*?)-->$")
PAGES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
PAGES = [p for p in PAGES if "_incoming" not in p.parts]


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    kind: str | None  # run | compose | skip | None (unmarked)
    rest: str  # the marker's text after its kind (run: "prints: TEXT"; skip: the reason)
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, lang = i, fence[1]
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        m = MARKER.match(lines[k].strip()) if k >= 0 else None
        out.append(Block(page, start + 1, lang, m["kind"] if m else None, (m["rest"] if m else "").strip(),
                         "\n".join(lines[start + 1:j]) + "\n"))
        i = j + 1
    return out


def shell_blocks() -> list[Block]:
    return [b for p in PAGES for b in blocks(p) if b.lang in ("bash", "sh", "shell")]


def commands(code: str) -> list[str]:
    """The command lines of a shell block: continuations joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    out = []
    for line in joined.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:  # pragma: no cover - reported by the test
            raise AssertionError(f"cannot parse {line!r}: {exc}") from None
        if words:
            out.append(line)
    return out


# --------------------------------------------------------------------------- compose checks


def _compose_run_py(argv: list[str]) -> None:
    """What ``python run.py ARGS --cfg job`` checks, without a process per line: group choices, key
    names and a..b ranges as the CLI checks them, then Hydra's composition with the first value of
    every swept override (the lower bound of an interval)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from oneclass.launch.cli import check_group_choices, check_override_keys, config_dir, translate_ranges

    conf = config_dir()
    args, skip = [], False
    for a in argv:  # Hydra's own flags: -m, and --cfg/-c, --package/-p with their value
        if skip:
            skip = False
        elif a in ("--cfg", "-c", "--package", "-p"):
            skip = True
        elif a not in ("-m", "--multirun"):
            args.append(a)
    check_group_choices(args, conf)
    args = translate_ranges(args)
    check_override_keys(args, conf)
    fixed, unswept = [], []
    for o in OverridesParser.create().parse_overrides(args):
        if not o.is_sweep_override():
            fixed.append(o.input_line)
            unswept.append(o.input_line)
            continue
        try:
            first = next(iter(o.sweep_string_iterator()))
        except Exception:  # an interval (Optuna's search space): its lower bound
            first = str(o.value().start)
        fixed.append(f"{o.get_key_element()}={first}")
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="config", overrides=fixed, return_hydra_config=True)
        if "-m" in argv or "--multirun" in argv:  # Hydra composes a multirun first without its sweeps
            compose(config_name="config", overrides=unswept, return_hydra_config=True)
    assert cfg.model._target_ and cfg.dataset._target_


def _check_subcommand(name: str, argv: list[str]) -> None:
    if name == "report":
        from oneclass.report.cli import build_parser

        build_parser().parse_args(argv)
    elif name == "download":
        from oneclass.data.download import parser

        parser().parse_args(argv)
    elif name == "score":
        from oneclass.launch.scoring import parser

        parser().parse_args(argv)
    elif name == "runs":
        from oneclass.launch.runs import build_parser

        build_parser().parse_args(argv)
    else:
        raise AssertionError(f"unknown oneclass subcommand {name!r}")


def _check_script(path: str, argv: list[str]) -> None:
    script = ROOT / path
    assert script.is_file(), f"{path} does not exist"
    text = script.read_text()
    for flag in (a.split("=")[0] for a in argv if a.startswith("--")):
        assert f'"{flag}"' in text or f"'{flag}'" in text, f"{path} has no option {flag}"


def check_command(line: str, env: dict[str, str]) -> None:
    words = shlex.split(os.path.expandvars(line) if "$" in line else line, comments=True)
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):  # VAR=value (a prefix or a line of its own)
        key, _, value = words.pop(0).partition("=")
        env[key] = os.environ[key] = value
    if not words:
        return
    head, argv = words[0], words[1:]
    if head == "python" and argv and argv[0] == "run.py":
        _compose_run_py(argv[1:])
    elif head == "oneclass" and argv and argv[0] in ("report", "download", "score", "runs"):
        _check_subcommand(argv[0], argv[1:])
    elif head == "oneclass":
        _compose_run_py(argv)
    elif head == "python" and argv[:2] == ["-m", "oneclass.report"]:
        _check_subcommand("report", argv[2:])
    elif head == "python" and argv and argv[0].startswith("benchmarks/"):
        _check_script(argv[0], argv[1:])
    elif head == "bash" and argv and argv[0].startswith("benchmarks/"):
        assert (ROOT / argv[0]).is_file(), f"{argv[0]} does not exist"
    elif head == "make":
        makefile = (ROOT / "Makefile").read_text()
        for target in (a for a in argv if "=" not in a):
            assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"make has no target {target}"
    else:
        raise AssertionError(f"no compose check for {head!r}: mark the block <!-- test: skip REASON --> or run it")


def test_every_shell_block_says_how_it_is_tested():
    unmarked = [b.where for b in shell_blocks() if b.kind is None]
    assert not unmarked, f"shell blocks without a <!-- test: run|compose|skip REASON --> marker: {unmarked}"
    no_reason = [b.where for b in shell_blocks() if b.kind == "skip" and not b.rest]
    assert not no_reason, f"skip markers need a reason: {no_reason}"
    assert sum(b.kind == "run" for b in shell_blocks()) >= 2


def test_compose_blocks_compose(monkeypatch):
    """Every command of every compose and run block passes the CLI's checks and composes."""
    checked = 0
    for b in shell_blocks():
        if b.kind not in ("compose", "run") or "exits:" in b.rest:  # a block that shows a refusal
            continue
        env: dict[str, str] = {}
        for line in commands(b.code):
            try:
                check_command(line, env)
            except SystemExit as exc:  # argparse refusing the arguments
                raise AssertionError(f"{b.where}: {line!r} refused (exit {exc.code})") from None
            except Exception as exc:
                raise AssertionError(f"{b.where}: {line!r}: {exc}") from exc
            checked += 1
        for key in env:
            monkeypatch.delenv(key, raising=False)
    assert checked > 40


def test_a_bad_command_fails_the_compose_check():
    """The check can fail: a wrong key, group choice or subcommand option is refused."""
    for line in ("python run.py model=ocdnn", "python run.py -m model.lrr=1e-3 seed=0..2",
                 "oneclass report --no-such-option", "oneclass runs --no-such-option",
                 "python benchmarks/bench_tabular.py --no-such-option",
                 "mlflow ui"):
        with pytest.raises((AssertionError, SystemExit, Exception)):
            check_command(line, {})


@pytest.mark.system
@pytest.mark.slow
def test_run_blocks_run_and_print_what_they_claim(tmp_path, new_store):
    """The quick blocks, as a user types them in a fresh folder (``python`` is this interpreter,
    ``run.py`` the checkout's): exit status 0 (or ``exits: N`` of the marker), and ``prints: TEXT`` of
    the marker in the output."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, args in (("python", ""), ("oneclass", " -m oneclass.launch.cli")):  # scripts: a symlink would lose the venv
        (bindir / name).write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)}{args} \"$@\"\n")
        (bindir / name).chmod(0o755)
    shutil.copy(ROOT / "run.py", tmp_path / "run.py")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("MLFLOW_TRACKING_URI", None)
    ran = 0
    for b in shell_blocks():
        if b.kind != "run":
            continue
        new_store(tmp_path)
        proc = subprocess.run(["bash", "-e", "-c", b.code], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        output = f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        expected = int(m[1]) if (m := re.search(r"exits: (\d+)", b.rest)) else 0
        assert proc.returncode == expected, f"{b.where} exited {proc.returncode}, not {expected}:\n{output}"
        for claim in re.findall(r"prints: (.+?)(?:;|$)", b.rest):
            assert claim.strip() in proc.stdout + proc.stderr, f"{b.where}: output lacks {claim.strip()!r}"
        ran += 1
    assert ran >= 3


# --------------------------------------------------------------------------- results pages


def test_results_pages_match_their_csvs():
    sys.path.insert(0, str(DOCS))
    try:
        import gen_results
    finally:
        sys.path.remove(str(DOCS))
    pages = gen_results.pages()
    assert len(pages) >= 5
    named = set()
    for page in pages:
        text = page.read_text()
        named |= set(re.findall(r"<!-- results: ([\w.-]+\.csv) -->", text))
        stale = f"{page} differs from its CSVs: python docs/gen_results.py"
        assert gen_results.update(text, page.parent) == text, stale
    assert named == {p.name for p in gen_results.DATA.glob("*.csv")}, "a CSV no page shows, or a page naming no CSV"
    for path in gen_results.DATA.glob("*.csv"):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows and all(r["machine"] and r["date"] and r["command"] for r in rows), path
        if "detector" in list(rows[0])[1:]:  # the long layout holds numbers, not printed cells
            values = list(rows[0])[list(rows[0]).index("detector") + 1:]
            for r in rows:
                for v in values:
                    if v not in ("machine", "load", "date", "command") and r[v]:
                        float(r[v])


def test_a_changed_csv_cell_makes_its_page_stale(tmp_path):
    sys.path.insert(0, str(DOCS))
    try:
        import gen_results
    finally:
        sys.path.remove(str(DOCS))
    page = DOCS / "results" / "lhco.md"
    data = tmp_path / "data"
    shutil.copytree(gen_results.DATA, data)
    rows = (data / "lhco_paper.csv").read_text().replace("0.643 [0.434, 0.776]", "0.999 [0.434, 0.776]")
    (data / "lhco_paper.csv").write_text(rows)
    text = page.read_text()
    assert "0.643 [0.434, 0.776]" in text
    new = gen_results.update(text, page.parent, data)
    assert new != text and "0.999 [0.434, 0.776]" in new
    # a long CSV: one cell's mean
    page = DOCS / "results" / "tabular.md"
    long = (data / "tabular_auroc.csv").read_text()
    assert long.count(",pyod_iforest,98.8,0.1,") == 1
    (data / "tabular_auroc.csv").write_text(long.replace(",pyod_iforest,98.8,0.1,", ",pyod_iforest,12.3,0.1,"))
    text = page.read_text()
    assert "| thyroid (nrcan, 5) | 98.8 ± 0.1 |" in text
    assert "| thyroid (nrcan, 5) | 12.3 ± 0.1 |" in gen_results.update(text, page.parent, data)


def test_the_chooser_cites_only_measured_numbers():
    numbers = set()
    for path in (DOCS / "results" / "data").glob("*.csv"):
        numbers.update(re.findall(r"\d+\.\d+", path.read_text()))
    table = [line for line in (DOCS / "chooser.md").read_text().splitlines()
             if line.startswith("|") and not line.startswith("|---")]
    cited = re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", "\n".join(table))
    assert len(cited) > 20
    assert not [n for n in cited if n not in numbers], "numbers in chooser.md that no results CSV holds"


# --------------------------------------------------------------------------- the site and the README


def test_readme_is_short_and_links_into_the_docs():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert "make run" in text and "make test" in text
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).is_file(), f"README links to a missing page {link}"


@pytest.mark.system
@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    """``mkdocs build --strict`` (what ``make docs`` runs): no broken link, every API page builds."""
    import importlib.util

    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        pytest.fail("MkDocs is not installed: pip install -e '.[docs]' (part of the dev extra `make test` installs)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site"),
                           "--config-file", str(ROOT / "mkdocs.yml")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "site" / "api" / "index.html").is_file()
    assert "LightningDetector" in (tmp_path / "site" / "api" / "index.html").read_text()
    assert (tmp_path / "site" / "figures" / "roc_sic_mean.png").is_file()


def test_the_adapter_snippet_is_a_detector():
    """docs/extending.md's adapter, as written: fits, scores higher away from the training data."""
    import numpy as np

    from oneclass.models.base import Detector

    (code,) = [b.code for b in blocks(DOCS / "extending.md") if b.lang == "python" and "class MyKNN" in b.code]
    namespace: dict = {}
    exec(compile(code, "docs/extending.md adapter", "exec"), namespace)
    rng = np.random.default_rng(0)
    det = namespace["MyKNN"](input_shape=(3,)).fit(rng.normal(size=(200, 3)).astype("float32"))
    assert isinstance(det, Detector)
    scores = det.score(np.array([[0, 0, 0], [8, 8, 8]], dtype="float32"))
    assert scores.dtype == np.float64 and scores.shape == (2,) and scores[1] > scores[0]


def test_the_model_and_net_snippet_trains_and_scores():
    """docs/extending.md's network and detector, as written: one epoch on random images, and on flat
    rows with the default MLP; scores follow the contract."""
    import functools

    import lightning as L
    import numpy as np

    (code,) = [b.code for b in blocks(DOCS / "extending.md") if b.lang == "python" and "class MyModel" in b.code]
    namespace: dict = {}
    exec(compile(code, "docs/extending.md model", "exec"), namespace)
    rng = np.random.default_rng(0)
    for shape, net in (((1, 8, 8), functools.partial(namespace["MyConvNet"], rep_dim=4)), ((3,), None)):
        model = namespace["MyModel"](input_shape=shape, net=net, batch_size=16)
        trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False)
        model.fit(rng.normal(size=(64, *shape)).astype("float32"), trainer=trainer)
        scores = model.score(rng.normal(size=(10, *shape)).astype("float32"))
        assert scores.shape == (10,) and scores.dtype == np.float64 and np.isfinite(scores).all()


def test_the_dataset_snippet_loads_a_one_class_split(tmp_path):
    """docs/extending.md's dataset, as written, on a small .npz: background-only training rows,
    held-out background plus every anomaly in the test set, scaled with training statistics."""
    import numpy as np

    (code,) = [b.code for b in blocks(DOCS / "extending.md") if b.lang == "python" and "class MyData" in b.code]
    namespace: dict = {}
    exec(compile(code, "docs/extending.md dataset", "exec"), namespace)
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(90), np.ones(10)].astype(int)
    np.savez(tmp_path / "my.npz", x=rng.normal(size=(100, 4)) + 3 * labels[:, None], labels=labels)
    bundle = namespace["MyData"](path=str(tmp_path / "my.npz"), n_train=60, n_test_background=30).load(seed=0)
    assert bundle.x_train.shape == (60, 4) and bundle.x_test.shape == (40, 4)
    assert bundle.y_test.sum() == 10 and bundle.x_train.dtype == np.float32
    assert abs(bundle.x_train.mean()) < 1e-5  # standardised with the training rows' statistics


def test_every_python_block_is_one_a_test_runs():
    """The docs' Python blocks are the four snippets executed by the tests above and by
    tests/test_user_view.py (the MLflow recipe): a new block needs a test of its own."""
    tested = ("class MyModel", "class MyData", "class MyKNN", "mlflow.search_runs")
    python = [b for p in PAGES for b in blocks(p) if b.lang == "python"]
    untested = [b.where for b in python if not any(t in b.code for t in tested)]
    assert not untested, f"Python blocks no test runs: {untested}"
    assert len(python) == 4
