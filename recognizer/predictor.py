"""The serving module that export scripts: raw pixels in, text and confidence out."""

from __future__ import annotations

import copy
from typing import List, Tuple  # noqa: UP035 - TorchScript needs typing's generics

import torch
import torch.nn.functional as F
from torch import nn

from recognizer.beam import beam_search
from recognizer.confidence import char_scores, forced_align, interp, line_score, word_scores
from recognizer.ctc import greedy_decode
from recognizer.fold import fold_batch_norm
from recognizer.network import Recognizer
from recognizer.page_finder import PageFinder, cut_line
from recognizer.preprocess import fit_height, normalise_polarity, to_grey, to_ink


class LinePredictor(nn.Module):
    """A Recognizer with preprocessing, charset, CTC decoding, and a page finder if any."""

    def __init__(
        self,
        model: Recognizer,
        chars: str,
        height: int,
        stride: int,
        max_width: int,
        meta_json: str,
        version: str = "dev",
        lm: Tuple[torch.Tensor, torch.Tensor] | None = None,  # noqa: UP006 - training.lm tables
        decode: Tuple[int, int, int, float, float, float] = (0, 1, 1, 0.0, 0.0, 0.0),  # noqa: UP006
        crop: bool = False,  # crop each line to its ink before scaling (model.crop)
        x_scale: float = 1.0,  # width factor after scaling to the height (model.x_scale)
        bf16: bool = False,  # run the network in bfloat16 where oneDNN supports it (decode.bf16)
        finder: PageFinder | None = None,  # the page entry points answer only with one
    ) -> None:
        super().__init__()
        # NHWC conv weights and inputs: oneDNN's fast layout, as in training, and at batch 1
        # on one thread too (BENCHMARKS.md's best-path latency); batch norm folded into the
        # convolutions (a copy: the trained module is left as it was)
        self.model = fold_batch_norm(model).to(memory_format=torch.channels_last)
        # The same weights in bfloat16: oneDNN's bf16 kernels are faster on CPUs with native
        # bf16, and training saw bf16 activations already (bf16-mixed). The float32 copy
        # serves CPUs without them, and those where bf16 is slower (serving.precision times
        # both). Why: experiments/decoding.md, "The network in bfloat16".
        self.model_bf16 = copy.deepcopy(self.model).to(torch.bfloat16)
        self.bf16 = bf16
        self.chars: List[str] = list(chars)  # noqa: UP006
        self.height = height
        self.stride = stride
        self.max_width = max_width
        self.crop = crop
        self.x_scale = x_scale
        self.meta_json = meta_json  # architecture, version, training config (JSON)
        self.version = version
        # CTC prefix beam search with a character n-gram LM (recognizer.beam); beam 0: greedy
        self.beam, self.lm_order, self.top_k, self.alpha, self.beta, self.prune = decode
        keys, values = lm if lm is not None else (torch.zeros(0, dtype=torch.int64), torch.zeros(0))
        self.register_buffer("lm_keys", keys)  # int64, sorted (training.lm.build_tables)
        self.register_buffer("lm_values", values)  # float32 log-probabilities and back-offs
        self.space = chars.index(" ") + 1 if " " in chars else -1  # words end at this class
        # Calibration knots (release.calibration fits them at export): raw line score ->
        # P(line read with CER <= 10%), raw word score -> P(word exactly right); empty tensors:
        # uncalibrated. Why and how well: experiments/calibration.md.
        for name in ("calib_line_x", "calib_line_y", "calib_word_x", "calib_word_y"):
            self.register_buffer(name, torch.zeros(0, dtype=torch.float64))
        self.finder = finder  # None: a constant TorchScript prunes the page branches on
        self.eval()  # serving only: dropout off, batch-norm statistics frozen

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, height, W) ink-positive batch -> CTC log-probabilities (T, B, C), float32."""
        x = images.contiguous(memory_format=torch.channels_last)
        # checked per call: the file may be loaded on another CPU than the one that exported it
        if self.bf16 and torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return self.model_bf16(x.to(torch.bfloat16))  # the head's logits come back float32
        return self.model(x)

    @torch.jit.export
    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 HxW or HxWxC (C = 1, 3, 4), any size -> (1, height, W') model input."""
        grey = normalise_polarity(to_grey(image))
        grey = fit_height(grey, self.height, self.max_width, self.crop, self.x_scale)
        return to_ink(grey)[None]

    def _text(self, ids: List[int]) -> str:  # noqa: UP006
        out: List[str] = []  # noqa: UP006 - (comprehension ifs do not script)
        for i in ids:
            if i > 0:
                out.append(self.chars[i - 1])
        return "".join(out)

    @torch.jit.export
    def log_probs_batch(self, images: List[torch.Tensor]) -> Tuple[torch.Tensor, List[int]]:  # noqa: UP006
        """CTC log-probabilities (T, B, C) of a non-empty list of any-size images, padded
        together, and each line's own frame count (the rest is padding)."""
        inputs: List[torch.Tensor] = []  # noqa: UP006
        widths: List[int] = []  # noqa: UP006
        for im in images:
            x = self.preprocess(im)
            inputs.append(x)
            widths.append(x.size(2))
        width = max(widths)
        width = (width + self.stride - 1) // self.stride * self.stride  # whole CNN columns
        padded: List[torch.Tensor] = []  # noqa: UP006
        for x in inputs:
            padded.append(F.pad(x, [0, width - x.size(2)]))
        log_probs = self.forward(torch.stack(padded)).detach()
        steps: List[int] = []  # noqa: UP006
        for w in widths:
            steps.append(max(1, w // self.stride))
        return log_probs, steps

    def _decode(
        self,
        images: List[torch.Tensor],  # noqa: UP006
    ) -> Tuple[torch.Tensor, List[int], List[List[int]]]:  # noqa: UP006
        """Log-probabilities, frame counts and decoded class ids (LM beam or best path)."""
        log_probs, steps = self.log_probs_batch(images)
        if self.beam > 0 and self.lm_keys.numel() > 0:
            return log_probs, steps, self._beam_search(log_probs, steps)
        return log_probs, steps, greedy_decode(log_probs, torch.tensor(steps))[0]

    @torch.jit.export
    def score_lines(
        self,
        images: List[torch.Tensor],  # noqa: UP006
    ) -> List[Tuple[str, float, List[Tuple[str, float]]]]:  # noqa: UP006
        """Text, raw line score and words with raw scores (recognizer.confidence), uncalibrated,
        for each image of a list."""
        if len(images) == 0:
            return []
        log_probs, steps, ids = self._decode(images)
        path, total = forced_align(log_probs, ids, steps)
        out: List[Tuple[str, float, List[Tuple[str, float]]]] = []  # noqa: UP006
        for b in range(len(ids)):
            n = steps[b]
            chars, gaps = char_scores(log_probs[:n, b], ids[b], path[:n, b])
            if bool(torch.isinf(total[b])):  # labels that do not fit the frames: no confidence
                chars, gaps = chars.fill_(float("-inf")), gaps.fill_(float("-inf"))
            words: List[Tuple[str, float]] = []  # noqa: UP006
            for start, end, score in word_scores(ids[b], chars, gaps, self.space):
                words.append((self._text(ids[b][start:end]), score))
            out.append((self._text(ids[b]), line_score(chars, gaps), words))
        return out

    def _map(self, raw: float, xs: torch.Tensor, ys: torch.Tensor) -> float:
        return float(interp(torch.tensor([raw], dtype=torch.float64), xs, ys)[0])

    @torch.jit.export
    def read_lines(
        self,
        images: List[torch.Tensor],  # noqa: UP006
    ) -> List[Tuple[str, float, bool, List[Tuple[str, float]]]]:  # noqa: UP006
        """Per image: text; the probability that it is read with a CER of at most 10%; whether
        that is calibrated (else the raw score, recognizer.confidence); and each word (a run
        of non-spaces) with the probability that it is exactly right (its line's when the
        file has no word map)."""
        calibrated = self.calib_line_x.numel() > 0
        out: List[Tuple[str, float, bool, List[Tuple[str, float]]]] = []  # noqa: UP006
        for text, raw, words in self.score_lines(images):
            conf = self._map(raw, self.calib_line_x, self.calib_line_y) if calibrated else raw
            mapped: List[Tuple[str, float]] = []  # noqa: UP006
            for word, score in words:
                if calibrated and self.calib_word_x.numel() > 0:
                    score = self._map(score, self.calib_word_x, self.calib_word_y)
                elif calibrated:
                    score = conf
                mapped.append((word, score))
            out.append((text, conf, calibrated, mapped))
        return out

    @torch.jit.export
    def predict_batch_with_confidence(self, images: List[torch.Tensor]) -> List[Tuple[str, float]]:  # noqa: UP006
        """Text and confidence (0..1) for each image of a list of any sizes and layouts:
        `read_lines`' line confidence, the probability of a CER of at most 10% when the file
        is calibrated, else the raw score of recognizer.confidence."""
        results: List[Tuple[str, float]] = []  # noqa: UP006
        for text, conf, _, _ in self.read_lines(images):
            results.append((text, conf))
        return results

    def _decode_line(self, log_probs: torch.Tensor) -> List[int]:  # noqa: UP006
        """LM beam search of one line's (T, C) log-probabilities."""
        return beam_search(
            log_probs,
            [self.lm_keys, self.lm_values],
            self.lm_order,
            self.beam,
            self.alpha,
            self.beta,
            self.prune,
            self.top_k,
        )

    def _beam_search(self, log_probs: torch.Tensor, steps: List[int]) -> List[List[int]]:  # noqa: UP006
        """Every line of a batch, in parallel on TorchScript's inter-op threads (why:
        experiments/decoding.md, "Speed")."""
        if not torch.jit.is_scripting():  # eager, export's reference: fork would trace
            return [self._decode_line(log_probs[: steps[i], i]) for i in range(len(steps))]
        futures: List[torch.jit.Future[List[int]]] = []  # noqa: UP006
        for i in range(len(steps)):
            futures.append(torch.jit.fork(self._decode_line, log_probs[: steps[i], i]))
        return [torch.jit.wait(f) for f in futures]

    @torch.jit.export
    def set_beam(self, width: int) -> int:
        """Beam width of later calls (0: greedy best path, no LM); returns the previous one."""
        if width < 0:
            raise ValueError(f"beam width {width}: use 0 (best path) or more")
        previous = self.beam
        self.beam = width
        return previous

    @torch.jit.export
    def set_bf16(self, on: bool) -> bool:
        """Network in bfloat16 (where oneDNN has it) on later calls; returns the old setting."""
        # False: float32 everywhere, e.g. on a CPU whose bf16 is emulated and slow
        previous = self.bf16
        self.bf16 = on
        return previous

    @torch.jit.export
    def predict_batch(self, images: List[torch.Tensor]) -> List[str]:  # noqa: UP006
        """Text for each image of a list."""
        if len(images) == 0:
            return []
        texts: List[str] = []  # noqa: UP006 - no alignment: as fast as decoding alone
        for ids in self._decode(images)[2]:
            texts.append(self._text(ids))
        return texts

    @torch.jit.export
    def predict_with_confidence(self, image: torch.Tensor) -> Tuple[str, float]:  # noqa: UP006
        """Text and confidence of one line image (as predict_batch_with_confidence)."""
        return self.predict_batch_with_confidence([image])[0]

    @torch.jit.export
    def predict(self, image: torch.Tensor) -> str:
        """Text of one line image: uint8 tensor HxW or HxWxC with 1, 3 or 4 channels."""
        return self.predict_batch([image])[0]

    @torch.jit.export
    def reads_pages(self) -> bool:
        """Whether this file holds a line finder (`find_lines`, `read_page` answer)."""
        return self.finder is not None

    @torch.jit.export
    def find_lines(self, image: torch.Tensor) -> List[Tuple[torch.Tensor, torch.Tensor]]:  # noqa: UP006
        """Each line of a page image (as `predict` takes) as (polygon (P, 2), baseline (Q, 2))
        in page pixels (x, y), in reading order; [] for a blank page."""
        grey = to_grey(image)
        if self.finder is not None:
            return self.finder(grey)
        raise RuntimeError("this model file has no line finder; export one with --finder")

    @torch.jit.export
    def cut_lines(
        self,
        image: torch.Tensor,
        lines: List[Tuple[torch.Tensor, torch.Tensor]],  # noqa: UP006
    ) -> List[torch.Tensor]:  # noqa: UP006
        """Each found line cut from the page: its box, paper outside its polygon, uint8."""
        grey = to_grey(image)
        crops: List[torch.Tensor] = []  # noqa: UP006
        for polygon, _ in lines:
            crops.append(cut_line(grey, polygon))
        return crops

    @torch.jit.export
    def read_page(
        self, image: torch.Tensor
    ) -> List[Tuple[torch.Tensor, torch.Tensor, str, float, bool, List[Tuple[str, float]]]]:  # noqa: UP006
        """Polygon, baseline and reading of each line of a page where text was read, in order."""
        lines = self.find_lines(image)
        crops = self.cut_lines(image, lines)
        out: List[Tuple[torch.Tensor, torch.Tensor, str, float, bool, List[Tuple[str, float]]]] = []  # noqa: UP006, E501
        for start in range(0, len(crops), 32):  # bounded memory on a 100-line register
            readings = self.read_lines(crops[start : start + 32])
            for i, (text, conf, calibrated, words) in enumerate(readings):
                if text.strip() != "":  # nothing read: a stain or a stamp, not a line of text
                    out.append(
                        (lines[start + i][0], lines[start + i][1], text, conf, calibrated, words)
                    )
        return out

    @torch.jit.export
    def warmup(self) -> int:
        """Run a few requests so that the first real one is not the slow one."""
        blank = torch.full([64, 512], 255, dtype=torch.uint8)
        n = 0
        for _ in range(3):
            self.predict_batch([blank, blank[:, :200]])
            self.read_lines([blank[:, :300]])
            if self.finder is not None:
                self.find_lines(torch.full([400, 300], 255, dtype=torch.uint8))
            n += 1
        return n
