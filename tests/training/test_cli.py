"""The command line generated from the config dataclasses."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from htr.errors import ConfigError
from training.config import REAL_TRAIN
from training.train import main, parse_config
from training.val_sets import REAL_VAL_SETS


def test_flags_override_the_preset():
    cfg = parse_config(
        [
            "--preset",
            "full",
            "--max-time",
            "00:00:01:00",
            "--data.batch_size",
            "8",
            "--model.channels",
            "16,32,64",
            "--model.depth",  # the preset's depth has one count per width of its own channels
            "1,2,2",
            "--trainer.strategy",
            "ddp",
            "--trainer.devices",
            "2",
        ]
    )
    assert cfg.data.batch_size == 8 and cfg.model.channels == (16, 32, 64)
    assert cfg.model.depth == (1, 2, 2)
    assert cfg.trainer.max_time == "00:00:01:00"
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == "2"
    # every real val set, named as training.val_sets reads them: the headline mean is logged
    assert {s.name for s in cfg.data.sources if s.split == "val"} == set(REAL_VAL_SETS)
    assert {s.name for s in cfg.data.sources if s.split != "val"} == {"synthetic", *REAL_TRAIN}


def test_yaml_file_then_flags(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "optim": {"lr": 0.01},
                "data": {
                    "sources": [
                        {"uri": "synthetic", "weight": 1},
                        {"uri": "x/*.tar", "split": "val"},
                    ]
                },
            }
        )
    )
    cfg = parse_config(["--config", str(f), "--optim.lr", "0.02"])
    assert cfg.optim.lr == 0.02
    assert [s.split for s in cfg.data.sources] == ["auto", "val"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--trainer.precision", "fp8"], "trainer.precision='fp8'; choose from ('32-true'"),
        (["--model.sequence", "gru"], "model.sequence='gru'; choose from ('conv'"),
        (["--log.wandb", "cloud"], "log.wandb='cloud'; choose from ('offline', 'online'"),
        (["--resume", "sometimes"], "resume='sometimes'; choose from ('auto'"),
        (["--data.batch_size", "many"], "data.batch_size='many' is not a valid int"),
        (["--preset", "huge"], "preset='huge'; choose from ('quick', 'full', 'gpu')"),
    ],
)
def test_bad_values_fail_naming_the_key_and_the_choices(argv, needle, caplog):
    with pytest.raises(ConfigError, match="choose from|not a valid"):
        parse_config(argv)
    with caplog.at_level(logging.ERROR):
        assert main(argv) == 2
    assert needle in caplog.text


def test_unknown_key_in_yaml_lists_the_valid_ones(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("data:\n  batchsize: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['batchsize'\].*'batch_size'"):
        parse_config(["--config", str(f)])


def test_mismatched_heights_are_refused(tiny):
    with pytest.raises(ConfigError, match="model.height=40 but data.height=32"):
        tiny(model__height=40).check()


def test_resuming_with_another_network_is_refused(tiny):
    from training.train import train

    train(tiny(trainer__max_steps=2))
    with pytest.raises(ConfigError, match=r"other model settings \(\['hidden'\]\)"):
        train(tiny(trainer__max_steps=4, model__hidden=48))


RUNS = Path(__file__).resolve().parents[2] / "experiments" / "runs"


def test_there_are_recorded_runs():
    assert len(list(RUNS.glob("*.yaml"))) >= 2


@pytest.mark.parametrize("path", sorted(RUNS.glob("*.yaml")), ids=lambda p: p.name)
def test_recorded_runs_still_parse(path):
    """The commands experiments/training-runs.md gives (`--preset full --config
    experiments/runs/X.yaml`) still run: every key in the recorded overrides exists and is valid."""
    cfg = parse_config(["--preset", "full", "--config", str(path)])
    assert cfg.log.name == path.stem


@pytest.mark.parametrize(("val", "test"), [(-0.1, 0.1), (0.1, 1.2), (0.6, 0.5)])
def test_document_shares_out_of_range_name_the_keys(val, test):
    from htr.errors import ConfigError
    from training.config import preset

    cfg = preset("full")
    cfg.data.val_fraction, cfg.data.test_fraction = val, test
    pattern = rf"val_fraction={val}, data\.test_fraction={test}.*at most 1"
    with pytest.raises(ConfigError, match=pattern):
        cfg.check()


def test_a_saved_config_with_a_removed_option_at_its_default_still_loads():
    from htr.errors import ConfigError
    from training.cli import to_dict
    from training.config import from_saved, preset

    saved = to_dict(preset("full"))
    saved["model"].update(frames=1, dilation=[])
    saved["data"].update(real_warp=0.0, real_band=0.0)
    assert from_saved(saved) == preset("full")
    saved["data"]["real_band"] = 0.15
    with pytest.raises(ConfigError, match=r"data\.real_band=0\.15 was removed.*git checkout"):
        from_saved(saved)


def test_a_run_saved_with_removed_options_at_their_defaults_resumes(tiny):
    import torch

    from training.train import resume_path, train

    cfg = tiny(trainer__max_steps=2)
    train(cfg)
    last = Path(cfg.log.root) / cfg.log.name / "checkpoints" / "last.ckpt"
    saved = torch.load(last, map_location="cpu", weights_only=False)
    saved["htr"]["config"]["model"].update(frames=1, dilation=[])  # as older versions wrote
    torch.save(saved, last)
    assert resume_path(tiny(trainer__max_steps=4), last) == last
    saved["htr"]["config"]["model"]["sequence"] = "lstm"
    torch.save(saved, last)
    with pytest.raises(ConfigError, match=r"model.sequence='lstm' was removed.*b037c45"):
        resume_path(tiny(trainer__max_steps=4), last)
