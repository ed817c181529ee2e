"""The exported model, loaded once per process, lazily and thread-safely."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from serving.errors import ModelUnavailable
from serving.precision import choose_precision

log = logging.getLogger(__name__)
DEFAULT_PATHS = ("model/model.pt", "model_repo/model.pt")


@dataclass
class LoadedModel:
    """The TorchScript module and what it says about itself."""

    module: torch.jit.ScriptModule
    name: str
    revision: str
    load_seconds: float
    location: str = ""  # where it came from, as the source describes it
    folder: Path | None = None  # the model repo checkout or folder (card, eval.json)


def model_path() -> Path:
    """HTR_MODEL_PATH, else the first default location that exists."""
    env = os.environ.get("HTR_MODEL_PATH")
    candidates = [Path(env)] if env else [Path(p) for p in DEFAULT_PATHS]
    for path in candidates:
        if path.is_file():
            return path
    raise ModelUnavailable(
        f"no model file at {[str(p) for p in candidates]}; set "
        "HTR_MODEL_PATH or export one with `python -m release.export`"
    )


def load(path: Path | None = None) -> LoadedModel:
    """Load and warm model.pt (tests replace this function with a fake)."""
    path = path or model_path()
    t0 = time.perf_counter()
    extra = {"config.json": ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        choose_precision(module)  # bf16 only where this CPU runs it faster than float32
        module.warmup()  # the first real request is then not the slow one
    except (RuntimeError, OSError) as e:
        raise ModelUnavailable(f"model file {path} could not be loaded: {e}") from None
    meta = json.loads(extra["config.json"] or "{}")
    name = os.environ.get("HTR_MODEL_NAME", "htr-line-recognizer")
    revision = os.environ.get("HTR_MODEL_REVISION", meta.get("version", "unknown"))
    seconds = time.perf_counter() - t0
    log.info("loaded %s (%s) from %s in %.2f s", name, revision, path, seconds)
    return LoadedModel(module, name, revision, seconds, str(path), path.parent)


_lock = threading.Lock()
_model: LoadedModel | None = None
_loader: Callable[[], LoadedModel] | None = None  # None: `load()` from HTR_MODEL_PATH


def set_loader(loader: Callable[[], LoadedModel] | None) -> None:
    """Choose how the model is obtained (the Space resolves a Hub or git source first)."""
    global _loader
    _loader = loader
    reset()


def get() -> LoadedModel:
    """The process-wide model: loaded on first use, reused after (double-checked lock)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = _loader() if _loader else load()
    return _model


def reset() -> None:
    """Forget the loaded model (tests, or a reload after a new export)."""
    global _model
    with _lock:
        _model = None
