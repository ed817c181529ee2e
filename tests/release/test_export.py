"""Export: the TorchScript contract between training and serving."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from htr.errors import DataError, InternalError
from recognizer.predictor import LinePredictor
from release.export import check_images, export, load_checkpoint, predictor, verify
from training.cli import to_dict
from training.data.batching import collate
from training.data.datamodule import to_height
from training.module import LitRecognizer


@pytest.fixture
def checkpoint(tiny, tmp_path):
    cfg = tiny()
    module = LitRecognizer(cfg)
    path = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": module.state_dict(), "htr": {"config": to_dict(cfg)}}, path)
    return path


@pytest.fixture
def exported(checkpoint, tmp_path):
    out = export(checkpoint, tmp_path / "model_repo")
    return out


def _eager(checkpoint) -> LinePredictor:
    cfg, model = load_checkpoint(checkpoint)
    return predictor(cfg, model, {"version": "dev"})  # the exported file's LM and settings


def test_loading_needs_only_torch_jit_load(exported):
    files = {"config.json": ""}
    m = torch.jit.load(str(exported), _extra_files=files)
    meta = json.loads(files["config.json"])
    assert meta["input_height"] == m.height == 32
    assert "".join(m.chars) == meta["charset"] and "é" in meta["charset"]
    assert meta["architecture"]["parameters"] > 0 and meta["git_commit"]
    assert m.version == meta["version"]
    on_disk = json.loads((exported.parent / "config.json").read_text())
    assert on_disk == meta


def test_scripted_equals_eager_on_fresh_images(exported, checkpoint):
    scripted, eager = torch.jit.load(str(exported)), _eager(checkpoint)
    for name in ("calib_line_x", "calib_line_y", "calib_word_x", "calib_word_y"):
        setattr(eager, name, getattr(scripted, name))  # the calibration the export fitted
    rng = np.random.default_rng(7)
    images = [
        torch.from_numpy(rng.integers(0, 256, size=s, dtype=np.uint8))
        for s in [(64, 512), (40, 333, 3), (90, 1200, 4), (16, 40, 1)]
    ]
    assert scripted.predict_batch(images) == eager.predict_batch(images)
    for img in images:
        t1, c1 = scripted.predict_with_confidence(img)
        t2, c2 = eager.predict_with_confidence(img)
        assert t1 == t2 and c1 == pytest.approx(c2, abs=1e-5) and 0.0 <= c1 <= 1.0
        assert scripted.predict(img) == t1


@pytest.mark.parametrize(
    "shape", [(64, 300), (64, 300, 1), (64, 300, 3), (64, 300, 4), (3, 4000), (500, 60, 3)]
)
def test_predict_accepts_every_layout(exported, shape):
    m = torch.jit.load(str(exported))
    assert isinstance(m.predict(torch.full(shape, 255, dtype=torch.uint8)), str)


@pytest.mark.parametrize(
    "image, needle",
    [
        (torch.zeros(64, 300), "must be a uint8 tensor"),
        (torch.zeros(1, 64, 300, 3, dtype=torch.uint8), "HxW or HxWxC"),
        (torch.zeros(64, 300, 2, dtype=torch.uint8), "C in (1, 3, 4)"),
        (torch.zeros(1, 300, dtype=torch.uint8), "at least 2x2"),
    ],
)
def test_predict_rejects_other_inputs_with_a_clear_error(exported, image, needle):
    m = torch.jit.load(str(exported))
    with pytest.raises(Exception, match=needle.replace("(", r"\(").replace(")", r"\)")):
        m.predict(image)


def test_alpha_is_composited_on_white_and_polarity_normalised(exported):
    m = torch.jit.load(str(exported))
    clear = torch.zeros(40, 100, 4, dtype=torch.uint8)  # black but fully transparent
    assert float(m.preprocess(clear).abs().max()) < 1e-6  # all paper, no ink
    line = torch.full((40, 200), 240, dtype=torch.uint8)
    line[15:25, 20:180] = 10
    assert torch.allclose(m.preprocess(line), m.preprocess(255 - line), atol=1e-5)


def test_serving_preprocessing_matches_training(exported):
    m = torch.jit.load(str(exported))
    rng = np.random.default_rng(3)
    img = rng.integers(150, 256, size=(64, 700), dtype=np.uint8)
    img[20:44, 50:600] = 30
    train_x = collate([(to_height(img, 32), [1], "a")], pad_to=1)["images"][0]
    serve_x = m.preprocess(torch.from_numpy(img))
    assert train_x.shape == serve_x.shape
    assert float((train_x - serve_x).abs().max()) <= 1.0 / 255 + 1e-6  # rounding to uint8 only


def test_a_cropping_model_serves_what_training_saw(tiny, tmp_path):
    cfg = tiny(model__crop=True, model__x_scale=0.75)
    cfg.check()
    assert (cfg.data.crop, cfg.data.x_scale) == (True, 0.75)  # the data follows the model
    path = tmp_path / "crop.ckpt"
    state = LitRecognizer(cfg).state_dict()
    torch.save({"state_dict": state, "htr": {"config": to_dict(cfg)}}, path)
    files = {"config.json": ""}
    m = torch.jit.load(str(export(path, tmp_path / "repo")), _extra_files=files)
    assert json.loads(files["config.json"])["architecture"]["crop"] is True
    rng = np.random.default_rng(4)
    img = rng.integers(200, 256, size=(90, 900), dtype=np.uint8)
    img[30:60, 100:700:3] = 20  # strokes in a third of the height: the rest is cropped
    train_x = collate([(to_height(img, 32, True, 0.75), [1], "a")], pad_to=1)["images"][0]
    serve_x = m.preprocess(torch.from_numpy(img))
    # the 30 x 598 ink box and 2 px of margin, 34 x 602, scaled to 32 rows and squeezed
    assert train_x.shape == serve_x.shape == (1, 32, round(602 * 32 / 34 * 0.75))
    assert float((train_x - serve_x).abs().max()) <= 1.0 / 255 + 1e-6


def test_verify_refuses_a_module_that_disagrees(checkpoint, tiny):
    eager = _eager(checkpoint)
    other = torch.jit.script(
        LinePredictor(
            LitRecognizer(tiny()).model, eager.chars and "".join(eager.chars), 32, 4, 4096, "{}"
        )
    )
    with pytest.raises(InternalError, match="nothing was written"):
        verify(eager, other)


def test_export_refuses_what_is_not_a_checkpoint(tmp_path):
    bad = tmp_path / "x.ckpt"
    torch.save({"weights": 1}, bad)
    with pytest.raises(DataError, match="not a checkpoint of this project"):
        export(bad, tmp_path / "out")
    assert not (tmp_path / "out" / "model.pt").exists()
    with pytest.raises(DataError, match="does not exist"):
        export(tmp_path / "missing.ckpt", tmp_path / "out")


def test_check_images_cover_every_layout():
    dims = {tuple(x.shape[2:]) for x in check_images()}
    assert {(), (1,), (3,), (4,)} <= dims


def test_exporting_the_same_checkpoint_again_changes_nothing(checkpoint, exported):
    before = exported.read_bytes()
    again = export(checkpoint, exported.parent)
    assert again == exported and again.read_bytes() == before


def test_the_file_carries_its_lm_and_can_fall_back_to_the_best_path(exported):
    files = {"config.json": ""}
    m = torch.jit.load(str(exported), _extra_files=files)
    meta = json.loads(files["config.json"])
    assert meta["decode"]["beam"] == m.beam == 6 and meta["lm_entries"] == m.lm_keys.numel() > 0
    line = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (32, 300), dtype=np.uint8))
    assert m.set_beam(0) == 6
    x = m.preprocess(line)[None]
    ids = [int(i) for i in torch.unique_consecutive(m(x)[:, 0].argmax(-1)) if i > 0]
    assert m.predict(line) == "".join(m.chars[i - 1] for i in ids)  # best path, no LM
    assert m.set_beam(6) == 0
    with pytest.raises(Exception, match="beam width -1"):
        m.set_beam(-1)


def test_the_network_runs_in_bf16_where_supported_and_float32_on_request(exported, checkpoint):
    files = {"config.json": ""}
    m = torch.jit.load(str(exported), _extra_files=files)
    assert json.loads(files["config.json"])["decode"]["bf16"] is True and m.bf16
    line = torch.from_numpy(np.random.default_rng(8).integers(0, 256, (32, 400), dtype=np.uint8))
    x = m.preprocess(line)[None]
    with torch.no_grad():
        fast = m(x)
        assert m.set_bf16(False) is True
        exact = m(x)
        reference = _eager(checkpoint).model(x)  # the trained network in float32
    assert fast.dtype == exact.dtype == torch.float32
    torch.testing.assert_close(exact, reference, rtol=1e-4, atol=1e-4)
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        assert not torch.equal(fast, exact)  # it did run in bf16
        assert float((fast.exp() - exact.exp()).abs().max()) < 0.05  # probabilities
    else:  # a CPU without oneDNN's bf16: float32 whatever the setting
        assert torch.equal(fast, exact)
    assert m.set_bf16(True) is False


def test_the_file_carries_its_calibration_and_reads_words(exported):
    files = {"config.json": ""}
    m = torch.jit.load(str(exported), _extra_files=files)
    meta = json.loads(files["config.json"])["calibration"]
    assert meta["calibrated"] and meta["lines"] >= 1 and meta["documents"]
    assert "synthetic" in meta["fitted_on"]  # the tiny run has no real validation source
    assert m.calib_line_x.numel() == m.calib_line_y.numel() > 0
    images = check_images()
    pairs = m.predict_batch_with_confidence(images)
    assert m.predict_batch(images) == [t for t, _ in pairs]
    for (text, conf, calibrated, words), pair in zip(m.read_lines(images), pairs, strict=True):
        assert calibrated and (text, conf) == pair and 0.0 <= conf <= 1.0
        assert " ".join(w for w, _ in words) == " ".join(text.split())
        assert all(0.0 <= c <= 1.0 for _, c in words)


def test_the_module_maps_raw_scores_as_numpy_interpolates(exported):
    m = torch.jit.load(str(exported))
    line = (np.array([0.0, 0.3, 0.6, 1.0]), np.array([0.02, 0.2, 0.7, 0.95]))
    word = (np.array([0.1, 0.5]), np.array([0.1, 0.9]))
    m.calib_line_x, m.calib_line_y = (torch.from_numpy(a) for a in line)
    m.calib_word_x, m.calib_word_y = (torch.from_numpy(a) for a in word)
    images = check_images()
    for (_, raw, raw_words), (_, conf, _, words) in zip(
        m.score_lines(images), m.read_lines(images), strict=True
    ):
        assert conf == pytest.approx(np.interp(raw, *line), abs=1e-6)  # two network runs
        for (_, r), (_, c) in zip(raw_words, words, strict=True):
            assert c == pytest.approx(np.interp(r, *word), abs=1e-6)
    m.calib_line_x = torch.zeros(0, dtype=torch.float64)  # uncalibrated: raw scores, flagged
    for (t, raw, _), (t2, conf, calibrated, _) in zip(
        m.score_lines(images), m.read_lines(images), strict=True
    ):
        assert t == t2 and raw == pytest.approx(conf, abs=1e-6) and not calibrated


def test_words_split_on_spaces_and_join_to_the_text(checkpoint):
    eager = _eager(checkpoint)
    a, space, b = eager.chars.index("a") + 1, eager.chars.index(" ") + 1, eager.chars.index("b") + 1
    ids = [a, b, space, space, b, space]  # "ab  b ": words are runs of non-spaces
    lp = torch.full((12, 1, len(eager.chars) + 1), -9.0)
    for t, c in enumerate([0, a, b, 0, space, 0, space, b, 0, space, 0, 0]):
        lp[t, 0, c] = -0.01
    eager._decode = lambda images: (lp, [12], [ids])
    [(text, raw, words)] = eager.score_lines([torch.zeros(8, 8, dtype=torch.uint8)])
    assert text == "ab  b " and [w for w, _ in words] == ["ab", "b"]
    assert raw > 0.9 and all(c > 0.9 for _, c in words)


def test_verify_compares_the_calibrated_readings(checkpoint):
    eager = _eager(checkpoint)
    scripted = torch.jit.script(eager)
    scripted.calib_line_x = torch.tensor([0.0, 1.0], dtype=torch.float64)
    scripted.calib_line_y = torch.tensor([0.1, 0.9], dtype=torch.float64)
    with pytest.raises(InternalError, match="nothing was written"):
        verify(eager, scripted)
