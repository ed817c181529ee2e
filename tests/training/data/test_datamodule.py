"""The DataModule: mixing by weight, document-disjoint splits, bucketed batches, DDP shards."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from training.data.batching import BucketBatchSampler, collate
from training.data.datamodule import SEED_STRIDE, DataConfig, LineDataModule, fit_ctc, to_height
from training.data.lines import LineSample
from training.data.sources import SourceConfig
from training.data.synthetic import SyntheticLines
from training.data.webdataset import write_shard


def _lines(n_docs: int, per_doc: int, prefix: str) -> list[LineSample]:
    rng = np.random.default_rng(0)
    out = []
    for d in range(n_docs):
        for k in range(per_doc):
            w = int(rng.integers(60, 400))
            img = np.full((64, w), 235, np.uint8)
            img[20:44, 5 : w - 5 : 2] = 30  # strokes, not a block: rows of solid ink are rules
            text = f"{prefix} {d}.{k} ∞" if k == 0 else f"{prefix} {d}.{k}"
            out.append(LineSample(img, text, doc=f"{prefix}-doc{d}"))
    return out


@pytest.fixture
def shard(tmp_path):
    path = tmp_path / "real-000.tar"
    write_shard(_lines(40, 5, "real"), path)
    return path


def _module(shard, **kw) -> LineDataModule:
    cfg = DataConfig(
        sources=[SourceConfig(weight=0.5), SourceConfig(str(shard), weight=0.5)],
        batch_size=8,
        lines_per_epoch=160,
        synthetic_val=16,
        num_workers=0,
        **kw,
    )
    dm = LineDataModule(cfg)
    dm.setup("fit")
    return dm


def test_splits_never_share_a_document(shard):
    dm = _module(shard)
    real_train = dm.train_parts[1]
    docs = {split: {s.doc for s in dm.eval_sets[split]["real-000"]} for split in ("val", "test")}
    docs["train"] = {s.doc for s in real_train}
    assert docs["train"] and docs["val"] and docs["test"]
    assert not (
        docs["train"] & docs["val"] or docs["train"] & docs["test"] or docs["val"] & docs["test"]
    )
    assert sum(len(v) for v in docs.values()) == 40
    assert dm.eval_names("val") == ["synthetic", "real-000"]


def test_characters_outside_the_set_are_counted(shard):
    dm = _module(shard)
    assert dm.unknown["real-000"]["∞"] == 40


def test_batches_mix_sources_by_weight_and_have_height_and_targets(shard):
    dm = _module(shard)
    batches = list(dm.train_dataloader())
    assert len(batches) == 160 // 8
    texts = [t for b in batches for t in b["texts"]]
    real = sum(t.startswith("real") for t in texts) / len(texts)
    assert 0.3 < real < 0.7
    b = batches[0]
    assert b["images"].shape[:3] == (8, 1, 40) and b["images"].shape[3] % 4 == 0
    assert b["images"].min() >= 0 and b["images"].max() <= 1
    assert int(b["target_lengths"].sum()) == b["targets"].numel()
    assert all("∞" not in t for t in texts)


def test_width_bucketing_cuts_padding():
    widths = np.random.default_rng(1).integers(50, 1000, size=4000)

    def padding(bucket_factor: int) -> float:
        s = BucketBatchSampler(
            [4000],
            [1.0],
            lambda k: widths[k[1]],
            batch_size=16,
            lines_per_epoch=1600,
            bucket_factor=bucket_factor,
        )
        return float(
            np.mean([max(widths[i] for _, i in b) * 16 - sum(widths[i] for _, i in b) for b in s])
        )

    assert padding(50) < padding(1) / 4


def test_ddp_ranks_get_disjoint_batches_of_one_draw():
    def sampler(rank: int) -> BucketBatchSampler:
        return BucketBatchSampler(
            [10**6],
            [1.0],
            lambda k: k[1] % 97,
            batch_size=4,
            lines_per_epoch=400,
            rank=rank,
            world_size=2,
            fresh=[True],
        )

    r0, r1 = list(sampler(0)), list(sampler(1))
    assert len(r0) == len(r1) == 50
    keys0, keys1 = {k for b in r0 for k in b}, {k for b in r1 for k in b}
    assert not keys0 & keys1


def test_ddp_ranks_split_each_evaluation_set_without_overlap(shard):
    def texts(rank: int) -> list[str]:
        dm = _module(shard)
        dm.trainer = SimpleNamespace(global_rank=rank, world_size=2)  # what DDP rank `rank` sees
        return [t for loader in dm.val_dataloader() for b in loader for t in b["texts"]]

    dm = _module(shard)
    whole = [t for loader in dm.val_dataloader() for b in loader for t in b["texts"]]
    r0, r1 = texts(0), texts(1)
    assert sorted(r0 + r1) == sorted(whole)  # every line once: none lost, none twice
    assert abs(len(r0) - len(r1)) <= len(dm.eval_names("val"))


def test_a_set_smaller_than_the_world_is_read_whole_by_every_rank(shard):
    dm = _module(shard)
    dm.eval_sets["val"]["one"] = dm.eval_sets["val"]["real-000"][:1]
    dm.trainer = SimpleNamespace(global_rank=1, world_size=2)
    sizes = [sum(len(b["texts"]) for b in loader) for loader in dm.val_dataloader()]
    assert sizes[-1] == 1  # rank 1 still logs this set, so rank 0 never waits for it


def test_fresh_parts_draw_new_lines_each_epoch():
    s = BucketBatchSampler(
        [10**9], [1.0], lambda k: 0, batch_size=4, lines_per_epoch=40, fresh=[True]
    )
    e0, e1 = {k for b in s for k in b}, {k for b in s for k in b}
    assert not e0 & e1


def test_collate_pads_with_paper_and_scales_ink_to_one():
    a = np.full((40, 10), 255, np.uint8)
    a[:, :5] = 0
    b = np.full((40, 13), 255, np.uint8)
    out = collate([(a, [1, 2], "ab"), (b, [3], "c")], pad_to=8)
    assert out["images"].shape == (2, 1, 40, 16)
    assert torch.equal(out["widths"], torch.tensor([10, 13]))
    assert out["images"][0, 0, 0, :5].eq(1).all() and out["images"][0, 0, :, 5:].eq(0).all()
    assert out["targets"].tolist() == [1, 2, 3] and out["target_lengths"].tolist() == [2, 1]


def test_narrow_lines_are_widened_for_ctc(tmp_path):
    img = np.full((64, 20), 255, np.uint8)
    path = tmp_path / "n.tar"
    write_shard([LineSample(img, "a long text on a tiny image", doc="d")], path)
    dm = LineDataModule(
        DataConfig(sources=[SourceConfig(str(path), split="train")], num_workers=0, ctc_stride=4)
    )
    dm.setup()
    line, target, _ = dm._dataset(dm.train_parts)[(0, 0)]
    assert line.shape[1] // 4 >= 2 * len(target)


def test_cropping_prepares_every_line_once_at_the_model_height(shard):
    kw = {"height": 32, "crop": True, "x_scale": 0.75}
    dm, plain = _module(shard, **kw), _module(shard, height=32)
    gen = dm.train_parts[0]
    assert gen.config.height == 38  # drawn 1.2x taller, then cropped and scaled down
    (name,) = set(dm.eval_sets["val"]) - {"synthetic"}
    for crop, s in zip(dm.eval_sets["val"][name], plain.eval_sets["val"][name], strict=True):
        # 64 x w with strokes in rows 20-43 from column 5 to w-6: a 24-row box, 1-px margins
        w = s.image.shape[1] * 2  # to within 1 px (rounded when halved)
        assert crop.image.shape[0] == 32
        assert abs(crop.image.shape[1] - (w - 8) * 32 / 26 * 0.75) <= 2
    val_gen = SyntheticLines(gen.config, dm.config.seed + SEED_STRIDE, 16, dm.config.charset)
    for i, s in enumerate(dm.eval_sets["val"]["synthetic"]):
        assert np.array_equal(s.image, to_height(val_gen[i].image, 32, True, 0.75))
    lines = dm._dataset(dm.train_parts)  # no augmentation: what was prepared, made CTC-wide
    prepared = dm.train_parts[1][0]
    img, target, _ = lines[(1, 0)]
    assert np.array_equal(img, fit_ctc(prepared.image, len(target), 4))  # not prepared twice
    syn, target, _ = lines[(0, 3)]
    assert np.array_equal(syn, fit_ctc(to_height(gen[3].image, 32, True, 0.75), len(target), 4))
