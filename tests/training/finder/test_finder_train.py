"""The line finder's training: config checks, the loss and F1, and a tiny run end to end through
the command line, on synthetic pages and a small page shard."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from htr.errors import ConfigError
from training.finder.config import FinderTrainConfig, finder_preset
from training.finder.module import LitFinder, _f1
from training.finder.train import main, parse_finder_config

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"

# A finder and a run that take seconds on a CPU.
TINY = [
    "--model.size", "256",
    "--model.channels", "4,4,4,4",
    "--data.crop", "128",
    "--data.batch_size", "2",
    "--data.synthetic_pages", "2",
    "--data.synthetic_val", "1",
    "--data.num_workers", "0",
    "--trainer.max_steps", "3",
    "--trainer.max_time", "none",
    "--trainer.log_every_n_steps", "1",
    "--trainer.threads", "2",
    "--log.wandb", "disabled",
]  # fmt: skip


def _page_xml(lines: list[tuple[str, str, str]], w: int, h: int) -> str:
    body = "".join(
        f'<TextLine id="l{i}"><Coords points="{poly}"/><Baseline points="{base}"/>'
        f"<TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>"
        for i, (poly, base, text) in enumerate(lines)
    )
    return (
        f'<PcGts xmlns="{PAGE_NS}"><Page imageFilename="p.jpg" imageWidth="{w}" '
        f'imageHeight="{h}"><TextRegion id="r0">{body}</TextRegion></Page></PcGts>'
    )


def _write_page_shard(path: Path) -> None:
    """A page shard of one page: a dark line of 'ink' on paper with its PAGE-XML."""
    img = np.full((600, 450), 220, np.uint8)
    img[280:300, 50:400:5] = 30
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG")
    xml = _page_xml([("45,270 405,270 405,310 45,310", "50,300 400,300", "x")], 450, 600)
    with tarfile.open(path, "w") as tf:
        for name, data in (("p1.jpg", buf.getvalue()), ("p1.xml", xml.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_presets_and_overrides_parse_into_the_finder_config():
    cfg = parse_finder_config(
        ["--preset", "full", "--data.crop", "256", "--model.channels", "8,8,8,8"]
    )
    assert isinstance(cfg, FinderTrainConfig)
    assert cfg.data.crop == 256 and cfg.model.channels == (8, 8, 8, 8)
    assert finder_preset("quick").log.name == "finder"
    with pytest.raises(ConfigError, match="preset='huge'"):
        finder_preset("huge")


@pytest.mark.parametrize(
    ("flags", "key"),
    [
        (["--data.crop", "100"], "data.crop=100"),
        (["--data.batch_size", "3"], "data.batch_size=3"),
        (["--baseline_weight", "0"], "baseline_weight=0"),
    ],
)
def test_bad_settings_fail_naming_the_key(flags, key):
    with pytest.raises(ConfigError, match=key):
        parse_finder_config(flags)


def test_a_crop_larger_than_the_page_size_is_refused():
    cfg = parse_finder_config(["--model.size", "256", "--data.crop", "512"])
    with pytest.raises(ConfigError, match="data.crop=512 exceeds model.size=256"):
        cfg.check()


def test_a_missed_baseline_pixel_costs_more_than_a_missed_region_pixel():
    module = LitFinder(parse_finder_config(TINY))
    logits = torch.full((1, 2, 4, 4), -4.0)
    base, region = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    base[0, 0, 1, 1] = 1.0
    region[0, 1, 1, 1] = 1.0
    assert module.loss(logits, base) > 3 * module.loss(logits, region)


def test_baseline_f1_counts_pixels():
    assert float(_f1(torch.tensor([0.0, 1, 3, 1, 2]))) == pytest.approx(6 / 9)
    assert float(_f1(torch.tensor([0.0, 1, 0, 0, 0]))) == 1.0  # a blank page, found blank


def test_a_tiny_finder_trains_through_the_command_line_and_saves_its_config(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    _write_page_shard(pages / "demo-train-000.tar")
    _write_page_shard(pages / "demo-val-000.tar")
    root = tmp_path / "runs"
    flags = [*TINY, "--data.pages", str(pages), "--log.root", str(root)]
    assert main(flags) == 0
    run = root / "finder"
    ckpts = run / "checkpoints"
    assert (ckpts / "last.ckpt").exists() and list(ckpts.glob("best-*.ckpt"))
    saved = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=False)
    assert saved["htr"]["kind"] == "finder"
    assert saved["htr"]["config"]["model"]["size"] == 256
    assert saved["htr"]["config"]["model"]["channels"] == [4, 4, 4, 4]
    assert any(k.startswith("model.head") for k in saved["state_dict"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["global_step"] == 3
    for key in ("val/loss", "val/baseline_f1", "val/loss/synthetic", "val/baseline_f1/demo"):
        assert np.isfinite(summary[key]), key
    assert (run / "config.yaml").exists() and list((run / "tensorboard").glob("events.*"))
    # the run continues only with the network it started with
    assert main([*flags, "--model.channels", "8,8,8,8"]) == 2
