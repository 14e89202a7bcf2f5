"""The run spec (``oneclass.run.spec.RunSpec``): the job's own settings read from the composed config
once, each checked with its one-line message, and a vectorised group's members as single-seed specs.
Pure config: nothing is trained."""

from __future__ import annotations

import dataclasses

import pytest

from oneclass.errors import ConfigError
from oneclass.run.spec import RunSpec
from conftest import compose_cfg


def spec(*overrides: str) -> RunSpec:
    return RunSpec.from_config(compose_cfg(list(overrides)))


def test_the_default_config_is_one_seed_with_the_documented_eval_settings():
    s = spec()
    assert s.seeds == (0,) and s.seed == 0 and not s.grouped and s.resume is False and s.threads is None
    assert s.eval.min_background == 10 and s.eval.on_degenerate == "warn" and s.eval.snapshot_epochs == ()
    assert s.eval.mjj_bins == 20 and s.eval.sculpting is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.resume = True  # type: ignore[misc]


def test_a_seed_group_and_its_members():
    s = spec("vectorised.seeds=[3,1,2]", "vectorised.ensemble=rank", "vectorised.calibration_events=500", "resume=true")
    assert s.grouped and s.seeds == (3, 1, 2) and s.ensemble == "rank" and s.calibration_events == 500 and s.resume
    member = s.member(1)
    assert member.seeds == (1,) and member.seed == 1 and not member.grouped and member.eval == s.eval


def test_settings_are_normalised_once():
    s = spec("eval.snapshot_epochs=[4,2,2]", "trainer.max_epochs=5", "threads=2", "eval.sculpting_efficiencies=[0.5]")
    assert s.eval.snapshot_epochs == (2, 4) and s.max_epochs == 5 and s.threads == 2 and s.eval.sculpting == (0.5,)


@pytest.mark.parametrize("override, message", [
    ("resume=maybe", "^resume must be true or false, got 'maybe'$"),
    ("seed=-1", r"^seed must be an integer in \[0, 4294967295\], got -1$"),
    ("vectorised.seeds=[0,0]", r"^vectorised.seeds must be a list of distinct integer seeds"),
    ("vectorised.seeds=[0,-1]", r"^seed must be an integer in \[0, 4294967295\], got -1$"),
    ("eval.min_background=0", "^eval.min_background must be a positive integer"),
    ("eval.signal_efficiencies=[1.5]", "^eval.signal_efficiencies must be numbers strictly between 0 and 1"),
    ("eval.on_degenerate=maybe", "^eval.on_degenerate must be warn or fail"),
    ("trainer.max_epochs=0", r"^trainer.max_epochs must be a positive integer \(epochs to train\), got 0"),
    ("eval.snapshot_epochs=[0]", "^eval.snapshot_epochs must be a list of epoch numbers >= 1"),
    ("threads=0", "^threads must be positive, got 0$"),
    ("eval.mjj_bins=abc", "^eval.mjj_bins must be an integer"),
    ("eval.mjj_bins=0", "^eval.mjj_bins must be positive, got 0$"),
])
def test_each_bad_value_is_one_line(override, message):
    with pytest.raises(ConfigError, match=message) as err:
        spec(override)
    assert "\n" not in str(err.value)


def test_vectorised_settings_are_checked_for_a_group_only():
    assert spec("vectorised.ensemble=bogus").ensemble == "standardize"  # a single-seed job does not read them
    with pytest.raises(ConfigError, match=r"^vectorised.ensemble must be one of \['standardize', 'rank', 'none'\]"):
        spec("vectorised.seeds=[0,1]", "vectorised.ensemble=bogus")
